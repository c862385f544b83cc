// Relations benchmark: a recursive, relation-only program
// (bench/relations.rules: the members of an account are its owners and the
// members of its parent) over a tree of accounts, in pmesh's engine and,
// in the same run when `swipl` is installed, in SWI-Prolog 9's incremental
// tabling on the same facts (bench/relations.pl).
//
//   build/bench/pmesh-relations-bench [--sizes 1000,20000,100000] [--samples 100] [--swipl swipl|none]
//
// Each account has two owners (of 1,000 users) and, below the first level,
// a parent; the tree is at most five deep. For each size, each system in a
// process of its own (so that each peak RSS is its own): the cold
// materialization (pmesh: one transaction adding every input tuple, which
// derives the relation; SWI-Prolog: asserting the facts, then the first
// call of the tabled relation), the member tuples (the two must agree),
// peak RSS, and the median of adding and removing one leaf account (its
// owner and parent tuples) under accounts spread over the tree. An update
// in pmesh is a transaction that maintains the relation; in SWI-Prolog it
// is the asserts or retracts and reading the relation again, since an
// incremental table is brought up to date when it is next called
// (`reread_s`: reading it without a change). Prints JSON with pmesh /
// SWI-Prolog ratios (below 1: pmesh is faster or smaller).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "engine/engine.h"

using pmesh::engine::Engine;
using pmesh::engine::Json;
using pmesh::engine::Op;

namespace {

using pmesh::bench::Clock;
using pmesh::bench::count_arg;
using pmesh::bench::run_captured;
using pmesh::bench::us;

// The input: owner(user, account) and parent(child, parent) tuples.
struct Facts {
  std::vector<std::pair<std::string, std::string>> owners, parents;
  std::vector<std::string> parent_accounts;  // accounts that have children, sorted
};

// n accounts, breadth-first, at most five deep, with the breadth that fits
// them; two owners each.
Facts facts(int n) {
  int b = 1;
  while (b + b * b + b * b * b + b * b * b * b + b * b * b * b * b < n) ++b;
  Facts f;
  std::vector<std::string> parents;
  for (int i = 0; i < n; ++i) {
    std::string a = "a" + std::to_string(i);
    f.owners.emplace_back("u" + std::to_string(i % 1000), a);
    f.owners.emplace_back("u" + std::to_string((i * 7 + 3) % 1000), a);
    if (i >= b) {
      std::string p = "a" + std::to_string((i - b) / b);
      f.parents.emplace_back(a, p);
      parents.push_back(p);
    }
  }
  std::sort(parents.begin(), parents.end());
  parents.erase(std::unique(parents.begin(), parents.end()), parents.end());
  f.parent_accounts = std::move(parents);
  return f;
}

double rounded(double x, int digits) {
  double m = std::pow(10.0, digits);
  return std::round(x * m) / m;
}

// The parent of sample `i`'s leaf: spread over the accounts with children,
// as relations.pl picks it.
const std::string& sample_parent(const Facts& f, int i) {
  return f.parent_accounts[static_cast<size_t>((static_cast<long>(i) * 7919) % static_cast<long>(f.parent_accounts.size()))];
}

Json run_pmesh(const std::string& rules, int n, int samples) {
  pmesh::dsl::DiagnosticSink diags;
  auto p = pmesh::dsl::compile_paths({rules}, diags);
  if (diags.has_errors()) {
    std::cerr << diags.format();
    std::exit(1);
  }
  Engine::Options o;
  o.clock = [] { return std::string("2026-01-01T00:00:00Z"); };
  Engine e(std::shared_ptr<const pmesh::dsl::CompiledProgram>(std::move(p)), o);
  Facts f = facts(n);

  std::vector<Op> ops;
  for (const auto& [u, a] : f.owners) ops.push_back(Op::add_tuple("owner", {u, a}));
  for (const auto& [c, a] : f.parents) ops.push_back(Op::add_tuple("parent", {c, a}));
  auto t0 = Clock::now();
  auto r = e.apply(ops);
  double cold = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!r.ok) {
    std::cerr << "pmesh-relations-bench: the load failed: " << r.message << "\n";
    std::exit(1);
  }
  ops.clear();
  size_t members = 0;
  e.state().scan_tuples("member", [&](const pmesh::engine::FactKey& f) {
    if (const auto* t = e.state().tuple(f); t && t->exists()) ++members;
    return true;
  });
  long peak_kib = pmesh::bench::peak_rss_kib();

  std::vector<double> add, remove;
  for (int i = 1; i <= samples; ++i) {
    const std::string& parent = sample_parent(f, i);
    std::string leaf = "bench-" + std::to_string(i);
    auto a0 = Clock::now();
    bool ok = e.apply({Op::add_tuple("owner", {"newcomer", leaf}), Op::add_tuple("parent", {leaf, parent})}).ok;
    auto a1 = Clock::now();
    ok = ok && e.apply({Op::remove_tuple("owner", {"newcomer", leaf}), Op::remove_tuple("parent", {leaf, parent})}).ok;
    auto a2 = Clock::now();
    if (!ok) {
      std::cerr << "pmesh-relations-bench: an update failed\n";
      std::exit(1);
    }
    add.push_back(us(a1 - a0));
    remove.push_back(us(a2 - a1));
  }
  return {{"cold_s", rounded(cold, 4)},
          {"members", members},
          {"tuples", e.state().tuples().size()},
          {"peak_rss_kib", peak_kib},
          {"add_median_us", rounded(pmesh::bench::percentile(add, 0.5), 1)},
          {"remove_median_us", rounded(pmesh::bench::percentile(remove, 0.5), 1)}};
}

// SWI-Prolog on the same facts, or null when it is not installed.
Json run_swipl(const std::string& swipl, const std::string& program, int n, int samples) {
  if (swipl == "none" || system(("command -v " + swipl + " > /dev/null 2>&1").c_str()) != 0) return nullptr;
  Facts f = facts(n);
  std::string file = (std::filesystem::temp_directory_path() /
                      ("pmesh-relations-bench-" + std::to_string(getpid()) + ".facts")).string();
  {
    std::ofstream out(file);
    for (const auto& [u, a] : f.owners) out << "o(" << u << ", " << a << ").\n";
    for (const auto& [c, a] : f.parents) out << "p(" << c << ", " << a << ").\n";
  }
  std::string out;
  bool ok = run_captured({swipl, "-q", program, "--", file, std::to_string(samples)}, &out);
  std::filesystem::remove(file);
  if (!ok) {
    std::cerr << "pmesh-relations-bench: swipl failed\n";
    std::exit(1);
  }
  return Json::parse(out);
}

}  // namespace

int main(int argc, char** argv) {
  std::string sizes = "1000,20000,100000", swipl = "swipl";
  std::string rules = RULES_PATH, prolog = PROLOG_PATH;
  int samples = 100, size = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--sizes") sizes = argv[i + 1];
    else if (a == "--samples") samples = std::max(1, count_arg("--samples", argv[i + 1]));
    else if (a == "--swipl") swipl = argv[i + 1];
    else if (a == "--size") size = count_arg("--size", argv[i + 1]);
  }
  if (size > 0) {  // the child that runs pmesh at one size
    std::cout << run_pmesh(rules, size, samples).dump() << std::endl;
    return 0;
  }
  Json results = Json::array();
  std::stringstream ss(sizes);
  for (std::string item; std::getline(ss, item, ',');) {
    int n = count_arg("--sizes", item);
    std::string out;
    if (!run_captured({"/proc/self/exe", "--size", item, "--samples", std::to_string(samples)}, &out)) {
      std::cerr << "pmesh-relations-bench: size " << item << " failed\n";
      return 1;
    }
    Json row = {{"accounts", n}, {"pmesh", Json::parse(out)}};
    Json swi = run_swipl(swipl, prolog, n, samples);
    if (!swi.is_null()) {
      const Json& pm = row["pmesh"];
      if (swi["members"] != pm["members"]) {
        std::cerr << "pmesh-relations-bench: pmesh derives " << pm["members"] << " members, SWI-Prolog "
                  << swi["members"] << "\n";
        return 1;
      }
      double swi_cold = swi["load_s"].get<double>() + swi["materialize_s"].get<double>();
      row["swipl"] = swi;
      row["ratios"] = {
          {"cold", rounded(pm["cold_s"].get<double>() / swi_cold, 2)},
          {"cold_vs_materialize_only", rounded(pm["cold_s"].get<double>() / swi["materialize_s"].get<double>(), 2)},
          {"peak_rss", rounded(pm["peak_rss_kib"].get<double>() / swi["peak_rss_kib"].get<double>(), 2)},
          {"add", rounded(pm["add_median_us"].get<double>() / 1e6 / swi["add_median_s"].get<double>(), 3)},
          {"remove", rounded(pm["remove_median_us"].get<double>() / 1e6 / swi["remove_median_s"].get<double>(), 3)}};
    }
    results.push_back(row);
  }
  std::cout << Json{{"sizes", results}}.dump(2) << std::endl;
  return 0;
}
