// TupleTable: its range reads and its order are an ordered map's, whatever
// the keys (arguments that are empty, that hold bytes below the separator,
// that are prefixes of others; tuples with no argument; a relation's tuples
// with different numbers of arguments), through inserts and erases, and
// whether or not first arguments share their group's bucket.
#include <doctest/doctest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/tuple_table.h"

namespace pmesh::test {
namespace {

using engine::FactKey;

std::string key(const std::string& relation, const std::vector<std::string>& args) {
  std::string k = "t\x1f" + relation;
  for (const auto& a : args) k += "\x1f" + a;
  return k;
}

// A group hash under which every first argument shares one bucket.
struct CollidingGroups {
  size_t operator()(std::string_view) const { return 0; }
};

template <class Table>
void ranges_and_order_as_an_ordered_maps() {
  const std::vector<std::string> relations = {"r", "rel", "relation", "s"};
  const std::vector<std::string> values = {"", "a", "ab", std::string("ab\x01", 3), "abc", "b", "root:orgs:acme", "root:orgs:acme:x"};
  std::mt19937 rng(7);
  auto pick = [&](const std::vector<std::string>& from) { return from[rng() % from.size()]; };
  auto random_key = [&]() {
    std::vector<std::string> args;
    // `s` has two arguments, as a declared relation; the others any number.
    std::string r = pick(relations);
    for (size_t n = r == "s" ? 2 : rng() % 4; n > 0; --n) args.push_back(pick(values));
    return key(r, args);
  };
  Table table;
  std::map<std::string, int> model;
  for (int step = 0; step < 4000; ++step) {
    std::string k = random_key();
    if (rng() % 3 == 0) {
      auto it = table.find(k);
      CHECK((it != table.end()) == (model.count(k) > 0));
      if (it != table.end()) table.erase(it);
      model.erase(k);
    } else {
      bool added = table.emplace(FactKey(k), step).second;
      CHECK(added == model.emplace(k, step).second);
    }
    if (step % 97 != 0) continue;
    REQUIRE(table.size() == model.size());
    // Every range a read can ask for: a relation, then one or two first arguments.
    std::vector<std::string> prefixes;
    for (const auto& r : relations) {
      prefixes.push_back(key(r, {}) + "\x1f");
      for (const auto& a : values) {
        prefixes.push_back(key(r, {a}) + "\x1f");
        prefixes.push_back(key(r, {a, pick(values)}) + "\x1f");
      }
    }
    for (const auto& p : prefixes) {
      std::vector<std::string> got, want;
      table.scan(p, [&](const FactKey& f) {
        got.emplace_back(f.str());
        return true;
      });
      for (auto it = model.lower_bound(p); it != model.end() && it->first.starts_with(p); ++it) want.push_back(it->first);
      if (got != want) {
        auto show = [](std::string s) { for (auto& c : s) if (c < 32) c = c == 0x1f ? '|' : '^'; return s; };
        MESSAGE("prefix " << show(p));
        for (auto& g : got) MESSAGE("got " << show(g));
        for (auto& w : want) MESSAGE("want " << show(w));
      }
      REQUIRE(got == want);
    }
    std::vector<std::string> all, want;
    for (const auto* e : table.in_order()) all.emplace_back(e->first.str());
    for (const auto& [k2, v] : model) want.push_back(k2);
    REQUIRE(all == want);
  }
  // A read that stops early stops.
  size_t visited = 0;
  table.scan(key("rel", {}) + "\x1f", [&](const FactKey&) { return ++visited < 2; });
  CHECK(visited <= 2);
}

TEST_CASE("tuple table: range reads and order as an ordered map's") {
  SUBCASE("a bucket per first argument") { ranges_and_order_as_an_ordered_maps<engine::TupleTable<int>>(); }
  SUBCASE("every first argument in one bucket") {
    ranges_and_order_as_an_ordered_maps<engine::TupleTable<int, CollidingGroups>>();
  }
}

}  // namespace
}  // namespace pmesh::test
