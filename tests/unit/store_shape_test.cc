// The state's shape in the durable store: written as the state grows, read
// back as a hint for what a load reserves, and never more than a hint.
#include <doctest/doctest.h>

#include <leveldb/db.h>

#include <functional>
#include <memory>
#include <string>

#include "engine/durable_store.h"
#include "engine/engine.h"
#include "engine/store_records.h"
#include "tests/unit/test_util.h"

namespace pmesh::test {
namespace {

using engine::Engine;
using engine::Json;
using engine::Op;
using engine::State;

// An account's workspace and owner, and a label read through the owner
// tuple (a join: a secondary index of the tuples).
const char* kRules = R"(
relation owned_by(account, user)
rule workspace
  for a: Account
  derive Workspace in a.cluster named a.name { spec.type: { name: "account" } }
rule owner
  for a: Account
  derive owned_by(a.name, a.spec.creator ?? "nobody")
rule owner_label
  for ws: Workspace
  for owned_by(ws.name, u)
  set ws.labels["owner"] = u
)";

std::shared_ptr<const dsl::CompiledProgram> program() {
  auto c = compile(std::string(kPrelude) + kRules);
  INFO(c->errors());
  REQUIRE(c->ok());
  return std::shared_ptr<const dsl::CompiledProgram>(std::move(c->program));
}

Json account(const std::string& name) {
  return Json{{"apiVersion", "core.platform-mesh.io/v1alpha1"},
              {"kind", "Account"},
              {"metadata", {{"name", name}, {"cluster", "root"}}},
              {"spec", {{"creator", "user-" + name}}}};
}

size_t entries(const State::Shape& s) {
  size_t n = s.objects + s.tuples;
  for (size_t m : s.matches) n += m;
  return n;
}

bool same_shape(const State::Shape& a, const State::Shape& b) {
  return a.objects == b.objects && a.tuples == b.tuples && a.matches == b.matches && a.readers == b.readers &&
         a.indexes == b.indexes;
}

// Runs `fn` on the data directory's LevelDB (the store closed).
void with_db(const std::string& dir, const std::function<void(leveldb::DB&)>& fn) {
  leveldb::DB* raw = nullptr;
  leveldb::Options options;
  options.create_if_missing = true;
  REQUIRE(leveldb::DB::Open(options, dir, &raw).ok());
  std::unique_ptr<leveldb::DB> db(raw);
  fn(*db);
}

// A store of `n` accounts, one commit each; returns the state's shape at the end.
State::Shape fill(const std::string& dir, int n) {
  OpenedStore o = open_data_dir(dir, program());
  for (int i = 0; i < n; ++i) REQUIRE(o.engine->apply({Op::create(account("a" + std::to_string(i)))}).ok);
  return o.engine->state().shape();
}

TEST_CASE("a store writes its state's shape as the state grows, and a reopen rebuilds tables of that shape") {
  TempDir dir;
  State::Shape at_close = fill(dir.path, 400);
  REQUIRE(at_close.objects == 800);  // accounts and workspaces
  State::Shape written;
  with_db(dir.path, [&](leveldb::DB& db) {
    std::string value;
    REQUIRE(db.Get(leveldb::ReadOptions(), "shape", &value).ok());
    written = engine::decode_shape_record(value);
  });
  // Written when the entries grew by an eighth (and 64): the last one is
  // within that of the end, and was the state's shape when written.
  CHECK(entries(written) <= entries(at_close));
  CHECK(entries(at_close) <= entries(written) + entries(written) / 8 + 64);
  CHECK(written.objects > 0);
  CHECK(written.readers > 0);
  CHECK(written.matches.size() == at_close.matches.size());
  CHECK(written.indexes.size() == at_close.indexes.size());
  CHECK_FALSE(at_close.indexes.empty());  // the join's
  // The same state, and tables of the same sizes, after a reopen.
  OpenedStore o = open_data_dir(dir.path, program());
  CHECK(same_shape(o.engine->state().shape(), at_close));
  CHECK(o.engine->verify().empty());
  const engine::ObjectEntry* ws = o.engine->state().object(engine::object_fact({"Workspace", "root", "", "a7"}));
  REQUIRE(ws);
  CHECK((*ws->effective)["metadata"]["labels"]["owner"] == "user-a7");
  // Writes go on, and the hint with them.
  for (int i = 0; i < 200; ++i) REQUIRE(o.engine->apply({Op::create(account("b" + std::to_string(i)))}).ok);
  CHECK(o.engine->state().objects().size() == 1200);
}

TEST_CASE("a shape record is a hint: damaged or outsized, the store loads the same and reserves no more than its bytes") {
  TempDir dir;
  State::Shape at_close = fill(dir.path, 100);
  State::Shape huge;
  const size_t kHuge = size_t{1} << 60;
  huge.objects = huge.tuples = huge.readers = kHuge;
  huge.matches.assign(at_close.matches.size() + 1000, kHuge);
  huge.indexes.assign(at_close.indexes.size() + 10, kHuge);
  for (const std::string& bad : {std::string("\x01\xff\xff"), std::string("{}"), std::string(),
                                 engine::encode_shape_record(huge)}) {
    CAPTURE(bad.size());
    with_db(dir.path, [&](leveldb::DB& db) { REQUIRE(db.Put(leveldb::WriteOptions(), "shape", bad).ok()); });
    // Reserving what the last one asks for would be 2^60 entries a table.
    OpenedStore o = open_data_dir(dir.path, program());
    CHECK(same_shape(o.engine->state().shape(), at_close));
    CHECK(o.engine->verify().empty());
  }
  // And a shape record does not read as damage in a store that has none
  // of the rest (it sorts among records a load passes over).
  TempDir empty;
  with_db(empty.path, [&](leveldb::DB& db) {
    REQUIRE(db.Put(leveldb::WriteOptions(), "shape", engine::encode_shape_record(at_close)).ok());
  });
  OpenedStore o = open_data_dir(empty.path, program());
  CHECK(o.engine->state().objects().empty());
}

TEST_CASE("a store refuses a commit until it has been loaded, and the transaction leaves nothing") {
  TempDir dir;
  std::string err;
  auto store = engine::DurableStore::open(dir.path, &err);
  REQUIRE(store);
  Engine e(program());
  e.set_persistence(store.get());
  auto r = e.apply({Op::create(account("a"))});
  CHECK_FALSE(r.ok);
  CHECK(r.message.find("not loaded before its first commit") != std::string::npos);
  CHECK(e.state().objects().empty());
  // Loaded, it takes the same write.
  REQUIRE(store->load(e, &err));
  REQUIRE(e.apply({Op::create(account("a"))}).ok);
  CHECK(e.state().objects().size() == 2);
}

}  // namespace
}  // namespace pmesh::test
