// The binder's plans: every step of every plan holds what it computes,
// bound, so the evaluator looks nothing up while a plan runs.
#include <doctest/doctest.h>

#include <functional>
#include <numeric>

#include "dsl/bound_plan.h"
#include "dsl/object_model.h"
#include "engine/state.h"
#include "tests/unit/test_util.h"

namespace pmesh::test {
namespace {

using dsl::BoundOp;
using dsl::BoundPlan;
using dsl::BoundTupleArg;
using dsl::StepOp;

const char* kPlanRules = R"(
relation member(account, user)
relation team_of(cluster, team)
relation active(team)

rule bound-plan-lookups
  for acct: Account
  for cm: ConfigMap in acct.cluster namespace "default" labels { "app.kubernetes.io/part-of": acct.name }
  for member(acct.name, _)
  not { for _other: ConfigMap in acct.cluster namespace "default" named cm.name + "-x" }
  let n = count { for _a: Account in acct.cluster }
  where n > 0
  set acct.status.phase = cm.name
  set cm.annotations["owner"] = acct.name

rule bound-plan-deferred
  for acct: Account
  for team_of(child(acct.cluster, acct.name), t)
  for active(t)
  derive member(t, acct.name)
)";

std::string joined(const std::vector<std::string>& fields) {
  std::string out;
  for (const auto& f : fields) out += (out.empty() ? "" : ".") + f;
  return out;
}

struct Bound {
  std::shared_ptr<const dsl::CompiledProgram> program;
  const dsl::RuleInfo* info = nullptr;
  const dsl::RulePlan* plan = nullptr;
  std::shared_ptr<const dsl::BoundRule> rule;
};

Bound bind(const std::string& name) {
  Bound out;
  out.program = prelude_program(kPlanRules);
  for (const auto& p : out.program->plans)
    if (p.info->rule->name == name) out.plan = &p, out.info = p.info;
  REQUIRE(out.plan != nullptr);
  out.rule = dsl::Binder(*out.program->program).bind(*out.info, *out.plan);
  return out;
}

// Checks that `to` is `from` bound, step by step, and its sub-plans in turn;
// counts what it saw in `ops`.
void check_plan(const Bound& b, const dsl::Plan& from, const BoundPlan& to, std::map<StepOp, int>& ops) {
  REQUIRE(to.src == &from);
  REQUIRE(to.steps.size() == from.steps.size());
  CHECK(to.trigger_checks.size() == from.trigger_checks.size());
  CHECK(to.trigger.item == from.trigger);
  if (from.trigger && from.trigger->kind == dsl::BodyItemKind::kObject) CHECK(to.seeded.size() == from.seeded.size());
  for (size_t i = 0; i < from.steps.size(); ++i) {
    const dsl::Step& s = from.steps[i];
    const dsl::BoundStep& t = to.steps[i];
    INFO("step " << i);
    ++ops[s.op];
    CHECK(t.src == &s);
    CHECK(t.op == s.op);
    CHECK(t.slot == (s.binds ? s.binds->index : -1));
    if (s.op == StepOp::kLet || s.op == StepOp::kFilter) CHECK(t.expr == b.rule->find(*s.item->expr));
    if (s.op == StepOp::kNot) {
      REQUIRE(t.sub != nullptr);
      check_plan(b, *s.sub, *t.sub, ops);
    }
    REQUIRE(t.keys.size() == s.keys.size());
    for (size_t k = 0; k < s.keys.size(); ++k) {
      REQUIRE(t.keys[k].value.value != nullptr);
      CHECK(t.keys[k].value.from_tuple == s.keys[k].value.from_tuple());
      CHECK(t.keys[k].namespace_key == s.keys[k].value.namespace_key);
      // An object's key names the candidate's field, split where find_at splits it.
      if (s.item->kind == dsl::BodyItemKind::kObject) CHECK(joined(t.keys[k].fields) == s.keys[k].key);
    }
    CHECK(t.checks.size() == s.checks.size());
    if (s.item && (s.item->kind == dsl::BodyItemKind::kObject || s.item->kind == dsl::BodyItemKind::kTuple))
      CHECK(t.pattern.item == s.item);
  }
}

TEST_CASE("every plan of a rule is bound step by step, with its sub-plans") {
  Bound b = bind("bound-plan-lookups");
  REQUIRE(b.rule->deltas() == b.plan->deltas.size());
  std::map<StepOp, int> ops;
  check_plan(b, b.plan->full, b.rule->full(), ops);
  for (size_t i = 0; i < b.plan->deltas.size(); ++i) check_plan(b, b.plan->deltas[i], b.rule->delta(i), ops);
  // The rule has each kind of step somewhere in its plans.
  for (StepOp op : {StepOp::kLookup, StepOp::kTupleLookup, StepOp::kNot, StepOp::kLet, StepOp::kFilter})
    CHECK(ops[op] > 0);

  // The aggregate's node holds its body's plan.
  int aggregates = 0;
  std::function<void(const dsl::Expr&)> walk = [&](const dsl::Expr& e) {
    if (e.kind == dsl::ExprKind::kAggregate) {
      ++aggregates;
      const dsl::BoundExpr* n = b.rule->find(e);
      REQUIRE(n != nullptr);
      REQUIRE(n->plan != nullptr);
      CHECK(n->plan->src == b.plan->subplans.at(e.body.get()).get());
    }
    for (const auto& a : e.args)
      if (a) walk(*a);
  };
  for (const auto& item : b.info->rule->body.items)
    if (item.expr) walk(*item.expr);
  CHECK(aggregates == 1);
}

TEST_CASE("a step's operands are bound: a variable's path split once, a namespace clause's null as \"\"") {
  Bound b = bind("bound-plan-lookups");
  // The delta plan started from the Account finds the ConfigMaps by the
  // label: its key is the label's whole name after metadata.labels, and
  // its value is acct.name, a path of a bound variable.
  bool label = false, ns = false;
  for (size_t i = 0; i < b.plan->deltas.size(); ++i)
    for (const auto& t : b.rule->delta(i).steps)
      for (const auto& k : t.keys) {
        if (k.fields.size() == 3 && k.fields[1] == "labels") {
          label = true;
          CHECK(k.fields[2] == "app.kubernetes.io/part-of");
          CHECK(k.primary == dsl::PrimaryField::kNone);
        }
        if (k.namespace_key) {
          ns = true;
          CHECK(k.primary == dsl::PrimaryField::kNamespace);
          CHECK(k.value.value->op == BoundOp::kNamespaceKey);
        }
        const dsl::BoundExpr* v = k.value.value;
        if (v->op == BoundOp::kNamespaceKey) v = v->args[0];
        // No operand of this rule is left to be found by its syntax.
        CHECK((v->src != nullptr || v->op == BoundOp::kPath || v->op == BoundOp::kTriggerArg ||
               v->op == BoundOp::kTupleValue || v->op == BoundOp::kKeyBuiltin));
        if (v->op == BoundOp::kPath) CHECK(!v->keys.empty());
      }
  CHECK(label);
  CHECK(ns);
}

TEST_CASE("a tuple pattern's arguments: `_` any, a variable its slot, one kept for a later object") {
  Bound lookups = bind("bound-plan-lookups");
  bool any = false;
  for (size_t i = 0; i < lookups.plan->deltas.size(); ++i) {
    const BoundPlan& d = lookups.rule->delta(i);
    if (!d.trigger.relation) continue;
    CHECK(*d.trigger.relation == "member");
    REQUIRE(d.trigger.args.size() == 2);
    CHECK(d.trigger.args[0].kind == BoundTupleArg::Kind::kExpr);  // acct.name, bound later
    CHECK(d.trigger.args[1].kind == BoundTupleArg::Kind::kAny);
    any = true;
  }
  CHECK(any);

  // team_of(child(acct.cluster, acct.name), t): `t` is its slot wherever
  // the pattern is; started from active(t), the tuple is found by t and
  // its first argument kept to find the Account by (Step::deferred).
  Bound deferred = bind("bound-plan-deferred");
  const dsl::VarInfo* t = nullptr;
  for (const auto& v : deferred.info->vars)
    if (v->name == "t") t = v.get();
  REQUIRE(t != nullptr);
  int patterns = 0, kept = 0;
  for (size_t i = 0; i < deferred.plan->deltas.size(); ++i) {
    const BoundPlan& d = deferred.rule->delta(i);
    std::vector<const dsl::BoundPattern*> ps{&d.trigger};
    for (const auto& step : d.steps) ps.push_back(&step.pattern);
    for (const dsl::BoundPattern* p : ps) {
      if (!p->relation || *p->relation != "team_of") continue;
      ++patterns;
      REQUIRE(p->args.size() == 2);
      CHECK(p->args[1].kind == BoundTupleArg::Kind::kVar);
      CHECK(p->args[1].slot == t->index);
      if (p->args[0].kind == BoundTupleArg::Kind::kDeferred) ++kept;
    }
  }
  CHECK(patterns == static_cast<int>(deferred.plan->deltas.size()));
  CHECK(kept == 1);
}

TEST_CASE("a rule's heads are bound: values, a path's keys in place, a derived tuple's arguments") {
  for (const char* name : {"bound-plan-lookups", "bound-plan-deferred"}) {
    Bound b = bind(name);
    const auto& heads = b.info->rule->heads;
    int keys = 0, args = 0;
    for (size_t i = 0; i < heads.size(); ++i) {
      const dsl::Head& h = heads[i];
      const dsl::BoundHead& bh = b.rule->head(i);
      INFO(name << " head " << i);
      CHECK(bh.value == (h.value ? b.rule->find(*h.value) : nullptr));
      REQUIRE(bh.path.size() == h.path.size());
      for (size_t s = 0; s < h.path.size(); ++s) {
        CHECK(bh.path[s] == (h.path[s].key ? b.rule->find(*h.path[s].key) : nullptr));
        keys += h.path[s].key != nullptr;
      }
      REQUIRE(bh.args.size() == h.tuple.args.size());
      for (size_t a = 0; a < h.tuple.args.size(); ++a, ++args) CHECK(bh.args[a] == b.rule->find(*h.tuple.args[a]));
      CHECK(bh.fields.size() == h.fields.size());
    }
    // Each rule has what it is here to show: a keyed path, a derived tuple.
    CHECK(keys + args > 0);
  }
}

TEST_CASE("a dotted path's fields: a label's or annotation's key is one field, as the state reads it") {
  using V = std::vector<std::string>;
  CHECK(dsl::dotted_fields("") == V{});
  CHECK(dsl::dotted_fields("metadata.name") == V{"metadata", "name"});
  CHECK(dsl::dotted_fields("spec.owner.kind") == V{"spec", "owner", "kind"});
  CHECK(dsl::dotted_fields("metadata.labels") == V{"metadata", "labels"});
  CHECK(dsl::dotted_fields("metadata.labels.app.kubernetes.io/name") == V{"metadata", "labels", "app.kubernetes.io/name"});
  CHECK(dsl::dotted_fields("metadata.annotations.a.b") == V{"metadata", "annotations", "a.b"});
  CHECK(dsl::dotted_fields("spec.labels.a.b") == V{"spec", "labels", "a", "b"});

  // The state's find_at reads a dotted path the same way.
  auto o = engine::Json::parse(R"({"metadata": {"labels": {"app.kubernetes.io/name": "db"}},
                                   "spec": {"labels": {"a": {"b": 1}}}})");
  const engine::Json* label = engine::find_at(o, "metadata.labels.app.kubernetes.io/name");
  REQUIRE(label != nullptr);
  CHECK(*label == "db");
  const engine::Json* nested = engine::find_at(o, "spec.labels.a.b");
  REQUIRE(nested != nullptr);
  CHECK(*nested == 1);
  CHECK(engine::find_at(o, "metadata.labels.app") == nullptr);
}

}  // namespace
}  // namespace pmesh::test
