// The semantic checks: each diagnostic, with its position and message.
#include <doctest/doctest.h>

#include "tests/unit/test_util.h"

namespace pmesh::test {
namespace {

std::string err(const std::string& body) {
  auto c = compile(std::string(kPrelude) + body);
  return first_error(*c);
}

// Lines are counted from the first line of `body`.
constexpr int kPreludeLines = 6;
std::string at(int line, int col, const std::string& msg) {
  return std::to_string(line + kPreludeLines) + ":" + std::to_string(col) + ": " + msg;
}

TEST_CASE("a well-formed program compiles") {
  auto c = compile(std::string(kPrelude) + R"(
rule account-workspace
  for acct: Account
  derive Workspace in acct.cluster named acct.name {
    spec.type: { name: "{acct.name}-org", path: "root:orgs" }
    metadata.ownerReferences: [owner_ref(acct)]
  }
rule account-ready
  for acct: Account
  for ws: Workspace in acct.cluster named acct.name
  set acct.status.conditions["Ready"] = condition(ws.status.phase == "Ready", "WorkspaceReady")
)");
  INFO(c->errors());
  CHECK(c->ok());
  CHECK(c->program->rules.size() == 2);
}

TEST_CASE("unknown kinds, relations and functions") {
  CHECK(err("rule r\n  for a: Acount\n  set a.status.x = 1\n") == at(2, 10, "unknown kind `Acount`"));
  CHECK(err("rule r\n  for a: Account\n  for friend(a.name, _)\n  set a.status.x = 1\n") ==
        at(3, 7, "unknown relation `friend`"));
  CHECK(err("rule r\n  for a: Account\n  set a.status.x = frob(a.name)\n") == at(3, 20, "unknown function `frob`"));
  CHECK(err("rule r\n  for a: Account\n  derive Widget in a.cluster named a.name { spec: {} }\n") ==
        at(3, 10, "unknown kind `Widget`"));
}

TEST_CASE("a kind must be imported to be used") {
  dsl::DiagnosticSink diags;
  auto program = dsl::load_program_from_texts(
      {{"a.rules", "module a\nimport stdlib.kinds.platform\n"},
       {"b.rules", "module b\nimport stdlib.kinds.core\nrule r\n  for a: ConfigMap\n  for b: Account in a.cluster\n  set b.status.x = a.name\n"}},
      diags);
  auto compiled = dsl::compile(std::move(program), diags);
  std::string out = diags.format();
  CHECK(out.find("b.rules:5:10: error: unknown kind `Account`") != std::string::npos);
  CHECK(out.find("kind Account is declared in <embedded>/stdlib/kinds/platform.rules; import its module") != std::string::npos);
}

TEST_CASE("unknown modules") {
  auto c = compile("module m\nimport stdlib.kinds.nope\n");
  CHECK(first_error(*c) == "2:8: unknown module `stdlib.kinds.nope`");
}

TEST_CASE("arity of builtins, functions and relations") {
  CHECK(err("rule r\n  for a: Account\n  set a.status.x = lower(a.name, 1)\n") ==
        at(3, 20, "`lower(s) -> string` takes 1 argument, not 2"));
  CHECK(err("rule r\n  for a: Account\n  set a.status.x = condition(true)\n") ==
        at(3, 20, "function `condition` takes 2 arguments, not 1"));
  CHECK(err("relation owner(u, a)\nrule r\n  for a: Account\n  derive owner(a.name)\n") ==
        at(4, 10, "relation `owner` takes 2 arguments, not 1"));
}

TEST_CASE("unbound, unused and doubly bound variables") {
  CHECK(err("rule r\n  for a: Account\n  set a.status.x = b.name\n") == at(3, 20, "unbound variable `b`"));
  CHECK(err("rule r\n  for a: Account\n  for b: Account\n  set a.status.x = 1\n") ==
        at(3, 7, "variable `b` is bound but never used"));
  CHECK(err("rule r\n  for a: Account\n  for _b: Account\n  set a.status.x = 1\n").empty());
  CHECK(err("rule r\n  for a: Account\n  for a: Workspace\n  set a.status.x = 1\n") ==
        at(3, 7, "variable `a` is already bound"));
  CHECK(err("rule r\n  for a: Account\n  let n = count { for a: Account }\n  set a.status.n = n\n") ==
        at(3, 23, "variable `a` is already bound"));
  // A negated body's variables are local to it.
  CHECK(err("rule r\n  for a: Account\n  not for b: Workspace in a.cluster named a.name\n  set a.status.x = b.name\n") ==
        at(4, 20, "unbound variable `b`"));
  CHECK(err("rule r\n  for a: Account\n  set a.status.x = _\n") == at(3, 20, "`_` can only stand as an argument of a tuple pattern"));
}

TEST_CASE("tuple patterns bind and join variables") {
  CHECK(err("relation owner(u, a)\nrelation member(u, a)\nrule r\n  for owner(u, a)\n  derive member(u, a)\n").empty());
  CHECK(err("relation owner(u, a)\nrelation member(u, a)\nrule r\n  for owner(u, a)\n  derive member(u, \"x\")\n") ==
        at(4, 16, "variable `a` is bound but never used"));
  CHECK(err("relation owner(u, a)\nrelation member(u, a)\nrule r\n  for owner(u, _)\n  derive member(u, _)\n") ==
        at(5, 20, "`_` matches anything in a pattern; a head needs a value"));
  // Range restriction: a Datalog head needs every variable bound by the body.
  auto c = compile(std::string(kPrelude) + "relation owner(u, a)\nrelation member(u, a) :- owner(u, b).\n");
  CHECK(first_error(*c) == at(2, 20, "unbound variable `a`"));
  CHECK(c->errors().find("variable `b` is bound but never used") != std::string::npos);
}

TEST_CASE("sections: reads and writes must name sections the kind declares") {
  CHECK(err("rule r\n  for a: Account\n  set a.status.x = a.sepc.type\n") == at(3, 20, "Account has no section `sepc`"));
  CHECK(err("rule r\n  for c: ConfigMap\n  set c.status.x = 1\n") == at(3, 9, "ConfigMap has no section `status`"));
  CHECK(err("rule r\n  for a: Account\n  derive Workspace in a.cluster named a.name { sepc.type: 1 }\n") ==
        at(3, 48, "Workspace has no section `sepc`"));
  CHECK(err("rule r\n  for a: Account\n  derive Workspace in a.cluster named a.name { metadata.name: 1 }\n")
            .find("the name, namespace and cluster come from `named`") != std::string::npos);
  // Shorthands and metadata are always readable.
  CHECK(err("rule r\n  for a: Account\n  set a.status.x = [a.name, a.cluster, a.uid, a.labels, a.metadata.annotations, a.kind]\n").empty());
}

TEST_CASE("a rule writes the spec only of objects it derives") {
  CHECK(err("rule r\n  for a: Account\n  set a.spec.type = \"org\"\n") ==
        at(3, 9, "rule `r` sets `spec.type` of `a`, an Account it does not own"));
  CHECK(err("rule r\n  for a: Account\n  set a.metadata.name = \"x\"\n") ==
        at(3, 9, "rule `r` sets `metadata.name` of `a`, an Account it does not own"));
  CHECK(err("rule r\n  for a: Account\n  set a.labels[\"x\"] = \"y\"\n  set a.metadata.finalizers += \"f\"\n").empty());
  CHECK(err("rule r\n  for a: Account\n  let n = 1\n  set n.status.x = 1\n") ==
        at(4, 7, "`set` writes fields of an object; `n` is not bound to one"));
  CHECK(err("rule r\n  for a: Account\n  opt w: Workspace in a.cluster named a.name\n  set w.status.x = 1\n  set a.status.y = 1\n") ==
        at(4, 7, "`set` cannot write an optional match (`opt w`)"));
}

TEST_CASE("derive heads: cluster, name and namespace") {
  CHECK(err("rule r\n  for a: Account\n  derive Workspace named a.name { spec: {} }\n") ==
        at(3, 3, "derive needs `in <cluster>`: the logical cluster the object lives in"));
  CHECK(err("rule r\n  for a: Account\n  derive ConfigMap in a.cluster named a.name { data: {} }\n") ==
        at(3, 3, "kind ConfigMap is namespaced; derive needs `namespace <ns>`"));
  CHECK(err("rule r\n  for a: Account\n  derive Workspace in a.cluster namespace \"x\" named a.name { spec: {} }\n") ==
        at(3, 43, "kind Workspace is cluster-scoped; it has no namespace"));
}

TEST_CASE("two rules setting one field need distinct priorities") {
  std::string two = R"(
rule a
  for x: Account
  set x.status.conditions["Ready"] = condition(true, "A")
rule b
  for x: Account
  set x.status.conditions["Ready"] = condition(false, "B")
)";
  CHECK(err(two) == at(7, 3, "rules `a` and `b` both set `status.conditions.Ready` of Account; declare which wins with `rule NAME priority N`"));
  std::string prioritized = two;
  prioritized.replace(prioritized.find("rule a"), 6, "rule a priority 10");
  prioritized.replace(prioritized.find("rule b"), 6, "rule b priority 20");
  CHECK(err(prioritized).empty());
  std::string same = two;
  same.replace(same.find("rule a"), 6, "rule a priority 1");
  same.replace(same.find("rule b"), 6, "rule b priority 1");
  CHECK(err(same).find("both have priority 1") != std::string::npos);
  // Different keys do not conflict; a key computed at run time conflicts with any.
  CHECK(err("rule a\n  for x: Account\n  set x.status.conditions[\"A\"] = condition(true, \"A\")\nrule b\n  for x: Account\n  set x.status.conditions[\"B\"] = condition(true, \"B\")\n").empty());
  CHECK(!err("rule a\n  for x: Account\n  set x.status.conditions[x.name] = 1\nrule b\n  for x: Account\n  set x.status.conditions[\"B\"] = 1\n").empty());
  // A parent path overlaps its children.
  CHECK(!err("rule a\n  for x: Account\n  set x.status = {}\nrule b\n  for x: Account\n  set x.status.phase = 1\n").empty());
  // Adding finalizers never conflicts.
  CHECK(err("rule a\n  for x: Account\n  set x.finalizers += \"a\"\nrule b\n  for x: Account\n  set x.finalizers += \"b\"\n").empty());
}

TEST_CASE("functions: parameters only, no recursion, no store reads") {
  CHECK(err("fn f(a) = a + b\n") == at(1, 15, "unbound variable `b`: a function sees only its parameters"));
  CHECK(err("fn f(a) = g(a)\nfn g(a) = f(a)\n") == at(1, 1, "function `f` calls itself; functions cannot recurse"));
  CHECK(err("fn f(a) = count { for x: Account }\n") == at(1, 11, "a function cannot read the store; move the aggregate into a rule"));
}

TEST_CASE("aggregates: all and collect need a value, count does not take one") {
  CHECK(err("rule r\n  for a: Account\n  let ok = all { for _b: Account }\n  set a.status.ok = ok\n") ==
        at(3, 12, "`all { ... | condition }` needs the condition after `|`"));
  CHECK(err("rule r\n  for a: Account\n  let n = count { for b: Account | b.name }\n  set a.status.n = n\n") ==
        at(3, 36, "`count` and `any` take no `| value`"));
}

TEST_CASE("tests: kinds, references and relations are checked") {
  CHECK(err("test \"t\" {\n  given Acount root/a\n}\n") == at(2, 9, "unknown kind `Acount`"));
  CHECK(err("test \"t\" {\n  given ConfigMap root/a\n}\n") ==
        at(2, 3, "ConfigMap is namespaced: refer to it as `cluster/namespace/name`"));
  CHECK(err("test \"t\" {\n  expect owner(a)\n}\n") == at(2, 3, "unknown relation `owner`"));
}

TEST_CASE("a rule needs a head") {
  CHECK(err("rule r\n  for _a: Account\n") == at(1, 6, "rule `r` has no head: add `derive`, `set` or `refuse`"));
}

TEST_CASE("all errors of a file are reported") {
  auto c = compile(std::string(kPrelude) + R"(
rule a
  for x: Acount
  set x.status.y = 1
rule b
  for y: Account
  set y.spec.z = q
)");
  CHECK(c->diags.error_count() == 3);
}

}  // namespace
}  // namespace pmesh::test
