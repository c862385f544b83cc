// The dependency graph: nodes at (kind, section) granularity, strata in
// topological order, recursion allowed when monotone, negation cycles refused.
#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/unit/test_util.h"

namespace pmesh::test {
namespace {

// Stratum index of each rule, by name.
std::map<std::string, int> strata(const Compiled& c) {
  std::map<std::string, int> out;
  for (const auto& s : c.program->graph->strata())
    for (const auto* r : s.rules) out[r->rule->name] = s.index;
  return out;
}

TEST_CASE("spec and status are different nodes: no cycle between derive and roll-up") {
  auto d = compile(std::string(kPrelude) + R"(
rule account-workspace
  for acct: Account
  derive Workspace in acct.cluster named acct.name { spec.type: { name: acct.spec.type } }
rule workspace-phase
  for ws: Workspace
  set ws.status.phase = ws.spec.type.name == "" ? "Scheduling" : "Ready"
rule account-ready
  for acct: Account
  for ws: Workspace in acct.cluster named acct.name
  let others = count { for _w: Workspace in acct.cluster }
  set acct.status.conditions["Ready"] = condition(ws.status.phase == "Ready" and others > 0, "WorkspaceReady")
)");
  INFO(d->errors());
  REQUIRE(d->ok());
  auto s = strata(*d);
  CHECK(s.size() == 3);
  CHECK(s["account-workspace"] < s["workspace-phase"]);
  CHECK(s["workspace-phase"] < s["account-ready"]);
  for (const auto& st : d->program->graph->strata()) CHECK_FALSE(st.recursive);
}

TEST_CASE("monotone recursion is one recursive stratum") {
  auto c = compile(std::string(kPrelude) + R"(
relation owner(u, a)
relation parent(a, p)
relation member(u, a) :- owner(u, a).
relation member(u, a) :- member(u, p), parent(a, p).
relation can_delete(u, a) :- member(u, a), owner(u, a).
)");
  INFO(c->errors());
  REQUIRE(c->ok());
  auto s = strata(*c);
  // member/1 feeds the cycle of member/2 from below.
  CHECK(s["member/1"] < s["member/2"]);
  CHECK(s["can_delete/1"] > s["member/2"]);
  bool recursive = false;
  for (const auto& st : c->program->graph->strata())
    if (st.index == s["member/2"]) recursive = st.recursive;
  CHECK(recursive);
}

TEST_CASE("negation through a cycle is refused, with the cycle of rules") {
  auto c = compile(std::string(kPrelude) + R"(
relation base(x)
relation p(x) :- base(x), not q(x).
relation q(x) :- base(x), not p(x).
)");
  CHECK(first_error(*c) == "9:31: negation or aggregation through a cycle: p/1 -> q/1 -> p/1");
  CHECK(c->errors().find("the cycle: rule p/1 -> rel:p -> rule q/1 -> rel:q -> (not) rule p/1") != std::string::npos);
}

TEST_CASE("aggregation through a cycle is refused, and reading old() breaks the cycle") {
  std::string loop = std::string(kPrelude) + R"(
rule count-ready
  for a: Account
  let n = count { for b: Account in a.cluster where b.status.ready }
  set a.status.ready = n > 0
)";
  auto c = compile(loop);
  CHECK(first_error(*c).find("negation or aggregation through a cycle: count-ready -> count-ready") != std::string::npos);
  std::string latch = std::string(kPrelude) + R"(
rule latch
  for a: Account
  set a.status.ready = old(a).status.ready ?? false or a.spec.ready == true
)";
  auto d = compile(latch);
  INFO(d->errors());
  CHECK(d->ok());
  CHECK_FALSE(d->program->graph->strata()[0].recursive);
}

TEST_CASE("negation of a lower stratum is fine") {
  auto c = compile(std::string(kPrelude) + R"(
rule orphan
  for ws: Workspace
  not for _a: Account in ws.cluster named ws.name
  set ws.labels["orphan"] = "true"
)");
  INFO(c->errors());
  CHECK(c->ok());
}

TEST_CASE("the graph as JSON and DOT") {
  auto c = compile(std::string(kPrelude) + R"(
rule r
  for acct: Account
  not for _w: Workspace in acct.cluster named acct.name
  set acct.status.phase = acct.spec.waiting
)");
  REQUIRE(c->ok());
  auto j = nlohmann::json::parse(c->program->graph->to_json());
  std::set<std::string> names, labels;
  for (const auto& n : j["nodes"]) names.insert(n["name"]);
  for (const auto& e : j["edges"]) labels.insert(e["label"]);
  CHECK(names.count("r"));
  CHECK(names.count("Account.metadata"));
  CHECK(names.count("Account.status"));
  CHECK(names.count("Workspace.metadata"));
  CHECK(labels == std::set<std::string>{"read", "negated", "write"});
  CHECK(j["strata"].size() == 1);
  std::string dot = c->program->graph->to_dot();
  CHECK(dot.find("digraph") == 0);
  CHECK(dot.find("style=dashed") != std::string::npos);
}

}  // namespace
}  // namespace pmesh::test
