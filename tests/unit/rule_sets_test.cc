// Rule sets added and removed while the engine runs: an OpenFGA model per
// store, beside the program's rules, each reading its own store's tuples.
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

fga::CompiledModel model_for(const std::string& store, const std::string& text = kModel) {
  return fga::compile_model(fga::parse_dsl({{"m.fga", text}}), store, "fga_" + store + "_");
}

Op tuple(const std::string& store, const std::string& o, const std::string& r, const std::string& u) {
  return Op::add_tuple("fga_tuple", {store, o, r, u});
}

TEST_CASE("a rule set is added as a transaction, computes from the state, and leaves other stores alone") {
  auto program = compile_ok(kBase);
  engine::Engine e(program);
  REQUIRE(e.apply({tuple("s1", "group:eng", "member", "user:anne"), tuple("s1", "doc:1", "viewer", "group:eng#member"),
                   tuple("s2", "doc:1", "viewer", "user:bob")})
              .ok);
  fga::CompiledModel m1 = model_for("s1"), m2 = model_for("s2");
  fga::ModelView v1{m1.model, m1.lowered}, v2{m2.model, m2.lowered};
  engine::Result r = e.add_rule_set("s1", m1.program);
  REQUIRE(r.ok);
  CHECK(fga::check(e, v1, "user:anne", "viewer", "doc:1"));
  CHECK(!e.has_rule_set("s2"));
  CHECK(!e.has_tuple("fga_s2_doc_viewer", {"doc:1", "user:bob"}));
  REQUIRE(e.add_rule_set("s2", m2.program).ok);
  CHECK(fga::check(e, v2, "user:bob", "viewer", "doc:1"));
  CHECK(!fga::check(e, v2, "user:anne", "viewer", "doc:1"));  // s1's tuples are s1's
  CHECK(e.verify() == "");
  // Writes reach the model of their store, incrementally.
  REQUIRE(e.apply({tuple("s2", "doc:1", "viewer", "user:carl")}).ok);
  CHECK(fga::check(e, v2, "user:carl", "viewer", "doc:1"));
  CHECK(!fga::check(e, v1, "user:carl", "viewer", "doc:1"));
  REQUIRE(e.apply({Op::remove_tuple("fga_tuple", {"s1", "group:eng", "member", "user:anne"})}).ok);
  CHECK(!fga::check(e, v1, "user:anne", "viewer", "doc:1"));
  CHECK(e.verify() == "");
  // Removing a set takes what it derived and nothing else.
  REQUIRE(e.remove_rule_set("s1").ok);
  CHECK(!e.has_rule_set("s1"));
  CHECK(!e.has_tuple("fga_s1_doc_viewer", {"doc:1", "group:eng#member"}));
  CHECK(e.has_tuple("fga_tuple", {"s1", "doc:1", "viewer", "group:eng#member"}));
  CHECK(e.has_tuple("seen", {"s1"}));
  CHECK(fga::check(e, v2, "user:bob", "viewer", "doc:1"));
  CHECK(e.verify() == "");
  // A set can come back (a new model for the store).
  REQUIRE(e.add_rule_set("s1", m1.program).ok);
  CHECK(fga::check(e, v1, "group:eng#member", "viewer", "doc:1"));
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
  fga::CompiledModel m = model_for("s1");
  REQUIRE(e.add_rule_set("s1", m.program).ok);
  CHECK(!e.add_rule_set("s1", m.program).ok);
  CHECK(e.verify() == "");
}

TEST_CASE("a dry-run rule set answers a question and is gone after") {
  auto program = compile_ok(kBase);
  engine::Engine e(program);
  REQUIRE(e.apply({tuple("s1", "doc:1", "viewer", "user:anne")}).ok);
  fga::CompiledModel m = model_for("s1");
  fga::ModelView v{m.model, m.lowered};
  bool seen = false;
  engine::Result r = e.add_rule_set("s1-old", m.program, true, [&](engine::Result&) { seen = fga::check(e, v, "user:anne", "viewer", "doc:1"); });
  REQUIRE(r.ok);
  CHECK(seen);
  CHECK(!e.has_rule_set("s1-old"));
  CHECK(!e.has_tuple("fga_s1_doc_viewer", {"doc:1", "user:anne"}));
  CHECK(e.verify() == "");
}

}  // namespace
}  // namespace pmesh::test
