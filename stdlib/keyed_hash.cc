#include "stdlib/keyed_hash.h"

#include <openssl/rand.h>

#include <array>
#include <bit>
#include <cstring>
#include <stdexcept>

namespace pmesh {
namespace {

// One load on a little-endian machine: GCC does not make the byte loop one
// (it was three-quarters of the hash's instructions).
inline uint64_t load_le64(const unsigned char* p) {
  if constexpr (std::endian::native == std::endian::little) {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
  } else {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }
}

struct SipState {
  uint64_t v0, v1, v2, v3;
  void round() {
    v0 += v1; v1 = std::rotl(v1, 13); v1 ^= v0; v0 = std::rotl(v0, 32);
    v2 += v3; v3 = std::rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = std::rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = std::rotl(v1, 17); v1 ^= v2; v2 = std::rotl(v2, 32);
  }
};

SipState initial_state(const unsigned char key[16]) {
  const uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
  return SipState{k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL, k0 ^ 0x6c7967656e657261ULL,
                  k1 ^ 0x7465646279746573ULL};
}

// `s` is the key's initial state (initial_state), so that a hash under the
// process's key does not derive it again.
template <int C, int D>
uint64_t siphash(SipState s, std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  const unsigned char* end = p + (n & ~size_t{7});
  for (; p != end; p += 8) {
    uint64_t m = load_le64(p);
    s.v3 ^= m;
    for (int i = 0; i < C; ++i) s.round();
    s.v0 ^= m;
  }
  // The last block: the bytes left, and the length's low byte on top.
  uint64_t b = 0;
  if constexpr (std::endian::native == std::endian::little) {
    if (n & 7) std::memcpy(&b, p, n & 7);  // p may be null for empty input
  } else {
    for (size_t i = 0; i < (n & 7); ++i) b |= static_cast<uint64_t>(p[i]) << (8 * i);
  }
  b |= static_cast<uint64_t>(n) << 56;
  s.v3 ^= b;
  for (int i = 0; i < C; ++i) s.round();
  s.v0 ^= b;
  s.v2 ^= 0xff;
  for (int i = 0; i < D; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

SipState process_state() {
  std::array<unsigned char, 16> k{};
  if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1)
    throw std::runtime_error("the random number generator failed");
  return initial_state(k.data());
}

}  // namespace

uint64_t siphash_2_4(const unsigned char key[16], std::string_view bytes) {
  return siphash<2, 4>(initial_state(key), bytes);
}
uint64_t siphash_1_3(const unsigned char key[16], std::string_view bytes) {
  return siphash<1, 3>(initial_state(key), bytes);
}

size_t keyed_text_hash(std::string_view text) {
  static const SipState state = process_state();
  return static_cast<size_t>(siphash<1, 3>(state, text));
}

}  // namespace pmesh
