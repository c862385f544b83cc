// Rule sets added and removed while the engine runs: an OpenFGA model,
// beside the program's rules, serving the stores it is loaded for, each
// reading its own store's tuples. Across restarts: what a set derived is
// stored with the transactions and taken up again when the set is added
// after a reopen, without evaluating it, whatever order the sets come back
// in; a change committed before, other rules under the same name, or the
// set's removal make the stored state go, and the set is derived again.
#include <doctest/doctest.h>

#include <functional>

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include "engine/engine.h"
#include "engine/failpoint.h"
#include "fga/compile.h"
#include "fga/dsl_parser.h"
#include "fga/query.h"
#include "tests/unit/test_util.h"

namespace pmesh::test {
namespace {

using engine::DurableStore;
using engine::Engine;
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

// The same types, but a viewer is also any member of the doc's owner group.
const char* kOtherModel = R"(model
  schema 1.1
type user
type group
  relations
    define member: [user, group#member]
type doc
  relations
    define owner: [group]
    define viewer: [user, group#member] or member from owner
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

// The tuples a set derived (its relations start with its prefix).
std::string derived(const Engine& e, const std::string& prefix) {
  std::string out;
  for (const auto* p : e.state().tuples_in_order())
    if (const auto& [f, t] = *p; t.exists() && engine::describe_fact(f).find(prefix) != std::string::npos) out += engine::describe_fact(f) + "\n";
  return out;
}

uint64_t set_evaluations(const Engine& e) {
  auto costs = e.costs_by_rule();
  auto it = costs.find(engine::kRuleSetsLabel);
  return it == costs.end() ? 0 : it->second.evaluations;
}

// Adds set `id` after a reopen and checks it came back as stored, without
// evaluating a rule.
void add_taken_up(Engine& e, const std::string& id, const fga::CompiledModel& m, const std::string& stored) {
  uint64_t before = set_evaluations(e);
  REQUIRE(e.add_rule_set(id, m.program).ok);
  CHECK(set_evaluations(e) == before);
  CHECK(derived(e, "fga_" + id + "_") == stored);
}

// Adds set b (kOtherModel) and checks it was derived again, and right.
void add_b_derived(Engine& e, const fga::CompiledModel& b) {
  uint64_t before = set_evaluations(e);
  REQUIRE(e.add_rule_set("b", b.program).ok);
  CHECK(set_evaluations(e) > before);
  CHECK(fga::check(e, fga::ModelView{b.model, b.lowered, "s3"}, "user:carl", "viewer", "doc:3"));
  CHECK(e.verify() == "");
}

// Two sets over three stores, written through a data directory.
struct Written {
  std::string a, b;  // what each set derived
};
Written write_two_sets(const std::string& dir, const std::shared_ptr<const dsl::CompiledProgram>& program) {
  OpenedStore o = open_data_dir(dir, program);
  Engine& e = *o.engine;
  fga::CompiledModel a = compile_model("fga_a_"), b = compile_model("fga_b_", kOtherModel);
  REQUIRE(e.apply({tuple("s1", "group:eng", "member", "user:anne"), tuple("s1", "doc:1", "viewer", "group:eng#member"),
                   tuple("s2", "doc:2", "viewer", "user:bob"), tuple("s3", "group:ops", "member", "user:carl"),
                   tuple("s3", "doc:3", "owner", "group:ops")})
              .ok);
  REQUIRE(e.add_rule_set("a", a.program, false, nullptr, {load(a, "s1"), load(a, "s2")}).ok);
  REQUIRE(e.add_rule_set("b", b.program, false, nullptr, {load(b, "s3")}).ok);
  // Changes after the sets are there are stored as they happen.
  REQUIRE(e.apply({tuple("s2", "doc:2", "viewer", "user:dora"), Op::remove_tuple("fga_tuple", {"s1", "group:eng", "member", "user:anne"}),
                   tuple("s1", "group:eng", "member", "user:erin")})
              .ok);
  REQUIRE(e.verify() == "");
  Written w{derived(e, "fga_a_"), derived(e, "fga_b_")};
  REQUIRE(w.a.find("user:erin") != std::string::npos);
  REQUIRE(w.b.find("user:carl") != std::string::npos);
  return w;
}

TEST_CASE("a rule set's state is taken up after a reopen, in whatever order the sets come back") {
  TempDir dir;
  auto program = compile_ok(kBase);
  Written w = write_two_sets(dir.path, program);
  fga::CompiledModel a = compile_model("fga_a_"), b = compile_model("fga_b_", kOtherModel);
  {
    OpenedStore o = open_data_dir(dir.path, program);
    Engine& e = *o.engine;
    // Nothing of a set is in the state until the set is added.
    CHECK(derived(e, "fga_a_") == "");
    // The other order: set b's rules now come first.
    REQUIRE(e.add_rule_set("b", b.program).ok);
    REQUIRE(e.add_rule_set("a", a.program).ok);
    CHECK(set_evaluations(e) == 0);
    CHECK(derived(e, "fga_a_") == w.a);
    CHECK(derived(e, "fga_b_") == w.b);
    CHECK(e.verify() == "");
    // And goes on incrementally from there, stored as before.
    REQUIRE(e.apply({tuple("s1", "group:eng", "member", "user:finn"), tuple("s3", "group:ops", "member", "user:gus")}).ok);
    CHECK(fga::check(e, fga::ModelView{a.model, a.lowered, "s1"}, "user:finn", "viewer", "doc:1"));
    CHECK(fga::check(e, fga::ModelView{b.model, b.lowered, "s3"}, "user:gus", "viewer", "doc:3"));
    CHECK(e.verify() == "");
    w = {derived(e, "fga_a_"), derived(e, "fga_b_")};
  }
  OpenedStore o = open_data_dir(dir.path, program);
  add_taken_up(*o.engine, "a", a, w.a);
  add_taken_up(*o.engine, "b", b, w.b);
  CHECK(o.engine->verify() == "");
}

TEST_CASE("a change committed before a set comes back makes its stored state stale: it is derived again") {
  TempDir dir;
  auto program = compile_ok(kBase);
  write_two_sets(dir.path, program);
  fga::CompiledModel a = compile_model("fga_a_"), b = compile_model("fga_b_", kOtherModel);
  std::string after;
  {
    OpenedStore o = open_data_dir(dir.path, program);
    Engine& e = *o.engine;
    REQUIRE(e.apply({tuple("s1", "group:eng", "member", "user:hal")}).ok);
    REQUIRE(e.add_rule_set("a", a.program).ok);
    CHECK(set_evaluations(e) > 0);
    CHECK(fga::check(e, fga::ModelView{a.model, a.lowered, "s1"}, "user:hal", "viewer", "doc:1"));
    CHECK(e.verify() == "");
    after = derived(e, "fga_a_");
  }
  // Set a's state as derived then is stored; b's, stale since, is gone.
  OpenedStore o = open_data_dir(dir.path, program);
  add_taken_up(*o.engine, "a", a, after);
  add_b_derived(*o.engine, b);
}

TEST_CASE("other rules under a set's name, or the set's removal, make its stored state go") {
  TempDir dir;
  auto program = compile_ok(kBase);
  write_two_sets(dir.path, program);
  // Set a comes back with b's model (same prefix): its rules differ.
  fga::CompiledModel other = compile_model("fga_a_", kOtherModel), b = compile_model("fga_b_", kOtherModel);
  std::string after;
  {
    OpenedStore o = open_data_dir(dir.path, program);
    Engine& e = *o.engine;
    REQUIRE(e.add_rule_set("a", other.program).ok);
    CHECK(set_evaluations(e) > 0);
    CHECK(e.verify() == "");
    after = derived(e, "fga_a_");
    // Removing b (restored first) takes its stored state.
    REQUIRE(e.add_rule_set("b", b.program).ok);
    REQUIRE(e.remove_rule_set("b").ok);
  }
  OpenedStore o = open_data_dir(dir.path, program);
  add_taken_up(*o.engine, "a", other, after);
  // b's fga_loaded row is a base tuple, still there: derived again from it.
  add_b_derived(*o.engine, b);
}

TEST_CASE("a set added and removed within one group commit leaves nothing stored") {
  TempDir dir;
  auto program = compile_ok(kBase);
  fga::CompiledModel a = compile_model("fga_a_");
  {
    OpenedStore o = open_data_dir(dir.path, program);
    o.store->set_deferred(true);
    Engine& e = *o.engine;
    // Through a group: a user written on the doc is read where asked, not derived.
    REQUIRE(e.apply({tuple("s1", "group:eng", "member", "user:anne"), tuple("s1", "doc:1", "viewer", "group:eng#member")}).ok);
    REQUIRE(e.add_rule_set("a", a.program, false, nullptr, {load(a, "s1")}).ok);
    REQUIRE(e.remove_rule_set("a").ok);
    REQUIRE(e.apply({Op::remove_tuple("fga_tuple", {"s1", "group:eng", "member", "user:anne"}), tuple("s1", "group:eng", "member", "user:bob")}).ok);
    std::string err;
    REQUIRE(o.store->flush(&err));
  }
  // What the set derived before it went is not taken up: it is derived
  // from the rows that load it, as they are now.
  OpenedStore o = open_data_dir(dir.path, program);
  Engine& e = *o.engine;
  REQUIRE(e.add_rule_set("a", a.program).ok);
  CHECK(set_evaluations(e) > 0);
  CHECK(derived(e, "fga_a_").find("user:anne") == std::string::npos);
  CHECK(fga::check(e, fga::ModelView{a.model, a.lowered, "s1"}, "user:bob", "viewer", "doc:1"));
  CHECK(e.verify() == "");
}

TEST_CASE("a damaged rule-set record: a match naming no rule of its set makes the set derive: a key naming no set is reported") {
  TempDir dir;
  auto program = compile_ok(kBase);
  Written w = write_two_sets(dir.path, program);
  fga::CompiledModel a = compile_model("fga_a_");
  auto rewrite = [&](const std::function<void(leveldb::DB&, leveldb::WriteBatch&)>& fn) {
    leveldb::DB* raw = nullptr;
    REQUIRE(leveldb::DB::Open(leveldb::Options(), dir.path, &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    leveldb::WriteBatch batch;
    fn(*db, batch);
    REQUIRE(db->Write(leveldb::WriteOptions(), &batch).ok());
  };
  // `fn` changes set a's first match record (its key and value) in `batch`.
  const std::string set_matches = std::string("r\x1f") + "a\x1fm\x1f";
  auto rewrite_first_match = [&](const std::function<void(const std::string&, std::string, leveldb::WriteBatch&)>& fn) {
    rewrite([&](leveldb::DB& db, leveldb::WriteBatch& batch) {
      std::unique_ptr<leveldb::Iterator> it(db.NewIterator(leveldb::ReadOptions()));
      it->Seek(set_matches);
      REQUIRE((it->Valid() && it->key().starts_with(set_matches)));
      fn(it->key().ToString(), it->value().ToString(), batch);
    });
  };
  // The set's stored state is refused on its return, and the set derives again.
  auto derives_again = [&] {
    OpenedStore o = open_data_dir(dir.path, program);
    Engine& e = *o.engine;
    REQUIRE(e.add_rule_set("a", a.program).ok);
    CHECK(set_evaluations(e) > 0);
    CHECK(derived(e, "fga_a_") == w.a);
    CHECK(e.verify() == "");
  };
  rewrite_first_match([](const std::string& key, std::string value, leveldb::WriteBatch& batch) {
    value[1] = '\x7f';  // the rule's place (a varint after the record's mark): 127
    batch.Put(key, value);
  });
  derives_again();
  // A match record under a key that names another rule than the record.
  rewrite_first_match([&](const std::string& key, std::string value, leveldb::WriteBatch& batch) {
    size_t digest = key.find('\x1e', set_matches.size());
    REQUIRE(digest != std::string::npos);
    batch.Put(set_matches + "1000" + key.substr(digest), value);
  });
  derives_again();
  rewrite([](leveldb::DB&, leveldb::WriteBatch& batch) { batch.Put(std::string("r\x1f"), "x"); });
  std::string err;
  auto store = DurableStore::open(dir.path, &err);
  REQUIRE(store);
  Engine e(program);
  CHECK(!store->load(e, &err));
  CHECK(err == "the data directory is damaged: a rule set's record names no set");
}

TEST_CASE("a set whose adding fails leaves no restored state behind") {
  TempDir dir;
  auto program = compile_ok(kBase);
  write_two_sets(dir.path, program);
  fga::CompiledModel a = compile_model("fga_a_");
  OpenedStore o = open_data_dir(dir.path, program);
  Engine& e = *o.engine;
  // Its transaction fails as it is stored.
  failpoint::arm("commit");
  engine::Result r = e.add_rule_set("a", a.program, false, nullptr, {tuple("s1", "doc:4", "viewer", "user:ivy")});
  failpoint::disarm_all();
  REQUIRE(!r.ok);
  CHECK(!e.has_rule_set("a"));
  CHECK(derived(e, "fga_a_") == "");
  CHECK(e.verify() == "");
  // Added again, it is derived (the stored state was taken out), and that
  // is what is stored: the next reopen takes it up.
  REQUIRE(e.add_rule_set("a", a.program).ok);
  CHECK(set_evaluations(e) > 0);
  CHECK(fga::check(e, fga::ModelView{a.model, a.lowered, "s1"}, "user:erin", "viewer", "doc:1"));
  CHECK(e.verify() == "");
  std::string after = derived(e, "fga_a_");
  o = OpenedStore{};
  OpenedStore again = open_data_dir(dir.path, program);
  add_taken_up(*again.engine, "a", a, after);
}

}  // namespace
}  // namespace pmesh::test
