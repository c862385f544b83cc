// The planner: join order, lookup keys, primary key vs secondary indexes.
#include <doctest/doctest.h>

#include "tests/unit/test_util.h"

namespace pmesh::test {
namespace {

std::string plan_of(const Compiled& c, const std::string& rule) {
  for (const auto& p : c.program->plans)
    if (p.info->rule->name == rule) return dsl::describe(p, c.program->indexes);
  return "";
}

TEST_CASE("a join by cluster and name uses the primary key from both sides") {
  auto c = compile(std::string(kPrelude) + R"(
rule account-ready
  for acct: Account
  for ws: Workspace in acct.cluster named acct.name
  set acct.status.phase = ws.status.phase
)");
  INFO(c->errors());
  REQUIRE(c->ok());
  CHECK(plan_of(*c, "account-ready") == R"(rule account-ready
  full:
    scan acct: Account
    lookup ws: Workspace by the match's own fact {metadata.cluster = acct.cluster, metadata.name = acct.name}
  on change of acct: Account:
    lookup ws: Workspace by primary key {metadata.cluster = acct.cluster, metadata.name = acct.name}
  on change of ws: Workspace:
    lookup acct: Account by primary key {metadata.cluster = ws.metadata.cluster, metadata.name = ws.metadata.name}
)");
  CHECK(c->program->indexes.empty());
}

TEST_CASE("an equality on a field becomes a secondary index") {
  auto c = compile(std::string(kPrelude) + R"(
rule binding-export
  for b: APIBinding
  for e: APIExport in b.spec.reference.export.path named b.spec.reference.export.name
  set b.status.exportFound = e.name
)");
  REQUIRE(c->ok());
  std::string p = plan_of(*c, "binding-export");
  CHECK(p.find("on change of e: APIExport:\n    lookup b: APIBinding by index APIBinding(spec.reference.export.name, spec.reference.export.path)") != std::string::npos);
  REQUIRE(c->program->indexes.size() == 1);
  CHECK(c->program->indexes[0].to_string() == "APIBinding(spec.reference.export.name, spec.reference.export.path)");
}

TEST_CASE("where-equalities join, and filters run as soon as their variables are bound") {
  auto c = compile(std::string(kPrelude) + R"(
rule info
  for a: Account
  where a.spec.type == "org"
  for i: AccountInfo
  where i.spec.account.name == a.name
  set a.status.info = i.name
)");
  REQUIRE(c->ok());
  std::string p = plan_of(*c, "info");
  INFO(p);
  // An equality with a constant is a key too. A full plan's patterns are
  // the match's own facts when it runs (the engine pins them): it keeps
  // their keys, for a run without a match, and looks nothing up.
  CHECK(p.find("full:\n    lookup a: Account by the match's own fact {spec.type = \"org\"}\n    filter (a.spec.type == \"org\")\n    lookup i: AccountInfo by the match's own fact {spec.account.name = a.name}") != std::string::npos);
  CHECK(p.find("on change of i: AccountInfo:\n    lookup a: Account by index Account(metadata.name, spec.type) {metadata.name = i.spec.account.name, spec.type = \"org\"}") != std::string::npos);
  CHECK(p.find("on change of a: Account:\n    filter (a.spec.type == \"org\")\n    lookup i: AccountInfo by index AccountInfo(spec.account.name) {spec.account.name = a.name}") != std::string::npos);
  // So no index is kept for them alone (every Account with that type in
  // one bucket, written to on every create): only what a lookup uses.
  std::vector<std::string> kept;
  for (const auto& i : c->program->indexes) kept.push_back(i.to_string());
  CHECK(kept == std::vector<std::string>{"AccountInfo(spec.account.name)", "Account(metadata.name, spec.type)"});
}

TEST_CASE("child(cluster, name) is inverted into parent and base") {
  auto c = compile(std::string(kPrelude) + R"(
rule count-children
  for acct: Account
  let n = count { for _c: Account in child(acct.cluster, acct.name) }
  set acct.status.children = n
)");
  REQUIRE(c->ok());
  std::string p = plan_of(*c, "count-children");
  CHECK(p.find("on change of _c: Account (re-evaluates the match):\n    lookup acct: Account by primary key {metadata.cluster = parent(_c.metadata.cluster), metadata.name = base(_c.metadata.cluster)}") != std::string::npos);
}

TEST_CASE("tuple lookups by bound arguments") {
  auto c = compile(std::string(kPrelude) + R"(
relation parent(a, p)
relation member(u, a)
relation member(u, a) :- member(u, p), parent(a, p).
)");
  REQUIRE(c->ok());
  std::string p = plan_of(*c, "member/1");
  CHECK(p.find("on change of parent(...):\n    lookup-tuples member(u, p) by index relation member(1) {1 = p}") != std::string::npos);
  CHECK(p.find("on change of member(...):\n    lookup-tuples parent(a, p) by index relation parent(1) {1 = p}") != std::string::npos);
}

TEST_CASE("negation gets a sub-plan and a re-evaluation plan") {
  auto c = compile(std::string(kPrelude) + R"(
rule orphan
  for ws: Workspace
  not for _a: Account in ws.cluster named ws.name
  set ws.labels["orphan"] = "true"
)");
  REQUIRE(c->ok());
  std::string p = plan_of(*c, "orphan");
  CHECK(p.find("    not\n        lookup _a: Account by primary key {metadata.cluster = ws.cluster, metadata.name = ws.name}") != std::string::npos);
  CHECK(p.find("on change of _a: Account (re-evaluates the match):\n    lookup ws: Workspace by primary key") != std::string::npos);
}

TEST_CASE("optional patterns come after what they depend on") {
  auto c = compile(std::string(kPrelude) + R"(
rule phase
  for acct: Account
  opt ws: Workspace in acct.cluster named acct.name
  set acct.status.phase = ws?.status.phase ?? "Pending"
)");
  REQUIRE(c->ok());
  std::string p = plan_of(*c, "phase");
  CHECK(p.find("full:\n    scan acct: Account\n    optional ws: Workspace by primary key") != std::string::npos);
}

TEST_CASE("a search for new matches stops after the last step that can reject one") {
  auto c = compile(std::string(kPrelude) + R"(
rule phase
  for acct: Account
  let t = acct.spec.type
  where t != null
  opt ws: Workspace in acct.cluster named acct.name
  let phase = ws?.status.phase ?? "Pending"
  set acct.status.phase = phase
rule each-child
  for acct: Account
  let first = acct.spec.first
  for c in acct.spec.children
  set acct.status.last = c
  set acct.status.first = first
)");
  INFO(c->errors());
  REQUIRE(c->ok());
  std::string p = plan_of(*c, "phase");
  // Not in the full plan (the evaluation computes everything); in the delta
  // plan after the filter, before the optional pattern and the let.
  CHECK(p.find("full:\n    scan acct: Account\n    let t = acct.spec.type\n    filter (t != null)\n    optional ws") != std::string::npos);
  CHECK(p.find("on change of acct: Account:\n    let t = acct.spec.type\n    filter (t != null)\n"
               "    (a match is found here: a search computes nothing below)\n    optional ws") != std::string::npos);
  // `for c in` binds once per element, none for an empty list: it can reject.
  std::string each = plan_of(*c, "each-child");
  CHECK(each.find("for c in") == std::string::npos);
  CHECK(each.find("let c in acct.spec.children\n") != std::string::npos);
  CHECK(each.find("a match is found here") == std::string::npos);
  for (const auto& rp : c->program->plans) {
    CHECK(rp.full.found_at == dsl::Plan::kWholePlan);
    for (const auto& d : rp.deltas) {
      REQUIRE(d.found_at <= d.steps.size());
      for (size_t i = d.found_at; i < d.steps.size(); ++i) CHECK(d.steps[i].checks.empty());
    }
  }
}

}  // namespace
}  // namespace pmesh::test
