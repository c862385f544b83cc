// State's secondary indexes of tuples: a lookup finds the tuples with the
// values it asks for and no others, through puts and erases, whether each
// values key has a bucket of its own or every one shares one bucket (the
// keys' hashes collide), and whatever the values' text (empty, a prefix of
// another, "null" beside a missing argument); from a key on, too.
#include <doctest/doctest.h>

#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/state.h"

namespace pmesh::test {
namespace {

// A tuple a user wrote (no derivations).
engine::TupleEntry state_indexes_written_tuple() {
  engine::TupleEntry t;
  t.set_base(true);
  return t;
}

using engine::FactKey;
using engine::State;
using engine::TupleEntry;

TEST_CASE("state indexes: a tuple lookup finds its values' tuples and no others") {
  bool colliding = false;
  SUBCASE("a bucket per values key") {}
  SUBCASE("every values key in one bucket") { colliding = true; }
  std::optional<State::CollidingIndexKeysForTesting> collide;
  if (colliding) collide.emplace();
  // r(a, b, c) indexed by its second argument, and by its third and first.
  dsl::IndexSpec by_second{.relation = true, .name = "r", .keys = {"1"}};
  dsl::IndexSpec by_third_first{.relation = true, .name = "r", .keys = {"2", "0"}};
  State s({by_second, by_third_first});
  const std::vector<std::string> values = {"", "a", "ab", "a\x01", "null", "root:orgs:acme", "root:orgs:acme:x"};
  std::mt19937 rng(11);
  auto pick = [&] { return values[rng() % values.size()]; };
  std::set<std::vector<std::string>> model;
  for (int step = 0; step < 600; ++step) {
    std::vector<std::string> args = {pick(), pick(), pick()};
    std::string fact = engine::tuple_fact("r", args);
    if (rng() % 3 == 0) {
      s.put_tuple(fact, TupleEntry{});  // no support, not base: gone
      model.erase(args);
    } else {
      s.put_tuple(fact, state_indexes_written_tuple());
      model.insert(args);
    }
    if (step % 50 != 0) continue;
    for (const auto& v1 : values) {
      std::set<std::string> want, got;
      for (const auto& m : model)
        if (m[1] == v1) want.insert(engine::tuple_fact("r", m));
      s.lookup_tuples(0, State::index_key({engine::Json(v1)}), [&](const FactKey& f) {
        CHECK(got.insert(std::string(f.str())).second);
        return true;
      });
      CHECK(got == want);
      // From a key on: those of them not before it, in key order.
      for (const auto& start : values) {
        std::string from = engine::tuple_fact("r", {start});
        std::vector<std::string> after, got_after;
        for (const auto& f : want)
          if (f >= from) after.push_back(f);
        s.lookup_tuples(0, State::index_key({engine::Json(v1)}), [&](const FactKey& f) {
          got_after.emplace_back(f.str());
          return true;
        }, from);
        CHECK(got_after == after);
      }
      for (const auto& v0 : values) {
        std::set<std::string> want2, got2;
        for (const auto& m : model)
          if (m[2] == v1 && m[0] == v0) want2.insert(engine::tuple_fact("r", m));
        s.lookup_tuples(1, State::index_key({engine::Json(v1), engine::Json(v0)}), [&](const FactKey& f) {
          got2.insert(std::string(f.str()));
          return true;
        });
        CHECK(got2 == want2);
      }
    }
  }
  CHECK(!model.empty());
}

TEST_CASE("state indexes: an argument a tuple lacks is null in its key, and a lookup of null finds it") {
  std::optional<State::CollidingIndexKeysForTesting> collide;
  SUBCASE("a bucket per values key") {}
  SUBCASE("every values key in one bucket") { collide.emplace(); }
  State s({dsl::IndexSpec{.relation = true, .name = "r", .keys = {"1"}}});
  s.put_tuple(engine::tuple_fact("r", {"x"}), state_indexes_written_tuple());
  s.put_tuple(engine::tuple_fact("r", {"y", "null"}), state_indexes_written_tuple());
  s.put_tuple(engine::tuple_fact("r", {"z", "nul"}), state_indexes_written_tuple());
  std::set<std::string> got;
  s.lookup_tuples(0, State::index_key({engine::Json(nullptr)}), [&](const FactKey& f) {
    got.insert(std::string(f.str()));
    return true;
  });
  CHECK(got == std::set<std::string>{engine::tuple_fact("r", {"x"}), engine::tuple_fact("r", {"y", "null"})});
}

// A lookup hands each object out under the state's own key (ObjectVisitor's
// promise: valid while the object is), not a bucket's copy of it, which
// moves when the bucket changes.
TEST_CASE("state indexes: an object lookup hands out the state's own keys, however many share a bucket") {
  std::optional<State::CollidingIndexKeysForTesting> collide;
  SUBCASE("a bucket per values key") {}
  SUBCASE("every values key in one bucket") { collide.emplace(); }
  State s({dsl::IndexSpec{.relation = false, .name = "ConfigMap", .keys = {"data.team"}}});
  std::vector<std::string> facts;
  // One, then a vector's worth, then a tree's (FactBucket's forms).
  for (int i = 0; i < 20; ++i) {
    facts.push_back(engine::object_fact({"ConfigMap", "root", "default", "cm" + std::to_string(i)}));
    engine::ObjectEntry e = s.object_copy(facts.back());
    e.effective = engine::Json{{"data", {{"team", "a"}}}};
    s.put_object(facts.back(), std::move(e));
    size_t seen = 0;
    s.lookup_index(0, State::index_key({engine::Json("a")}), [&](const FactKey& f, const engine::ObjectEntry& e) {
      ++seen;
      CHECK(&f == s.find_object(f.str()).first);
      CHECK(e.fact == f);
      return true;
    });
    REQUIRE(seen == facts.size());
  }
}

}  // namespace
}  // namespace pmesh::test
