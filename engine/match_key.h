// A match's key: the number of its rule and a 128-bit digest of the facts
// its positive patterns matched, which stand for those facts (they run to
// hundreds of bytes) wherever a match is named: the state's map of
// matches, the facts that each match reads, the parts and the tuple
// supports it contributes, the undo log.
//
// The key is a fixed-width value (20 bytes, no heap, hashed and compared as bytes),
// so the maps that hold tens of keys per account neither allocate nor
// chase pointers for them. Its text form is what the durable store keeps:
// the rule's number, then "\x1e" and the digest in URL-safe base64 (the
// number alone for a rule with no positive patterns).
//
// Keys order by rule, then digest: a rule's matches are one range of an
// ordered map, and what is composed from them comes out the same on every
// run.
//
// Thread safety: a value type; safe to share for reading.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/fact_key.h"

namespace pmesh::engine {

class MatchKey {
 public:
  MatchKey() = default;
  // The key of rule `rule`'s match of `positives` (in body order). The
  // digest is SHA-256's: a tenant who names objects cannot make two matches
  // share a key (a collision of 128 bits takes some 2^64 tries).
  MatchKey(int rule, const std::vector<FactKey>& positives);
  // A key read back from its text form; nullopt for anything else.
  static std::optional<MatchKey> parse(std::string_view text);

  int rule() const { return rule_; }
  std::string str() const;
  // The text form in a buffer of its own: written into every record that
  // names the match, where a view will do and a string would allocate.
  class Text {
   public:
    std::string_view view() const { return {buf_.data(), size_}; }

   private:
    friend class MatchKey;
    std::array<char, 40> buf_;  // a rule's number (11), the separator, 22 digits
    size_t size_ = 0;
  };
  Text text() const;
  // The same match with its rule's number moved by `delta` (a rule set's
  // stored keys count from the set's first rule).
  MatchKey rebased(int delta) const;

  bool operator==(const MatchKey&) const = default;
  std::strong_ordering operator<=>(const MatchKey&) const = default;
  // The rule and the digest's first bytes: the digest is uniform, so a
  // tenant cannot crowd one bucket of a hash table either.
  size_t hash() const;

 private:
  // For MatchKeySet alone: a key that holds a pointer in place of a
  // digest, under a rule (kHolding) that no key made above has.
  friend class MatchKeySet;
  static constexpr int32_t kHolding = -2;
  static MatchKey holding(void* p);
  void* held() const;

  // Zeros for a rule with no positive patterns (SHA-256 gives 128 zero
  // bits one time in 2^128; a stored key with them is refused). A flag
  // for it made the key 24 bytes, where 20 let a tuple's entry be 24.
  int32_t rule_ = -1;
  std::array<uint8_t, 16> digest_{};
  bool digested() const;
};

struct MatchKeyHash {
  size_t operator()(const MatchKey& k) const { return k.hash(); }
};

}  // namespace pmesh::engine
