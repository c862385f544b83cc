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

TEST_CASE("a let moves down to its first reader, past steps that find one value at most") {
  auto c = compile(std::string(kPrelude) + R"(
rule by-key
  for acct: Account
  let n = acct.spec.workspace
  let label = "{acct.name}!"
  where acct.spec.type != null
  for _ws: Workspace in acct.cluster named n
  set acct.annotations["label"] = label
rule by-clause
  for acct: Account
  let n = acct.spec.workspace
  where acct.spec.type != null
  opt ws: Workspace in acct.cluster named n
  set acct.annotations["phase"] = ws?.status.phase ?? ""
rule by-aggregate
  for acct: Account
  let n = acct.spec.workspace
  where acct.spec.type != null
  where any { for ws: Workspace in acct.cluster where ws.name == n }
  set acct.annotations["found"] = "yes"
rule by-where
  for acct: Account
  let n = acct.spec.workspace
  where acct.spec.type != null
  for _ws: Workspace in acct.cluster
  where _ws.name == n
  set acct.annotations["where"] = "yes"
)");
  INFO(c->errors());
  REQUIRE(c->ok());
  // `n` keys the lookup: past the filter, no further. `label` is read by
  // the head alone: past the lookup by the workspace's whole name too, so
  // the search stops before it. Where `n` closes a check of its own (from
  // the workspace's side) it rejects, and stays where it is.
  std::string key = plan_of(*c, "by-key");
  CHECK(key.find("on change of acct: Account:\n    filter (acct.spec.type != null)\n    let n = acct.spec.workspace\n"
                 "    lookup _ws: Workspace by primary key {metadata.cluster = acct.cluster, metadata.name = n}\n"
                 "    (a match is found here: a search computes nothing below)\n    let label") != std::string::npos);
  CHECK(key.find("on change of _ws: Workspace:\n    lookup acct: Account by primary key {metadata.cluster = _ws.metadata.cluster}\n"
                 "    let n = acct.spec.workspace\n      check _ws.metadata.name == n\n    filter") != std::string::npos);
  // An optional pattern's clause reads it: it stays before the pattern.
  std::string clause = plan_of(*c, "by-clause");
  CHECK(clause.find("on change of acct: Account:\n    filter (acct.spec.type != null)\n"
                    "    (a match is found here: a search computes nothing below)\n    let n = acct.spec.workspace\n"
                    "    optional ws") != std::string::npos);
  // A lookup keyed by it through a `where` equality (the pattern itself
  // does not name it).
  std::string where = plan_of(*c, "by-where");
  CHECK(where.find("on change of acct: Account:\n    filter (acct.spec.type != null)\n    let n = acct.spec.workspace\n"
                   "    lookup _ws: Workspace by primary key {metadata.cluster = acct.cluster, metadata.name = n}\n") != std::string::npos);
  // The aggregate of a filter reads it.
  std::string agg = plan_of(*c, "by-aggregate");
  CHECK(agg.find("on change of acct: Account:\n    filter (acct.spec.type != null)\n    let n = acct.spec.workspace\n"
                 "    filter any") != std::string::npos);
}

}  // namespace
}  // namespace pmesh::test
