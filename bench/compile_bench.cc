// Compile-time benchmark: how long the front end takes on a generated
// program of N rules, against a baseline of N/10 rules measured in the same
// run (the ratio says whether compile time grows linearly).
//
//   build/bench/pmesh-compile-bench [--rules N] [--repeat R]
//
// Prints one JSON object. Times are medians of R runs, in milliseconds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "dsl/compiler.h"

namespace {

// N rules over N/10 kinds, each with a join, a let, a filter, a negation and
// an aggregate, setting its own status condition; plus a recursive relation.
std::string generate(int rules) {
  int kinds = std::max(2, rules / 10);
  std::string s = "module gen\nimport stdlib.conditions\n";
  for (int k = 0; k < kinds; ++k)
    s += "kind K" + std::to_string(k) + " { group: gen.example.io, version: v1, plural: k" + std::to_string(k) +
         "s, scope: Cluster, sections: [spec, status], subresources: [status] }\n";
  s += "relation link(a, b)\nrelation reach(a, b) :- link(a, b).\nrelation reach(a, c) :- reach(a, b), link(b, c).\n";
  for (int r = 0; r < rules; ++r) {
    std::string a = "K" + std::to_string(r % kinds);
    std::string b = "K" + std::to_string((r + 1) % kinds);
    std::string n = std::to_string(r);
    s += "rule r" + n + "\n"
         "  for x: " + a + "\n"
         "  for y: " + b + " in x.cluster named x.spec.peer\n"
         "  let w = x.spec.weight ?? 0\n"
         "  where w > " + std::to_string(r % 7) + " and y.spec.enabled == true\n"
         "  not for _z: " + b + " in x.cluster named \"{x.name}-blocked\"\n"
         "  let n = count { for _c: " + a + " in child(x.cluster, x.name) }\n"
         "  set x.status.conditions[\"C" + n + "\"] = condition(n > 0, \"Counted\")\n"
         "  derive link(\"{x.cluster}/{x.name}\", \"{y.cluster}/{y.name}\")\n";
  }
  return s;
}

double compile_ms(const std::string& text, int repeat, bool* ok) {
  std::vector<double> times;
  for (int i = 0; i < repeat; ++i) {
    auto start = std::chrono::steady_clock::now();
    pmesh::dsl::DiagnosticSink diags;
    auto p = pmesh::dsl::compile(pmesh::dsl::load_program_from_texts({{"gen.rules", text}}, diags), diags);
    auto end = std::chrono::steady_clock::now();
    *ok = !diags.has_errors();
    if (!*ok) std::fprintf(stderr, "%s", diags.format().c_str());
    times.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  return pmesh::bench::percentile(times, 0.5);
}

}  // namespace

int main(int argc, char** argv) {
  int rules = 1000, repeat = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--rules") rules = pmesh::bench::count_arg("--rules", argv[i + 1]);
    else if (flag == "--repeat") repeat = pmesh::bench::count_arg("--repeat", argv[i + 1]);
  }
  rules = std::max(rules, 10);
  repeat = std::max(repeat, 1);
  bool ok_base = false, ok = false;
  int base_rules = rules / 10;
  double base = compile_ms(generate(base_rules), repeat, &ok_base);
  double full = compile_ms(generate(rules), repeat, &ok);
  if (!ok || !ok_base) return 1;
  std::printf(
      "{\"rules\": %d, \"compile_ms\": %.2f, \"per_rule_us\": %.1f, \"baseline_rules\": %d, "
      "\"baseline_compile_ms\": %.2f, \"ratio\": %.2f, \"linear_ratio\": %d, \"repeat\": %d}\n",
      rules, full, full * 1000.0 / rules, base_rules, base, full / base, rules / base_rules, repeat);
  return 0;
}
