// The binder: every expression of a rule bound, names resolved once.
#include <doctest/doctest.h>

#include <functional>

#include "dsl/bound_plan.h"
#include "stdlib/builtins.h"
#include "tests/unit/test_util.h"

namespace pmesh::test {
namespace {

using dsl::BoundExpr;
using dsl::BoundOp;

const dsl::RuleInfo& rule_info(const Compiled& c, const std::string& name) {
  for (const auto& r : c.program->rules)
    if (r.rule->name == name) return r;
  FAIL("no rule " << name);
  return c.program->rules.front();
}

const dsl::RulePlan& rule_plan(const Compiled& c, const std::string& name) {
  for (const auto& p : c.program->plans)
    if (p.info->rule->name == name) return p;
  FAIL("no plan for " << name);
  return c.program->plans.front();
}

// A rule of `rules` (after the prelude) bound, and the bound value of each
// of its `set` heads by the field it sets.
struct BoundHeads {
  std::unique_ptr<Compiled> compiled;
  const dsl::RuleInfo* info = nullptr;
  std::shared_ptr<const dsl::BoundRule> bound;
  std::map<std::string, const BoundExpr*> head;
};
BoundHeads bind_heads(const std::string& rules, const std::string& rule) {
  BoundHeads out;
  out.compiled = compile(std::string(kPrelude) + rules);
  INFO(out.compiled->errors());
  REQUIRE(out.compiled->ok());
  out.info = &rule_info(*out.compiled, rule);
  out.bound = dsl::Binder(*out.compiled->program->program).bind(*out.info, rule_plan(*out.compiled, rule));
  for (const auto& h : out.info->rule->heads) out.head[h.path.back().field] = out.bound->find(*h.value);
  return out;
}

// Every expression node of the rule, sub-expressions included.
void each_expr(const dsl::Rule& rule, const std::function<void(const dsl::Expr&)>& fn) {
  std::function<void(const dsl::Expr&)> walk = [&](const dsl::Expr& e) {
    fn(e);
    for (const auto& a : e.args)
      if (a) walk(*a);
  };
  std::function<void(const dsl::Body&)> body = [&](const dsl::Body& b) {
    for (const auto& item : b.items) {
      if (item.expr) walk(*item.expr);
      if (item.negated) body(*item.negated);
      for (const auto& a : item.tuple.args) walk(*a);
      for (const dsl::Expr* x : {item.object.cluster.get(), item.object.ns.get(), item.object.name.get()})
        if (x) walk(*x);
    }
  };
  body(rule.body);
  for (const auto& h : rule.heads) {
    if (h.value) walk(*h.value);
    for (const auto& f : h.fields) walk(*f.value);
    for (const auto& a : h.tuple.args) walk(*a);
    for (const dsl::Expr* x : {h.cluster.get(), h.ns.get(), h.name.get()})
      if (x) walk(*x);
  }
}

const char* kBinderRules = R"(
fn phase_of(x, fallback) = x.status.phase ?? upper(fallback)
fn describe(ws, suffix) = phase_of(ws, "none") + suffix

rule account-phase
  for acct: Account
  for ws: Workspace in acct.cluster named acct.name
  let tag = "-" + lower(acct.name)
  let n = count { for _other: Account in acct.cluster }
  where n >= 1 and not (tag in ["-x", "-y"])
  set acct.status.phase = describe(ws, tag)
)";

TEST_CASE("every expression of a rule is bound, variables to their slots and calls to what they name") {
  auto c = compile(std::string(kPrelude) + kBinderRules);
  INFO(c->errors());
  REQUIRE(c->ok());
  const dsl::RuleInfo& info = rule_info(*c, "account-phase");
  dsl::Binder binder(*c->program->program);
  auto bound = binder.bind(info, rule_plan(*c, "account-phase"));

  int exprs = 0;
  each_expr(*info.rule, [&](const dsl::Expr& e) {
    ++exprs;
    const BoundExpr* b = bound->find(e);
    REQUIRE(b != nullptr);
    CHECK(b->src == &e);
    if (e.kind == dsl::ExprKind::kVar) {
      // A variable reads the slot its VarInfo has in the rule's bindings.
      REQUIRE(b->op == BoundOp::kSlot);
      const dsl::VarInfo* v = info.var_of(e);
      REQUIRE(v != nullptr);
      CHECK(info.vars[static_cast<size_t>(b->index)].get() == v);
    }
  });
  CHECK(exprs > 20);

  // `describe(ws, tag)`: the rule's own function, bound once, its
  // parameters frame positions, its calls resolved in turn.
  const dsl::Expr* call = nullptr;
  each_expr(*info.rule, [&](const dsl::Expr& e) {
    if (e.kind == dsl::ExprKind::kCall && e.text == "describe") call = &e;
  });
  REQUIRE(call != nullptr);
  const BoundExpr& d = *bound->find(*call);
  REQUIRE(d.op == BoundOp::kFunction);
  REQUIRE(d.function != nullptr);
  CHECK(d.function->decl->name == "describe");
  const BoundExpr& body = *d.function->body;  // phase_of(ws, "none") + suffix
  CHECK(body.op == BoundOp::kAdd);
  REQUIRE(body.args.size() == 2);
  CHECK(body.args[1]->op == BoundOp::kParam);
  CHECK(body.args[1]->index == 1);
  const BoundExpr& inner = *body.args[0];
  REQUIRE(inner.op == BoundOp::kFunction);
  CHECK(inner.function->decl->name == "phase_of");
  CHECK(inner.args[0]->op == BoundOp::kParam);
  CHECK(inner.args[0]->index == 0);
  CHECK(inner.args[1]->op == BoundOp::kConst);
  CHECK(inner.args[1]->value == "none");
  // Inside phase_of: `x.status.phase ?? upper(fallback)`.
  const BoundExpr& coalesce = *inner.function->body;
  CHECK(coalesce.op == BoundOp::kCoalesce);
  REQUIRE(coalesce.args[1]->op == BoundOp::kBuiltin);
  CHECK(coalesce.args[1]->builtin == find_builtin("upper"));
  CHECK(coalesce.args[0]->op == BoundOp::kField);
  CHECK(coalesce.args[0]->text == "phase");
}

TEST_CASE("operators are bound to what they do, and shorthands are known when bound") {
  auto c = compile(std::string(kPrelude) + kBinderRules);
  REQUIRE(c->ok());
  const dsl::RuleInfo& info = rule_info(*c, "account-phase");
  auto bound = dsl::Binder(*c->program->program).bind(info, rule_plan(*c, "account-phase"));
  std::map<std::string, BoundOp> seen;
  bool shorthand = false, aggregate = false;
  each_expr(*info.rule, [&](const dsl::Expr& e) {
    const BoundExpr& b = *bound->find(e);
    if (e.kind == dsl::ExprKind::kBinary || e.kind == dsl::ExprKind::kUnary) seen[e.text] = b.op;
    if (e.kind == dsl::ExprKind::kField && e.text == "name") shorthand |= b.shorthand;
    if (e.kind == dsl::ExprKind::kAggregate) aggregate = b.op == BoundOp::kAggregate;
  });
  CHECK(seen["+"] == BoundOp::kAdd);
  CHECK(seen[">="] == BoundOp::kGe);
  CHECK(seen["and"] == BoundOp::kAnd);
  CHECK(seen["not"] == BoundOp::kNot);
  CHECK(seen["in"] == BoundOp::kIn);
  CHECK(shorthand);  // acct.name is acct.metadata.name
  CHECK(aggregate);
}

TEST_CASE("an object variable's fields are bound as one path, a shorthand as its metadata's") {
  auto bh = bind_heads(R"(
fn ref_name(x) = x.spec.ref.name
rule paths
  for acct: Account
  set acct.status.a = acct.name
  set acct.status.b = acct.spec.data.ref.name
  set acct.status.c = acct.metadata.name
  set acct.status.d = ref_name(acct)
)", "paths");
  const dsl::RuleInfo& info = *bh.info;
  auto& head = bh.head;
  const BoundExpr& a = *head["a"];
  REQUIRE(a.op == BoundOp::kFieldPath);
  CHECK(a.keys == std::vector<std::string>{"metadata", "name"});
  CHECK(a.shorthand);
  CHECK(a.shorthand_keys == 0);
  CHECK(a.index == info.vars[0]->index);
  const BoundExpr& b = *head["b"];
  REQUIRE(b.op == BoundOp::kFieldPath);
  CHECK(b.keys == std::vector<std::string>{"spec", "data", "ref", "name"});
  CHECK_FALSE(b.shorthand);
  CHECK(b.shorthand_keys == uint64_t{1} << 3);  // ref may be an object of the model
  const BoundExpr& m = *head["c"];
  REQUIRE(m.op == BoundOp::kFieldPath);
  CHECK(m.keys == std::vector<std::string>{"metadata", "name"});
  CHECK(m.shorthand_keys == 0);  // metadata's own name
  // A function's parameter is no variable of the rule: its fields are read
  // one at a time, a shorthand as kField reads it.
  const BoundExpr& d = *head["d"];
  REQUIRE(d.op == BoundOp::kFunction);
  const BoundExpr& body = *d.function->body;
  CHECK(body.op == BoundOp::kField);
  CHECK(body.shorthand);
}

TEST_CASE("pluck of a select with literal fields is bound as one call, other plucks as written") {
  auto bh = bind_heads(R"(
fn ready_types(conds) = pluck(select(conds ?? [], "status", "True"), "type")
rule plucks
  for acct: Account
  let f = acct.spec.field ?? "status"
  set acct.status.a = ready_types(acct.status.conditions)
  set acct.status.b = pluck(select(acct.status.conditions ?? [], f, "True"), "type")
  set acct.status.c = pluck(acct.status.conditions ?? [], "type")
)", "plucks");
  auto& head = bh.head;
  // In a function's body: the list, select's field and value, then the picked field.
  const BoundExpr& a = *head["a"]->function->body;
  REQUIRE(a.op == BoundOp::kBuiltin);
  CHECK(a.builtin == &pluck_selected());
  REQUIRE(a.args.size() == 4);
  CHECK(a.args[0]->op == BoundOp::kCoalesce);
  CHECK(a.args[1]->value == "status");
  CHECK(a.args[2]->value == "True");
  CHECK(a.args[3]->value == "type");
  CHECK(a.src->text == "pluck");
  // A field computed at run time: select's own, then pluck.
  const BoundExpr& b = *head["b"];
  CHECK(b.builtin == find_builtin("pluck"));
  REQUIRE(b.args.size() == 2);
  CHECK(b.args[0]->builtin == find_builtin("select"));
  CHECK(head["c"]->builtin == find_builtin("pluck"));
}

}  // namespace
}  // namespace pmesh::test
