#include "dsl/compiler.h"

#include <set>

#include "dsl/analysis/access_analysis.h"
#include "dsl/analysis/name_resolution.h"
#include "dsl/analysis/schema_conformance.h"
#include "dsl/analysis/write_conflicts.h"

namespace pmesh::dsl {

std::string CompiledProgram::summary() const {
  size_t relations = program->relations().size();
  auto plural = [](size_t n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
  };
  return plural(program->modules().size(), "module") + ", " + plural(program->kinds().size(), "kind") + ", " +
         plural(rules.size(), "rule") + ", " + plural(relations, "relation") + ", " +
         plural(program->tests().size(), "test") + ", " + (std::to_string(graph ? graph->strata().size() : 0) + (graph && graph->strata().size() == 1 ? " stratum" : " strata"));
}

namespace {

void warn_scans(const std::vector<RulePlan>& plans, DiagnosticSink& diags) {
  // A change that reads every object of a kind pays for the whole kind,
  // in every workspace, at each change: said, so that the rule gets a key
  // to look it up by (a clause, an equality, a relation in between).
  for (const auto& rp : plans) {
    std::set<const BodyItem*> said;
    for (const auto& d : rp.deltas)
      for (const auto& st : d.steps) {
        if (st.op != StepOp::kScan || !st.keys.empty() || !st.item || !d.trigger || !said.insert(st.item).second) continue;
        std::string changed = d.trigger->kind == BodyItemKind::kObject ? d.trigger->object.kind.name : d.trigger->tuple.relation;
        diags.warning(st.item->span, "rule `" + rp.info->rule->name + "`: a change of " + (changed.empty() ? "an object" : changed) +
                                         " reads every " + st.item->object.kind.name +
                                         " (nothing gives a key to look it up by); `pmesh plan --rule " + rp.info->rule->name +
                                         "` shows the plan");
      }
  }
}

}  // namespace

std::unique_ptr<CompiledProgram> compile(std::unique_ptr<Program> program, DiagnosticSink& diags) {
  auto out = std::make_unique<CompiledProgram>();
  out->program = std::move(program);
  const Program& p = *out->program;

  NameResolution names(p, diags);
  for (const auto& m : p.modules())
    for (const auto& f : m->functions) names.check_function(*m, f);
  for (const auto& [m, r] : p.rules()) out->rules.push_back(names.resolve(*m, *r));
  for (const auto& [m, t] : p.tests()) names.check_test(*m, *t);

  AccessAnalysis access(p, diags);
  for (auto& r : out->rules) access.analyze(r);
  WriteConflicts(diags).check(out->rules);
  SchemaConformance schemas(p, diags);
  for (const auto& r : out->rules) schemas.check(r);

  out->graph = std::make_unique<DependencyGraph>(out->rules, diags);
  if (diags.has_errors()) return out;

  Planner planner(diags, &p);
  for (const auto& r : out->rules) out->plans.push_back(planner.plan(r));
  out->indexes = planner.indexes();
  unindex_pinned_steps(out->plans, out->indexes);
  warn_scans(out->plans, diags);
  return out;
}

std::unique_ptr<CompiledProgram> compile_paths(const std::vector<std::string>& paths, DiagnosticSink& diags) {
  return compile(load_program(paths, diags), diags);
}

}  // namespace pmesh::dsl
