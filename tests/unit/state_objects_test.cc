// An object's entry in the state: its key is the fact key it is held under
// (its kind, cluster, namespace and name are read from that text), and its
// store stamps (uid, creationTimestamp, deletionTimestamp), held together,
// each read back as it was set.
#include <doctest/doctest.h>

#include <random>
#include <stdexcept>
#include <string>

#include "engine/state.h"
#include "engine/store_records.h"

namespace pmesh::test {
namespace {

using engine::FactKey;
using engine::ObjectEntry;
using engine::ObjectKey;
using engine::State;

TEST_CASE("an object entry's stamps: each as set, whatever the others, their lengths and their bytes") {
  std::mt19937 rng(7);
  auto text = [&] {
    static const std::string kChars("ab\0\x1f\xff-:Z", 9);
    std::string s(std::uniform_int_distribution<size_t>(0, 40)(rng), 'x');
    for (char& c : s) c = kChars[std::uniform_int_distribution<size_t>(0, kChars.size() - 1)(rng)];
    return s;
  };
  ObjectEntry e;
  CHECK(e.uid().empty());
  CHECK(e.created().empty());
  CHECK(e.deleting().empty());
  std::string uid, created, deleting;
  for (int i = 0; i < 2000; ++i) {
    switch (std::uniform_int_distribution<int>(0, 4)(rng)) {
      case 0: e.set_uid(uid = text()); break;
      case 1: e.set_created(created = text()); break;
      case 2: e.set_deleting(deleting = text()); break;
      case 3: e.set_stamps(uid = text(), created = text(), deleting = text()); break;
      default: {
        // From the entry's own stamps: views of what they replace.
        e.set_uid(e.deleting());
        uid = deleting;
        e.set_stamps(e.deleting(), e.uid(), e.created());
        std::string u = deleting, c = uid, d = created;
        uid = u, created = c, deleting = d;
      }
    }
    REQUIRE(e.uid() == std::string_view(uid));
    REQUIRE(e.created() == std::string_view(created));
    REQUIRE(e.deleting() == std::string_view(deleting));
  }
  // A copy is a value of its own.
  ObjectEntry copy = e;
  copy.set_uid("other");
  CHECK(e.uid() == std::string_view(uid));
  CHECK(copy.created() == std::string_view(created));
}

TEST_CASE("an object entry's key is the one it is held under") {
  State s({});
  const ObjectKey key{"ConfigMap", "root:orgs:acme", "default", "settings"};
  const std::string fact = engine::object_fact(key);
  // New: object_copy names it; put under the text, it keeps that key.
  ObjectEntry e = s.object_copy(fact);
  CHECK(e.fact.str() == fact);
  CHECK(e.key().owned() == key);
  e.effective = engine::Json{{"data", {{"a", "1"}}}};
  s.put_object(fact, std::move(e));
  const auto [held, entry] = s.find_object(fact);
  REQUIRE(entry != nullptr);
  CHECK(entry->fact == *held);
  CHECK(entry->key().kind == "ConfigMap");
  CHECK(entry->key().cluster == "root:orgs:acme");
  CHECK(entry->key().ns == "default");
  CHECK(entry->key().name == "settings");
  CHECK(entry->key().to_string() == key.to_string());

  // An entry made with another key, or none, is put under the one given;
  // so is an entry replaced, and one put back by an undo.
  const ObjectKey other{"ConfigMap", "root:orgs:acme", "default", "other"};
  const size_t mark = s.undo_mark();
  ObjectEntry wrong = *entry;
  wrong.fact = FactKey(engine::object_fact(other));
  s.put_object(fact, wrong);
  CHECK(s.object(fact)->fact.str() == fact);
  ObjectEntry none;
  none.effective = engine::Json{{"data", {{"b", "2"}}}};
  const std::string cluster_scoped = engine::object_fact({"Namespace", "root:orgs:acme", "", "team"});
  s.put_object(FactKey(cluster_scoped), none);
  CHECK(s.object(cluster_scoped)->fact.str() == cluster_scoped);
  CHECK(s.object(cluster_scoped)->key().ns.empty());
  CHECK(s.object(cluster_scoped)->key().name == "team");
  CHECK(s.object(engine::object_fact(other)) == nullptr);
  s.undo_to(mark);
  CHECK(s.object(cluster_scoped) == nullptr);
  REQUIRE(s.object(fact) != nullptr);
  CHECK(s.object(fact)->fact.str() == fact);
  CHECK((*s.object(fact)->effective)["data"]["a"] == "1");
}

TEST_CASE("an object record read back: its key checked against where it was stored") {
  ObjectEntry e;
  const ObjectKey key{"Account", "root:orgs:acme", "", "team-a"};
  e.fact = FactKey(engine::object_fact(key));
  e.effective = engine::Json{{"spec", {{"type", "account"}}}};
  e.set_stamps("9f1c", "2026-12-05T08:00:00Z", "");
  const std::string record = engine::encode_object_record(e);
  // Without where: its own key, interned.
  ObjectEntry read = engine::decode_object_record(record);
  CHECK(read.fact == e.fact);
  CHECK(read.uid() == "9f1c");
  CHECK(read.created() == "2026-12-05T08:00:00Z");
  CHECK(read.deleting().empty());
  // Under its key: left for the state to put there.
  ObjectEntry under = engine::decode_object_record(record, nullptr, e.fact.str());
  CHECK(under.fact.empty());
  CHECK(under.uid() == "9f1c");
  // Under another: damage.
  CHECK_THROWS_AS(engine::decode_object_record(record, nullptr, engine::object_fact({"Account", "root:orgs:acme", "", "team-b"})),
                  std::runtime_error);
}

}  // namespace
}  // namespace pmesh::test
