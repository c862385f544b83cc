// engine/cbor.h: what CborWriter writes is nlohmann's to_cbor, byte for
// byte, and read_cbor reads every input as nlohmann's from_cbor does (the
// same value, or an exception where it throws): random values of every
// type, hand-made encodings nlohmann writes differently or never, and every
// prefix of an encoding.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <string>

#include "engine/cbor.h"

namespace pmesh::test {
namespace {

using engine::CborWriter;
using engine::read_cbor;

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

}  // namespace
}  // namespace pmesh::test
