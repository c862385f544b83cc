// State's matches: a rule's keys come out in key order, whatever order its
// table keeps them in (Abseil's differs from run to run), and the index of
// which matches read a fact follows puts and erases, in a list of its own
// form.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/match_key_set.h"
#include "engine/state.h"

namespace pmesh::test {
namespace {

using engine::FactKey;
using engine::Match;
using engine::MatchKey;

TEST_CASE("state matches: a rule's keys in key order and matches_using follows puts and erases") {
  engine::State s({});
  const FactKey shared("t\x1fr\x1fshared");
  std::vector<MatchKey> keys;
  for (int i = 0; i < 200; ++i) {
    FactKey own("t\x1fr\x1f" + std::to_string(i));
    MatchKey k(3, {own, shared});
    s.put_match(k, Match{3, {own, shared}, {}});
    keys.push_back(k);
  }
  std::vector<MatchKey> listed = s.match_keys_of(3);
  CHECK(listed.size() == 200);
  CHECK(std::is_sorted(listed.begin(), listed.end()));
  CHECK(s.match_keys_of(4).empty());
  REQUIRE(s.matches_using(shared) != nullptr);
  CHECK(s.matches_using(shared)->size() == 200);
  for (int i = 0; i < 100; ++i) s.erase_match(keys[static_cast<size_t>(i)]);
  CHECK(s.matches_using(shared)->size() == 100);
  CHECK(s.matches_using(std::string("t\x1fr\x1f" "5")) == nullptr);
  REQUIRE(s.matches_using(std::string("t\x1fr\x1f" "150")) != nullptr);
  // A fact one match reads lists that one key.
  const auto* one = s.matches_using(std::string("t\x1fr\x1f" "150"));
  CHECK(one->size() == 1);
  CHECK(std::vector<const MatchKey*>(one->begin(), one->end()).size() == 1);
  CHECK(**one->begin() == keys[150]);
  for (const MatchKey* k : *s.matches_using(shared)) CHECK(s.match(*k) != nullptr);
}

// A fact read by a match of every account: the list is long, puts append
// and erases take keys from anywhere in it, up and down past the size at
// which it keeps each key's place.
TEST_CASE("state matches: matches_using a long list through puts and erases in any order") {
  engine::State s({});
  const FactKey shared("t\x1fr\x1fshared");
  std::mt19937 rng(7);
  std::vector<MatchKey> live;
  auto listed = [&] {
    std::multiset<MatchKey> out;
    if (const auto* ms = s.matches_using(shared))
      for (const MatchKey* k : *ms) out.insert(*k);
    return out;
  };
  int next = 0;
  for (int round = 0; round < 6; ++round) {
    // Up to a few hundred, then down to a handful (below the threshold and
    // past its quarter), then up again.
    size_t target = round % 2 == 0 ? 300 + static_cast<size_t>(round) * 10 : static_cast<size_t>(round);
    while (live.size() < target) {
      FactKey own("t\x1fr\x1f" + std::to_string(next++));
      // Some matches read the shared fact twice: it lists them once.
      std::vector<FactKey> positives = {own, shared};
      if (next % 5 == 0) positives.push_back(shared);
      MatchKey k(3, positives);
      s.put_match(k, Match{3, positives, {}});
      live.push_back(k);
    }
    while (live.size() > target) {
      size_t i = std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng);
      s.erase_match(live[i]);
      live[i] = live.back();
      live.pop_back();
      if (live.size() % 37 == 0) CHECK(listed() == std::multiset<MatchKey>(live.begin(), live.end()));
    }
    CHECK(listed() == std::multiset<MatchKey>(live.begin(), live.end()));
  }
  for (const auto& k : live) s.erase_match(k);
  CHECK(s.matches_using(shared) == nullptr);
}

// A match evaluated again to other contributions is replaced under its
// key: the key each fact's list holds is the match's own still (with as
// many contributions and with more), and the undo log puts back the one
// replaced. ASan sees a list left pointing at a freed match.
TEST_CASE("state matches: a match replaced under its key stays on its facts' lists, and undone") {
  using Kind = engine::Contribution::Kind;
  engine::State s({});
  const FactKey a("t\x1fr\x1f" "a"), b("t\x1fr\x1f" "b"), out1("t\x1fo\x1f" "1"), out2("t\x1fo\x1f" "2");
  const MatchKey k(5, {a, b, a});
  auto listed = [&](const FactKey& f) {
    std::vector<MatchKey> keys;
    if (const auto* ms = s.matches_using(f))
      for (const MatchKey* mk : *ms) keys.push_back(*mk);
    return keys;
  };
  auto targets = [&] {
    std::vector<FactKey> out;
    for (const auto& c : s.match(k)->contributions()) out.push_back(c.target);
    return out;
  };
  s.put_match(k, Match{5, {a, b, a}, {engine::Contribution(Kind::kTuple, out1)}});
  size_t mark = s.undo_mark();
  // As many contributions: the match changes in place.
  const engine::Match* replaced = s.put_match(k, Match{5, {a, b, a}, {engine::Contribution(Kind::kTuple, out2)}});
  REQUIRE(replaced != nullptr);
  CHECK(replaced->contributions()[0].target == out1);
  CHECK(targets() == std::vector<FactKey>{out2});
  // More: another block, on the lists in the old one's place.
  s.put_match(k, Match{5, {a, b, a}, {engine::Contribution(Kind::kTuple, out1), engine::Contribution(Kind::kTuple, out2)}});
  CHECK(targets() == std::vector<FactKey>{out1, out2});
  CHECK(listed(a) == std::vector<MatchKey>{k});
  CHECK(listed(b) == std::vector<MatchKey>{k});
  for (const FactKey& f : {a, b}) CHECK(*s.matches_using(f)->begin() == &s.match(k)->key());
  // Fewer again, then the whole run undone.
  s.put_match(k, Match{5, {a, b, a}, {}});
  CHECK(targets().empty());
  CHECK(*s.matches_using(a)->begin() == &s.match(k)->key());
  s.undo_to(mark);
  CHECK(targets() == std::vector<FactKey>{out1});
  CHECK(listed(a) == std::vector<MatchKey>{k});
  CHECK(*s.matches_using(b)->begin() == &s.match(k)->key());
  s.erase_match(k);
  CHECK(s.match(k) == nullptr);
  CHECK(s.matches_using(a) == nullptr);
  CHECK(s.matches_using(b) == nullptr);
  // A match is filed under its own rule's key only.
  CHECK_THROWS_AS(s.put_match(MatchKey(6, {a}), Match{5, {a}, {}}), std::invalid_argument);
}

TEST_CASE("a fact's reader list: one key inline, more in an array, through none, one and many") {
  std::vector<MatchKey> keys;
  for (int i = 0; i < 40; ++i) keys.emplace_back(i, std::vector<FactKey>{});
  engine::MatchKeyList list;
  std::vector<const MatchKey*> model;
  std::mt19937 rng(11);
  auto same = [&] {
    REQUIRE(list.size() == model.size());
    CHECK(list.empty() == model.empty());
    CHECK(std::equal(list.begin(), list.end(), model.begin(), model.end()));
    for (size_t i = 0; i < model.size(); ++i) CHECK(list[i] == model[i]);
    if (!model.empty()) CHECK(list.back() == model.back());
  };
  same();
  for (int step = 0; step < 4000; ++step) {
    // Mostly around none and one (where it changes form), at times far past.
    const size_t bound = step % 500 < 400 ? 3 : keys.size();
    const auto op = rng() % 3;
    if ((op == 0 || model.size() >= bound) && !model.empty()) {
      list.pop_back();
      model.pop_back();
    } else if (op == 1 && !model.empty()) {
      const size_t i = rng() % model.size();
      const MatchKey* k = &keys[rng() % keys.size()];
      list.set(i, k);
      model[i] = k;
    } else if (model.size() < bound) {
      const MatchKey* k = &keys[rng() % keys.size()];
      list.push_back(k);
      model.push_back(k);
    }
    same();
  }
  engine::MatchKeyList moved(std::move(list));
  CHECK(std::equal(moved.begin(), moved.end(), model.begin(), model.end()));
  CHECK(list.empty());  // NOLINT: what a move leaves is specified
}

TEST_CASE("a tuple's match keys: a set in key order, through one key, none and many, copies and moves, with its holder's flag") {
  std::vector<MatchKey> keys;
  for (int i = 0; i < 6; ++i) keys.emplace_back(i % 3, std::vector<FactKey>{FactKey("t\x1fr\x1f" + std::to_string(i))});
  keys.emplace_back(7, std::vector<FactKey>{});  // a rule with no positive pattern
  engine::MatchKeySet set;
  std::set<MatchKey> model;
  bool flag = false;
  std::mt19937 rng(5);
  for (int step = 0; step < 2000; ++step) {
    const MatchKey& k = keys[rng() % keys.size()];
    if (rng() % 2) {
      set.insert(k);
      model.insert(k);
    } else {
      set.erase(k);
      model.erase(k);
    }
    if (rng() % 7 == 0) {
      flag = !flag;
      set.set_flag(flag);
    }
    REQUIRE(set.size() == model.size());
    CHECK(set.empty() == model.empty());
    CHECK(std::vector<MatchKey>(set.begin(), set.end()) == std::vector<MatchKey>(model.begin(), model.end()));
    for (const auto& q : keys) CHECK(set.count(q) == model.count(q));
    engine::MatchKeySet copy = set;
    copy.insert(keys[0]);
    CHECK(std::vector<MatchKey>(set.begin(), set.end()) == std::vector<MatchKey>(model.begin(), model.end()));
    CHECK(copy.count(keys[0]) == 1);
    // Its holder's flag (a tuple's `base`) rides along, whatever the keys do.
    CHECK(set.flag() == flag);
    CHECK(copy.flag() == flag);
    engine::MatchKeySet moved = std::move(copy);
    CHECK(moved.flag() == flag);
    CHECK(moved.count(keys[0]) == 1);
    copy = set;  // assigned after a move
    CHECK(std::vector<MatchKey>(copy.begin(), copy.end()) == std::vector<MatchKey>(model.begin(), model.end()));
    moved = std::move(copy);
    CHECK(moved.size() == model.size());
    CHECK(moved.flag() == flag);
  }
  static_assert(sizeof(engine::MatchKeySet) == 24);
}

}  // namespace
}  // namespace pmesh::test
