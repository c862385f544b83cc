// State's matches: a rule's keys come out in key order, whatever order its
// table keeps them in (Abseil's differs from run to run), and the index of
// which matches read a fact follows puts and erases.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

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
  CHECK(s.matches_using(std::string("t\x1fr\x1f" "150")) != nullptr);
  for (const MatchKey* k : *s.matches_using(shared)) CHECK(s.match(*k) != nullptr);
}

}  // namespace
}  // namespace pmesh::test
