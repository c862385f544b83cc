// MatchReaders: for each fact, the matches that read it (their keys, by
// pointer into the state's match tables). A change of a fact wakes these
// matches; a rederivation walks them.
//
// Most facts are read by one match or a few. Some are read by a match of
// every account: the WorkspaceType every account workspace has and its
// type_extends tuple. A vector scanned on every add and
// remove made an account create at 100,000 accounts scan lists of
// 100,000 keys, and a cold load or a reopen quadratic. Here an add
// appends, and a list past kIndexed (256) keys keeps each key's place beside it,
// so that a remove swaps the last key into the removed one's place
// without a scan. A list's order is therefore no order: every reader
// collects what it finds into sets.
//
// Thread safety: none; the state's.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/node_hash_map.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include "engine/fact_key.h"
#include "engine/match_key.h"

namespace pmesh::engine {

// The keys of the matches that read one fact: the key itself while there
// is one (most facts have one reader), an array of their own past that.
// 8 bytes: with its fact key, a node of 16 where a vector made a node of 32
// and an allocation of its own.
class MatchKeyList {
 public:
  MatchKeyList() = default;
  MatchKeyList(const MatchKeyList&) = delete;
  MatchKeyList& operator=(const MatchKeyList&) = delete;
  MatchKeyList(MatchKeyList&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  ~MatchKeyList() {
    if (Many* m = many()) ::operator delete(m);
  }

  const MatchKey* const* begin() const { return many() ? many()->keys() : &p_; }
  const MatchKey* const* end() const { return begin() + size(); }
  size_t size() const { return many() ? many()->size : (p_ ? 1 : 0); }
  bool empty() const { return p_ == nullptr; }
  const MatchKey* operator[](size_t i) const { return begin()[i]; }
  const MatchKey* back() const { return begin()[size() - 1]; }
  // REQUIRES: i < size().
  void set(size_t i, const MatchKey* key) { mutable_keys()[i] = key; }
  // REQUIRES: `key` is not null.
  void push_back(const MatchKey* key);
  // REQUIRES: !empty().
  void pop_back();

 private:
  // Followed by `capacity` keys.
  struct Many {
    uint32_t size = 0;
    uint32_t capacity = 0;
    const MatchKey** keys() { return reinterpret_cast<const MatchKey**>(this + 1); }
    const MatchKey* const* keys() const { return reinterpret_cast<const MatchKey* const*>(this + 1); }
  };
  static_assert(sizeof(Many) % alignof(const MatchKey*) == 0);
  // A key is aligned to 4 (its low bit is 0): an array is told apart by
  // the low bit of its pointer.
  static_assert(alignof(MatchKey) >= 2);
  Many* many() const {
    const auto bits = reinterpret_cast<uintptr_t>(p_);
    return (bits & 1) ? reinterpret_cast<Many*>(bits & ~uintptr_t{1}) : nullptr;
  }
  const MatchKey** mutable_keys() { return many() ? many()->keys() : &p_; }
  // The one key, the array (tagged), or null for none.
  const MatchKey* p_ = nullptr;
};

class MatchReaders {
 public:
  using List = MatchKeyList;

  // REQUIRES: `key` is not on `fact`'s list, and stays where it is until
  // removed.
  void add(const FactKey& fact, const MatchKey* key);
  // Removes `key` from `fact`'s list (nothing if it is not on it).
  void remove(const FactKey& fact, const MatchKey* key);
  // The keys of the matches that read `fact`, in no order; nullptr when none.
  const List* find(std::string_view fact) const;
  const List* find(const FactKey& fact) const;
  // How many facts have readers; room for `n` of them.
  size_t size() const { return lists_.size(); }
  void reserve(size_t n) { lists_.reserve(n); }
  // Brings the place of `fact`'s list into the cache (State::prefetch).
  void prefetch(const FactKey& fact) const { lists_.prefetch(fact); }

 private:
  // A scan of a few hundred pointers in a row costs less than the places
  // of every list of an organization's tens of matches would in memory.
  static constexpr size_t kIndexed = 256;
  // A list with places has at least kIndexed / 4 keys (they go below it).
  static constexpr size_t kUnindexed = kIndexed / 4;
  using Places = absl::flat_hash_map<const MatchKey*, uint32_t>;
  // `keys`'s places, if it has them; a short list is not looked up.
  Places* places_of(const List& keys);
  // Node-based: a list's address is stable while it has keys, and names
  // its places.
  absl::node_hash_map<FactKey, List, FactKeyTextHash, FactKeyTextEq> lists_;
  absl::flat_hash_map<const List*, Places> places_;
};

}  // namespace pmesh::engine
