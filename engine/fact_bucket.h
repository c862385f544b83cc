// The facts of one secondary-index bucket, in key order, by pointer to the
// key their entry has in the state.
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
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace pmesh::engine {

class FactBucket {
 public:
  // REQUIRES: `fact` stays where it is while the bucket holds it.
  void insert(const std::string* fact) {
    if (tree_) {
      tree_->insert(fact);
      return;
    }
    auto it = std::lower_bound(small_.begin(), small_.end(), std::string_view(*fact), ByKey());
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
    if (it != small_.end() && **it == fact) small_.erase(it);
  }
  bool empty() const { return tree_ ? tree_->empty() : small_.empty(); }
  // Calls fn with each fact in key order until it returns false.
  template <class F>
  void for_each(const F& fn) const {
    if (tree_) {
      for (const std::string* f : *tree_)
        if (!fn(f)) return;
      return;
    }
    for (const std::string* f : small_)
      if (!fn(f)) return;
  }

 private:
  static constexpr size_t kSmall = 16;
  struct ByKey {
    using is_transparent = void;
    bool operator()(const std::string* a, const std::string* b) const { return *a < *b; }
    bool operator()(const std::string* a, std::string_view b) const { return *a < b; }
    bool operator()(std::string_view a, const std::string* b) const { return a < *b; }
  };
  using Tree = std::set<const std::string*, ByKey>;
  std::vector<const std::string*> small_;
  std::unique_ptr<Tree> tree_;
};

}  // namespace pmesh::engine
