// A match's contribution: its target, and what it sets there held apart and
// shared by its copies; one that sets nothing (a tuple, a delete) holds no
// detail of its own. Each reads back as made, compares by what it sets
// (not by where that is held), and a change of its value leaves its copies
// as they were. Its record reads back the same, and a record that names a
// kind or flags no contribution has is refused. A match keeps its rule
// with its lists.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine/state.h"
#include "engine/store_records.h"

namespace pmesh::test {
namespace {

using engine::Contribution;
using engine::FactKey;
using engine::intern_path;
using engine::JsonPath;
using engine::Match;
using engine::PathElem;
using engine::SharedJson;
using Kind = Contribution::Kind;

JsonPath contribution_test_path(const std::string& field) {
  JsonPath p;
  p.push_back(PathElem{field, false, "", nullptr});
  return p;
}

TEST_CASE("a contribution reads back as made, for every kind and flag") {
  const FactKey t(engine::tuple_fact("parent", {"a", "b"}));
  const Contribution tuple(Kind::kTuple, t);
  CHECK(tuple.kind() == Kind::kTuple);
  CHECK(tuple.target == t);
  CHECK(tuple.value().is_null());
  CHECK(tuple.path()->empty());
  CHECK(tuple.priority() == 0);
  CHECK(tuple.flags() == 0);
  CHECK_FALSE(tuple.add());
  CHECK_FALSE(tuple.editable());
  CHECK_FALSE(tuple.order());

  const FactKey o(engine::object_fact({"ConfigMap", "root", "default", "x"}));
  for (uint8_t flags = 0; flags < 8; ++flags)
    for (int64_t priority : {int64_t{0}, int64_t{-3}, int64_t{1} << 40}) {
      const auto path = intern_path(contribution_test_path("data"));
      const Contribution f(Kind::kField, o, SharedJson(Json{{"k", "v"}}), path, priority, flags);
      CHECK(f.kind() == Kind::kField);
      CHECK(f.target == o);
      CHECK(*f.value() == Json{{"k", "v"}});
      CHECK(f.path() == path);
      CHECK(f.priority() == priority);
      CHECK(f.flags() == flags);
      CHECK(f.add() == ((flags & Contribution::kAdd) != 0));
      CHECK(f.editable() == ((flags & Contribution::kEditable) != 0));
      CHECK(f.order() == ((flags & Contribution::kOrder) != 0));
    }
  const Contribution refuse(Kind::kRefuse, FactKey(), SharedJson(Json("no")));
  CHECK(refuse.kind() == Kind::kRefuse);
  CHECK(refuse.target.empty());
  CHECK(*refuse.value() == "no");
  CHECK(Contribution(Kind::kDelete, o).kind() == Kind::kDelete);
  // A kind that does not set anything is that kind still, for each kind.
  for (Kind k : {Kind::kObject, Kind::kField, Kind::kTuple, Kind::kRefuse, Kind::kDelete}) CHECK(Contribution(k, t).kind() == k);
  CHECK_THROWS_AS(Contribution(static_cast<Kind>(5), t), std::logic_error);
  const Contribution made;
  CHECK(made.kind() == Kind::kObject);
  CHECK(made.target.empty());
}

TEST_CASE("contributions compare by what they set, not where it is held") {
  const FactKey o(engine::object_fact({"ConfigMap", "root", "default", "x"}));
  const auto path = intern_path(contribution_test_path("data"));
  auto field = [&](Json v, int64_t priority, uint8_t flags) {
    return Contribution(Kind::kField, o, SharedJson(std::move(v)), path, priority, flags);
  };
  const Contribution a = field(Json(1), 2, Contribution::kAdd);
  CHECK(a == field(Json(1), 2, Contribution::kAdd));  // made apart, equal
  CHECK_FALSE(a == field(Json(2), 2, Contribution::kAdd));
  CHECK_FALSE(a == field(Json(1), 3, Contribution::kAdd));
  CHECK_FALSE(a == field(Json(1), 2, Contribution::kOrder));
  CHECK_FALSE(a == Contribution(Kind::kField, o, SharedJson(Json(1)), intern_path(contribution_test_path("spec")), 2,
                                Contribution::kAdd));
  CHECK_FALSE(a == Contribution(Kind::kObject, o, SharedJson(Json(1)), path, 2, Contribution::kAdd));
  Contribution other_target = a;
  other_target.target = FactKey(engine::object_fact({"ConfigMap", "root", "default", "y"}));
  CHECK_FALSE(a == other_target);
  CHECK(Contribution(Kind::kTuple, o) == Contribution(Kind::kTuple, o));
  CHECK_FALSE(Contribution(Kind::kTuple, o) == Contribution(Kind::kDelete, o));
}

TEST_CASE("a contribution's value changes for it alone, in place when it alone holds it") {
  const FactKey o(engine::object_fact({"ConfigMap", "root", "default", "x"}));
  Contribution a(Kind::kObject, o, SharedJson(Json{{"a", 1}}));
  const SharedJson kept = a.value();
  a.set_value(SharedJson(Json{{"a", 2}}));  // its own: in place
  CHECK(*a.value() == Json{{"a", 2}});
  CHECK(*kept == Json{{"a", 1}});
  const Contribution copy = a;
  CHECK(copy.value().same(a.value()));  // a copy shares it
  a.set_value(SharedJson(Json{{"a", 3}}));
  CHECK(*a.value() == Json{{"a", 3}});
  CHECK(*copy.value() == Json{{"a", 2}});  // the copy as it was
  CHECK(a.kind() == Kind::kObject);
  CHECK(a.target == o);
  // A contribution that set nothing, given a value, keeps its kind and target.
  Contribution t(Kind::kTuple, o);
  const Contribution t_copy = t;
  t.set_value(SharedJson(Json("v")));
  CHECK(t.kind() == Kind::kTuple);
  CHECK(t.target == o);
  CHECK(*t.value() == "v");
  CHECK(t_copy.value().is_null());
  // Moved from: a contribution that sets nothing.
  Contribution moved = std::move(a);
  CHECK(*moved.value() == Json{{"a", 3}});
  CHECK(a.value().is_null());  // NOLINT: what a move leaves is specified
  CHECK(a.target.empty());     // NOLINT
}

TEST_CASE("contributions copied and dropped on several threads at once") {
  const FactKey o(engine::object_fact({"ConfigMap", "root", "default", "x"}));
  const Contribution shared(Kind::kField, o, SharedJson(Json(7)), intern_path(contribution_test_path("data")), 1, 0);
  std::vector<std::thread> threads;
  std::vector<int> right(4, 0);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      for (int n = 0; n < 20000; ++n) {
        std::vector<Contribution> copies(3, shared);
        right[static_cast<size_t>(i)] += copies.back() == shared;
      }
    });
  for (auto& t : threads) t.join();
  for (int r : right) CHECK(r == 20000);
  CHECK(*shared.value() == 7);
}

TEST_CASE("a match's record keeps each contribution's kind, value, path, priority and flags") {
  const FactKey o(engine::object_fact({"ConfigMap", "root", "default", "x"}));
  std::vector<Contribution> cs;
  cs.emplace_back(Kind::kTuple, FactKey(engine::tuple_fact("parent", {"a", "b"})));
  cs.emplace_back(Kind::kObject, o, SharedJson(Json{{"data", {{"k", "v"}}}}));
  cs.emplace_back(Kind::kField, o, SharedJson(Json("x")), intern_path(contribution_test_path("data")), -4,
                  Contribution::kEditable | Contribution::kOrder);
  cs.emplace_back(Kind::kRefuse, FactKey(), SharedJson(Json("refused")));
  cs.emplace_back(Kind::kDelete, o);
  const Match m(3, {o}, cs);
  for (const Match& back : {engine::decode_match_record(engine::encode_match_record(m, 0), nullptr, nullptr),
                            engine::decode_match(engine::encode_match(m))}) {
    REQUIRE(back.contributions().size() == cs.size());
    for (size_t i = 0; i < cs.size(); ++i) {
      CAPTURE(i);
      Contribution read = back.contributions()[i];
      // A target that is no fact (a refusal's) reads back as the empty text's key.
      CHECK(read.target.str() == cs[i].target.str());
      read.target = cs[i].target;
      CHECK(read == cs[i]);
    }
  }
  // Damage: a contribution kind or a flag that does not exist.
  std::string record = engine::encode_match_record(Match(0, {}, {Contribution(Kind::kTuple, o)}), 0);
  std::string bad_kind = record, bad_flags = record;
  const size_t kind_at = record.find(static_cast<char>(Kind::kTuple), 1);
  REQUIRE(kind_at != std::string::npos);
  bad_kind[kind_at] = 9;
  CHECK_THROWS(engine::decode_match_record(bad_kind, nullptr, nullptr));
  // The flags are the record's second to last byte (the priority, 0, is the last).
  bad_flags[bad_flags.size() - 2] = 8;
  CHECK_THROWS_AS(engine::decode_match_record(bad_flags, nullptr, nullptr), std::runtime_error);
}

TEST_CASE("a match keeps its rule in its block: read, copied, moved to another rule, and none when moved from") {
  const FactKey o(engine::object_fact({"ConfigMap", "root", "default", "x"}));
  Match m(7, {o, o}, {Contribution(Kind::kTuple, o)});
  CHECK(m.rule() == 7);
  CHECK(m.positives().size() == 2);
  CHECK(m.contributions().size() == 1);
  const Match copy = m;
  m.set_rule(12);
  CHECK(m.rule() == 12);
  CHECK(copy.rule() == 7);  // the copy's own block
  const Match none(3, {}, {});  // a rule with no patterns and nothing to contribute still names its rule
  CHECK(none.rule() == 3);
  CHECK(none.positives().empty());
  Match moved = std::move(m);
  CHECK(moved.rule() == 12);
  CHECK(m.rule() == 0);  // NOLINT: what a move leaves is specified
  CHECK(m.positives().empty());
  m.set_rule(4);  // a match made empty takes a rule too
  CHECK(m.rule() == 4);
  CHECK(Match().rule() == 0);
  // Beyond what a rule can have: refused, not wrapped.
  CHECK_THROWS_AS(Match(1, std::vector<FactKey>(65536), {}), std::length_error);
  CHECK_THROWS_AS(Match(1, {}, std::vector<Contribution>(65536)), std::length_error);
  CHECK(Match(1, std::vector<FactKey>(65535), {}).positives().size() == 65535);
}

}  // namespace
}  // namespace pmesh::test
