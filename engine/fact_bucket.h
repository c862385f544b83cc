// The facts of one secondary-index bucket, in key order, by pointer to the
// key their entry has in the state (so that a reader gets the state's own
// interned key, and copying it retains rather than interns).
//
// Most buckets hold one fact or a few (the tuples of one account, the
// objects with one label value), some hold many (every tuple of a large
// organization's store). A few are a sorted vector of pointers; past
// kSmall the bucket becomes a tree, so that an insert into a large one stays
// logarithmic. A tree node per fact cost six times the memory of the
// pointer.
//
// Thread safety: none; the state's.
#pragma once

#include <algorithm>
#include <boost/container/small_vector.hpp>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/fact_key.h"

namespace pmesh::engine {

class FactBucket {
 public:
  // REQUIRES: `fact` stays where it is while the bucket holds it.
  void insert(const FactKey* fact) {
    // A fact after the last goes at the end without a search: a data
    // directory is read in key order, so every bucket fills in order then.
    bool after_last = empty() || ByKey()(last(), fact);
    if (tree_) {
      if (after_last) tree_->emplace_hint(tree_->end(), fact);
      else tree_->insert(fact);
      return;
    }
    auto it = after_last ? small_.end()
                         : std::lower_bound(small_.begin(), small_.end(), std::string_view(fact->str()), ByKey());
    if (it != small_.end() && **it == *fact) return;
    if (small_.size() < kSmall) {
      small_.insert(it, fact);
      return;
    }
    tree_ = std::make_unique<Tree>(small_.begin(), small_.end());
    tree_->insert(fact);
    small_.clear();
    small_.shrink_to_fit();
  }
  void erase(std::string_view fact) {
    if (tree_) {
      if (auto it = tree_->find(fact); it != tree_->end()) tree_->erase(it);
      return;
    }
    auto it = std::lower_bound(small_.begin(), small_.end(), fact, ByKey());
    if (it != small_.end() && (*it)->str() == fact) small_.erase(it);
  }
  bool empty() const { return tree_ ? tree_->empty() : small_.empty(); }
  // The first fact in key order. REQUIRES: !empty().
  const FactKey* first() const { return tree_ ? *tree_->begin() : small_.front(); }
  // The last fact in key order. REQUIRES: !empty().
  const FactKey* last() const { return tree_ ? *tree_->rbegin() : small_.back(); }
  // Calls fn with each fact in key order until it returns false.
  template <class F>
  void for_each(const F& fn) const {
    if (tree_) {
      for (const FactKey* f : *tree_)
        if (!fn(f)) return;
      return;
    }
    for (const FactKey* f : small_)
      if (!fn(f)) return;
  }
  // The same, from the first fact not before `from`.
  template <class F>
  void for_each_from(std::string_view from, const F& fn) const {
    if (tree_) {
      for (auto it = tree_->lower_bound(from); it != tree_->end(); ++it)
        if (!fn(*it)) return;
      return;
    }
    for (auto it = std::lower_bound(small_.begin(), small_.end(), from, ByKey()); it != small_.end(); ++it)
      if (!fn(*it)) return;
  }

 private:
  static constexpr size_t kSmall = 16;
  struct ByKey {
    using is_transparent = void;
    bool operator()(const FactKey* a, const FactKey* b) const { return a->str() < b->str(); }
    bool operator()(const FactKey* a, std::string_view b) const { return a->str() < b; }
    bool operator()(std::string_view a, const FactKey* b) const { return a < b->str(); }
  };
  using Tree = std::set<const FactKey*, ByKey>;
  // One fact kept inline: most buckets hold one, and a vector's
  // allocation of one pointer took a 32-byte chunk.
  boost::container::small_vector<const FactKey*, 1> small_;
  std::unique_ptr<Tree> tree_;
};

}  // namespace pmesh::engine
