#include "dsl/planner.h"

#include "stdlib/builtins.h"
#include "stdlib/text.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <set>

#include "dsl/object_model.h"

namespace pmesh::dsl {
namespace {

using VarSet = std::set<const VarInfo*>;

}  // namespace

std::string Operand::to_string() const {
  if (inner && inner2) return fn + "(" + inner->to_string() + ", " + inner2->to_string() + ")";
  if (inner) return fn + "(" + inner->to_string() + ")";
  if (trigger_arg >= 0) return "trigger[" + std::to_string(trigger_arg) + "]";
  if (tuple_value >= 0) return value_label;
  if (expr) return dsl::to_string(*expr);
  if (var) return path.empty() ? var->name : var->name + "." + path;
  return "?";
}

std::string IndexSpec::to_string() const {
  return (relation ? "relation " : "") + name + "(" + join(keys, ", ") + ")";
}

int Planner::index_for(IndexSpec spec) {
  auto it = std::find(indexes_.begin(), indexes_.end(), spec);
  if (it != indexes_.end()) return static_cast<int>(it - indexes_.begin());
  indexes_.push_back(std::move(spec));
  return static_cast<int>(indexes_.size() - 1);
}

RulePlan Planner::plan(const RuleInfo& info) {
  RulePlan rp;
  rp.info = &info;
  tuple_values_ = 0;
  const Body& top = info.rule->body;
  // What is bound before any item: an admission rule's `request`.
  std::vector<const VarInfo*> given;
  for (const auto& v : info.vars)
    if (v->kind == VarInfo::Kind::kRequest) given.push_back(v.get());
  rp.full = plan_body(info, {&top}, given, nullptr);
  const ObjectPattern* admitted = info.rule->admitted();
  if (admitted) {
    // An admission rule starts from the object it admits, and only from it.
    for (const auto& item : top.items)
      if (item.kind == BodyItemKind::kObject && &item.object == admitted) rp.deltas.push_back(plan_body(info, {&top}, given, &item));
  }

  // Delta plans for every pattern, at any depth. `path` is the chain of
  // bodies from the rule's down to the one being walked.
  std::function<void(const Body&, std::vector<const Body*>)> walk = [&](const Body& b,
                                                                        std::vector<const Body*> path) {
    path.push_back(&b);
    for (const auto& item : b.items) {
      if (item.kind == BodyItemKind::kObject || item.kind == BodyItemKind::kTuple)
        rp.deltas.push_back(plan_body(info, path, {}, &item));
      if (item.kind == BodyItemKind::kNot) walk(*item.negated, path);
    }
  };
  if (!admitted) walk(top, {});

  // Aggregates: their bodies are planned with every enclosing variable bound,
  // and each of their patterns gets a re-evaluation plan.
  std::function<void(const Expr&, const std::vector<const Body*>&)> aggs;
  std::function<void(const Body&, std::vector<const Body*>)> scan = [&](const Body& b,
                                                                        std::vector<const Body*> path) {
    path.push_back(&b);
    for (const auto& item : b.items) {
      if (item.expr) aggs(*item.expr, path);
      if (item.kind == BodyItemKind::kNot) scan(*item.negated, path);
    }
  };
  aggs = [&](const Expr& e, const std::vector<const Body*>& path) {
    if (e.kind == ExprKind::kAggregate) {
      std::vector<const VarInfo*> outer;
      for (const auto& v : info.vars)
        if (std::find(path.begin(), path.end(), v->scope) != path.end()) outer.push_back(v.get());
      rp.subplans[e.body.get()] = std::make_shared<Plan>(plan_body(info, {e.body.get()}, outer, nullptr));
      std::vector<const Body*> inner = path;
      inner.push_back(e.body.get());
      for (const auto& item : e.body->items)
        if (!admitted && (item.kind == BodyItemKind::kObject || item.kind == BodyItemKind::kTuple))
          rp.deltas.push_back(plan_body(info, inner, {}, &item));
      scan(*e.body, path);
    }
    for (const auto& a : e.args) aggs(*a, path);
  };
  scan(top, {});
  for (const auto& h : info.rule->heads) {
    for (const ExprPtr* e : {&h.cluster, &h.ns, &h.name, &h.value})
      if (*e) aggs(**e, {&top});
    for (const auto& f : h.fields) aggs(*f.value, {&top});
  }
  rp.tuple_values = tuple_values_;
  return rp;
}

void unindex_pinned_steps(std::vector<RulePlan>& plans, std::vector<IndexSpec>& indexes) {
  for (auto& rp : plans)
    for (auto& st : rp.full.steps) {
      bool looks_up = st.op == StepOp::kScan || st.op == StepOp::kLookup || st.op == StepOp::kTupleScan ||
                      st.op == StepOp::kTupleLookup;
      bool positive = st.item && (st.item->kind == BodyItemKind::kTuple ||
                                  (st.item->kind == BodyItemKind::kObject && !st.item->object.optional));
      if (!looks_up || !positive) continue;
      st.pinned = true;
      st.index = -1;
    }
  // The indexes still named, in their order, and each step's new number.
  std::vector<int> renumbered(indexes.size(), -1);
  std::function<void(Plan&, bool)> visit = [&](Plan& p, bool renumber) {
    for (auto& st : p.steps) {
      if (st.index >= 0) {
        int& to = renumbered[static_cast<size_t>(st.index)];
        if (renumber) st.index = to;
        else to = 0;
      }
      if (st.sub) visit(*st.sub, renumber);
    }
  };
  auto each_plan = [&](bool renumber) {
    for (auto& rp : plans) {
      visit(rp.full, renumber);
      for (auto& d : rp.deltas) visit(d, renumber);
      for (auto& [body, sub] : rp.subplans) visit(*sub, renumber);
    }
  };
  each_plan(false);
  std::vector<IndexSpec> kept;
  for (size_t i = 0; i < indexes.size(); ++i)
    if (renumbered[i] == 0) {
      renumbered[i] = static_cast<int>(kept.size());
      kept.push_back(std::move(indexes[i]));
    }
  each_plan(true);
  indexes = std::move(kept);
}

namespace {

const char* op_name(StepOp op) {
  switch (op) {
    case StepOp::kScan: return "scan";
    case StepOp::kLookup: return "lookup";
    case StepOp::kTupleScan: return "scan-tuples";
    case StepOp::kTupleLookup: return "lookup-tuples";
    case StepOp::kLet: return "let";
    case StepOp::kFilter: return "filter";
    case StepOp::kNot: return "not";
    case StepOp::kOptional: return "optional";
  }
  return "?";
}

void describe_plan(const Plan& p, const std::vector<IndexSpec>& indexes, const std::string& indent, std::string& out) {
  for (const auto& [a, b] : p.trigger_checks) out += indent + "check " + a.to_string() + " == " + b.to_string() + "\n";
  auto kind_check = [&](size_t at) {
    if (at == p.trigger_kind_check)
      out += indent + "check " + p.trigger->object.var + " is " + to_string(*p.trigger->object.kind.group) + "/" +
             to_string(*p.trigger->object.kind.resource) + "\n";
  };
  for (size_t at = 0; at < p.steps.size(); ++at) {
    kind_check(at);
    if (at == p.found_at) out += indent + "(a match is found here: a search computes nothing below)\n";
    const Step& s = p.steps[at];
    out += indent + op_name(s.op);
    switch (s.op) {
      case StepOp::kScan:
      case StepOp::kLookup:
      case StepOp::kOptional:
        out += " " + s.binds->name + ": " + (s.binds->decl ? s.binds->decl->name : std::string("resource(...)"));
        break;
      case StepOp::kTupleScan:
      case StepOp::kTupleLookup:
        out += " " + s.item->tuple.relation + "(";
        for (size_t i = 0; i < s.item->tuple.args.size(); ++i)
          out += (i ? ", " : "") + to_string(*s.item->tuple.args[i]);
        out += ")";
        break;
      case StepOp::kLet: out += " " + s.binds->name + (s.item->each ? " in " : " = ") + to_string(*s.item->expr); break;
      case StepOp::kFilter: out += " " + to_string(*s.item->expr); break;
      case StepOp::kNot: break;
    }
    if (!s.keys.empty()) {
      out += " by ";
      if (s.pinned) out += "the match's own fact ";
      else if (s.index >= 0) out += "index " + indexes[static_cast<size_t>(s.index)].to_string() + " ";
      else if (s.op != StepOp::kTupleLookup) out += "primary key ";
      out += "{";
      for (size_t i = 0; i < s.keys.size(); ++i)
        out += (i ? ", " : "") + s.keys[i].key + " = " + s.keys[i].value.to_string();
      out += "}";
    }
    out += "\n";
    for (const auto& [a, b] : s.checks) out += indent + "  check " + a.to_string() + " == " + b.to_string() + "\n";
    if (s.sub) describe_plan(*s.sub, indexes, indent + "    ", out);
  }
  kind_check(p.steps.size());
}

}  // namespace

std::string describe(const RulePlan& plan, const std::vector<IndexSpec>& indexes) {
  std::string out = "rule " + plan.info->rule->name + "\n  full:\n";
  describe_plan(plan.full, indexes, "    ", out);
  for (const auto& d : plan.deltas) {
    std::string what = d.trigger->kind == BodyItemKind::kObject
                           ? d.trigger->object.var + ": " + (d.trigger->object.kind.dynamic() ? std::string("resource(...)") : d.trigger->object.kind.name)
                           : d.trigger->tuple.relation + "(...)";
    out += "  on change of " + what + (d.reevaluate ? " (re-evaluates the match)" : "") + ":\n";
    describe_plan(d, indexes, "    ", out);
  }
  return out;
}

}  // namespace pmesh::dsl
