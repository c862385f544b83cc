#include "engine/fact_key.h"

#include <mutex>
#include <unordered_map>
#include <utility>

namespace pmesh::engine {

struct FactKey::Entry {
  std::string key;
  size_t hash = 0;
  std::atomic<uint32_t> refs{1};
};

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

const std::string& FactKey::str() const {
  static const std::string kEmpty;
  return e_ ? e_->key : kEmpty;
}

size_t FactKey::text_hash() const { return e_ ? e_->hash : std::hash<std::string_view>()(""); }

void FactKey::retain() const {
  if (e_) e_->refs.fetch_add(1, std::memory_order_relaxed);
}

void FactKey::release() {
  if (!e_) return;
  Entry* e = std::exchange(e_, nullptr);
  // Not the last: only count. The last one takes the lock, so that an
  // intern finding the entry and this release cannot cross.
  uint32_t r = e->refs.load(std::memory_order_relaxed);
  while (r > 1)
    if (e->refs.compare_exchange_weak(r, r - 1, std::memory_order_acq_rel)) return;
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
