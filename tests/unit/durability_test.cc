// The durable store: reopening restores everything without recomputing, a
// failed commit leaves nothing, a change of rules recomputes the derived state.
#include <doctest/doctest.h>

#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <span>
#include <stdexcept>
#include <string_view>
#include <vector>

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include "engine/durable_store.h"
#include "engine/engine.h"
#include "engine/failpoint.h"
#include "engine/store_records.h"
#include "engine/value_pool.h"
#include "tests/unit/test_util.h"

namespace pmesh::test {
namespace {

using engine::DurableStore;
using engine::Engine;
using engine::Json;
using engine::Op;

std::shared_ptr<const dsl::CompiledProgram> compiled(const std::string& rules) {
  auto c = compile(std::string(kPrelude) + rules);
  INFO(c->errors());
  REQUIRE(c->ok());
  return std::shared_ptr<const dsl::CompiledProgram>(std::move(c->program));
}

const char* kDurableRules = R"(
relation owner(user, account)
rule workspace
  for a: Account
  derive Workspace in a.cluster named a.name { spec.type: { name: a.spec.type ?? "account" } }
rule creator
  for a: Account
  derive owner(a.spec.creator ?? "nobody", a.name)
)";

Json account(const std::string& name, const std::string& creator) {
  return Json{{"apiVersion", "core.platform-mesh.io/v1alpha1"},
              {"kind", "Account"},
              {"metadata", {{"name", name}, {"cluster", "root"}}},
              {"spec", {{"creator", creator}}}};
}

std::string dump_state(const Engine& e) {
  std::string out;
  for (const auto& [f, o] : e.state().objects()) out += engine::encode_object(o).dump() + "\n";
  for (const auto* t : e.state().tuples_in_order()) out += engine::describe_fact(t->first) + "\n";
  e.state().for_each_match(
      [&](const engine::MatchKey&, const engine::Match& m) { out += engine::encode_match(m).dump() + "\n"; });
  return out;
}

struct FailingStore : engine::Persistence {
  bool commit(const engine::State&, const engine::State::Dirty&, const engine::RuleSetChanges&, const engine::Result&,
              const engine::CommittedForms&, std::string* error) override {
    *error = "disk on fire";
    return false;
  }
  void scan_tuples(std::string_view, std::string_view, FactVisitor) const override {}
};

TEST_CASE("reopening a data directory restores objects, tuples and bookkeeping") {
  TempDir dir;
  auto program = compiled(kDurableRules);
  std::string before;
  int64_t rv = 0;
  {
    OpenedStore o = open_data_dir(dir.path, program);
    Engine& e = *o.engine;
    REQUIRE(e.apply({Op::create(account("a", "alice")), Op::create(account("b", "bob"))}).ok);
    REQUIRE(e.apply({Op::update(account("a", "carol"))}).ok);
    REQUIRE(e.apply({Op::remove({"Account", "root", "", "b"})}).ok);
    before = dump_state(e);
    rv = e.resource_version();
  }
  OpenedStore o = open_data_dir(dir.path, program);
  Engine& e = *o.engine;
  DurableStore* store = o.store.get();
  CHECK(dump_state(e) == before);
  CHECK(e.resource_version() == rv);
  CHECK(e.verify().empty());
  // The change log holds every change, in resource-version order.
  std::vector<std::string> types;
  int64_t last = 0;
  std::map<std::string, Json> latest;  // kind/name: the object as its last entry holds it
  store->scan_log(0, [&](int64_t v, const Json& ev) {
    CHECK(v >= last);
    last = v;
    types.push_back(ev["type"]);
    latest[ev["object"]["kind"].get<std::string>() + "/" + ev["object"]["metadata"]["name"].get<std::string>()] =
        ev["object"];
    // Each entry's object is numbered with the version of its change.
    CHECK(ev["object"]["metadata"]["resourceVersion"] == std::to_string(v));
    CHECK(ev["object"]["metadata"].contains("name"));
    return true;
  });
  CHECK(types.size() == 7);  // 2 accounts + 2 workspaces, 1 update, 1 account + 1 workspace deleted
  CHECK(types.back() == "DELETED");
  // An entry holds the object as committed (the bytes its record was
  // written with): the last entry of each object that is left is its form.
  int compared = 0;
  for (const auto& [f, entry] : e.state().objects()) {
    auto it = latest.find(std::string(entry.key().kind) + "/" + std::string(entry.key().name));
    if (it == latest.end()) continue;
    CHECK(it->second == *entry.effective);
    ++compared;
  }
  CHECK(compared == 2);  // account a and its workspace
  // And the engine goes on from there (open_data_dir made it commit to the store).
  REQUIRE(e.apply({Op::create(account("c", "dave"))}).ok);
  CHECK(e.has_tuple("owner", {"dave", "c"}));
}

TEST_CASE("the change log keeps its last entries up to its limit, trimmed from the oldest, across a reopen") {
  TempDir dir;
  auto program = compiled(kDurableRules);
  auto logged = [](const DurableStore& store) {
    std::vector<std::pair<int64_t, std::string>> out;  // (version, kind/name)
    store.scan_log(0, [&](int64_t v, const Json& ev) {
      out.emplace_back(v, ev["object"]["kind"].get<std::string>() + "/" + ev["object"]["metadata"]["name"].get<std::string>());
      return true;
    });
    return out;
  };
  int64_t last_rv = 0;
  {
    OpenedStore o = open_data_dir(dir.path, program);
    o.store->set_log_limit(5);
    // Each create is two entries of one transaction (the account, its
    // workspace): eight in all, of which the last five stay.
    for (const char* name : {"a", "b", "c", "d"}) REQUIRE(o.engine->apply({Op::create(account(name, "alice"))}).ok);
    auto kept = logged(*o.store);
    REQUIRE(kept.size() == 5);
    CHECK(kept.front().first == o.store->oldest_log_rv());
    CHECK(kept.back().first == o.engine->resource_version());
    last_rv = o.engine->resource_version();
  }
  // Reopened, the store knows the entries on disk and trims them first.
  OpenedStore o = open_data_dir(dir.path, program);
  auto before = logged(*o.store);
  REQUIRE(before.size() == 5);
  CHECK(o.store->oldest_log_rv() == before.front().first);
  o.store->set_log_limit(3);
  REQUIRE(o.engine->apply({Op::create(account("e", "bob"))}).ok);
  auto after = logged(*o.store);
  REQUIRE(after.size() == 3);
  CHECK(after[0] == before.back());  // the newest of before, then e's two
  CHECK(after[1].first > last_rv);
  CHECK(after[2].first == o.engine->resource_version());
  CHECK(o.store->oldest_log_rv() == after.front().first);
}

TEST_CASE("a user's value of an editable field, and what they saw, survive a reopen") {
  TempDir dir;
  auto program = compiled(R"(
rule workspace
  for a: Account
  derive Workspace in a.cluster named a.name { spec.type: editable { name: a.spec.type ?? "account" } }
)");
  auto workspace = [](const Engine& e) { return (*e.get({"Workspace", "root", "", "a"}))["spec"]["type"]["name"]; };
  std::string before;
  {
    OpenedStore o = open_data_dir(dir.path, program);
    Engine& e = *o.engine;
    REQUIRE(e.apply({Op::create(account("a", "alice"))}).ok);
    Json ws = *e.get({"Workspace", "root", "", "a"});
    ws["spec"]["type"]["name"] = "custom";
    auto r = e.apply({Op::update(ws)});
    REQUIRE_MESSAGE(r.ok, r.reason << ": " << r.message);
    CHECK(workspace(e) == "custom");
    before = dump_state(e);
  }
  OpenedStore o = open_data_dir(dir.path, program);
  Engine& e = *o.engine;
  CHECK(dump_state(e) == before);
  CHECK(workspace(e) == "custom");
  CHECK(e.verify().empty());
  // The rule's value changes: it wins, as it would have without the reopen.
  Json a = account("a", "alice");
  a["spec"]["type"] = "org";
  REQUIRE(e.apply({Op::update(a)}).ok);
  CHECK(workspace(e) == "org");
  CHECK(e.verify().empty());
}

TEST_CASE("an order a rule keeps, and a field a user removed from an editable one, survive a reopen") {
  TempDir dir;
  auto program = compiled(R"(
rule order-items
  for a: Account
  set a.status.items ordered by ["name"]
rule workspace
  for a: Account
  derive Workspace in a.cluster named a.name { spec.type: editable { name: "account", path: a.spec.creator ?? "root" } }
)");
  auto names = [](const Engine& e) {
    std::string out;
    for (const auto& i : (*e.get({"Account", "root", "", "a"}))["status"]["items"]) out += i["name"].get<std::string>();
    return out;
  };
  auto type = [](const Engine& e) { return (*e.get({"Workspace", "root", "", "a"}))["spec"]["type"]; };
  std::string before;
  {
    OpenedStore o = open_data_dir(dir.path, program);
    Engine& e = *o.engine;
    Json a = account("a", "alice");
    a["status"]["items"] = Json::array({{{"name", "c"}}, {{"name", "a"}}, {{"name", "b"}}});
    REQUIRE(e.apply({Op::create(a)}).ok);
    CHECK(names(e) == "abc");
    Json ws = *e.get({"Workspace", "root", "", "a"});
    ws["spec"]["type"].erase("path");
    auto r = e.apply({Op::update(ws)});
    REQUIRE_MESSAGE(r.ok, r.reason << ": " << r.message);
    CHECK_FALSE(type(e).contains("path"));
    before = dump_state(e);
    // Each object's record, written directly, is the CBOR of its document
    // (set fields, an editable one, an order, a user's base and what they saw).
    for (const auto& [f, entry] : e.state().objects())
      CHECK(Json::from_cbor(engine::encode_object_record(entry)) == engine::encode_object(entry));
  }
  OpenedStore o = open_data_dir(dir.path, program);
  Engine& e = *o.engine;
  CHECK(dump_state(e) == before);
  CHECK(names(e) == "abc");
  CHECK_FALSE(type(e).contains("path"));
  CHECK(e.verify().empty());
  // The rule's value of the removed field changes: it is back.
  REQUIRE(e.apply({Op::update(account("a", "bob"))}).ok);
  CHECK(type(e)["path"] == "bob");
  CHECK(e.verify().empty());
}

TEST_CASE("an object record holds strings and maps of every length CBOR encodes") {
  engine::ObjectEntry e;
  // Lengths that take a head of 0, 1, 2 and 4 bytes more.
  e.fact = engine::FactKey(engine::object_fact({"Kind", std::string(70000, 'c'), std::string(300, 'n'), std::string(30, 'x')}));
  e.set_uid("u");
  Json big = Json::object();
  for (int i = 0; i < 300; ++i) big["k" + std::to_string(i)] = std::string(static_cast<size_t>(i), 'v');
  e.effective = big;
  // Numbers of every width and sign, floats that fit a float and that do
  // not, nesting, text that is not ASCII.
  e.base = Json(Json::array(
      {1, -2, 3.5, 0.1, -1e300, std::numeric_limits<double>::infinity(), nullptr, true, false, 23, 24, 255, 256, 65535,
       65536, 4294967295LL, 4294967296LL, -24, -25, -256, -257, -65537, std::numeric_limits<int64_t>::min(),
       std::numeric_limits<uint64_t>::max(), Json::object({{"ü", Json::array({Json::object(), Json::array()})}})}));
  e.resource_version = 1LL << 40;
  e.generation = 7;
  // A set field at a path through a keyed list, editable and ordered; a derived part.
  engine::MatchKey mk(3, {engine::FactKey("t\x1f" "r\x1f" "a")});
  using engine::Contribution;
  e.fields[mk].emplace_back(
      Contribution(Contribution::Kind::kField, engine::FactKey(), Json(-300),
                   engine::intern_path({engine::PathElem{"spec", false, "", nullptr}, engine::PathElem{"", true, "name", Json("n1")},
                                        engine::PathElem{"value", false, "", nullptr}}),
                   -5, Contribution::kAdd | Contribution::kEditable | Contribution::kOrder),
      3);
  e.derived[mk] = Json{{"status", {{"ready", true}}}};
  std::string record = engine::encode_object_record(e);
  CHECK(Json::from_cbor(record) == engine::encode_object(e));
  std::string document;
  Json::to_cbor(engine::encode_object(e), document);
  CHECK(record.size() == document.size());
}

TEST_CASE("a data directory whose records and change log are JSON text (written before they were CBOR) still loads") {
  TempDir dir;
  auto program = compiled(kDurableRules);
  std::string before;
  // Every object, tuple and match record as the first versions wrote them.
  std::vector<std::pair<std::string, std::string>> old_records, old_log;
  std::vector<Json> events;
  {
    OpenedStore o = open_data_dir(dir.path, program);
    REQUIRE(o.engine->apply({Op::create(account("a", "alice")), Op::create(account("b", "bob"))}).ok);
    before = dump_state(*o.engine);
    const auto& st = o.engine->state();
    for (const auto& [f, e] : st.objects()) old_records.push_back({std::string(f.str()), engine::encode_object(e).dump()});
    for (const auto* p : st.tuples_in_order()) {
      const auto& [f, t] = *p;
      Json supports = Json::array();
      for (const auto& k : t.supports) supports.push_back(k.str());
      old_records.push_back({std::string(f.str()), Json{{"base", t.base()}, {"supports", supports}}.dump()});
    }
    st.for_each_match([&](const engine::MatchKey& k, const engine::Match& m) {
      old_records.push_back({"m\x1f" + k.str(), engine::encode_match(m).dump()});
    });
  }
  {
    leveldb::DB* raw = nullptr;
    REQUIRE(leveldb::DB::Open(leveldb::Options(), dir.path, &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
    int stored = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string k = it->key().ToString(), v = it->value().ToString();
      if (!k.empty() && k[0] == 'l') {
        // Change-log entries as CBOR maps; as JSON text before.
        CHECK(static_cast<unsigned char>(v[0]) == 0xa2);
        events.push_back(Json::from_cbor(v));
        old_log.push_back({k, events.back().dump()});
        continue;
      }
      if (k.empty() || k.rfind("meta", 0) == 0 || (k[0] != 'o' && k[0] != 't' && k[0] != 'm')) continue;
      // Objects as CBOR maps; tuples and matches in the binary record form.
      if (k[0] == 'o') CHECK(static_cast<unsigned char>(v[0]) >= 0xa0);
      else CHECK(v[0] == '\x01');
      ++stored;
    }
    CHECK(stored == static_cast<int>(old_records.size()));
    CHECK(events.size() == 4);  // 2 accounts, 2 workspaces
    leveldb::WriteBatch batch;
    for (const auto& [k, v] : old_records) batch.Put(k, v);
    for (const auto& [k, v] : old_log) batch.Put(k, v);
    REQUIRE(db->Write(leveldb::WriteOptions(), &batch).ok());
  }
  OpenedStore o = open_data_dir(dir.path, program);
  CHECK(dump_state(*o.engine) == before);
  CHECK(o.engine->verify().empty());
  std::vector<Json> replayed;
  o.store->scan_log(0, [&](int64_t, const Json& ev) { return replayed.push_back(ev), true; });
  CHECK(replayed == events);
}

// Whether every part of every object is the very value (not a copy) of the
// contribution of its match that made it.
bool parts_shared(const Engine& e) {
  const auto& st = e.state();
  int parts = 0;
  for (const auto& [f, o] : st.objects()) {
    auto own = [&](const engine::MatchKey& mk, const engine::Json* value) {
      ++parts;
      const engine::Match* m = st.match(mk);
      REQUIRE(m);
      for (const auto& c : m->contributions())
        if (c.target == f && &*c.value() == value) return true;
      return false;
    };
    for (const auto& [mk, part] : o.derived)
      if (!own(mk, &*part)) return false;
    for (const auto& [mk, fields] : o.fields)
      for (const auto& p : fields)
        if (!own(mk, &*p.value())) return false;
  }
  return parts > 0;
}

const char* kPartRules = R"(
rule workspace
  for a: Account
  derive Workspace in a.cluster named a.name { spec.type: { name: a.spec.type ?? "account" } }
rule phase
  for w: Workspace
  set w.status.phase = "Ready"
)";

TEST_CASE("an object's parts name their matches' contributions in its record, and are those values again after a reopen") {
  TempDir dir;
  auto program = compiled(kPartRules);
  std::string before;
  {
    OpenedStore o = open_data_dir(dir.path, program);
    REQUIRE(o.engine->apply({Op::create(account("a", "alice")), Op::create(account("b", "bob"))}).ok);
    REQUIRE(parts_shared(*o.engine));
    before = dump_state(*o.engine);
  }
  {
    // The workspaces' records name the contributions (by their place in the
    // match) instead of holding the values.
    leveldb::DB* raw = nullptr;
    REQUIRE(leveldb::DB::Open(leveldb::Options(), dir.path, &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
    int workspaces = 0;
    for (it->Seek("o\x1fWorkspace"); it->Valid() && it->key().starts_with("o\x1fWorkspace"); it->Next()) {
      Json r = Json::from_cbor(it->value().ToString());
      CHECK(r["derived"].empty());
      CHECK(r["derivedFrom"].size() == 1);
      for (const auto& [mk, parts] : r["fields"].items())
        for (const auto& p : parts) CHECK(p == Json{{"from", 0}});
      ++workspaces;
    }
    CHECK(workspaces == 2);
  }
  OpenedStore o = open_data_dir(dir.path, program);
  CHECK(dump_state(*o.engine) == before);
  CHECK(parts_shared(*o.engine));
  CHECK(o.engine->verify().empty());
}

TEST_CASE("a derive's large fields come back from a reopen as their bytes, the part and its match's value one, and change as before") {
  TempDir dir;
  auto program = compiled(kPartRules);
  auto typed = [](const std::string& name, const std::string& type) {
    Json a = account(name, "alice");
    a["spec"]["type"] = type;
    return a;
  };
  // Over what the value pool shares (ValuePool::kMaxBytes), and under it.
  const std::string big(300, 'x');
  std::string before;
  {
    OpenedStore o = open_data_dir(dir.path, program);
    REQUIRE(o.engine->apply({Op::create(typed("a", big)), Op::create(typed("b", "small"))}).ok);
    before = dump_state(*o.engine);
  }
  auto part = [](const Engine& e, const std::string& name) {
    const engine::ObjectEntry* o = e.state().object(engine::object_fact({"Workspace", "root", "", name}));
    REQUIRE(o);
    REQUIRE(o->derived.size() == 1);
    return o->derived.begin()->second;
  };
  {
    OpenedStore o = open_data_dir(dir.path, program);
    CHECK(part(*o.engine, "a").held_as_cbor());
    CHECK(!part(*o.engine, "b").held_as_cbor());
    CHECK(parts_shared(*o.engine));
    CHECK(dump_state(*o.engine) == before);
    CHECK(o.engine->verify().empty());
    REQUIRE(o.engine->apply({Op::update(typed("a", big + "y"))}).ok);
    CHECK(o.engine->get({"Workspace", "root", "", "a"})->at("spec").at("type").at("name") == big + "y");
    CHECK(o.engine->verify().empty());
    before = dump_state(*o.engine);
  }
  OpenedStore o = open_data_dir(dir.path, program);
  CHECK(dump_state(*o.engine) == before);
  CHECK(o.engine->verify().empty());
}

const char* kSameCreatorRules = R"(
relation same_creator(account, other)
rule same-creator
  for a: Account
  for b: Account
  where b.spec.creator == a.spec.creator
  where b.name != a.name
  derive same_creator(a.name, b.name)
)";

TEST_CASE("a reopen holds objects as their records' bytes until read, indexes them from there and writes them back as they were") {
  TempDir dir;
  auto program = compiled(std::string(kDurableRules) + kSameCreatorRules);
  std::string before;
  {
    OpenedStore o = open_data_dir(dir.path, program);
    REQUIRE(o.engine->apply({Op::create(account("a", "alice")), Op::create(account("b", "bob"))}).ok);
    before = dump_state(*o.engine);
  }
  OpenedStore o = open_data_dir(dir.path, program);
  Engine& e = *o.engine;
  size_t objects = 0;
  for (const auto& [f, en] : e.state().objects()) {
    CHECK(en.effective.held_as_cbor());
    // What the user wrote (the accounts'), too.
    CHECK(en.base.held_as_cbor() == en.user_owned);
    ++objects;
  }
  CHECK(objects == 4);  // two accounts, their workspaces
  // Written back from its bytes, a record is the one written from its JSON.
  const engine::ObjectEntry* a = e.state().object(engine::object_fact({"Account", "root", "", "a"}));
  REQUIRE(a);
  engine::ObjectEntry plain = *a;
  plain.effective = engine::SharedJson(Json(*a->effective));
  REQUIRE(!plain.effective.held_as_cbor());
  CHECK(engine::encode_object_record(*a) == engine::encode_object_record(plain));
  // So is one whose user-written base is held as its CBOR (a cold object's).
  REQUIRE(a->has_base());
  engine::ObjectEntry cold_base = plain;
  std::string base_bytes;
  engine::CborWriter(base_bytes).value(*a->base);
  cold_base.base = engine::SharedJson::from_cbor(base_bytes);
  CHECK(engine::encode_object_record(cold_base) == engine::encode_object_record(plain));
  // And from the form's CBOR as the engine wrote it at the commit
  // (CommittedForms), it is that record again, and says where the form is.
  std::string form;
  engine::CborWriter(form).value(*plain.effective);
  std::pair<size_t, size_t> at, at_given;
  const std::string written = engine::encode_object_record(plain, nullptr, &at);
  CHECK(engine::encode_object_record(plain, nullptr, &at_given, &form) == written);
  CHECK(at_given == at);
  CHECK(written.substr(at.first, at.second - at.first) == form);
  CHECK(dump_state(e) == before);
  // The index on spec.creator was filled from the bytes: a new account
  // finds the one with its creator (and only that one) through it.
  REQUIRE(e.apply({Op::create(account("c", "bob"))}).ok);
  CHECK(e.has_tuple("same_creator", {"c", "b"}));
  CHECK(e.has_tuple("same_creator", {"b", "c"}));
  CHECK_FALSE(e.has_tuple("same_creator", {"c", "a"}));
  // An object held as bytes changes as any other.
  REQUIRE(e.apply({Op::update(account("a", "bob"))}).ok);
  CHECK(e.has_tuple("same_creator", {"a", "b"}));
  CHECK(e.has_tuple("same_creator", {"c", "a"}));
  a = e.state().object(engine::object_fact({"Account", "root", "", "a"}));
  REQUIRE(a);
  CHECK(!a->effective.held_as_cbor());
  CHECK(a->effective->at("spec").at("creator") == "bob");
  CHECK(e.verify().empty());
}

// Whether the matches' equal values are each one value (the places that
// hold a value, by its text, are one place), and some are held twice.
bool equal_values_shared(const Engine& e) {
  std::map<std::string, std::set<const Json*>> held;
  size_t values = 0;
  e.state().for_each_match([&](const engine::MatchKey&, const engine::Match& m) {
    for (const auto& c : m.contributions()) {
      held[c.value()->dump()].insert(&*c.value());
      ++values;
    }
  });
  bool shared = held.size() < values;
  for (const auto& [text, places] : held) {
    INFO(text);
    CHECK(places.size() == 1);
    shared = shared && places.size() == 1;
  }
  return shared;
}

TEST_CASE("the matches' equal values are one value, as computed and after a reopen") {
  TempDir dir;
  auto program = compiled(kPartRules);
  {
    OpenedStore o = open_data_dir(dir.path, program);
    // Three workspaces alike ({"spec":{"type":...}}), three phases "Ready".
    REQUIRE(o.engine->apply({Op::create(account("a", "alice")), Op::create(account("b", "bob")),
                             Op::create(account("c", "carol"))}).ok);
    CHECK(equal_values_shared(*o.engine));
  }
  OpenedStore o = open_data_dir(dir.path, program);
  CHECK(equal_values_shared(*o.engine));
  CHECK(parts_shared(*o.engine));
  CHECK(o.engine->verify().empty());
}

TEST_CASE("a value pool gives one value per bytes, keeps small values only and starts over when full") {
  engine::ValuePool pool;
  auto cbor = [](const Json& j) {
    auto b = Json::to_cbor(j);
    return std::string(b.begin(), b.end());
  };
  std::string ready = cbor("Ready");
  engine::SharedJson a = pool.read(ready), b = pool.read(ready);
  CHECK(*a == "Ready");
  CHECK(&*a == &*b);
  // What an engine computes finds what was read, and the other way round.
  CHECK(&*pool.share(Json("Ready")) == &*a);
  Json cond = {{"type", "Ready"}, {"status", "True"}};
  engine::SharedJson c1 = pool.share(cond);
  CHECK(&*pool.read(cbor(cond)) == &*c1);
  CHECK(&*pool.share(cond) == &*c1);
  CHECK(&*pool.share(Json()) == &*engine::SharedJson());  // the one null
  std::string long_text(engine::ValuePool::kMaxBytes, 'x');
  CHECK(&*pool.read(cbor(long_text)) != &*pool.read(cbor(long_text)));
  CHECK(*pool.read(cbor(long_text)) == long_text);
  // Held as its bytes, which are checked as they are read.
  CHECK(pool.read(cbor(long_text)).held_as_cbor());
  CHECK(!pool.read(cbor("Ready")).held_as_cbor());
  // Past a few fields (a derive's), held as bytes too, and still shared.
  std::string mid_text(engine::ValuePool::kTreeMaxBytes, 'y');
  REQUIRE(cbor(mid_text).size() > engine::ValuePool::kTreeMaxBytes);
  REQUIRE(cbor(mid_text).size() <= engine::ValuePool::kMaxBytes);
  engine::SharedJson mid = pool.read(cbor(mid_text));
  CHECK(mid.held_as_cbor());
  CHECK(pool.read(cbor(mid_text)).same(mid));
  CHECK(*mid == mid_text);
  std::string short_text(engine::ValuePool::kTreeMaxBytes - 4, 'z');
  REQUIRE(cbor(short_text).size() <= engine::ValuePool::kTreeMaxBytes);
  CHECK(!pool.read(cbor(short_text)).held_as_cbor());
  CHECK(&*pool.share(Json(long_text)) != &*pool.share(Json(long_text)));
  Json many = Json::array();
  for (int i = 0; i < 200; ++i) many.push_back(i);
  CHECK(&*pool.share(many) != &*pool.share(many));
  CHECK(*pool.share(many) == many);
  // Full: the pool starts over; what was handed out stays as it was.
  for (size_t i = 0; i < engine::ValuePool::kMaxValues; ++i) pool.read(cbor(static_cast<int64_t>(i)));
  engine::SharedJson c = pool.read(ready);
  CHECK(&*c != &*a);
  CHECK(*a == "Ready");
  CHECK(&*pool.read(ready) == &*c);
  CHECK_THROWS(pool.read(std::string("\x62\x41", 2)));  // a string of two bytes holding one
}

TEST_CASE("a match record's keys left for its reader to intern with other records' are the keys it interns itself") {
  Engine e(compiled(kPartRules));
  REQUIRE(e.apply({Op::create(account("a", "alice")), Op::create(account("b", "bob"))}).ok);
  size_t matches = 0;
  e.state().for_each_match([&](const engine::MatchKey&, const engine::Match& m) {
    ++matches;
    const std::string record = engine::encode_match_record(m);
    const engine::Match alone = engine::decode_match_record(record);
    // Two records' keys in one list, as a decoder's batch has them.
    std::vector<std::string_view> texts;
    engine::Match first = engine::decode_match_record(record, nullptr, &texts);
    engine::Match second = engine::decode_match_record(record, nullptr, &texts);
    REQUIRE(texts.size() == 2 * (m.positives().size() + m.contributions().size()));
    for (const auto& p : first.positives()) CHECK(p.empty());  // left to the reader
    std::vector<engine::FactKey> interned(texts.size());
    engine::FactKey::intern(texts, interned);
    const size_t half = texts.size() / 2;
    engine::place_match_keys(first, std::span(interned).first(half));
    engine::place_match_keys(second, std::span(interned).subspan(half));
    CHECK(engine::encode_match(first) == engine::encode_match(m));
    CHECK(engine::encode_match(second) == engine::encode_match(alone));
    CHECK(std::ranges::equal(first.positives(), m.positives()));
    for (size_t i = 0; i < m.contributions().size(); ++i) CHECK(second.contributions()[i].target == m.contributions()[i].target);
    // Keys that do not fit the match are refused, not written past it.
    std::vector<engine::FactKey> one_more(half + 1);
    CHECK_THROWS_AS(engine::place_match_keys(first, one_more), std::logic_error);
  });
  CHECK(matches > 0);
}

TEST_CASE("an object's parts written as values (before they named contributions) are shared again after a reopen") {
  TempDir dir;
  auto program = compiled(kPartRules);
  std::string before;
  std::vector<std::pair<std::string, std::string>> old_records;
  {
    OpenedStore o = open_data_dir(dir.path, program);
    REQUIRE(o.engine->apply({Op::create(account("a", "alice"))}).ok);
    before = dump_state(*o.engine);
    for (const auto& [f, e] : o.engine->state().objects()) old_records.push_back({std::string(f.str()), engine::encode_object_record(e)});
  }
  {
    leveldb::DB* raw = nullptr;
    REQUIRE(leveldb::DB::Open(leveldb::Options(), dir.path, &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    leveldb::WriteBatch batch;
    for (const auto& [k, v] : old_records) batch.Put(k, v);
    REQUIRE(db->Write(leveldb::WriteOptions(), &batch).ok());
  }
  OpenedStore o = open_data_dir(dir.path, program);
  CHECK(dump_state(*o.engine) == before);
  CHECK(parts_shared(*o.engine));
}

TEST_CASE("an object's part that names a contribution its match does not have is damage") {
  TempDir dir;
  auto program = compiled(kPartRules);
  {
    OpenedStore o = open_data_dir(dir.path, program);
    REQUIRE(o.engine->apply({Op::create(account("a", "alice"))}).ok);
  }
  // Past the match's contributions; a contribution that is not a derive's
  // (the other rule's set field).
  for (int place : {1, 7, -1}) {
    {
      leveldb::DB* raw = nullptr;
      REQUIRE(leveldb::DB::Open(leveldb::Options(), dir.path, &raw).ok());
      std::unique_ptr<leveldb::DB> db(raw);
      std::string key = "o\x1fWorkspace\x1froot\x1f\x1f" "a", value;
      REQUIRE(db->Get(leveldb::ReadOptions(), key, &value).ok());
      Json r = Json::from_cbor(value);
      REQUIRE(r["derivedFrom"].size() == 1);
      if (place >= 0) r["derivedFrom"] = {{r["derivedFrom"].begin().key(), place}};
      else r["derivedFrom"] = {{r["fields"].begin().key(), 0}};
      std::vector<uint8_t> bytes = Json::to_cbor(r);
      REQUIRE(db->Put(leveldb::WriteOptions(), key, std::string(bytes.begin(), bytes.end())).ok());
    }
    std::string err;
    auto store = DurableStore::open(dir.path, &err);
    REQUIRE(store);
    Engine e(program);
    CHECK_FALSE(store->load(e, &err));
    CHECK(err == "the data directory is damaged: an object's part names a contribution that is not there");
  }
}

// A data directory with one account, changed by `damage` through LevelDB
// itself, then loaded: the load's error ("" when it loads).
std::string load_damaged(const std::function<void(leveldb::DB&)>& damage) {
  TempDir dir;
  auto program = compiled(kDurableRules);
  {
    OpenedStore o = open_data_dir(dir.path, program);
    REQUIRE(o.engine->apply({Op::create(account("a", "alice"))}).ok);
  }
  {
    leveldb::DB* raw = nullptr;
    REQUIRE(leveldb::DB::Open(leveldb::Options(), dir.path, &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    damage(*db);
  }
  std::string err;
  auto store = DurableStore::open(dir.path, &err);
  REQUIRE(store);
  Engine e(program);
  if (store->load(e, &err)) return "";
  return err;
}

// The key and value of the first match record (empty when there is none).
std::pair<std::string, std::string> first_match_record(leveldb::DB& db) {
  std::unique_ptr<leveldb::Iterator> it(db.NewIterator(leveldb::ReadOptions()));
  it->Seek("m\x1f");
  if (!it->Valid() || !it->key().starts_with("m\x1f")) return {};
  return {it->key().ToString(), it->value().ToString()};
}

TEST_CASE("a record under a key no version writes (the empty key, one byte of a record's prefix) is passed over or is damage") {
  // Nothing writes the empty key; a load passes over it as any key it does
  // not know, and reads no byte of it.
  CHECK(load_damaged([](leveldb::DB& db) { REQUIRE(db.Put(leveldb::WriteOptions(), "", "x").ok()); }) == "");
  CHECK(load_damaged([](leveldb::DB& db) { REQUIRE(db.Put(leveldb::WriteOptions(), "z", "").ok()); }) == "");
  // A match's prefix alone names no match: damage, not a read past the key.
  std::string err = load_damaged([](leveldb::DB& db) { REQUIRE(db.Put(leveldb::WriteOptions(), "m", "").ok()); });
  CHECK(err == "the data directory is damaged: not a match key: m");
  // A change log key that no commit makes (the log's entries are kept by
  // their version and place, read back from their keys).
  for (const char* bad : {"l\x1f" "x", "l\x1f" "00000000000000000007", "l\x1f" "00000000000000000007\x1f" "1", "l\x1f" "7\x1f" "000001"}) {
    CAPTURE(std::string(bad));
    err = load_damaged([&](leveldb::DB& db) { REQUIRE(db.Put(leveldb::WriteOptions(), bad, "").ok()); });
    CHECK(err == "the data directory is damaged: a change log record whose key is not one");
  }
}

TEST_CASE("a damaged binary record is reported, not read past its end") {
  std::string err = load_damaged([](leveldb::DB& db) {
    auto [key, value] = first_match_record(db);
    REQUIRE_FALSE(value.empty());
    // A record that promises a long string and ends.
    REQUIRE(db.Put(leveldb::WriteOptions(), key, value.substr(0, 2) + "\xff\xff\x7f").ok());
  });
  CHECK(err.find("damaged") != std::string::npos);
}

TEST_CASE("a stored match key that is not one (a digest of the wrong length) is reported as damage") {
  std::string err = load_damaged([](leveldb::DB& db) {
    std::string value = first_match_record(db).second;
    REQUIRE_FALSE(value.empty());
    // A well-formed match record under a key whose digest is 9 bytes.
    REQUIRE(db.Put(leveldb::WriteOptions(), "m\x1f" "0\x1e" "c2hvcnRrZXkh", value).ok());
  });
  CHECK(err == "the data directory is damaged: not a match key: 0\x1e" "c2hvcnRrZXkh");
}

// The first match record moved to rule `rule` (its key and its record
// both), put beside the original. REQUIRES: the original's rule < 128 (one
// varint byte).
void put_match_of_rule(leveldb::DB& db, int64_t rule) {
  auto [key, value] = first_match_record(db);
  REQUIRE(value.size() > 2);
  REQUIRE(static_cast<unsigned char>(value[1]) < 0x80);
  std::string varint;
  for (uint64_t v = static_cast<uint64_t>(rule); ; v >>= 7) {
    varint += static_cast<char>(v < 0x80 ? v : (v & 0x7f) | 0x80);
    if (v < 0x80) break;
  }
  size_t sep = key.find('\x1e');
  REQUIRE(sep != std::string::npos);
  REQUIRE(db.Put(leveldb::WriteOptions(), "m\x1f" + std::to_string(rule) + key.substr(sep), value.substr(0, 1) + varint + value.substr(2)).ok());
}

TEST_CASE("a stored match of a rule the program does not have is damage, and does not size the rules' table by it") {
  SUBCASE("the same rules: beyond their number") {
    std::string err = load_damaged([](leveldb::DB& db) { put_match_of_rule(db, 2000000000); });
    CHECK(err.starts_with("the data directory is damaged: a match of rule 2000000000, and the rules number "));
  }
  SUBCASE("the same rules: a rule number an earlier program may have had") {
    std::string err = load_damaged([](leveldb::DB& db) { put_match_of_rule(db, 1000); });
    CHECK(err.starts_with("the data directory is damaged: a match of rule 1000, and the rules number "));
  }
  SUBCASE("rules changed since: beyond any program's") {
    std::string err = load_damaged([](leveldb::DB& db) {
      put_match_of_rule(db, 2000000000);
      REQUIRE(db.Put(leveldb::WriteOptions(), "meta\x1f" "fingerprint", "an earlier program's").ok());
    });
    CHECK(err == "the data directory is damaged: a match of rule 2000000000, beyond any program's rules");
  }
  SUBCASE("rules changed since: a rule the earlier program may have had is rebuilt away") {
    std::string err = load_damaged([](leveldb::DB& db) {
      put_match_of_rule(db, 1000);
      REQUIRE(db.Put(leveldb::WriteOptions(), "meta\x1f" "fingerprint", "an earlier program's").ok());
    });
    CHECK(err == "");
  }
  SUBCASE("a record whose rule is not its key's") {
    std::string err = load_damaged([](leveldb::DB& db) {
      auto [key, value] = first_match_record(db);
      size_t sep = key.find('\x1e');
      REQUIRE(sep != std::string::npos);
      REQUIRE(db.Put(leveldb::WriteOptions(), "m\x1f" "77" + key.substr(sep), value).ok());
    });
    CHECK(err.starts_with("the data directory is damaged: a match of rule "));
    CHECK(err.ends_with(" under a key of rule 77"));
  }
}

TEST_CASE("a transaction whose commit fails leaves nothing, in memory or on disk") {
  TempDir dir;
  auto program = compiled(kDurableRules);
  {
    std::string err;
    auto store = DurableStore::open(dir.path, &err);
    Engine e(program);
    REQUIRE(store->load(e, &err));
    e.set_persistence(store.get());
    REQUIRE(e.apply({Op::create(account("a", "alice"))}).ok);
    std::string before = dump_state(e);
    FailingStore failing;
    e.set_persistence(&failing);
    auto r = e.apply({Op::create(account("b", "bob"))});
    CHECK_FALSE(r.ok);
    CHECK(r.reason == "InternalError");
    CHECK(dump_state(e) == before);
  }
  std::string err;
  auto store = DurableStore::open(dir.path, &err);
  Engine e(program);
  REQUIRE(store->load(e, &err));
  CHECK(e.get({"Account", "root", "", "a"}));
  CHECK_FALSE(e.get({"Account", "root", "", "b"}));
  CHECK_FALSE(e.get({"Workspace", "root", "", "b"}));
  CHECK(e.verify().empty());
}

TEST_CASE("a failure at any engine stage leaves memory, the pending batch and the disk as they were") {
  for (const char* stage : {"evaluate", "encode", "commit"}) {
    for (bool deferred : {false, true}) {
      CAPTURE(stage);
      CAPTURE(deferred);
      TempDir dir;
      auto program = compiled(kDurableRules);
      std::string before;
      {
        std::string err;
        auto store = DurableStore::open(dir.path, &err);
        Engine e(program);
        REQUIRE(store->load(e, &err));
        e.set_persistence(store.get());
        store->set_deferred(deferred);
        REQUIRE(e.apply({Op::create(account("a", "alice"))}).ok);
        REQUIRE(store->flush(&err));
        before = dump_state(e);
        int64_t rv = e.resource_version();
        failpoint::arm(stage);
        auto r = e.apply({Op::create(account("b", "bob"))});
        failpoint::disarm_all();
        CHECK_FALSE(r.ok);
        CHECK(r.reason == "InternalError");
        CHECK(r.message.find(stage) != std::string::npos);
        CHECK(dump_state(e) == before);
        CHECK(e.resource_version() == rv);
        CHECK_FALSE(store->has_pending());
        // The engine goes on, and the next write's log entries follow the last ones.
        REQUIRE(e.apply({Op::create(account("c", "carol"))}).ok);
        REQUIRE(store->flush(&err));
        before = dump_state(e);
      }
      std::string err;
      auto store = DurableStore::open(dir.path, &err);
      Engine e(program);
      REQUIRE(store->load(e, &err));
      CHECK(dump_state(e) == before);
      CHECK_FALSE(e.get({"Account", "root", "", "b"}));
      CHECK(e.verify().empty());
      int64_t last = 0;
      int entries = 0;
      store->scan_log(0, [&](int64_t v, const Json&) {
        CHECK(v > last);
        last = v;
        ++entries;
        return true;
      });
      CHECK(entries == 4);  // a, its workspace; c, its workspace
    }
  }
}

TEST_CASE("a written batch is filled again from empty: nothing of an earlier write is written twice") {
  // Batches go back to the store once written and become the next pending
  // one: the first write's batch takes the third write, and had it kept
  // its entries it would create "a" again.
  TempDir dir;
  auto program = compiled(kDurableRules);
  std::string before;
  {
    OpenedStore o = open_data_dir(dir.path, program);
    o.store->set_deferred(true);
    std::string err;
    REQUIRE(o.engine->apply({Op::create(account("a", "alice"))}).ok);
    REQUIRE(o.store->flush(&err));
    REQUIRE(o.engine->apply({Op::remove({"Account", "root", "", "a"})}).ok);
    REQUIRE(o.store->flush(&err));
    REQUIRE(o.engine->apply({Op::create(account("b", "bob"))}).ok);
    REQUIRE(o.store->flush(&err));
    before = dump_state(*o.engine);
  }
  OpenedStore o = open_data_dir(dir.path, program);
  CHECK(dump_state(*o.engine) == before);
  CHECK_FALSE(o.engine->get({"Account", "root", "", "a"}));
  CHECK(o.engine->get({"Account", "root", "", "b"}));
  std::vector<std::string> types;
  o.store->scan_log(0, [&](int64_t, const Json& ev) { return types.push_back(ev["type"]), true; });
  // a and its workspace added, then deleted; b and its workspace added.
  CHECK(types == std::vector<std::string>{"ADDED", "ADDED", "DELETED", "DELETED", "ADDED", "ADDED"});
}

TEST_CASE("a rule that would write a string that is not UTF-8 fails its transaction, naming the rule") {
  auto program = compiled(R"(
rule broken-name
  for a: Account
  derive Workspace in a.cluster named a.name { spec.type: { name: substr(a.spec.creator, 0, 1) } }
)");
  Engine e(program);
  REQUIRE(e.apply({Op::create(account("a", "alice"))}).ok);
  std::string before = dump_state(e);
  auto r = e.apply({Op::create(account("b", "\xc3\xa9ric"))});  // substr cuts "é" in half
  CHECK_FALSE(r.ok);
  CHECK(r.reason == "InternalError");
  CHECK(r.message.find("not UTF-8") != std::string::npos);
  CHECK(r.message.find("spec.type.name") != std::string::npos);
  CHECK(r.rules == std::vector<std::string>{"broken-name"});
  CHECK(dump_state(e) == before);
}

TEST_CASE("when the rules change, the derived state is recomputed on open") {
  TempDir dir;
  {
    std::string err;
    auto store = DurableStore::open(dir.path, &err);
    Engine e(compiled(kDurableRules));
    REQUIRE(store->load(e, &err));
    e.set_persistence(store.get());
    REQUIRE(e.apply({Op::create(account("a", "alice"))}).ok);
  }
  auto changed = compiled(R"(
relation owner(user, account)
rule creator
  for a: Account
  derive owner("user:{a.spec.creator}", a.name)
)");
  std::string rebuilt;
  {
    OpenedStore o = open_data_dir(dir.path, changed);
    const Engine& e = *o.engine;
    CHECK(e.get({"Account", "root", "", "a"}));
    CHECK_FALSE(e.get({"Workspace", "root", "", "a"}));
    CHECK(e.has_tuple("owner", {"user:alice", "a"}));
    CHECK_FALSE(e.has_tuple("owner", {"alice", "a"}));
    CHECK(e.verify().empty());
    rebuilt = dump_state(e);
  }
  // What the rebuild recomputed was written: opened again with the same
  // rules, the store holds the new derived state, not the old one.
  OpenedStore again = open_data_dir(dir.path, changed);
  CHECK(dump_state(*again.engine) == rebuilt);
  CHECK(again.engine->verify().empty());
}

}  // namespace
}  // namespace pmesh::test
