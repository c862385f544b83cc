// The keys of the matches that derive a tuple, in key order.
//
// Nearly every tuple has one derivation, and the state holds millions of
// tuples: a sorted vector cost an allocation of its own per tuple (32 bytes,
// as much as the entry beside it). Here one key is held inline and the
// vector is made only for a second, its pointer held in the inline key's
// place: the set is 24 bytes, with a spare byte its holder may use (a
// tuple's entry is the set and its `base` flag in it; with the tuple's key,
// a node of the tuple table is 32 bytes).
//
// Thread safety: a value type; the state's.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "engine/match_key.h"

namespace pmesh::engine {

class MatchKeySet {
 public:
  MatchKeySet() = default;
  MatchKeySet(const MatchKeySet& o) : one_(o.one_), flag_(o.flag_) {
    if (const Keys* m = o.many()) one_ = MatchKey::holding(new Keys(*m));
  }
  MatchKeySet(MatchKeySet&& o) noexcept : one_(std::exchange(o.one_, MatchKey())), flag_(o.flag_) {}
  MatchKeySet& operator=(const MatchKeySet& o) {
    if (this != &o) *this = MatchKeySet(o);
    return *this;
  }
  MatchKeySet& operator=(MatchKeySet&& o) noexcept {
    std::swap(one_, o.one_);
    flag_ = o.flag_;
    return *this;
  }
  ~MatchKeySet() { delete many(); }

  const MatchKey* begin() const { return many() ? many()->data() : &one_; }
  const MatchKey* end() const { return many() ? many()->data() + many()->size() : &one_ + (has_one() ? 1 : 0); }
  size_t size() const { return many() ? many()->size() : (has_one() ? 1 : 0); }
  bool empty() const { return size() == 0; }
  size_t count(const MatchKey& k) const { return std::binary_search(begin(), end(), k) ? 1 : 0; }

  // Adds `k` if absent. REQUIRES: k.rule() >= 0 (a key made by MatchKey's
  // constructors; the default key stands for "none" here).
  void insert(const MatchKey& k) {
    assert(k.rule() >= 0);
    if (Keys* m = many()) {
      auto it = std::lower_bound(m->begin(), m->end(), k);
      if (it == m->end() || *it != k) m->insert(it, k);
    } else if (!has_one()) {
      one_ = k;
    } else if (one_ != k) {
      one_ = MatchKey::holding(new Keys(one_ < k ? Keys{one_, k} : Keys{k, one_}));
    }
  }
  void erase(const MatchKey& k) {
    Keys* m = many();
    if (!m) {
      if (one_ == k) one_ = MatchKey();
      return;
    }
    auto it = std::lower_bound(m->begin(), m->end(), k);
    if (it != m->end() && *it == k) m->erase(it);
    if (m->size() == 1) {
      one_ = m->front();
      delete m;
    }
  }

  // One bit that the set's holder keeps in the set's spare byte (a tuple's
  // `base`): copied and moved with the set, untouched by its keys.
  bool flag() const { return flag_; }
  void set_flag(bool on) { flag_ = on; }

 private:
  using Keys = std::vector<MatchKey>;
  bool has_one() const { return one_.rule() >= 0; }
  // Two or more keys, sorted, held by one_ in place of a digest: a
  // pointer beside the key made the set 32 bytes and a tuple's entry 40.
  Keys* many() const {
    return one_.rule() == MatchKey::kHolding ? static_cast<Keys*>(one_.held()) : nullptr;
  }
  MatchKey one_;       // the one key, none (rule -1), or the pointer to many
  bool flag_ = false;
};

}  // namespace pmesh::engine
