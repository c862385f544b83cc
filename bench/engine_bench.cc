// Engine benchmark: a tree of accounts of depth 5 (bench/workload.rules).
//
//   build/bench/pmesh-bench [--sizes 1000,10000,100000] [--samples 200]
//   (--size N: that size alone, its samples one after another; with
//   --lockstep 1, as the sizes' processes run: samples when asked on stdin)
//
// For each size, in a process of its own (so that peak RSS is that size's):
// the cold fixpoint (every account created, all rules run), peak RSS, the
// median and p99 engine time of a single account create, update and delete,
// the same update done by full recomputation (the baseline: the cold load,
// since recomputing is deriving everything from the inputs again), and the cost of
// re-parenting an account against the size of its subtree. Prints JSON.
// The sizes load one after another, then take their samples in turns of
// 100, in lockstep (since 2026-12-06), so that the ratio of the largest
// size's update median to the smallest's compares samples taken in the
// same seconds; `update_ratio_paired` is the median over the turns of
// that ratio within each turn (list the sizes smallest first).
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
#include <csignal>
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

Json stats(const std::vector<double>& v) {
  return {{"median_us", std::round(pmesh::bench::percentile(v, 0.5) * 10) / 10},
          {"p99_us", std::round(pmesh::bench::percentile(v, 0.99) * 10) / 10},
          {"samples", v.size()}};
}

size_t subtree(const std::vector<Account>& t, int i) {
  size_t n = 1;
  for (int c : t[static_cast<size_t>(i)].children) n += subtree(t, c);
  return n;
}

// One size's engine, loaded, and its single-account samples.
class SizeRun {
 public:
  SizeRun(const std::string& rules, int n) : prog_(program(rules)), t_(tree(n)), e_(prog_, options()), cold_drain_(e_), n_(n) {
    cold_ = load(e_, t_, 1000);
    cold_drain_.drain();
    rss_mib_ = static_cast<double>(pmesh::bench::peak_rss_kib()) / 1024.0;
    tuples_ = e_.state().tuples().size();
    objects_ = e_.state().objects().size();
    matches_ = e_.state().match_count();
  }

  // Sample `s`: an account created under a leaf (the deepest accounts),
  // updated and deleted, each timed. Untimed (`timed` false), it warms
  // the caches after another size's turn (another name, the same work).
  void sample(int s, bool timed = true) {
    int parent = static_cast<int>(t_.size()) - 1 - (s * 7919) % std::max(1, n_ / 2);
    const Account& p = t_[static_cast<size_t>(parent)];
    std::string name = (timed ? "bench-" : "warm-") + std::to_string(s);
    Json acc = {{"apiVersion", "core.platform-mesh.io/v1alpha1"},
                {"kind", "Account"},
                {"metadata", {{"name", name}, {"cluster", p.cluster + ":" + p.name}}},
                {"spec", {{"type", "account"}, {"creator", "newcomer"}, {"parent", {{"cluster", p.cluster}, {"name", p.name}}}}}};
    double drained = 0;
    auto t0 = Clock::now();
    bool ok = e_.apply({Op::create(acc)}).ok;
    double create = us(Clock::now() - t0);
    drained += cold_drain_.drain();
    acc["spec"]["creator"] = "someone-else";
    auto t1 = Clock::now();
    ok = ok && e_.apply({Op::update(acc)}).ok;
    double update = us(Clock::now() - t1);
    drained += cold_drain_.drain();
    auto t2 = Clock::now();
    ok = ok && e_.apply({Op::remove({"Account", p.cluster + ":" + p.name, "", name})}).ok;
    double remove = us(Clock::now() - t2);
    drained += cold_drain_.drain();
    if (!ok) {
      std::cerr << "single operation failed\n";
      std::exit(1);
    }
    if (!timed) return;
    create_.push_back(create);
    update_.push_back(update);
    remove_.push_back(remove);
    drain_.push_back(drained);
  }

  // The median update time of the last `k` samples.
  double recent_update_median(int k) const {
    auto from = update_.end() - static_cast<long>(std::min<size_t>(update_.size(), static_cast<size_t>(k)));
    return pmesh::bench::percentile({from, update_.end()}, 0.5);
  }

  // The samples' figures, and re-parenting (which changes the tree: last).
  Json finish();

 private:
  std::shared_ptr<const pmesh::dsl::CompiledProgram> prog_;
  std::vector<Account> t_;
  Engine e_;
  pmesh::bench::ColdDrain cold_drain_;
  int n_;
  double cold_ = 0, rss_mib_ = 0;
  size_t tuples_ = 0, objects_ = 0, matches_ = 0;
  std::vector<double> create_, update_, remove_, drain_;
};

Json SizeRun::finish() {
  // The same update by full recomputation: every derived fact computed
  // again from the inputs, which is what the cold load does.
  double full_s = cold_;

  // Re-parenting: point an account at another parent of the same depth;
  // membership changes for its whole subtree.
  Json reparent = Json::array();
  for (int depth = 4; depth >= 1; --depth) {
    int i = -1, other = -1;
    for (size_t k = 0; k < t_.size(); ++k)
      if (t_[k].depth == depth + 1) {
        i = static_cast<int>(k);
        break;
      }
    if (i < 0) continue;
    for (size_t k = 0; k < t_.size(); ++k)
      if (t_[k].depth == depth && static_cast<int>(k) != t_[static_cast<size_t>(i)].parent) {
        other = static_cast<int>(k);
        break;
      }
    if (other < 0) continue;
    Json acc = account_json(t_, i, "user" + std::to_string(i % 100));
    acc["spec"]["parent"] = {{"cluster", t_[static_cast<size_t>(other)].cluster}, {"name", t_[static_cast<size_t>(other)].name}};
    auto t0 = Clock::now();
    auto r = e_.apply({Op::update(acc)});
    double took = us(Clock::now() - t0);
    if (!r.ok) std::exit(1);
    reparent.push_back({{"subtree_size", subtree(t_, i)}, {"us", std::round(took)}, {"tuples_changed", r.tuples.size()}});
  }

  Json upd = stats(update_);
  double median = upd["median_us"].get<double>();
  return {{"accounts", n_},
          {"objects", objects_},
          {"tuples", tuples_},
          {"matches", matches_},
          {"cold_s", std::round(cold_ * 1000) / 1000},
          {"peak_rss_mib", std::round(rss_mib_)},
          {"create", stats(create_)},
          {"update", upd},
          {"delete", stats(remove_)},
          {"cold_drain", stats(drain_)},
          {"full_recompute_update_s", std::round(full_s * 1000) / 1000},
          {"incremental_speedup", std::round(full_s * 1e6 / std::max(median, 0.001))},
          {"reparent", reparent}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string sizes = "1000,10000,100000";
  std::string rules = RULES_PATH;
  int samples = 200, size = 0, lockstep = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    if (f == "--sizes") sizes = argv[i + 1];
    else if (f == "--samples") samples = count_arg("--samples", argv[i + 1]);
    else if (f == "--size") size = count_arg("--size", argv[i + 1]);
    else if (f == "--rules") rules = argv[i + 1];
    else if (f == "--lockstep") lockstep = count_arg("--lockstep", argv[i + 1]);
  }
  if (size > 0 && !lockstep) {
    SizeRun run(rules, size);
    for (int s = 0; s < samples; ++s) run.sample(s);
    std::cout << run.finish().dump() << std::endl;
    return 0;
  }
  if (size > 0) {
    // A size run by the bench below: loaded, then samples when asked.
    SizeRun run(rules, size);
    std::cout << "ready" << std::endl;
    // The other sizes' turns may have taken this one's data out of the
    // caches: a few untimed samples first bring it back.
    constexpr int kWarmUp = 3;
    int next = 0;
    for (std::string line; std::getline(std::cin, line);) {
      if (line == "end") {
        std::cout << run.finish().dump() << std::endl;
        return 0;
      }
      if (!line.starts_with("run ")) {
        std::cerr << "pmesh-bench --lockstep: want \"run N\" or \"end\", not \"" << line << "\"\n";
        return 2;
      }
      int k = count_arg("run", line.substr(4));
      for (int i = 0; i < kWarmUp; ++i) run.sample(next + i, false);
      for (int i = 0; i < k; ++i) run.sample(next++);
      std::cout << "ok " << run.recent_update_median(k) << std::endl;
    }
    return 1;  // the bench is gone
  }
  // One process per size, so that each peak RSS is its own. They load one
  // after the other, then take turns, a few samples each, in an order that
  // alternates: what else runs on the machine meanwhile slows every size
  // alike, and the sizes' ratio is that of their own costs (run one after
  // the other, the same sizes' update ratio ranged from 1.03 to 1.42).
  std::vector<std::string> items;
  {
    std::stringstream ss(sizes);
    for (std::string item; std::getline(ss, item, ',');) items.push_back(std::to_string(count_arg("--sizes", item)));
  }
  std::signal(SIGPIPE, SIG_IGN);  // a size that died fails its send(), with a message
  std::vector<pmesh::bench::Child> children(items.size());
  auto fail = [&](const std::string& item, const std::string& what) {
    std::cerr << "pmesh-bench: size " << item << " " << what << "\n";
    std::exit(1);
  };
  std::string reply;
  for (size_t c = 0; c < items.size(); ++c) {
    std::vector<std::string> argv = {"/proc/self/exe", "--size", items[c], "--lockstep", "1", "--rules", rules};
    if (!children[c].start(argv) || !children[c].line(&reply) || reply != "ready") fail(items[c], "did not load");
  }
  std::vector<std::vector<double>> turn_medians(children.size());
  constexpr int kTurn = 100;  // samples a size takes at its turn
  for (int done = 0, turn = 0; done < samples; done += kTurn, ++turn) {
    int k = std::min(kTurn, samples - done);
    for (size_t i = 0; i < children.size(); ++i) {
      size_t c = turn % 2 == 0 ? i : children.size() - 1 - i;
      if (!children[c].send("run " + std::to_string(k)) || !children[c].line(&reply) || !reply.starts_with("ok "))
        fail(items[c], "failed a sample");
      turn_medians[c].push_back(std::stod(reply.substr(3)));
    }
  }
  Json results = Json::array();
  for (size_t c = 0; c < children.size(); ++c) {
    if (!children[c].send("end") || !children[c].line(&reply)) fail(items[c], "gave no figures");
    results.push_back(Json::parse(reply));
    if (!children[c].finish()) fail(items[c], "failed");
  }
  Json summary = {{"sizes", results}};
  if (results.size() >= 2 && results.front()["update"]["median_us"].get<double>() > 0) {
    double first = results.front()["update"]["median_us"], last = results.back()["update"]["median_us"];
    summary["update_median_ratio_largest_vs_smallest"] = std::round(last / first * 100) / 100;
    std::vector<double> ratios;
    for (size_t t = 0; t < turn_medians.front().size(); ++t)
      if (turn_medians.front()[t] > 0) ratios.push_back(turn_medians.back()[t] / turn_medians.front()[t]);
    if (!ratios.empty()) summary["update_ratio_paired"] = std::round(pmesh::bench::percentile(ratios, 0.5) * 100) / 100;
  }
  std::cout << summary.dump(2) << std::endl;
  return 0;
}
