#include "dsl/bound_plan.h"

#include <algorithm>
#include <functional>

#include "dsl/object_model.h"
#include "dsl/program.h"
#include "stdlib/builtins.h"

namespace pmesh::dsl {

Binder::Binder(const Program& program) : program_(program) {
  for (const auto& m : program.modules())
    for (const auto& f : m->functions) module_of_[&f] = m.get();
}

namespace {

BoundOp binary_op(const std::string& op) {
  static const std::unordered_map<std::string, BoundOp> ops = {
      {"and", BoundOp::kAnd}, {"or", BoundOp::kOr},   {"??", BoundOp::kCoalesce}, {"==", BoundOp::kEq},
      {"!=", BoundOp::kNe},   {"<", BoundOp::kLt},    {"<=", BoundOp::kLe},       {">", BoundOp::kGt},
      {">=", BoundOp::kGe},   {"in", BoundOp::kIn},   {"not in", BoundOp::kNotIn}, {"+", BoundOp::kAdd},
      {"-", BoundOp::kSub},   {"*", BoundOp::kMul},   {"/", BoundOp::kDiv},       {"%", BoundOp::kMod}};
  auto it = ops.find(op);
  return it == ops.end() ? BoundOp::kError : it->second;
}

bool literal_string(const BoundExpr& e) { return e.op == BoundOp::kConst && e.value.is_string(); }

// `pluck(select(list, field, value), picked)` with literal fields, bound as
// one call (pluck_selected) that copies only the picked values. Its only
// errors are select's (same messages), reported at the pluck that holds it.
void fuse_pluck_select(BoundExpr& n) {
  if (n.builtin->name != "pluck" || n.args.size() != 2 || !literal_string(*n.args[1])) return;
  const BoundExpr& s = *n.args[0];
  if (s.op != BoundOp::kBuiltin || s.builtin->name != "select" || s.args.size() != 3 || !literal_string(*s.args[1]))
    return;
  n.builtin = &pluck_selected();
  n.args = {s.args[0], s.args[1], s.args[2], n.args[1]};
}

}  // namespace

const BoundExpr* Binder::expr(BoundRule& out, const Expr& e, const Scope& scope) const {
  bool in_rule = scope.function == nullptr;
  if (in_rule)
    if (const BoundExpr* done = out.find(e)) return done;
  BoundExpr n;
  n.src = &e;
  n.text = e.text;
  auto error = [&](std::string msg) {
    n.op = BoundOp::kError;
    n.text = std::move(msg);
  };
  auto args = [&]() {
    for (const auto& a : e.args) n.args.push_back(a ? expr(out, *a, scope) : nullptr);
  };
  switch (e.kind) {
    case ExprKind::kNull: n.op = BoundOp::kConst; break;
    case ExprKind::kBool: n.op = BoundOp::kConst, n.value = e.bool_value; break;
    case ExprKind::kInt: n.op = BoundOp::kConst, n.value = e.int_value; break;
    case ExprKind::kFloat: n.op = BoundOp::kConst, n.value = e.float_value; break;
    case ExprKind::kString: n.op = BoundOp::kConst, n.value = e.text; break;
    case ExprKind::kInterp: n.op = BoundOp::kInterp, args(); break;
    case ExprKind::kVar:
      if (!in_rule) {
        const auto& ps = scope.function->params;
        auto p = std::find(ps.begin(), ps.end(), e.text);
        if (p == ps.end()) error("unknown parameter " + e.text);
        else n.op = BoundOp::kParam, n.index = static_cast<int>(p - ps.begin());
      } else if (const VarInfo* v = scope.info->var_of(e)) {
        n.op = BoundOp::kSlot;
        n.index = v->index;
      } else {
        error("unbound variable " + e.text);
      }
      break;
    case ExprKind::kField: {
      n.op = BoundOp::kField;
      n.shorthand = is_shorthand(e.text);
      args();
      if (in_rule) field_path(n, e, *scope.info);
      break;
    }
    case ExprKind::kIndex: n.op = BoundOp::kIndex, args(); break;
    case ExprKind::kList: n.op = BoundOp::kList, args(); break;
    case ExprKind::kObject: n.op = BoundOp::kObject, n.keys = e.keys, args(); break;
    case ExprKind::kUnary: n.op = e.text == "not" ? BoundOp::kNot : BoundOp::kNeg, args(); break;
    case ExprKind::kCond: n.op = BoundOp::kCond, args(); break;
    case ExprKind::kBinary:
      n.op = binary_op(e.text);
      if (n.op == BoundOp::kError) n.text = "unknown operator " + e.text;
      args();
      break;
    case ExprKind::kCall:
      if (e.text == "old") {
        const VarInfo* v = in_rule && !e.args.empty() ? scope.info->var_of(*e.args[0]) : nullptr;
        if (!v) error("old() takes an object variable");
        else n.op = BoundOp::kOld, n.index = v->index;
        break;
      }
      args();
      if (const FunctionDecl* f = program_.find_function(*scope.module, e.text)) {
        n.op = BoundOp::kFunction;
        n.function = function(out, *f);
      } else if (const Builtin* b = find_builtin(e.text)) {
        n.op = BoundOp::kBuiltin;
        n.builtin = b;
        fuse_pluck_select(n);
      } else {
        error("unknown function " + e.text);
      }
      break;
    case ExprKind::kAggregate:
      if (!in_rule) {
        error("aggregates cannot run inside functions");
        break;
      }
      n.op = BoundOp::kAggregate;
      args();  // the body's own expressions are bound with the rule's (Binder::bind)
      break;
  }
  out.nodes_.push_back(std::move(n));
  const BoundExpr* made = &out.nodes_.back();
  if (in_rule) out.of_[&e] = made;
  return made;
}

// `x.a.b` of an object variable: its fields read in one walk (kFieldPath),
// rather than a node per field. The first field is resolved as the object
// model resolves a head's path (canonical_path): a shorthand is metadata's,
// whatever else the object holds, so that a rule reads `x.name` where it
// writes it and where its plan looks it up, and an object that carries a
// top-level `cluster` or `name` of its own (a kind whose schema keeps
// unknown fields) cannot pass it off as its metadata's.
void Binder::field_path(BoundExpr& n, const Expr& e, const RuleInfo& info) const {
  std::vector<std::string> segs;
  const Expr* cur = &e;
  for (; cur->kind == ExprKind::kField; cur = cur->args[0].get()) segs.push_back(cur->text);
  if (cur->kind != ExprKind::kVar) return;
  const VarInfo* v = info.var_of(*cur);
  if (!v || v->kind != VarInfo::Kind::kObject) return;
  std::reverse(segs.begin(), segs.end());
  auto path = canonical_path(v->decl, segs);
  if (!path || path->size() > 64) return;
  n.op = BoundOp::kFieldPath;
  n.index = v->index;
  n.shorthand = path->size() > segs.size();
  n.keys = std::move(*path);
  n.args.clear();
  // A later field that is a shorthand reads an object of the model found
  // there (x.spec.template.name) as kField does; one of metadata is
  // metadata's own.
  for (size_t i = 1; i < n.keys.size(); ++i)
    if (n.keys[i - 1] != "metadata" && is_shorthand(n.keys[i])) n.shorthand_keys |= uint64_t{1} << i;
}

const BoundFunction* Binder::function(BoundRule& out, const FunctionDecl& f) const {
  if (auto it = out.function_of_.find(&f); it != out.function_of_.end()) return it->second;
  // Registered before its body is bound; functions are not recursive (the
  // analyses refuse that), so a body never reaches its own entry.
  out.functions_.push_back(BoundFunction{&f, nullptr});
  BoundFunction* fn = &out.functions_.back();
  out.function_of_[&f] = fn;
  Scope scope;
  scope.module = module_of_.at(&f);
  scope.function = &f;
  fn->body = expr(out, *f.body, scope);
  return fn;
}

namespace {

// Every expression of a body, patterns and sub-bodies included.
template <typename Fn>
void body_exprs(const Body& body, const Fn& fn) {
  auto kind = [&](const KindRef& k) {
    if (k.group) fn(*k.group);
    if (k.resource) fn(*k.resource);
  };
  for (const auto& item : body.items) {
    switch (item.kind) {
      case BodyItemKind::kObject:
        kind(item.object.kind);
        for (const Expr* x : {item.object.cluster.get(), item.object.ns.get(), item.object.name.get()})
          if (x) fn(*x);
        for (const auto& [k, v] : item.object.labels)
          if (v) fn(*v);
        break;
      case BodyItemKind::kTuple:
        for (const auto& a : item.tuple.args)
          if (a) fn(*a);
        break;
      case BodyItemKind::kLet:
      case BodyItemKind::kWhere:
        if (item.expr) fn(*item.expr);
        break;
      case BodyItemKind::kNot:
        if (item.negated) body_exprs(*item.negated, fn);
        break;
    }
  }
}

}  // namespace

std::shared_ptr<const BoundRule> Binder::bind(const RuleInfo& info, const RulePlan& rule_plan) const {
  auto out = std::make_shared<BoundRule>();
  Scope scope;
  scope.info = &info;
  scope.module = info.module;
  // An aggregate's body holds expressions of its own, which its plan runs.
  std::function<void(const Expr&)> visit = [&](const Expr& e) {
    expr(*out, e, scope);
    std::vector<const Expr*> todo{&e};
    while (!todo.empty()) {
      const Expr* x = todo.back();
      todo.pop_back();
      if (x->kind == ExprKind::kAggregate && x->body) body_exprs(*x->body, visit);
      for (const auto& a : x->args)
        if (a) todo.push_back(a.get());
    }
  };
  const Rule& rule = *info.rule;
  body_exprs(rule.body, visit);
  for (const auto& h : rule.heads) {
    for (const Expr* x : {h.cluster.get(), h.ns.get(), h.name.get(), h.value.get(), h.object_kind.group.get(),
                          h.object_kind.resource.get()})
      if (x) visit(*x);
    for (const auto& f : h.fields) {
      if (f.value) visit(*f.value);
      for (const auto& seg : f.path)
        if (seg.key) visit(*seg.key);
    }
    for (const auto& seg : h.path)
      if (seg.key) visit(*seg.key);
    for (const auto& a : h.tuple.args)
      if (a) visit(*a);
  }
  auto path_keys = [&](const Path& path) {
    BoundHead::PathKeys keys;
    for (const auto& seg : path) keys.push_back(seg.key ? out->find(*seg.key) : nullptr);
    return keys;
  };
  auto find = [&](const ExprPtr& e) { return e ? out->find(*e) : nullptr; };
  for (const auto& h : rule.heads) {
    BoundHead bh;
    bh.cluster = find(h.cluster);
    bh.ns = find(h.ns);
    bh.name = find(h.name);
    bh.value = find(h.value);
    bh.group = find(h.object_kind.group);
    bh.resource = find(h.object_kind.resource);
    bh.path = path_keys(h.path);
    for (const auto& f : h.fields) {
      bh.fields.push_back(find(f.value));
      bh.field_paths.push_back(path_keys(f.path));
    }
    for (const auto& a : h.tuple.args) bh.args.push_back(find(a));
    out->heads_.push_back(std::move(bh));
  }
  // The full plan and the deltas first, where full() and delta() find them.
  out->deltas_ = rule_plan.deltas.size();
  out->plans_.resize(1 + out->deltas_);
  plan(*out, rule_plan.full, scope, out->plans_[0]);
  for (size_t i = 0; i < out->deltas_; ++i) plan(*out, rule_plan.deltas[i], scope, out->plans_[1 + i]);
  std::unordered_map<const Body*, const BoundPlan*> of_body;
  for (const auto& [body, sub] : rule_plan.subplans) of_body[body] = sub_plan(*out, *sub, scope);
  for (BoundExpr& n : out->nodes_)
    if (n.op == BoundOp::kAggregate)
      if (auto it = of_body.find(n.src->body.get()); it != of_body.end()) n.plan = it->second;
  return out;
}

}  // namespace pmesh::dsl
