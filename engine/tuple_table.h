// TupleTable: the state's tuples, hashed by their interned fact keys, and
// each relation's tuples grouped by first argument for range reads.
//
// Most reads and every change are of one tuple; range reads are of one
// relation, or of the tuples whose first arguments are given (a store's
// tuples, a workspace's bindings). An ordered tree of every tuple served
// both, and each insert compared long keys that share long prefixes at
// every level of a tree of millions: the largest single cost of a change
// at scale. Here a point read or change hashes the key once, and the
// order a range read needs is kept only within one (relation, first
// argument) group, a FactBucket, which is small for most.
//
// A range read visits keys in the text order of the keys: what an ordered
// map of every tuple gave (the readers page through it).
//
// A relation's groups are found by the keyed hash of their first argument
// alone (`GroupHash`; tests pass one that collides): a slot of 16 bytes,
// where one that kept the argument's text beside the bucket took 32, in
// a table of some eight groups per account. Two arguments that share a
// hash share a bucket, in key order all the same: a read of one takes the
// keys that start with its prefix, and they are contiguous there.
//
// Pointers and references to entries stay valid until the entry is
// erased (iterators do not: a rehash moves them). Hence a node map: a
// group of one tuple points at its key. Against std::unordered_map, a
// node is no longer chained to the next nor keeps its hash (the interned
// key has it), and a lookup probes a flat array of one byte per slot.
//
// Thread safety: none; as absl::node_hash_map.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/node_hash_map.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/fact_bucket.h"
#include "engine/fact_key.h"
#include "stdlib/keyed_hash.h"

namespace pmesh::engine {

template <class V, class GroupHash = KeyedTextHash>
class TupleTable {
 public:
  using Map = absl::node_hash_map<FactKey, V, FactKeyTextHash, FactKeyTextEq>;
  using iterator = typename Map::iterator;
  using const_iterator = typename Map::const_iterator;
  using value_type = typename Map::value_type;

  // `key`: a std::string_view, a std::string or a FactKey.
  template <class K>
  iterator find(const K& key) {
    return map_.find(key);
  }
  template <class K>
  const_iterator find(const K& key) const {
    return map_.find(key);
  }
  std::pair<iterator, bool> emplace(const FactKey& key, V value) {
    auto [it, added] = map_.try_emplace(key, std::move(value));
    if (added) group(it->first).insert(&it->first);
    return {it, added};
  }
  void erase(iterator it) {
    ungroup(it->first);
    map_.erase(it);
  }
  // In no order.
  iterator begin() { return map_.begin(); }
  iterator end() { return map_.end(); }
  const_iterator begin() const { return map_.begin(); }
  const_iterator end() const { return map_.end(); }
  size_t size() const { return map_.size(); }
  // Room for `n` tuples (their groups grow as they come).
  void reserve(size_t n) { map_.reserve(n); }
  // Brings the place of `key` into the cache (State::prefetch).
  void prefetch(const FactKey& key) const { map_.prefetch(key); }

  // Calls fn(const FactKey&) with each key that starts with `prefix`, in
  // key order, until it returns false. REQUIRES: `prefix` is "t\x1f" and a
  // relation, then "\x1f", then (optionally) first arguments each ended
  // by "\x1f" (what tuple_fact makes and a separator).
  template <class F>
  void scan(std::string_view prefix, const F& fn) const {
    auto [relation, name] = place(prefix);
    auto rel = relations_.find(relation);
    if (rel == relations_.end()) return;
    if (prefix.size() > 3 + relation.size()) {
      // First arguments: one group, from the prefix on.
      auto g = rel->second.find(GroupHash()(name));
      if (g != rel->second.end())
        g->second.for_each_from(prefix, [&](const FactKey* k) { return k->str().starts_with(prefix) && fn(*k); });
      return;
    }
    // The whole relation (but the keys with no argument, which the prefix
    // does not start): its groups in the order of their keys. Each group's
    // keys are contiguous in that order when the relation's tuples have one
    // number of arguments, as declared relations do, and no two first
    // arguments share a bucket; otherwise (`r(a)` sorts between `r(a, x)`
    // and `r(a\x01, y)`) every key is sorted.
    std::vector<std::pair<std::string_view, const FactBucket*>> groups;
    groups.reserve(rel->second.size());
    for (const auto& [hash, bucket] : rel->second) groups.emplace_back(bucket.first()->str(), &bucket);
    std::sort(groups.begin(), groups.end());
    bool contiguous = true;
    for (size_t i = 1; i < groups.size() && contiguous; ++i)
      contiguous = groups[i - 1].second->last()->str() < groups[i].first;
    auto in = [&](const FactKey* k) { return k->str().starts_with(prefix); };
    if (!contiguous) {
      std::vector<const FactKey*> keys;
      for (const auto& [first_key, bucket] : groups)
        bucket->for_each([&](const FactKey* k) { return (in(k) ? keys.push_back(k) : void()), true; });
      std::sort(keys.begin(), keys.end(), [](const FactKey* a, const FactKey* b) { return a->str() < b->str(); });
      for (const FactKey* k : keys)
        if (!fn(*k)) return;
      return;
    }
    for (const auto& [first_key, bucket] : groups) {
      bool go = true;
      bucket->for_each([&](const FactKey* k) { return go = !in(k) || fn(*k); });
      if (!go) return;
    }
  }

  // Every entry, in key order (a sort: for dumps, checks and tests).
  std::vector<const value_type*> in_order() const {
    std::vector<const value_type*> out;
    out.reserve(map_.size());
    for (const auto& e : map_) out.push_back(&e);
    std::sort(out.begin(), out.end(), [](const value_type* a, const value_type* b) { return a->first < b->first; });
    return out;
  }

 private:
  // A key's relation and the name of its group: its first argument, or
  // kNoArgs (which no argument can be) when it has none.
  static std::pair<std::string_view, std::string_view> place(std::string_view key) {
    key.remove_prefix(std::min<size_t>(2, key.size()));  // "t\x1f"
    size_t r = key.find('\x1f');
    if (r == std::string_view::npos) return {key, kNoArgs};
    std::string_view rest = key.substr(r + 1);
    return {key.substr(0, r), rest.substr(0, rest.find('\x1f'))};
  }
  FactBucket& group(const FactKey& key) {
    auto [relation, name] = place(key.str());
    auto rel = relations_.find(relation);
    if (rel == relations_.end()) rel = relations_.emplace(std::string(relation), Groups()).first;
    return rel->second[GroupHash()(name)];
  }
  void ungroup(const FactKey& key) {
    auto [relation, name] = place(key.str());
    auto rel = relations_.find(relation);
    if (rel == relations_.end()) return;
    auto g = rel->second.find(GroupHash()(name));
    if (g == rel->second.end()) return;
    g->second.erase(key, [&](const FactKey& k) { return &map_.find(k)->first; });
    if (g->second.empty()) rel->second.erase(g);
  }

  static constexpr std::string_view kNoArgs = "\x1f";
  // Relations' names are the program's, not tenants': an unkeyed hash.
  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  // Flat: nothing holds a group across a change of the table.
  using Groups = absl::flat_hash_map<uint64_t, FactBucket>;

  Map map_;
  // Relation -> first argument -> the keys (in map_) of its tuples.
  std::unordered_map<std::string, Groups, TextHash, std::equal_to<>> relations_;
};

}  // namespace pmesh::engine
