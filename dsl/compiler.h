// The compiler: from .rules files to a checked, planned program.
//
// compile() runs the front end in order: load and parse (program.h), name
// resolution, access analysis and write conflicts (analysis/), the
// dependency graph and its strata (graph.h), and the planner (planner.h).
// Every stage reports into one DiagnosticSink and later stages still run
// where they can, so that one run shows every error; the result is usable
// only when the sink has no errors.
//
// Thread safety: a CompiledProgram is immutable and may be shared.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dsl/analysis/rule_info.h"
#include "dsl/diagnostics.h"
#include "dsl/graph.h"
#include "dsl/planner.h"
#include "dsl/program.h"

namespace pmesh::dsl {

struct CompiledProgram {
  std::unique_ptr<Program> program;
  std::vector<RuleInfo> rules;  // in program order
  std::unique_ptr<DependencyGraph> graph;
  std::vector<RulePlan> plans;  // one per rule, same order; empty when there are errors
  std::vector<IndexSpec> indexes;

  // "N modules, N kinds, N rules, N relations, N tests, N strata"
  std::string summary() const;
};

std::unique_ptr<CompiledProgram> compile(std::unique_ptr<Program> program, DiagnosticSink& diags);

// load_program + compile.
std::unique_ptr<CompiledProgram> compile_paths(const std::vector<std::string>& paths, DiagnosticSink& diags);

}  // namespace pmesh::dsl
