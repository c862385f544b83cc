// The pmesh command: one program for the compiler's tools (check, graph,
// plan) and, as they land, the engine's and the server's.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "cli/engine_commands.h"
#include "cli/fga_commands.h"
#include "dsl/compiler.h"
#include "cli/serve_command.h"
#include "engine/test_runner.h"
#include "stdlib/builtins.h"

namespace {

using pmesh::dsl::CompiledProgram;
using pmesh::dsl::DiagnosticSink;

const char* kUsage = R"(pmesh — a Platform Mesh control plane whose behavior is written as rules.

Usage:
  pmesh serve [--data-dir DIR] [--listen HOST:PORT] [--policies PATHS]
                                           serve the KRM API (default: ./.pmesh, 127.0.0.1:6443, the embedded rules)
  pmesh check PATHS...                     compile .rules files and folders; print diagnostics or a summary
  pmesh graph PATHS... [--format dot|json] print the dependency graph and its strata
  pmesh plan PATHS... [--rule NAME]        print the evaluation plans and the indexes they need
  pmesh test PATHS... [--filter TEXT]      run the test blocks; after every step, check incremental == from scratch
  pmesh dry-run -f FILES... [--policies PATHS] [--data-dir DIR] [-o text|json|yaml] [--explain] [--profile]
                                           evaluate objects on top of an empty store or a data directory; commit nothing
  pmesh apply -f FILES... --data-dir DIR [--policies PATHS]
                                           create or update objects in a data directory (one transaction)
  pmesh explain KIND CLUSTER/[NS/]NAME --data-dir DIR [--policies PATHS]
                                           the provenance of a stored object, or why it is absent
  pmesh verify --data-dir DIR [--policies PATHS]
                                           recompute from scratch and compare with the stored state
  pmesh serviceaccount-keys rotate --data-dir DIR
                                           a new key to sign ServiceAccount tokens from the next start; the old
                                           ones verify until their files are removed from DIR/serviceaccount-keys
  pmesh builtins                           list the builtin functions
  pmesh fga compile MODEL [--prefix P] [-o rules|json|dsl]
                                           an OpenFGA model (DSL, JSON or fga.mod) as the rules it becomes
  pmesh fga test FILES... [--filter TEXT]  run OpenFGA model test files (.fga.yaml) through the engine

Without --policies the rules are the stdlib compiled into the binary. -f takes
YAML or JSON files or folders (several documents per file, kind: List).
  pmesh help                               this text

Exit status: 0 on success, 1 when the rules have errors, 2 on a usage error.
)";

int usage_error(const std::string& msg) {
  std::cerr << "pmesh: " << msg << "\n(see `pmesh help`)\n";
  return 2;
}

struct Args {
  std::vector<std::string> paths;
  std::string filter;
  std::string format = "dot";
  std::string rule;
};

bool parse_args(const std::vector<std::string>& argv, Args& a, std::string& err) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& s = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argv.size()) {
        err = s + " needs a value";
        return false;
      }
      out = argv[++i];
      return true;
    };
    if (s == "--format" || s == "-o") {
      if (!value(a.format)) return false;
    } else if (s.rfind("--format=", 0) == 0) {
      a.format = s.substr(9);
    } else if (s == "--rule") {
      if (!value(a.rule)) return false;
    } else if (s == "--filter") {
      if (!value(a.filter)) return false;
    } else if (s.size() > 1 && s[0] == '-') {
      err = "unknown flag " + s;
      return false;
    } else {
      a.paths.push_back(s);
    }
  }
  if (a.paths.empty()) {
    err = "name at least one .rules file or folder";
    return false;
  }
  return true;
}

std::unique_ptr<CompiledProgram> compile_or_report(const Args& a, double* ms = nullptr) {
  DiagnosticSink diags;
  auto start = std::chrono::steady_clock::now();
  auto program = pmesh::dsl::compile_paths(a.paths, diags);
  auto end = std::chrono::steady_clock::now();
  if (ms) *ms = std::chrono::duration<double, std::milli>(end - start).count();
  std::cerr << diags.format();
  if (diags.has_errors()) {
    std::cerr << "pmesh: " << diags.error_count() << " error" << (diags.error_count() == 1 ? "" : "s") << "\n";
    return nullptr;
  }
  return program;
}

int cmd_check(const Args& a) {
  double ms = 0;
  auto p = compile_or_report(a, &ms);
  if (!p) return 1;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", ms);
  std::cout << "ok: " << p->summary() << " (" << buf << " ms)\n";
  return 0;
}

int cmd_graph(const Args& a) {
  if (a.format != "dot" && a.format != "json") return usage_error("--format is dot or json");
  auto p = compile_or_report(a);
  if (!p) return 1;
  std::cout << (a.format == "dot" ? p->graph->to_dot() : p->graph->to_json());
  return 0;
}

int cmd_plan(const Args& a) {
  auto p = compile_or_report(a);
  if (!p) return 1;
  bool found = a.rule.empty();
  for (const auto& rp : p->plans) {
    if (!a.rule.empty() && rp.info->rule->name != a.rule) continue;
    found = true;
    std::cout << pmesh::dsl::describe(rp, p->indexes) << "\n";
  }
  if (!found) return usage_error("no rule named " + a.rule);
  if (a.rule.empty()) {
    std::cout << "indexes:\n";
    for (const auto& ix : p->indexes) std::cout << "  " << ix.to_string() << "\n";
  }
  return 0;
}

int cmd_test(const Args& a) {
  std::shared_ptr<CompiledProgram> p = compile_or_report(a);
  if (!p) return 1;
  auto report = pmesh::engine::run_tests(p, a.filter);
  for (const auto& o : report.outcomes) {
    std::cout << (o.passed ? "PASS  " : "FAIL  ") << o.file << ": " << o.name << "\n";
    if (!o.passed) {
      std::string indented;
      for (char c : o.failure) indented += c == '\n' ? std::string("\n      ") : std::string(1, c);
      std::cout << "      " << indented << "\n";
    }
  }
  std::cout << report.passed << " passed, " << report.failed << " failed\n";
  return report.failed ? 1 : 0;
}

int cmd_builtins() {
  for (const auto& b : pmesh::all_builtins()) std::cout << b.signature << "\n    " << b.doc << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  if (cmd == "builtins") return cmd_builtins();
  if (cmd == "serve") return pmesh::cli::serve_main(args);
  if (cmd == "serviceaccount-keys") return pmesh::cli::serviceaccount_keys_main(args);
  if (cmd == "dry-run") return pmesh::cli::cmd_dry_run(args);
  if (cmd == "apply") return pmesh::cli::cmd_apply(args);
  if (cmd == "explain") return pmesh::cli::cmd_explain(args);
  if (cmd == "verify") return pmesh::cli::cmd_verify(args);
  if (cmd == "fga") return pmesh::cli::cmd_fga(args);
  Args a;
  std::string err;
  if (cmd == "check" || cmd == "graph" || cmd == "plan" || cmd == "test") {
    if (!parse_args(args, a, err)) return usage_error(err);
    if (cmd == "check") return cmd_check(a);
    if (cmd == "test") return cmd_test(a);
    if (cmd == "graph") return cmd_graph(a);
    return cmd_plan(a);
  }
  return usage_error("unknown command `" + cmd + "`");
}
