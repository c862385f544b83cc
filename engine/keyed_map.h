// An ordered map of fact keys whose point lookups are hashed.
//
// The state's objects are keyed by long strings that share long prefixes
// (`o\x1fAccount\x1froot:orgs:acme\x1f...`): ranges need the order (the
// objects of one kind in one cluster), but most reads are of one key, and
// a tree walk compares the shared prefix at every level. KeyedMap keeps a
// hash index of the tree's nodes beside it, so a point lookup hashes the
// key once. (Tuples, many times more, are in a TupleTable.)
//
// Keys are interned (FactKey): a fact that a match reads or a contribution
// names is held by the state as the same one copy of its text, not another,
// and a lookup by a FactKey reuses the hash computed when it was interned.
// Iterators and references stay valid as in std::map; a key's text stays
// where it is while its entry does.
//
// Thread safety: none; as std::map.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "engine/fact_key.h"

namespace pmesh::engine {

// Orders fact keys by their text, and compares them with text.
struct FactKeyOrder {
  using is_transparent = void;
  bool operator()(const FactKey& a, const FactKey& b) const { return a < b; }
  bool operator()(const FactKey& a, std::string_view b) const { return std::string_view(a.str()) < b; }
  bool operator()(std::string_view a, const FactKey& b) const { return a < std::string_view(b.str()); }
};

template <class V>
class KeyedMap {
 public:
  using Map = std::map<FactKey, V, FactKeyOrder>;
  using iterator = typename Map::iterator;
  using const_iterator = typename Map::const_iterator;

  // The entries in key order.
  const Map& ordered() const { return map_; }

  // `key`: a std::string_view or a FactKey.
  template <class K>
  iterator find(const K& key) {
    auto it = at_.find(key);
    return it == at_.end() ? map_.end() : it->second;
  }
  template <class K>
  const_iterator find(const K& key) const {
    auto it = at_.find(key);
    return it == at_.end() ? map_.end() : const_iterator(it->second);
  }
  std::pair<iterator, bool> emplace(const FactKey& key, V value) {
    // A key after the last goes at the end without a walk down the tree
    // (a data directory is read in key order).
    if (map_.empty() || map_.rbegin()->first < key) {
      auto it = map_.emplace_hint(map_.end(), key, std::move(value));
      at_.emplace(it->first, it);
      return {it, true};
    }
    auto [it, added] = map_.try_emplace(key, std::move(value));
    if (added) at_.emplace(it->first, it);
    return {it, added};
  }
  std::pair<iterator, bool> emplace(std::string_view key, V value) {
    if (auto it = find(key); it != map_.end()) return {it, false};
    return emplace(FactKey(key), std::move(value));
  }
  void erase(iterator it) {
    at_.erase(it->first);
    map_.erase(it);
  }
  iterator lower_bound(std::string_view key) { return map_.lower_bound(key); }
  const_iterator lower_bound(std::string_view key) const { return map_.lower_bound(key); }
  iterator begin() { return map_.begin(); }
  iterator end() { return map_.end(); }
  const_iterator begin() const { return map_.begin(); }
  const_iterator end() const { return map_.end(); }
  size_t size() const { return map_.size(); }
  // Room for `n` entries in the hash index (the tree has no capacity).
  void reserve(size_t n) { at_.reserve(n); }

 private:
  Map map_;
  // By the interned key (a pointer, and the hash it keeps), looked up by
  // it or by a text. Open-addressed: a lookup in an index of hundreds of
  // thousands is a group of control bytes and a slot, where a chained
  // table's was a bucket, a node and the key's entry for its hash; and a
  // slot (16 bytes) takes less than a node (32, and the bucket's word).
  absl::flat_hash_map<FactKey, iterator, FactKeyTextHash, FactKeyTextEq> at_;
};

}  // namespace pmesh::engine
