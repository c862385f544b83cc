// Engine benchmark: a tree of accounts of depth 5 (bench/workload.rules).
//
//   build/bench/pmesh-bench [--sizes 1000,10000,100000] [--samples 200]
//
// For each size, in a process of its own (so that peak RSS is that size's):
// the cold fixpoint (every account created, all rules run), peak RSS, the
// median and p99 engine time of a single account create, update and delete,
// the same update done by full recomputation (the baseline: the cold load,
// since recomputing is deriving everything from the inputs again), and the cost of
// re-parenting an account against the size of its subtree. Prints JSON.
//
// The engine holds objects cold as `pmesh serve` has it do: not in the
// commit that ends their window but after it, untimed here as between a
// server's requests (Engine::set_cold_scheduler); `cold_drain` is what that
// took after each sample's three writes. (The cold load's transactions of
// 1,000 accounts each leave 3,000 objects whose window one later write
// ends: done inline, 100 of the 600 timed writes at 100,000 accounts each
// took some 45 ms more.)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "bench/cold_drain.h"
#include "engine/engine.h"

using pmesh::engine::Engine;
using pmesh::engine::Json;
using pmesh::engine::Op;

namespace {

using pmesh::bench::Clock;
using pmesh::bench::count_arg;
using pmesh::bench::run_captured;
using pmesh::bench::us;

struct Account {
  std::string cluster, name;
  int parent = -1;
  int depth = 1;
  std::vector<int> children;
};

// A tree of n accounts, depth at most 5, breadth-first: the first level in root:orgs.
std::vector<Account> tree(int n) {
  int b = 1;
  while (b + b * b + b * b * b + b * b * b * b + b * b * b * b * b < n) ++b;
  std::vector<Account> a;
  a.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    Account x;
    x.name = "a" + std::to_string(i);
    if (i < b) {
      x.cluster = "root:orgs";
    } else {
      x.parent = (i - b) / b;
      const Account& p = a[static_cast<size_t>(x.parent)];
      x.cluster = p.cluster + ":" + p.name;
      x.depth = p.depth + 1;
      a[static_cast<size_t>(x.parent)].children.push_back(i);
    }
    a.push_back(std::move(x));
  }
  return a;
}

Json account_json(const std::vector<Account>& t, int i, const std::string& creator) {
  const Account& x = t[static_cast<size_t>(i)];
  Json spec = {{"type", x.parent < 0 ? "org" : "account"}, {"creator", creator}};
  if (x.parent >= 0) {
    const Account& p = t[static_cast<size_t>(x.parent)];
    spec["parent"] = {{"cluster", p.cluster}, {"name", p.name}};
  }
  return Json{{"apiVersion", "core.platform-mesh.io/v1alpha1"},
              {"kind", "Account"},
              {"metadata", {{"name", x.name}, {"cluster", x.cluster}}},
              {"spec", spec}};
}

std::shared_ptr<const pmesh::dsl::CompiledProgram> program(const std::string& rules_path) {
  pmesh::dsl::DiagnosticSink diags;
  auto p = pmesh::dsl::compile_paths({rules_path}, diags);
  if (diags.has_errors()) {
    std::cerr << diags.format();
    std::exit(1);
  }
  return std::shared_ptr<const pmesh::dsl::CompiledProgram>(std::move(p));
}

Engine::Options options() {
  Engine::Options o;
  o.clock = [] { return std::string("2026-01-01T00:00:00Z"); };
  return o;
}

// Creates every account, in transactions of `batch`; returns seconds.
double load(Engine& e, const std::vector<Account>& t, size_t batch) {
  auto start = Clock::now();
  std::vector<Op> ops;
  for (size_t i = 0; i < t.size(); ++i) {
    ops.push_back(Op::create(account_json(t, static_cast<int>(i), "user" + std::to_string(i % 100))));
    if (ops.size() == batch || i + 1 == t.size()) {
      auto r = e.apply(ops);
      if (!r.ok) {
        std::cerr << "load failed: " << r.message << "\n";
        std::exit(1);
      }
      ops.clear();
    }
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Json stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))]; };
  return {{"median_us", std::round(at(0.5) * 10) / 10}, {"p99_us", std::round(at(0.99) * 10) / 10}, {"samples", v.size()}};
}

size_t subtree(const std::vector<Account>& t, int i) {
  size_t n = 1;
  for (int c : t[static_cast<size_t>(i)].children) n += subtree(t, c);
  return n;
}

Json run_size(const std::string& rules, int n, int samples) {
  auto prog = program(rules);
  std::vector<Account> t = tree(n);
  Engine e(prog, options());
  pmesh::bench::ColdDrain cold_drain(e);
  std::vector<double> drain;
  double cold = load(e, t, 1000);
  cold_drain.drain();
  double rss_mib = static_cast<double>(pmesh::bench::peak_rss_kib()) / 1024.0;
  size_t tuples = e.state().tuples().size(), objects = e.state().objects().size(), matches = e.state().match_count();

  // Single-account operations on leaves (the deepest accounts).
  std::vector<double> create, update, remove;
  for (int s = 0; s < samples; ++s) {
    int parent = static_cast<int>(t.size()) - 1 - (s * 7919) % std::max(1, n / 2);
    const Account& p = t[static_cast<size_t>(parent)];
    Json acc = {{"apiVersion", "core.platform-mesh.io/v1alpha1"},
                {"kind", "Account"},
                {"metadata", {{"name", "bench-" + std::to_string(s)}, {"cluster", p.cluster + ":" + p.name}}},
                {"spec", {{"type", "account"}, {"creator", "newcomer"}, {"parent", {{"cluster", p.cluster}, {"name", p.name}}}}}};
    double drained = 0;
    auto t0 = Clock::now();
    bool ok = e.apply({Op::create(acc)}).ok;
    create.push_back(us(Clock::now() - t0));
    drained += cold_drain.drain();
    acc["spec"]["creator"] = "someone-else";
    auto t1 = Clock::now();
    ok = ok && e.apply({Op::update(acc)}).ok;
    update.push_back(us(Clock::now() - t1));
    drained += cold_drain.drain();
    auto t2 = Clock::now();
    ok = ok && e.apply({Op::remove({"Account", p.cluster + ":" + p.name, "", "bench-" + std::to_string(s)})}).ok;
    remove.push_back(us(Clock::now() - t2));
    drained += cold_drain.drain();
    if (!ok) {
      std::cerr << "single operation failed\n";
      std::exit(1);
    }
    drain.push_back(drained);
  }

  // The same update by full recomputation: every derived fact computed
  // again from the inputs, which is what the cold load does.
  double full_s = cold;

  // Re-parenting: point an account at another parent of the same depth;
  // membership changes for its whole subtree.
  Json reparent = Json::array();
  for (int depth = 4; depth >= 1; --depth) {
    int i = -1, other = -1;
    for (size_t k = 0; k < t.size(); ++k)
      if (t[k].depth == depth + 1) {
        i = static_cast<int>(k);
        break;
      }
    if (i < 0) continue;
    for (size_t k = 0; k < t.size(); ++k)
      if (t[k].depth == depth && static_cast<int>(k) != t[static_cast<size_t>(i)].parent) {
        other = static_cast<int>(k);
        break;
      }
    if (other < 0) continue;
    Json acc = account_json(t, i, "user" + std::to_string(i % 100));
    acc["spec"]["parent"] = {{"cluster", t[static_cast<size_t>(other)].cluster}, {"name", t[static_cast<size_t>(other)].name}};
    auto t0 = Clock::now();
    auto r = e.apply({Op::update(acc)});
    double took = us(Clock::now() - t0);
    if (!r.ok) std::exit(1);
    reparent.push_back({{"subtree_size", subtree(t, i)}, {"us", std::round(took)}, {"tuples_changed", r.tuples.size()}});
  }

  Json upd = stats(update);
  double median = upd["median_us"].get<double>();
  return {{"accounts", n},
          {"objects", objects},
          {"tuples", tuples},
          {"matches", matches},
          {"cold_s", std::round(cold * 1000) / 1000},
          {"peak_rss_mib", std::round(rss_mib)},
          {"create", stats(create)},
          {"update", upd},
          {"delete", stats(remove)},
          {"cold_drain", stats(drain)},
          {"full_recompute_update_s", std::round(full_s * 1000) / 1000},
          {"incremental_speedup", std::round(full_s * 1e6 / std::max(median, 0.001))},
          {"reparent", reparent}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string sizes = "1000,10000,100000";
  std::string rules = RULES_PATH;
  int samples = 200, size = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    if (f == "--sizes") sizes = argv[i + 1];
    else if (f == "--samples") samples = count_arg("--samples", argv[i + 1]);
    else if (f == "--size") size = count_arg("--size", argv[i + 1]);
    else if (f == "--rules") rules = argv[i + 1];
  }
  if (size > 0) {
    std::cout << run_size(rules, size, samples).dump() << std::endl;
    return 0;
  }
  // One process per size, so that each peak RSS is its own.
  Json results = Json::array();
  std::stringstream ss(sizes);
  std::string item;
  while (std::getline(ss, item, ',')) {
    count_arg("--sizes", item);
    std::string out;
    if (!run_captured({"/proc/self/exe", "--size", item, "--samples", std::to_string(samples), "--rules", rules}, &out)) {
      std::cerr << "pmesh-bench: size " << item << " failed\n";
      return 1;
    }
    results.push_back(Json::parse(out));
  }
  Json summary = {{"sizes", results}};
  if (results.size() >= 2) {
    double first = results.front()["update"]["median_us"], last = results.back()["update"]["median_us"];
    summary["update_median_ratio_largest_vs_smallest"] = std::round(last / first * 100) / 100;
  }
  std::cout << summary.dump(2) << std::endl;
  return 0;
}
