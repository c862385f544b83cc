#include "engine/fact_key.h"

#include <mutex>
#include <unordered_map>
#include <utility>

namespace pmesh::engine {

namespace {

// The pool: entries by their text. Interning and the last release take the
// lock; other copies and releases only count.
struct FactPool {
  std::mutex mu;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  struct Eq {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const { return a == b; }
  };
  // Keyed by a view of the entry's own text.
  std::unordered_map<std::string_view, void*, Hash, Eq> entries;
};

FactPool& fact_pool() {
  static FactPool* p = new FactPool;  // never destroyed: FactKeys in static objects may outlive main
  return *p;
}

}  // namespace

FactKey::FactKey(std::string_view key) {
  FactPool& p = fact_pool();
  std::lock_guard<std::mutex> lock(p.mu);
  if (auto it = p.entries.find(key); it != p.entries.end()) {
    e_ = static_cast<Entry*>(it->second);
    e_->refs.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  e_ = new Entry{std::string(key), std::hash<std::string_view>()(key)};
  p.entries.emplace(std::string_view(e_->key), e_);
}

const std::string& FactKey::empty_text() {
  static const std::string kEmpty;
  return kEmpty;
}

void FactKey::release_last(Entry* e) {
  FactPool& p = fact_pool();
  std::lock_guard<std::mutex> lock(p.mu);
  if (e->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  p.entries.erase(std::string_view(e->key));
  delete e;
}

size_t FactKey::interned() {
  FactPool& p = fact_pool();
  std::lock_guard<std::mutex> lock(p.mu);
  return p.entries.size();
}

}  // namespace pmesh::engine
