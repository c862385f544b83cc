// The grammar on every construct, and syntax errors with their positions.
#include <doctest/doctest.h>

#include "dsl/parser.h"

namespace pmesh::dsl {
namespace {

struct Parsed {
  DiagnosticSink diags;
  Module module;
};

std::unique_ptr<Parsed> parse(const std::string& text) {
  auto p = std::make_unique<Parsed>();
  p->module = parse_module(std::make_shared<SourceFile>("t.rules", text), p->diags);
  return p;
}

std::string expr(const std::string& text) {
  DiagnosticSink d;
  auto e = parse_expression(std::make_shared<SourceFile>("e", text), d);
  if (!e || d.has_errors()) return "ERROR: " + d.format();
  return to_string(*e);
}

std::string errors_at(const Parsed& p) {
  std::string out;
  for (const auto& d : p.diags.all()) {
    auto lc = d.span.file->position(d.span.begin);
    out += std::to_string(lc.line) + ":" + std::to_string(lc.column) + " " + d.message + "\n";
  }
  return out;
}

TEST_CASE("module, imports and a module named after its file") {
  auto p = parse("module a.b.c\nimport stdlib.kinds.kcp\nimport x.y\n");
  CHECK(p->diags.all().empty());
  CHECK(p->module.name == "a.b.c");
  REQUIRE(p->module.imports.size() == 2);
  CHECK(p->module.imports[1].module == "x.y");
  auto q = parse("# only a comment\n");
  CHECK(q->module.name == "t");
}

TEST_CASE("kind declarations") {
  auto p = parse(R"(kind Widget {
  group: example.io, version: v1, plural: widgets, singular: widget
  shortNames: [wd, wdg]
  categories: [all]
  scope: Namespaced
  sections: [spec, status]
  subresources: [status]
  listKeys: { "status.conditions": type }
})");
  CHECK(p->diags.all().empty());
  REQUIRE(p->module.kinds.size() == 1);
  const KindDecl& k = p->module.kinds[0];
  CHECK(k.name == "Widget");
  CHECK(k.group == "example.io");
  CHECK(k.api_version() == "example.io/v1");
  CHECK(k.plural == "widgets");
  CHECK(k.short_names == std::vector<std::string>{"wd", "wdg"});
  CHECK(k.scope == Scope::kNamespaced);
  CHECK(k.status_subresource);
  CHECK(k.has_section("spec"));
  CHECK(k.list_keys.at("status.conditions") == "type");
}

TEST_CASE("kind declarations: bad attributes are reported") {
  auto p = parse("kind W { version: v1, plural: ws, scope: Global, colour: red, subresources: [scale] }");
  std::string e = errors_at(*p);
  CHECK(e.find("scope is `Cluster` or `Namespaced`, not `Global`") != std::string::npos);
  CHECK(e.find("unknown kind attribute `colour`") != std::string::npos);
  CHECK(e.find("unknown subresource `scale`") != std::string::npos);
  auto q = parse("kind W { group: x }");
  CHECK(errors_at(*q).find("needs a `version`") != std::string::npos);
  CHECK(q->module.kinds[0].singular == "w");
}

TEST_CASE("a rule with every kind of body item and head") {
  auto p = parse(R"(rule r-1 priority 5
  for a: Account in "root:orgs" named "x" labels { team: "a", "app.kubernetes.io/name": n }
  opt w: Workspace in a.cluster named a.name
  for owner(u, "account:{a.name}")
  not for b: Account in a.cluster named "y"
  not { for c: ConfigMap in a.cluster namespace "ns" named "z"  where c.data.k == "v" }
  let n = count { for _d: Account in a.cluster }
  let ok = all { for e: Account in a.cluster | e.status.phase == "Ready" }
  let names = collect { for f: Account | f.name }
  let some = any { for g: Account }
  where n > 0 and ok
  derive Workspace in a.cluster named a.name {
    spec.type: { name: "x", path: "root" }
    metadata.labels["k"]: "v",
  }
  derive member(u, "account:{a.name}")
  set a.status.conditions["Ready"] = condition(true, "R")
  set a.metadata.finalizers += "x/y"
)");
  INFO(errors_at(*p));
  REQUIRE(p->diags.all().empty());
  REQUIRE(p->module.rules.size() == 1);
  const Rule& r = p->module.rules[0];
  CHECK(r.name == "r-1");
  CHECK(r.priority == 5);
  REQUIRE(r.body.items.size() == 10);
  const auto& a = r.body.items[0].object;
  CHECK(a.var == "a");
  CHECK(a.kind.name == "Account");
  CHECK(to_string(*a.cluster) == "\"root:orgs\"");
  REQUIRE(a.labels.size() == 2);
  CHECK(a.labels[1].first == "app.kubernetes.io/name");
  CHECK(r.body.items[1].object.optional);
  CHECK(r.body.items[2].kind == BodyItemKind::kTuple);
  CHECK(r.body.items[2].tuple.relation == "owner");
  CHECK(r.body.items[3].kind == BodyItemKind::kNot);
  CHECK(r.body.items[3].negated->items.size() == 1);
  CHECK(r.body.items[4].negated->items.size() == 2);
  CHECK(r.body.items[5].expr->kind == ExprKind::kAggregate);
  CHECK(r.body.items[5].expr->agg == AggKind::kCount);
  CHECK(r.body.items[6].expr->agg == AggKind::kAll);
  CHECK(r.body.items[7].expr->agg == AggKind::kCollect);
  CHECK(r.body.items[8].expr->agg == AggKind::kAny);
  CHECK(r.body.items[9].kind == BodyItemKind::kWhere);
  REQUIRE(r.heads.size() == 4);
  CHECK(r.heads[0].kind == HeadKind::kDeriveObject);
  REQUIRE(r.heads[0].fields.size() == 2);
  CHECK(to_string(r.heads[0].fields[1].path) == "metadata.labels[\"k\"]");
  CHECK(r.heads[1].kind == HeadKind::kDeriveTuple);
  CHECK(r.heads[2].kind == HeadKind::kSet);
  CHECK(to_string(r.heads[2].path) == "status.conditions[\"Ready\"]");
  CHECK(r.heads[3].op == SetOp::kAdd);
}

TEST_CASE("run-time kinds: resource(group, resource)") {
  auto p = parse(R"(rule r
  for o: resource(pr.spec.group, "things") in "root"
  derive resource("g", "r") in "root" named o.name { spec: o.spec })");
  REQUIRE(p->diags.all().empty());
  CHECK(p->module.rules[0].body.items[0].object.kind.dynamic());
  CHECK(p->module.rules[0].heads[0].object_kind.dynamic());
}

TEST_CASE("relations: declarations and Datalog rules") {
  auto p = parse(R"(relation owner(user, account)
relation member(u, a) :- owner(u, a).
relation member(u, a) :- member(u, p), parent(a, p), not banned(u).)");
  REQUIRE(p->diags.all().empty());
  CHECK(p->module.relations.size() == 2);
  REQUIRE(p->module.rules.size() == 2);
  CHECK(p->module.rules[0].name == "member/1");
  CHECK(p->module.rules[1].name == "member/2");
  CHECK(p->module.rules[1].from_relation);
  CHECK(p->module.rules[1].body.items.size() == 3);
  CHECK(p->module.rules[1].body.items[2].kind == BodyItemKind::kNot);
}

TEST_CASE("functions") {
  auto p = parse("fn f(a, b) = a + b\nfn g() = 1");
  REQUIRE(p->diags.all().empty());
  CHECK(p->module.functions[0].params == std::vector<std::string>{"a", "b"});
  CHECK(p->module.functions[1].params.empty());
}

TEST_CASE("tests: given, when, expect") {
  auto p = parse(R"(test "an org" {
  given Account root:orgs/acme { spec: { type: org, creator: alice, n: 3, ok: true, x: null, l: [a, "b c"] } }
  given owner(user:alice, account:root:orgs/acme)
  when create ConfigMap root/default/cm { data: { k: v } }
  when update Account root:orgs/acme { spec.creator: bob, "a.b/c": d }
  when delete Account root:orgs/acme
  expect Workspace root:orgs/acme { spec.type.name: acme-org }
  expect no Workspace root:orgs/acme
  expect no owner(user:alice, account:root:orgs/acme)
  expect error "name too short"
})");
  INFO(errors_at(*p));
  REQUIRE(p->diags.all().empty());
  const TestDecl& t = p->module.tests[0];
  CHECK(t.name == "an org");
  REQUIRE(t.steps.size() == 9);
  CHECK(t.steps[0].kind == StepKind::kGiven);
  CHECK(t.steps[0].ref == "root:orgs/acme");
  const Expr& spec = *t.steps[0].data->args[0];
  CHECK(spec.keys == std::vector<std::string>{"type", "creator", "n", "ok", "x", "l"});
  CHECK(spec.args[2]->kind == ExprKind::kInt);
  CHECK(spec.args[3]->kind == ExprKind::kBool);
  CHECK(spec.args[4]->kind == ExprKind::kNull);
  CHECK(spec.args[5]->args[1]->text == "b c");
  CHECK(t.steps[1].is_tuple);
  CHECK(t.steps[1].tuple_args[0]->text == "user:alice");
  CHECK(t.steps[2].kind == StepKind::kCreate);
  CHECK(t.steps[2].ref == "root/default/cm");
  CHECK(t.steps[3].kind == StepKind::kUpdate);
  CHECK(t.steps[3].data->key_is_quoted == std::vector<bool>{false, true});
  CHECK(t.steps[4].kind == StepKind::kDelete);
  CHECK(t.steps[5].kind == StepKind::kExpect);
  CHECK(t.steps[6].kind == StepKind::kExpectNo);
  CHECK(t.steps[7].kind == StepKind::kExpectNo);
  CHECK(t.steps[7].is_tuple);
  CHECK(t.steps[8].kind == StepKind::kExpectError);
  CHECK(t.steps[8].error_text == "name too short");
}

TEST_CASE("expressions: precedence and associativity") {
  CHECK(expr("1 + 2 * 3") == "(1 + (2 * 3))");
  CHECK(expr("1 - 2 - 3") == "((1 - 2) - 3)");
  CHECK(expr("(1 + 2) * 3") == "((1 + 2) * 3)");
  CHECK(expr("a == b and c != d or not e") == "(((a == b) and (c != d)) or not e)");
  CHECK(expr("not a == b") == "not (a == b)");
  CHECK(expr("a ?? b ?? c") == "((a ?? b) ?? c)");
  CHECK(expr("a ? b : c ? d : e") == "(a ? b : (c ? d : e))");
  CHECK(expr("x in [1, 2]") == "(x in [1, 2])");
  CHECK(expr("x not in y") == "(x not in y)");
  CHECK(expr("-a.b") == "-a.b");
  CHECK(expr("a <= b") == "(a <= b)");
}

TEST_CASE("expressions: paths, calls, literals") {
  CHECK(expr("a.b?.c[\"d\"][0]") == "a.b?.c[\"d\"][0]");
  CHECK(expr("old(ws).status.phase") == "old(ws).status.phase");
  CHECK(expr("f()") == "f()");
  CHECK(expr("{ a: 1, \"b-c\": [true, null, 1.5] }") == "{ a: 1, \"b-c\": [true, null, 1.5] }");
  CHECK(expr("{}") == "{}");
  CHECK(expr("[1, 2,]") == "[1, 2]");
  // Keywords are fine as field names and object keys.
  CHECK(expr("x.labels.namespace") == "x.labels.namespace");
  CHECK(expr("{ in: 1 }") == "{ in: 1 }");
}

TEST_CASE("strings: escapes and interpolation") {
  CHECK(expr(R"("a\"b\\c\n")") == R"("a\"b\\c\n")");
  CHECK(expr(R"("{org}-org")") == R"("{org}-org")");
  CHECK(expr(R"("x{a.b + 1}y")") == R"("x{(a.b + 1)}y")");
  CHECK(expr(R"("\{literal\}")") == R"("\{literal\}")");
  DiagnosticSink d;
  auto e = parse_expression(std::make_shared<SourceFile>("e", R"("a{b}c")"), d);
  REQUIRE(e);
  CHECK(e->kind == ExprKind::kInterp);
  CHECK(e->args.size() == 3);
  CHECK(expr(R"("\q")").find("unknown escape") != std::string::npos);
}

TEST_CASE("syntax errors name the position and what was expected") {
  auto p = parse("rule r\n  for a: Account\n  where a.name ==\n  set a.status.x = 1\n");
  CHECK(errors_at(*p) == "4:3 expected an expression after the comparison, found `set`\n");
  auto q = parse("rule r\n  for a:\n");
  CHECK(errors_at(*q) == "3:1 expected a kind name or `resource(group, resource)`, found the end of the file\n");
  auto s = parse("rule r\n  for a: Account\n  frob a\n");
  CHECK(errors_at(*s).find("3:3 expected a rule item (for, on, opt, not, let, where, derive, set, refuse, delete) or the next declaration, found `frob`") == 0);
  auto t = parse("kind K { version: v1, plural: ks\n");
  CHECK(errors_at(*t).find("expected `}`") != std::string::npos);
  auto u = parse("hello world\n");
  CHECK(errors_at(*u) == "1:1 expected a declaration: module, import, kind, rule, relation, fn or test\n");
  auto v = parse("rule r\n  set x.status.a = \"abc\n");
  CHECK(errors_at(*v).find("expected `\"` closing the string") != std::string::npos);
}

TEST_CASE("every syntax error of a file is reported, and the rest still parses") {
  auto p = parse(R"(rule a
  for x: Account
  where x.name ==

rule b
  for y: Account
  set y.status.ok = true

rule c
  for z Account

test "t" {
  given Account root/x
  expect
}
)");
  std::string e = errors_at(*p);
  CHECK(e.find("5:1 expected an expression") != std::string::npos);
  CHECK(e.find("10:9 expected a pattern: `var: Kind ...` or `relation(args)`, found `Account`") != std::string::npos);
  CHECK(e.find("15:1 expected `no`, `error`, an object or a tuple") != std::string::npos);
  CHECK(p->diags.error_count() == 3);
  REQUIRE(p->module.rules.size() == 1);
  CHECK(p->module.rules[0].name == "b");
}

TEST_CASE("spans point at the source") {
  auto p = parse("rule r\n  for acct: Account\n  set acct.status.x = acct.spec.y\n");
  REQUIRE(p->diags.all().empty());
  const Head& h = p->module.rules[0].heads[0];
  auto lc = h.value->span.file->position(h.value->span.begin);
  CHECK(lc.line == 3);
  CHECK(lc.column == 23);
  CHECK(p->module.file->text.substr(h.value->span.begin, h.value->span.end - h.value->span.begin) == "acct.spec.y");
}

}  // namespace
}  // namespace pmesh::dsl

namespace pmesh::dsl {
namespace {

TEST_CASE("kind declarations: a schema is literal data, keys as written") {
  auto p = parse(R"(kind W {
  version: v1, plural: ws
  schema: { type: object, required: [spec], properties: { spec: { type: object,
    properties: { "a.b": { type: string, maxLength: 3 }, "x-kubernetes-preserve-unknown-fields": true } } } }
})");
  CHECK(p->diags.all().empty());
  REQUIRE(p->module.kinds[0].schema);
  const auto& s = *p->module.kinds[0].schema;
  CHECK(s["required"] == nlohmann::json::array({"spec"}));
  CHECK(s["properties"]["spec"]["properties"]["a.b"]["maxLength"] == 3);
  CHECK(s["properties"]["spec"]["properties"]["x-kubernetes-preserve-unknown-fields"] == true);
  auto q = parse("kind W { version: v1, plural: ws, schema: { type: string } }");
  CHECK(errors_at(*q).find("a kind's schema is of type object") != std::string::npos);
  auto r = parse("kind W { version: v1, plural: ws, schema: [object] }");
  CHECK(errors_at(*r).find("`schema` takes an OpenAPI v3 schema") != std::string::npos);
}

}  // namespace
}  // namespace pmesh::dsl
