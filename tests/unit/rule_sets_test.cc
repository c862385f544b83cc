// Rule sets added and removed while the engine runs: an OpenFGA model,
// beside the program's rules, serving the stores it is loaded for, each
// reading its own store's tuples.
#include <doctest/doctest.h>

#include "engine/engine.h"
#include "fga/compile.h"
#include "fga/dsl_parser.h"
#include "fga/query.h"
#include "tests/unit/test_util.h"

namespace pmesh::test {
namespace {

using engine::Op;

const char* kBase = R"(module base
import stdlib.fga
relation seen(store)
rule store-seen
  for fga_tuple(s, _o, _r, _u)
  derive seen(s)
)";

const char* kModel = R"(model
  schema 1.1
type user
type group
  relations
    define member: [user, group#member]
type doc
  relations
    define viewer: [user, group#member]
)";

std::shared_ptr<const dsl::CompiledProgram> compile_ok(const std::string& text) {
  auto c = compile(text);
  REQUIRE(c->diags.format() == "");
  return std::shared_ptr<const dsl::CompiledProgram>(std::move(c->program));
}

fga::CompiledModel compile_model(const std::string& prefix, const std::string& text = kModel) {
  return fga::compile_model(fga::parse_dsl({{"m.fga", text}}), prefix);
}

Op tuple(const std::string& store, const std::string& o, const std::string& r, const std::string& u) {
  return Op::add_tuple("fga_tuple", {store, o, r, u});
}

Op load(const fga::CompiledModel& m, const std::string& store) { return Op::add_tuple(fga::kLoadedRelation, m.lowered.loaded(store)); }

TEST_CASE("a model's rule set serves the stores it is loaded for, each apart, and is added and removed as a transaction") {
  auto program = compile_ok(kBase);
  engine::Engine e(program);
  REQUIRE(e.apply({tuple("s1", "group:eng", "member", "user:anne"), tuple("s1", "doc:1", "viewer", "group:eng#member"),
                   tuple("s2", "doc:1", "viewer", "user:bob")})
              .ok);
  fga::CompiledModel m = compile_model("fga_m_");
  fga::ModelView v1{m.model, m.lowered, "s1"}, v2{m.model, m.lowered, "s2"};
  engine::Result r = e.add_rule_set("m", m.program, false, nullptr, {load(m, "s1")});
  REQUIRE(r.ok);
  CHECK(fga::check(e, v1, "user:anne", "viewer", "doc:1"));
  // Not loaded for s2: its tuples count for nothing yet.
  CHECK(!fga::check(e, v2, "user:bob", "viewer", "doc:1"));
  CHECK(!e.has_tuple("fga_m_doc_viewer", {"s2", "doc:1", "user:bob"}));
  REQUIRE(e.apply({load(m, "s2")}).ok);
  CHECK(fga::check(e, v2, "user:bob", "viewer", "doc:1"));
  CHECK(!fga::check(e, v2, "user:anne", "viewer", "doc:1"));  // s1's tuples are s1's
  CHECK(!fga::check(e, v1, "user:bob", "viewer", "doc:1"));
  CHECK(e.verify() == "");
  // Writes reach their store's relations, incrementally.
  REQUIRE(e.apply({tuple("s2", "doc:1", "viewer", "user:carl")}).ok);
  CHECK(fga::check(e, v2, "user:carl", "viewer", "doc:1"));
  CHECK(!fga::check(e, v1, "user:carl", "viewer", "doc:1"));
  REQUIRE(e.apply({Op::remove_tuple("fga_tuple", {"s1", "group:eng", "member", "user:anne"})}).ok);
  CHECK(!fga::check(e, v1, "user:anne", "viewer", "doc:1"));
  // A usersets's members in one store do not reach another's.
  REQUIRE(e.apply({tuple("s2", "group:eng", "member", "user:dora")}).ok);
  CHECK(!fga::check(e, v1, "user:dora", "viewer", "doc:1"));
  CHECK(e.verify() == "");
  // Unloading a store takes its relations and nothing else.
  REQUIRE(e.apply({Op::remove_tuple(fga::kLoadedRelation, m.lowered.loaded("s1"))}).ok);
  CHECK(!e.has_tuple("fga_m_doc_viewer", {"s1", "doc:1", "group:eng#member"}));
  CHECK(fga::check(e, v2, "user:bob", "viewer", "doc:1"));
  CHECK(e.verify() == "");
  // Removing the set takes what it derived and nothing else.
  REQUIRE(e.remove_rule_set("m").ok);
  CHECK(!e.has_rule_set("m"));
  CHECK(!e.has_tuple("fga_m_doc_viewer", {"s2", "doc:1", "user:bob"}));
  CHECK(e.has_tuple("fga_tuple", {"s1", "doc:1", "viewer", "group:eng#member"}));
  CHECK(e.has_tuple("seen", {"s1"}));
  CHECK(e.verify() == "");
  // A set can come back, and finds the stores it is loaded for.
  REQUIRE(e.add_rule_set("m", m.program, false, nullptr, {load(m, "s1")}).ok);
  CHECK(fga::check(e, v1, "group:eng#member", "viewer", "doc:1"));
  CHECK(fga::check(e, v2, "user:bob", "viewer", "doc:1"));
  CHECK(e.verify() == "");
}

TEST_CASE("a rule set that is not its own, or that fails, changes nothing") {
  auto program = compile_ok(kBase);
  engine::Engine e(program);
  REQUIRE(e.apply({tuple("s1", "doc:1", "viewer", "user:anne")}).ok);
  // Deriving what the program derives is refused.
  dsl::DiagnosticSink diags;
  auto p = dsl::load_program_from_texts({{"bad.rules", "module bad\nrelation seen(store)\nrule again\n  for seen(s)\n  derive seen(s)\n"}}, diags);
  std::shared_ptr<const dsl::CompiledProgram> bad = dsl::compile(std::move(p), diags);
  REQUIRE(!diags.has_errors());
  engine::Result r = e.add_rule_set("bad", bad);
  CHECK(!r.ok);
  CHECK(r.message == "rule again: relation seen is not the set's own");
  CHECK(!e.has_rule_set("bad"));
  // A set loaded twice under one name is refused.
  fga::CompiledModel m = compile_model("fga_m_");
  REQUIRE(e.add_rule_set("m", m.program).ok);
  CHECK(!e.add_rule_set("m", m.program).ok);
  CHECK(e.verify() == "");
}

TEST_CASE("a dry-run rule set answers a question and is gone after") {
  auto program = compile_ok(kBase);
  engine::Engine e(program);
  REQUIRE(e.apply({tuple("s1", "doc:1", "viewer", "user:anne")}).ok);
  fga::CompiledModel m = compile_model("fga_m_");
  fga::ModelView v{m.model, m.lowered, "s1"};
  bool seen = false;
  engine::Result r = e.add_rule_set("m", m.program, true, [&](engine::Result&) { seen = fga::check(e, v, "user:anne", "viewer", "doc:1"); },
                                    {load(m, "s1")});
  REQUIRE(r.ok);
  CHECK(seen);
  CHECK(!e.has_rule_set("m"));
  CHECK(!e.has_tuple("fga_m_doc_viewer", {"s1", "doc:1", "user:anne"}));
  CHECK(!e.has_tuple(fga::kLoadedRelation, m.lowered.loaded("s1")));
  CHECK(e.verify() == "");
}

}  // namespace
}  // namespace pmesh::test
