// The keys of the matches that derive a tuple, in key order.
//
// Nearly every tuple has one derivation, and the state holds millions of
// tuples: a sorted vector cost an allocation of its own per tuple (32 bytes,
// as much as the entry beside it). Here one key is held inline and the
// vector is made only for a second; the set is no larger than the vector
// with a pointer beside it was, so a tuple's entry keeps its size class.
//
// Thread safety: a value type; the state's.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <memory>
#include <vector>

#include "engine/match_key.h"

namespace pmesh::engine {

class MatchKeySet {
 public:
  MatchKeySet() = default;
  MatchKeySet(const MatchKeySet& o) : one_(o.one_), many_(o.many_ ? std::make_unique<Keys>(*o.many_) : nullptr) {}
  MatchKeySet(MatchKeySet&& o) noexcept = default;
  MatchKeySet& operator=(const MatchKeySet& o) {
    if (this != &o) *this = MatchKeySet(o);
    return *this;
  }
  MatchKeySet& operator=(MatchKeySet&& o) noexcept = default;

  const MatchKey* begin() const { return many_ ? many_->data() : &one_; }
  const MatchKey* end() const { return many_ ? many_->data() + many_->size() : &one_ + (has_one() ? 1 : 0); }
  size_t size() const { return many_ ? many_->size() : (has_one() ? 1 : 0); }
  bool empty() const { return size() == 0; }
  size_t count(const MatchKey& k) const { return std::binary_search(begin(), end(), k) ? 1 : 0; }

  // Adds `k` if absent. REQUIRES: k.rule() >= 0 (a key made by MatchKey's
  // constructors; the default key stands for "none" here).
  void insert(const MatchKey& k) {
    assert(k.rule() >= 0);
    if (many_) {
      auto it = std::lower_bound(many_->begin(), many_->end(), k);
      if (it == many_->end() || *it != k) many_->insert(it, k);
    } else if (!has_one()) {
      one_ = k;
    } else if (one_ != k) {
      many_ = std::make_unique<Keys>(one_ < k ? Keys{one_, k} : Keys{k, one_});
      one_ = MatchKey();
    }
  }
  void erase(const MatchKey& k) {
    if (!many_) {
      if (one_ == k) one_ = MatchKey();
      return;
    }
    auto it = std::lower_bound(many_->begin(), many_->end(), k);
    if (it != many_->end() && *it == k) many_->erase(it);
    if (many_->size() == 1) {
      one_ = many_->front();
      many_.reset();
    }
  }

 private:
  using Keys = std::vector<MatchKey>;
  bool has_one() const { return one_.rule() >= 0; }
  MatchKey one_;                 // the one key, when there is one and no vector
  std::unique_ptr<Keys> many_;   // two or more, sorted
};

}  // namespace pmesh::engine
