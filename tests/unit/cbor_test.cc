// engine/cbor.h: what CborWriter writes is nlohmann's to_cbor, byte for
// byte, and read_cbor reads every input as nlohmann's from_cbor does (the
// same value, or an exception where it throws): random values of every
// type, hand-made encodings nlohmann writes differently or never, and every
// prefix of an encoding. And what is kept as bytes and read later
// (cbor_readable) is exactly what the fast reader reads, a map's members
// found in place are the values read_cbor reads.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/cbor.h"

namespace pmesh::test {
namespace {

using engine::CborWriter;
using engine::cbor_member;
using engine::cbor_readable;
using engine::read_cbor;
using engine::read_cbor_map_keeping;

Json random_value(std::mt19937_64& rng, int depth) {
  auto pick = [&](uint64_t n) { return rng() % n; };
  static const std::vector<std::string> strings = {"", "a", "metadata", "ümlaut ✓", std::string(23, 'x'), std::string(24, 'y'),
                                                   std::string(255, 'z'), std::string(256, 'w'), std::string(70000, 'v'),
                                                   std::string("nul\0inside", 10)};
  switch (depth > 4 ? pick(7) : pick(9)) {
    case 0: return nullptr;
    case 1: return pick(2) == 0;
    case 2: {  // unsigned, at every head width and its edges
      static const uint64_t edges[] = {0, 23, 24, 255, 256, 65535, 65536, 0xffffffffULL, 0x100000000ULL, ~0ULL};
      return pick(2) ? Json(edges[pick(10)]) : Json(rng() >> pick(64));
    }
    case 3: {
      static const int64_t edges[] = {-1, -24, -25, -256, -257, -65536, -65537, std::numeric_limits<int64_t>::min(), 5};
      return pick(2) ? Json(edges[pick(9)]) : Json(-static_cast<int64_t>(rng() >> (1 + pick(63))));
    }
    case 4: {
      static const double edges[] = {0.0, -0.0, 0.5, 1.1, 1e300, -3.25, std::numeric_limits<double>::infinity(), 16777217.0};
      return edges[pick(8)];
    }
    case 5:
    case 6: return strings[pick(strings.size())];
    case 7: {
      Json a = Json::array();
      for (uint64_t i = pick(30); i; --i) a.push_back(random_value(rng, depth + 1));
      return a;
    }
    default: {
      Json o = Json::object();
      for (uint64_t i = pick(30); i; --i) o[strings[pick(strings.size())].substr(0, 40) + std::to_string(pick(50))] = random_value(rng, depth + 1);
      return o;
    }
  }
}

// Values compared by their encoding: exact (a NaN, a string that is not
// UTF-8, which dump() refuses), and an integer's signedness counts.
std::vector<uint8_t> bytes_of(const Json& j) { return Json::to_cbor(j); }

// nlohmann's answer: a value, or that it throws.
std::optional<Json> theirs(const std::string& in) {
  try {
    return Json::from_cbor(in);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}
std::optional<Json> ours(const std::string& in) {
  try {
    return read_cbor(in);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

TEST_CASE("cbor: written as nlohmann writes it, read as it reads it") {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 400; ++i) {
    Json v = random_value(rng, 0);
    std::string mine;
    CborWriter(mine).value(v);
    std::string nl;
    Json::to_cbor(v, nl);
    REQUIRE(mine == nl);
    auto a = ours(mine), b = theirs(mine);
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    CHECK(bytes_of(*a) == bytes_of(*b));
    CHECK(a->type() == b->type());
    // Damage: every prefix of a short encoding, and one byte changed.
    if (mine.size() < 300) {
      for (size_t n = 0; n < mine.size(); ++n) {
        std::string cut = mine.substr(0, n);
        CHECK(ours(cut).has_value() == theirs(cut).has_value());
      }
      std::string flipped = mine;
      flipped[rng() % flipped.size()] ^= static_cast<char>(1 + rng() % 255);
      auto x = ours(flipped), y = theirs(flipped);
      REQUIRE(x.has_value() == y.has_value());
      if (x) CHECK(bytes_of(*x) == bytes_of(*y));
    }
  }
}

TEST_CASE("cbor: encodings nlohmann's writer does not make read as nlohmann reads them") {
  auto same = [](const std::string& in) {
    auto a = ours(in), b = theirs(in);
    REQUIRE(a.has_value() == b.has_value());
    if (a) CHECK(bytes_of(*a) == bytes_of(*b));
    return a.has_value();
  };
  using namespace std::string_literals;
  CHECK(same("\xa2\x61" "b\x01\x61" "a\x02"s));           // keys out of order
  CHECK(same("\xa2\x61" "a\x01\x61" "a\x02"s));           // a repeated key: the last wins
  CHECK(same("\x18\x05"s));                               // a small number in a longer head
  CHECK(same("\xf9\x3c\x00"s));                           // a half float
  CHECK(same("\x9f\x01\x02\xff"s));                       // an indefinite array
  CHECK(same("\x7f\x61" "a\x61" "b\xff"s));               // an indefinite string
  CHECK(same("\x42\x01\x02"s));                           // binary
  CHECK_FALSE(same("\xd8\x2a\x42\x01\x02"s));             // a tag, which nlohmann refuses by default
  CHECK_FALSE(same("\xa1\x01\x02"s));                     // a number as a key
  CHECK_FALSE(same("\x01\x02"s));                         // bytes after the item
  CHECK_FALSE(same("\x9b\xff\xff\xff\xff\xff\xff\xff\xff"s));  // an array longer than its input
  CHECK_FALSE(same(""s));
  std::string deep;
  for (int i = 0; i < 600; ++i) deep += '\x81';
  deep += '\x01';
  CHECK(same(deep));  // deeper than the fast reader goes
}

bool has_non_finite(const Json& v) {
  if (v.is_number_float()) return !std::isfinite(v.get<double>());
  if (v.is_structured())
    for (const auto& e : v)
      if (has_non_finite(e)) return true;
  return false;
}

TEST_CASE("cbor: what is kept as bytes reads, and a map's members are found in place") {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 400; ++i) {
    Json v = random_value(rng, 0);
    std::string mine;
    CborWriter w(mine);
    w.value(v);
    // The writer knows what it wrote.
    CHECK(w.readable() == cbor_readable(mine));
    if (!cbor_readable(mine)) {
      // Only what nlohmann writes as a half float (infinities, NaN), which
      // the fast reader leaves to it.
      CHECK(has_non_finite(v));
      continue;
    }
    REQUIRE(bytes_of(read_cbor(mine)) == bytes_of(v));
    if (v.is_object()) {
      for (const auto& [k, value] : v.items()) CHECK(bytes_of(read_cbor(cbor_member(mine, k))) == bytes_of(value));
      // The map read but for one member, left as its bytes.
      for (const auto& [k, value] : v.items()) {
        std::string_view kept;
        auto rest = read_cbor_map_keeping(mine, k, &kept);
        REQUIRE(rest.has_value());
        CHECK_FALSE(rest->contains(k));
        CHECK(bytes_of(read_cbor(kept)) == bytes_of(value));
        Json whole = *rest;
        whole[k] = read_cbor(kept);
        CHECK(bytes_of(whole) == bytes_of(v));
      }
    }
    CHECK(cbor_member(mine, "no such key").empty());
    CHECK(cbor_member(mine, "").empty());
    // Every prefix is refused (an item is never read past its end).
    if (mine.size() < 300)
      for (size_t n = 0; n < mine.size(); ++n) CHECK_FALSE(cbor_readable(mine.substr(0, n)));
  }
  using namespace std::string_literals;
  // What the fast reader leaves to nlohmann's is not kept as bytes.
  CHECK_FALSE(cbor_readable("\xf9\x3c\x00"s));              // a half float
  CHECK_FALSE(cbor_readable("\x9f\x01\x02\xff"s));          // an indefinite array
  CHECK_FALSE(cbor_readable("\x42\x01\x02"s));               // binary
  CHECK_FALSE(cbor_readable("\xd8\x2a\x42\x01\x02"s));     // a tag
  CHECK_FALSE(cbor_readable("\xa1\x01\x02"s));               // a number as a key
  CHECK_FALSE(cbor_readable("\x01\x02"s));                   // bytes after the item
  CHECK_FALSE(cbor_readable("\xa1\x61" "a\xf9\x3c\x00"s));  // a member the fast reader leaves
  std::string deep;
  for (int i = 0; i < 600; ++i) deep += '\x81';
  deep += '\x01';
  CHECK_FALSE(cbor_readable(deep));
  // As deep as the fast reader reads, and one level deeper: the writer
  // says which it wrote.
  for (int levels : {512, 513}) {
    Json nested = 1;
    for (int i = 0; i < levels; ++i) nested = Json::array({nested});
    std::string out;
    CborWriter w(out);
    w.value(nested);
    CHECK(w.readable() == (levels == 512));
    CHECK(cbor_readable(out) == (levels == 512));
  }
  // Keys repeated or out of order: read_cbor reads them (the last wins),
  // but they are not kept as bytes, whose maps are searched in order.
  std::string twice = "\xa2\x61" "a\x01\x61" "a\x02"s, unordered = "\xa2\x61" "b\x01\x61" "a\x02"s;
  CHECK_FALSE(cbor_readable(twice));
  CHECK_FALSE(cbor_readable(unordered));
  CHECK(cbor_readable("\xa2\x61" "a\x01\x61" "b\x02"s));
  CHECK_FALSE(cbor_readable("\x81\xa2\x61" "b\x01\x61" "a\x02"s));  // nested too
  // Kept only when they could be: a member with repeated keys is read.
  // (`kept` views its input: each input is held while it is read.)
  std::string_view kept;
  std::string in = "\xa2\x61" "a\x01\x61" "k"s + twice;
  auto rest = read_cbor_map_keeping(in, "k", &kept);
  REQUIRE(rest.has_value());
  CHECK(kept.empty());
  CHECK(rest->at("k") == read_cbor(twice));
  // The last of a repeated kept key counts, whether kept or read.
  in = "\xa2\x61" "k\x01\x61" "k\x02"s;
  rest = read_cbor_map_keeping(in, "k", &kept);
  REQUIRE(rest.has_value());
  CHECK(read_cbor(kept) == 2);
  CHECK_FALSE(rest->contains("k"));
  in = "\xa2\x61" "k\x01\x61" "k"s + twice;
  rest = read_cbor_map_keeping(in, "k", &kept);
  REQUIRE(rest.has_value());
  CHECK(kept.empty());
  CHECK(rest->at("k") == read_cbor(twice));
  // Several members kept at once, each in its place; one absent is empty,
  // one that cannot be kept is read.
  {
    const std::string_view keep[] = {"b", "k", "z"};
    std::string_view two[3];
    in = "\xa3\x61" "a\x01\x61" "b\x02\x61" "k"s + twice;
    rest = read_cbor_map_keeping(in, keep, two);
    REQUIRE(rest.has_value());
    CHECK(read_cbor(two[0]) == 2);
    CHECK(two[1].empty());
    CHECK(two[2].empty());
    CHECK(*rest == Json{{"a", 1}, {"k", read_cbor(twice)}});
    in = "\xa3\x61" "a\x01\x61" "b\x02\x61" "k\x03"s;
    rest = read_cbor_map_keeping(in, keep, two);
    REQUIRE(rest.has_value());
    CHECK(read_cbor(two[0]) == 2);
    CHECK(read_cbor(two[1]) == 3);
    CHECK(*rest == Json{{"a", 1}});
    CHECK_FALSE(read_cbor_map_keeping("\x82\x01\x02"s, keep, two).has_value());
    CHECK((two[0].empty() && two[1].empty() && two[2].empty()));
  }
  // Not a map, or not one the fast reader reads.
  CHECK_FALSE(read_cbor_map_keeping("\x82\x01\x02"s, "k", &kept).has_value());
  CHECK_FALSE(read_cbor_map_keeping("\xa1\x61" "a\xf9\x3c\x00"s, "k", &kept).has_value());
  CHECK(cbor_member("\x82\x01\x02"s, "a").empty());
}

TEST_CASE("the writer tells whether every string and key it wrote was UTF-8, when asked to check") {
  auto utf8 = [](const Json& j) {
    std::string out;
    engine::CborWriter w(out);
    w.check_utf8();
    w.value(j);
    return w.utf8();
  };
  CHECK(utf8(Json{{"name", "\xc3\xa9ric"}, {"list", {"a", 1, nullptr}}}));
  CHECK_FALSE(utf8(Json{{"name", "\xc3"}}));                  // a value cut in half
  CHECK_FALSE(utf8(Json{{"ok", {{"\xff", 1}}}}));            // a key, nested
  CHECK_FALSE(utf8(Json{{"list", {"a", "b\xc3(", "c"}}}));   // in a list
  // Unchecked, nothing is said against what was written.
  std::string out;
  engine::CborWriter w(out);
  w.value(Json{{"name", "\xc3"}});
  CHECK(w.utf8());
}

}  // namespace
}  // namespace pmesh::test
