#include "engine/fact_key.h"

#include <absl/container/flat_hash_map.h>

#include <array>
#include <mutex>
#include <utility>

namespace pmesh::engine {

namespace {

// The pool: entries by their text, in shards by hash, each under its own
// lock. Interning and the last release take their shard's lock; other
// copies and releases only count. Shards, because keys are interned on
// several threads at once when a data directory is read (each decoder
// thread interns the keys of the records it decodes, the loading thread
// those it puts): with one lock, a third of the interning time of a
// reopen was threads waiting for each other.
struct FactPool {
  // A key's text with its hash, computed once, outside any lock.
  struct Probe {
    std::string_view text;
    size_t hash;
  };
  struct Hash {
    size_t operator()(const Probe& p) const noexcept { return p.hash; }
  };
  struct Eq {
    bool operator()(const Probe& a, const Probe& b) const noexcept { return a.hash == b.hash && a.text == b.text; }
  };
  struct Shard {
    std::mutex mu;
    // Keyed by a view of the entry's own text. Abseil's open-addressed
    // table rather than std::unordered_map: a lookup in a pool of millions
    // of keys is a cache miss or two (a group of control bytes, then the
    // key) where a chained table's is three (bucket, node, next), and it
    // tests a hash before a key: reading a data directory of 1,000
    // organizations × 9 accounts took 12% less.
    absl::flat_hash_map<Probe, void*, Hash, Eq> entries;
  };
  static constexpr size_t kShards = 64;
  // The hash's top six bits: a shard's table places a key by its low bits.
  static_assert(kShards == 64);
  static Shard& shard(size_t hash) { return pool().shards[hash >> 58]; }
  static FactPool& pool() {
    static FactPool* p = new FactPool;  // never destroyed: FactKeys in static objects may outlive main
    return *p;
  }
  std::array<Shard, kShards> shards;
};

}  // namespace

FactKey::FactKey(std::string_view key) {
  const FactPool::Probe probe{key, std::hash<std::string_view>()(key)};
  FactPool::Shard& s = FactPool::shard(probe.hash);
  std::lock_guard<std::mutex> lock(s.mu);
  if (auto it = s.entries.find(probe); it != s.entries.end()) {
    e_ = static_cast<Entry*>(it->second);
    e_->refs.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  e_ = new Entry{std::string(key), probe.hash};
  s.entries.emplace(FactPool::Probe{e_->key, probe.hash}, e_);
}

const std::string& FactKey::empty_text() {
  static const std::string kEmpty;
  return kEmpty;
}

void FactKey::release_last(Entry* e) {
  FactPool::Shard& s = FactPool::shard(e->hash);
  std::lock_guard<std::mutex> lock(s.mu);
  if (e->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  s.entries.erase(FactPool::Probe{e->key, e->hash});
  delete e;
}

size_t FactKey::interned() {
  size_t n = 0;
  for (FactPool::Shard& s : FactPool::pool().shards) {
    std::lock_guard<std::mutex> lock(s.mu);
    n += s.entries.size();
  }
  return n;
}

}  // namespace pmesh::engine
