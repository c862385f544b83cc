// The facts of one secondary-index bucket, in key order.
//
// Most buckets hold one fact (the tuples of one account, the objects with
// one label value), some a few, some many (every tuple of a large
// organization's store). So a bucket is one word: a pointer to the key
// the fact's entry has in the state when it holds one; else a sorted
// vector of keys; past kSmall a B-tree, so that an insert into a large
// bucket stays logarithmic. Buckets are the values of the state's hash
// tables, one per index value and per tuple group, and their size is
// paid in every slot, full or not: a vector with one pointer inline and a
// tree's pointer beside it took 40 bytes. A red-black tree's node per
// fact cost six times the memory of the pointer, and each of its levels
// was a cache miss before the key's own.
//
// The vector and the tree hold copies of the keys (a FactKey is a pointer
// to its interned text), not pointers to the state's: the same eight
// bytes, and a comparison reads the key's text straight from the element.
// Through a pointer to the state's key it read the key first, in the
// tuple table's node, then the text: two cache misses per comparison in a
// large bucket, where inserts took 8% of the engine's thread under
// account creates in one organization (docs/performance.md, stop 81).
// A copy retains its entry, which costs a count and no memory.
//
// Thread safety: none; the state's.
#pragma once

#include <absl/container/btree_set.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/fact_key.h"

namespace pmesh::engine {

class FactBucket {
 public:
  FactBucket() = default;
  FactBucket(FactBucket&& o) noexcept : bits_(std::exchange(o.bits_, 0)) {}
  FactBucket& operator=(FactBucket&& o) noexcept {
    if (this != &o) {
      clear();
      bits_ = std::exchange(o.bits_, 0);
    }
    return *this;
  }
  FactBucket(const FactBucket&) = delete;
  FactBucket& operator=(const FactBucket&) = delete;
  ~FactBucket() { clear(); }

  // REQUIRES: `fact` is the key of an entry in the state, which stays
  // where it is while the bucket holds it (a bucket of one points at it).
  void insert(const FactKey* fact) {
    if (empty()) {
      bits_ = reinterpret_cast<uintptr_t>(fact);
      return;
    }
    // A fact after the last goes at the end without a search: a data
    // directory is read in key order, so every bucket fills in order then.
    bool after_last = ByKey()(*last(), *fact);
    if (Tree* t = tree()) {
      if (after_last) t->insert(t->end(), *fact);
      else t->insert(*fact);
      return;
    }
    if (const FactKey* one = single()) {
      if (*one == *fact) return;  // interned: the same text is the same key
      auto* v = new Small{after_last ? *one : *fact, after_last ? *fact : *one};
      bits_ = reinterpret_cast<uintptr_t>(v) | kSmallTag;
      return;
    }
    Small& v = *small();
    auto it = after_last ? v.end() : std::lower_bound(v.begin(), v.end(), *fact, ByKey());
    if (it != v.end() && *it == *fact) return;
    if (v.size() < kSmall) {
      v.insert(it, *fact);
      return;
    }
    auto* t = new Tree(std::make_move_iterator(v.begin()), std::make_move_iterator(v.end()));
    t->insert(*fact);
    delete &v;
    bits_ = reinterpret_cast<uintptr_t>(t) | kTreeTag;
  }
  // `home(const FactKey&)` gives the state's own key of a fact the bucket
  // holds (a const FactKey*), for the one left when a vector empties to one.
  template <class Home>
  void erase(const FactKey& fact, const Home& home) {
    if (Tree* t = tree()) {
      if (auto it = t->find(fact); it != t->end()) t->erase(it);
      if (t->empty()) clear();
      return;
    }
    if (const FactKey* one = single()) {
      if (*one == fact) bits_ = 0;
      return;
    }
    if (Small* v = small()) {
      auto it = std::lower_bound(v->begin(), v->end(), fact, ByKey());
      if (it != v->end() && *it == fact) v->erase(it);
      if (v->size() == 1) {
        const FactKey* left = home(v->front());
        delete v;
        bits_ = reinterpret_cast<uintptr_t>(left);
      }
    }
  }
  bool empty() const { return bits_ == 0; }
  // The first fact in key order. REQUIRES: !empty().
  const FactKey* first() const {
    if (const Tree* t = tree()) return &*t->begin();
    if (const Small* v = small()) return &v->front();
    return single();
  }
  // The last fact in key order. REQUIRES: !empty().
  const FactKey* last() const {
    if (const Tree* t = tree()) return &*t->rbegin();
    if (const Small* v = small()) return &v->back();
    return single();
  }
  // Calls fn(const FactKey*) with each fact in key order until it returns
  // false. The pointer is the state's key or the bucket's copy of it:
  // valid until the bucket changes.
  template <class F>
  void for_each(const F& fn) const {
    if (const Tree* t = tree()) {
      for (const FactKey& f : *t)
        if (!fn(&f)) return;
    } else if (const Small* v = small()) {
      for (const FactKey& f : *v)
        if (!fn(&f)) return;
    } else if (const FactKey* one = single()) {
      fn(one);
    }
  }
  // The same, from the first fact not before `from`.
  template <class F>
  void for_each_from(std::string_view from, const F& fn) const {
    if (const Tree* t = tree()) {
      for (auto it = t->lower_bound(from); it != t->end(); ++it)
        if (!fn(&*it)) return;
    } else if (const Small* v = small()) {
      for (auto it = std::lower_bound(v->begin(), v->end(), from, ByKey()); it != v->end(); ++it)
        if (!fn(&*it)) return;
    } else if (const FactKey* one = single(); one && !ByKey()(*one, from)) {
      fn(one);
    }
  }

 private:
  static constexpr size_t kSmall = 16;
  struct ByKey {
    using is_transparent = void;
    bool operator()(const FactKey& a, const FactKey& b) const { return a.str() < b.str(); }
    bool operator()(const FactKey& a, std::string_view b) const { return a.str() < b; }
    bool operator()(std::string_view a, const FactKey& b) const { return a < b.str(); }
  };
  using Small = std::vector<FactKey>;  // 2 to kSmall facts, sorted
  using Tree = absl::btree_set<FactKey, ByKey>;
  // The low bits of a pointer (FactKeys, vectors and trees are aligned to
  // eight) say which it is; no bits is one fact.
  static constexpr uintptr_t kSmallTag = 1, kTreeTag = 2, kTags = 3;
  static_assert(alignof(FactKey) > kTags && alignof(Small) > kTags && alignof(Tree) > kTags);

  const FactKey* single() const {
    return (bits_ & kTags) == 0 ? reinterpret_cast<const FactKey*>(bits_) : nullptr;
  }
  Small* small() const { return (bits_ & kTags) == kSmallTag ? reinterpret_cast<Small*>(bits_ & ~kTags) : nullptr; }
  Tree* tree() const { return (bits_ & kTags) == kTreeTag ? reinterpret_cast<Tree*>(bits_ & ~kTags) : nullptr; }
  void clear() {
    if (Tree* t = tree()) delete t;
    else if (Small* v = small()) delete v;
    bits_ = 0;
  }

  uintptr_t bits_ = 0;
};

}  // namespace pmesh::engine
