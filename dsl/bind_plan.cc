// The binder's plans: each planner Step lowered to a BoundStep that holds
// what it computes, bound (dsl/bound_plan.h).
#include "dsl/bound_plan.h"
#include "dsl/object_model.h"

namespace pmesh::dsl {

namespace {

PrimaryField primary_field(const std::string& key) {
  if (key == "metadata.cluster") return PrimaryField::kCluster;
  if (key == "metadata.namespace") return PrimaryField::kNamespace;
  if (key == "metadata.name") return PrimaryField::kName;
  return PrimaryField::kNone;
}

}  // namespace

const BoundExpr* Binder::node(BoundRule& out, BoundExpr n) const {
  out.nodes_.push_back(std::move(n));
  return &out.nodes_.back();
}

const BoundExpr* Binder::operand_value(BoundRule& out, const Operand& o, const Scope& scope) const {
  BoundExpr n;
  if (o.inner) {
    n.op = BoundOp::kKeyBuiltin;
    n.builtin = o.builtin;
    n.args.push_back(operand_value(out, *o.inner, scope));
    if (o.inner2) n.args.push_back(operand_value(out, *o.inner2, scope));
  } else if (o.expr) {
    if (!o.namespace_key) return expr(out, *o.expr, scope);
    n.op = BoundOp::kNamespaceKey;
    n.args.push_back(expr(out, *o.expr, scope));
    return node(out, std::move(n));
  } else if (o.trigger_arg >= 0) {
    n.op = BoundOp::kTriggerArg;
    n.index = o.trigger_arg;
  } else if (o.tuple_value >= 0) {
    n.op = BoundOp::kTupleValue;
    n.index = o.tuple_value;
  } else {
    n.op = BoundOp::kPath;
    n.index = o.var->index;
    n.keys = dotted_fields(o.path);
  }
  const BoundExpr* made = node(out, std::move(n));
  if (!o.namespace_key) return made;
  BoundExpr wrap;
  wrap.op = BoundOp::kNamespaceKey;
  wrap.args.push_back(made);
  return node(out, std::move(wrap));
}

BoundOperand Binder::operand(BoundRule& out, const Operand& o, const Scope& scope) const {
  return BoundOperand{operand_value(out, o, scope), o.from_tuple()};
}

BoundPattern Binder::pattern(BoundRule& out, const BodyItem& item, const Scope& scope,
                             const std::vector<Step::Deferred>* deferred) const {
  BoundPattern p;
  p.item = &item;
  if (item.kind == BodyItemKind::kObject) {
    const KindRef& k = item.object.kind;
    if (!k.dynamic()) p.kind = &k.name;
    if (k.group) p.group = expr(out, *k.group, scope);
    if (k.resource) p.resource = expr(out, *k.resource, scope);
    return p;
  }
  if (item.kind != BodyItemKind::kTuple) return p;
  p.relation = &item.tuple.relation;
  for (size_t i = 0; i < item.tuple.args.size(); ++i) {
    const Expr& a = *item.tuple.args[i];
    BoundTupleArg arg;
    const VarInfo* v = a.kind == ExprKind::kVar ? scope.info->var_of(a) : nullptr;
    const Step::Deferred* kept = nullptr;
    if (deferred)
      for (const auto& d : *deferred)
        if (d.position == static_cast<int>(i)) kept = &d;
    if (a.kind == ExprKind::kVar && a.text == "_") {
      arg.kind = BoundTupleArg::Kind::kAny;
    } else if (kept) {
      // Checked once the object it reads is bound (the step's checks).
      arg.kind = BoundTupleArg::Kind::kDeferred;
      arg.value = kept->value;
    } else if (v) {
      arg.kind = BoundTupleArg::Kind::kVar;
      arg.slot = v->index;
    } else {
      arg.kind = BoundTupleArg::Kind::kExpr;
      arg.expr = expr(out, a, scope);
    }
    p.args.push_back(arg);
  }
  return p;
}

void Binder::step(BoundRule& out, const Step& s, BoundStep& to, const Scope& scope) const {
  to.src = &s;
  to.op = s.op;
  to.slot = s.binds ? s.binds->index : -1;
  switch (s.op) {
    case StepOp::kLet:
      to.each = s.item->each;
      to.expr = expr(out, *s.item->expr, scope);
      break;
    case StepOp::kFilter: to.expr = expr(out, *s.item->expr, scope); break;
    case StepOp::kNot: to.sub = sub_plan(out, *s.sub, scope); break;
    case StepOp::kScan:
    case StepOp::kLookup:
    case StepOp::kOptional:
    case StepOp::kTupleScan:
    case StepOp::kTupleLookup:
      to.pattern = pattern(out, *s.item, scope, s.deferred.empty() ? nullptr : &s.deferred);
      break;
  }
  bool object = s.item && s.item->kind == BodyItemKind::kObject;
  for (const auto& k : s.keys) {
    BoundKey key;
    if (object) {
      key.fields = dotted_fields(k.key);
      key.primary = primary_field(k.key);
    }
    key.namespace_key = k.value.namespace_key;
    key.value = operand(out, k.value, scope);
    to.keys.push_back(std::move(key));
  }
  for (const auto& [x, y] : s.checks) to.checks.push_back({operand(out, x, scope), operand(out, y, scope)});
}

void Binder::plan(BoundRule& out, const Plan& p, const Scope& scope, BoundPlan& to) const {
  to.src = &p;
  if (p.trigger) {
    to.trigger = pattern(out, *p.trigger, scope, nullptr);
    for (const VarInfo* v : p.seeded) to.seeded.push_back(v->index);
  }
  for (const auto& [x, y] : p.trigger_checks) to.trigger_checks.push_back({operand(out, x, scope), operand(out, y, scope)});
  to.steps.resize(p.steps.size());
  for (size_t i = 0; i < p.steps.size(); ++i) step(out, p.steps[i], to.steps[i], scope);
}

const BoundPlan* Binder::sub_plan(BoundRule& out, const Plan& p, const Scope& scope) const {
  out.plans_.emplace_back();
  BoundPlan& to = out.plans_.back();
  plan(out, p, scope, to);
  return &to;
}

}  // namespace pmesh::dsl
