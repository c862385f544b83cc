// Cold values packed against the process's learned dictionary
// (engine/cold_codec.h, SharedJson::from_cbor_packed): the dictionary is
// learned from the first values offered, what is packed unpacks to its
// bytes, a packed value is the value it encodes (compared, read, visited,
// held again, read by threads at once), and what would not pack smaller
// stays as it was.
//
// The dictionary is the process's: earlier tests may have taught it
// already; these hold whichever it is.
#include <doctest/doctest.h>

#include <latch>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine/cbor.h"
#include "engine/cold_codec.h"
#include "engine/state.h"

namespace pmesh::test {
namespace {

using engine::Json;
using engine::SharedJson;
namespace cold_codec = engine::cold_codec;

std::string packed_cbor_of(const Json& j) {
  std::string out;
  engine::CborWriter(out).value(j);
  return out;
}

// An object as the policies make them: the same names and conditions,
// other names and times.
Json account_like(std::mt19937& rng, int i) {
  const std::string n = std::to_string(i) + "-" + std::to_string(rng() % 100000);
  return {{"apiVersion", "core.platform-mesh.io/v1alpha1"},
          {"kind", "Account"},
          {"metadata",
           {{"name", "acc" + n},
            {"cluster", "root:orgs:org" + std::to_string(rng() % 1000)},
            {"uid", "9f1c2b4e-" + n},
            {"resourceVersion", std::to_string(rng())},
            {"creationTimestamp", "2026-12-05T08:" + std::to_string(rng() % 60) + ":00Z"},
            {"labels", {{"core.platform-mesh.io/org", "org" + n}}}}},
          {"spec", {{"type", i % 2 ? "account" : "org"}, {"displayName", "Account " + n}}},
          {"status",
           {{"conditions",
             {{{"type", "Ready"}, {"status", "True"}, {"reason", "Complete"}, {"message", "The account is ready"}},
              {{"type", "WorkspaceReady"}, {"status", "True"}, {"reason", "WorkspaceReady"}}}}}}};
}

// Offers values until the dictionary is learned (a bounded number: what
// kSampleBytes takes, twice over).
void teach_dictionary(std::mt19937& rng) {
  const std::string one = packed_cbor_of(account_like(rng, 0));
  for (size_t i = 0; !cold_codec::learned() && i < 2 * cold_codec::kSampleBytes / one.size(); ++i)
    (void)cold_codec::pack(packed_cbor_of(account_like(rng, static_cast<int>(i))));
  REQUIRE(cold_codec::learned());
}

TEST_CASE("cold codec: learned from the first values, then packs such values to a fraction and back") {
  std::mt19937 rng(3);
  teach_dictionary(rng);
  size_t raw = 0, packed = 0;
  for (int i = 0; i < 500; ++i) {
    const std::string bytes = packed_cbor_of(account_like(rng, 1000 + i));
    std::optional<std::string> p = cold_codec::pack(bytes);
    REQUIRE(p);
    std::string back;
    cold_codec::unpack(*p, back);
    REQUIRE(back == bytes);
    raw += bytes.size();
    packed += p->size();
  }
  // Values like the ones it learned from: well under half.
  CHECK(packed * 2 < raw);
  // Bytes that do not pack smaller (random ones) are left as they are.
  std::string noise(300, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  CHECK_FALSE(cold_codec::pack(noise));
  // Not a packed value: refused, not read past.
  std::string out;
  CHECK_THROWS_AS(cold_codec::unpack("not packed", out), std::runtime_error);
  CHECK_THROWS_AS(cold_codec::unpack("", out), std::runtime_error);
}

TEST_CASE("shared json: a packed value is the value it encodes") {
  std::mt19937 rng(5);
  teach_dictionary(rng);
  const Json value = account_like(rng, 7);
  const std::string bytes = packed_cbor_of(value);
  SharedJson packed = SharedJson::from_cbor_packed(std::string(bytes));
  REQUIRE(packed.held_as_cbor());
  std::string held;
  packed.with_cbor([&](std::string_view c) { held = c; });
  CHECK(held == bytes);
  CHECK_FALSE(packed.is_null());
  // Compared unread: with its bytes, its value, another packing of the same
  // bytes, and another value's.
  CHECK(packed == SharedJson::from_cbor(bytes));
  CHECK(packed == SharedJson::from_cbor_packed(std::string(bytes)));
  CHECK(packed == SharedJson(value));
  CHECK_FALSE(packed == SharedJson::from_cbor_packed(packed_cbor_of(account_like(rng, 8))));
  CHECK_FALSE(packed.cbor_and_read());
  CHECK(packed.visit([&](const Json& j) { return j == value; }));
  CHECK(packed.copy() == value);
  // Read: kept, and held again without it.
  CHECK(*packed == value);
  CHECK(packed.cbor_and_read());
  SharedJson again = packed.held_again();
  CHECK_FALSE(again.cbor_and_read());
  CHECK(again == packed);
  CHECK(*again == value);
  // Changed: a copy of its own.
  SharedJson mine = packed;
  mine.mutate()["spec"]["added"] = 1;
  CHECK(!mine.held_as_cbor());
  CHECK(*packed == value);
  // Null, and what does not pack, are held unpacked.
  CHECK(SharedJson::from_cbor_packed(packed_cbor_of(nullptr)).is_null());
  CHECK(SharedJson::from_cbor_packed(packed_cbor_of(Json(1))) == SharedJson(Json(1)));
}

TEST_CASE("shared json: threads that read a packed value at once all see the one value") {
  std::mt19937 rng(9);
  teach_dictionary(rng);
  const Json value = account_like(rng, 11);
  for (int round = 0; round < 50; ++round) {
    SharedJson packed = SharedJson::from_cbor_packed(packed_cbor_of(value));
    std::latch start(4);
    std::vector<const Json*> seen(4);
    std::vector<int> visited(4);  // (not vector<bool>: its bits share words across threads)
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        SharedJson mine = packed;
        start.arrive_and_wait();
        visited[static_cast<size_t>(t)] = mine.visit([&](const Json& j) { return j == value; });
        seen[static_cast<size_t>(t)] = &*mine;
      });
    for (auto& th : threads) th.join();
    for (const Json* p : seen) CHECK(p == seen[0]);
    for (int v : visited) CHECK(v == 1);
    CHECK(*seen[0] == value);
  }
}

}  // namespace
}  // namespace pmesh::test
