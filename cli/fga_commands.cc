#include "cli/fga_commands.h"

#include <iostream>

#include "cli/fga_test_file.h"
#include "fga/compile.h"
#include "fga/dsl_parser.h"

namespace pmesh::cli {

namespace {

int fga_usage(const std::string& msg) {
  std::cerr << "pmesh fga: " << msg << "\n(see `pmesh help`)\n";
  return 2;
}

int compile(const std::vector<std::string>& args) {
  std::string prefix = "fga_", format = "rules", path;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "--prefix" || a == "-o" || a == "--format") && i + 1 < args.size())
      (a == "--prefix" ? prefix : format) = args[++i];
    else if (!a.empty() && a[0] == '-') return fga_usage("unknown flag " + a);
    else if (path.empty()) path = a;
    else return fga_usage("compile takes one model (a DSL file, a JSON file or an fga.mod)");
  }
  if (path.empty()) return fga_usage("name a model file");
  if (format != "rules" && format != "json" && format != "dsl") return fga_usage("-o is rules, json or dsl");
  try {
    fga::Model model = fga::read_model_file(path);
    fga::CompiledModel c = fga::compile_model(std::move(model), prefix);
    if (format == "rules") std::cout << c.lowered.rules;
    else if (format == "json") std::cout << fga::to_json(c.model).dump(2) << "\n";
    else std::cout << fga::to_dsl(c.model);
    return 0;
  } catch (const fga::FgaError& e) {
    std::cerr << path << ": " << e.code << ": " << e.what() << "\n";
    return 1;
  }
}

int test(const std::vector<std::string>& args) {
  std::string filter;
  std::vector<std::string> files;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--filter" && i + 1 < args.size()) filter = args[++i];
    else if (!args[i].empty() && args[i][0] == '-') return fga_usage("unknown flag " + args[i]);
    else files.push_back(args[i]);
  }
  if (files.empty()) return fga_usage("name at least one test file");
  FgaTestTotals t;
  for (const auto& f : files) run_fga_test_file(f, filter, std::cout, &t);
  std::cout << "# Test Summary #\n"
            << "Tests " << t.tests_passed << "/" << t.tests << " passing\n"
            << "Checks " << t.checks_passed << "/" << t.checks << " passing\n"
            << "ListObjects " << t.list_objects_passed << "/" << t.list_objects << " passing\n"
            << "ListUsers " << t.list_users_passed << "/" << t.list_users << " passing\n";
  return t.passed() ? 0 : 1;
}

}  // namespace

int cmd_fga(const std::vector<std::string>& args) {
  if (args.empty()) return fga_usage("fga compile MODEL | fga test FILE...");
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "compile") return compile(rest);
  if (args[0] == "test") return test(rest);
  return fga_usage("unknown fga command `" + args[0] + "`");
}

}  // namespace pmesh::cli
