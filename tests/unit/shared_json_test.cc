// SharedJson held as CBOR (from_cbor): the same value as the JSON it
// encodes, read once however many threads look at it at once, changed only
// as a copy, and null known without reading it.
#include <doctest/doctest.h>

#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "engine/cbor.h"
#include "engine/state.h"

namespace pmesh::test {
namespace {

using engine::Json;
using engine::SharedJson;

std::string cbor_of(const Json& j) {
  std::string out;
  engine::CborWriter(out).value(j);
  return out;
}

const Json kObject = {{"metadata", {{"name", "a"}, {"labels", {{"app.kubernetes.io/name", "x"}}}}},
                      {"spec", {{"list", {1, 2.5, "three", nullptr, true}}}}};

TEST_CASE("shared json: a value held as CBOR is the value it encodes") {
  std::string bytes = cbor_of(kObject);
  SharedJson lazy = SharedJson::from_cbor(bytes);
  REQUIRE(lazy.held_as_cbor());
  std::string held;
  lazy.with_cbor([&](std::string_view c) { held = c; });
  CHECK(held == bytes);
  CHECK_FALSE(lazy.is_null());
  CHECK(*lazy == kObject);
  CHECK(lazy->at("metadata").at("name") == "a");
  CHECK(lazy == SharedJson(kObject));
  CHECK(SharedJson(kObject) == lazy);
  CHECK_FALSE(lazy < SharedJson(kObject));
  // Read once: the same JSON every time.
  CHECK(&*lazy == &*lazy);
  // A copy shares it.
  SharedJson copy = lazy;
  CHECK(copy.same(lazy));
  CHECK(&*copy == &*lazy);
  // Null, known from the bytes.
  CHECK(SharedJson::from_cbor(cbor_of(nullptr)).is_null());
  CHECK(SharedJson().is_null());
  CHECK(!SharedJson().held_as_cbor());
  // A parser's "no value" is not a value to hold.
  CHECK_THROWS(SharedJson(Json(Json::value_t::discarded)));
}

TEST_CASE("shared json: a visit of a value held as CBOR and not read yet reads it for the visit only") {
  SharedJson lazy = SharedJson::from_cbor(cbor_of(kObject));
  const Json* first = lazy.visit([](const Json& j) {
    CHECK(j == kObject);
    return &j;
  });
  const Json* second = lazy.visit([](const Json& j) { return &j; });
  // Each visit read its own, and the value read later is neither.
  const Json* kept = &*lazy;
  CHECK(kept != first);
  CHECK(kept != second);
  // Once read, a visit sees the value kept.
  CHECK(lazy.visit([](const Json& j) { return &j; }) == kept);
  SharedJson plain(kObject);
  CHECK(plain.visit([](const Json& j) { return &j; }) == &*plain);
}

TEST_CASE("shared json: comparing a value held as CBOR keeps nothing it read") {
  SharedJson lazy = SharedJson::from_cbor(cbor_of(kObject));
  CHECK(lazy == SharedJson(kObject));
  CHECK(SharedJson(kObject) == lazy);
  CHECK(lazy == SharedJson::from_cbor(cbor_of(kObject)));
  Json other = kObject;
  other["metadata"]["name"] = "b";
  CHECK_FALSE(lazy == SharedJson(other));
  CHECK_FALSE(lazy == SharedJson::from_cbor(cbor_of(other)));
  // Nor does a copy of it.
  CHECK(lazy.copy() == kObject);
  // Still unread: a visit reads its own copy, not the one kept later.
  const Json* visited = lazy.visit([](const Json& j) { return &j; });
  CHECK(visited != &*lazy);
  // Equal values in other bytes are equal (1 and 1.0).
  CHECK(SharedJson::from_cbor(cbor_of(1)) == SharedJson::from_cbor(cbor_of(1.0)));
  // Once read, a copy copies what was read.
  const Json& kept = *lazy;
  CHECK(lazy.copy() == kept);
  CHECK(SharedJson(kObject).copy() == kObject);
}

TEST_CASE("shared json: changing a value held as CBOR changes a copy of it") {
  SharedJson lazy = SharedJson::from_cbor(cbor_of(kObject));
  SharedJson mine = lazy;
  mine.mutate()["spec"]["added"] = 1;
  CHECK(!mine.held_as_cbor());
  CHECK(mine->at("spec").contains("added"));
  CHECK(*lazy == kObject);
  CHECK(lazy.held_as_cbor());
  // Held by nobody else, it is still copied out of its bytes.
  SharedJson alone = SharedJson::from_cbor(cbor_of(kObject));
  alone.mutate()["x"] = 2;
  CHECK(!alone.held_as_cbor());
  CHECK(alone->at("x") == 2);
}

TEST_CASE("shared json: threads that look at a value held as CBOR at once all see the one value") {
  for (int round = 0; round < 50; ++round) {
    SharedJson lazy = SharedJson::from_cbor(cbor_of(kObject));
    std::latch start(4);
    std::vector<const Json*> seen(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        SharedJson mine = lazy;  // each thread its own holder, as readers have
        start.arrive_and_wait();
        seen[t] = &*mine;
      });
    for (auto& th : threads) th.join();
    for (const Json* p : seen) CHECK(p == seen[0]);
    CHECK(*seen[0] == kObject);
  }
}

TEST_CASE("shared json: a dotted path found in CBOR as in JSON") {
  std::string bytes = cbor_of(kObject);
  for (const char* path : {"metadata.name", "metadata.labels.app.kubernetes.io/name", "spec.list", "spec", "metadata.nope",
                           "spec.list.0", "nope.deeper", "metadata.name.deeper", ""}) {
    CAPTURE(path);
    const Json* j = engine::find_at(kObject, path);
    std::string_view c = engine::cbor_find_at(bytes, path);
    REQUIRE((j != nullptr) == !c.empty());
    if (j) CHECK(engine::read_cbor(c) == *j);
  }
}

}  // namespace
}  // namespace pmesh::test
