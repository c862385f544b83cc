// A keyed hash for hash tables whose keys tenants choose.
//
// Fact keys hold names, paths and OpenFGA object ids that tenants write.
// With an unkeyed hash (libstdc++'s std::hash is a Murmur-style hash with a
// fixed seed, for which keys that all collide can be made offline) a
// tenant could put thousands of facts in one chain or probe sequence of the
// engine's tables, and every lookup there would walk them on the engine's
// one writer thread: everyone's writes would wait. SipHash (Aumasson and
// Bernstein) under a key nobody outside the process knows is what Python,
// Rust and Redis use against that.
//
// Thread safety: pure functions; the process's key is drawn once, on first
// use, from OpenSSL's generator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pmesh {

// SipHash-2-4 and SipHash-1-3 of `bytes` under the 16-byte `key` (the
// paper's key layout: k0 and k1 little-endian).
uint64_t siphash_2_4(const unsigned char key[16], std::string_view bytes);
uint64_t siphash_1_3(const unsigned char key[16], std::string_view bytes);

// SipHash-1-3 of `text` under this process's key: the same text hashes
// the same within a process, differently in another one.
size_t keyed_text_hash(std::string_view text);

// The same as a hash tables' hasher, for keys that are text.
struct KeyedTextHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return keyed_text_hash(text); }
};

}  // namespace pmesh
