#include "engine/fact_key.h"

#include <absl/container/flat_hash_set.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
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
  // A hash alone: finds the entry a key would be, if any, without reading
  // an entry (FactKey::intern fetches that entry ahead).
  struct HashOnly {
    size_t hash;
  };
  // A slot is the entry's pointer with four bits of the key's hash in its
  // low bits (entries are aligned to 16: Entry::make), so that a lookup
  // tells most entries that are not the key's apart without reading them:
  // in a pool of millions an entry is a cache miss of its own, after the
  // slot's, and FactKey::intern fetches the entries its keys would be
  // before it reads them. (Bits the table does not place keys by: it uses
  // the low seven, and the pool's shards the top six.) The whole hash
  // beside the pointer did the same with a slot of 16 bytes: one by one
  // interning was a fifth slower at 5 million keys, the table twice the
  // memory.
  struct Slot {
    static constexpr uintptr_t kTagBits = 15;
    static uintptr_t tag(size_t hash) { return (hash >> 52) & kTagBits; }
    explicit Slot(FactKey::Entry* e) : bits(reinterpret_cast<uintptr_t>(e) | tag(e->hash)) {}
    FactKey::Entry* entry() const { return reinterpret_cast<FactKey::Entry*>(bits & ~kTagBits); }
    bool may_be(size_t hash) const { return (bits & kTagBits) == tag(hash); }
    uintptr_t bits;
  };
  static_assert(FactKey::Entry::kAlignment > Slot::kTagBits);
  struct Hash {
    using is_transparent = void;
    size_t operator()(const Probe& p) const noexcept { return p.hash; }
    size_t operator()(const HashOnly& p) const noexcept { return p.hash; }
    size_t operator()(const Slot& s) const noexcept { return s.entry()->hash; }
  };
  struct Eq {
    using is_transparent = void;
    bool operator()(const Slot& a, const Slot& b) const noexcept { return a.bits == b.bits; }
    bool operator()(const Slot& a, const Probe& b) const noexcept {
      return a.may_be(b.hash) && a.entry()->hash == b.hash && a.entry()->text() == b.text;
    }
    bool operator()(const Probe& a, const Slot& b) const noexcept { return (*this)(b, a); }
    // The entry a key of that hash may be (a prefetch's guess: it reads no entry).
    bool operator()(const Slot& a, const HashOnly& b) const noexcept { return a.may_be(b.hash); }
    bool operator()(const HashOnly& a, const Slot& b) const noexcept { return (*this)(b, a); }
  };
  struct Shard {
    std::mutex mu;
    // Abseil's open-addressed table rather than std::unordered_set: a
    // lookup in a pool of millions of keys is a cache miss or two (a group
    // of control bytes, then the entry) where a chained table's is three
    // (bucket, node, next), and it tests a hash's bits before a key:
    // reading a data directory of 1,000 organizations × 9 accounts took
    // 12% less.
    absl::flat_hash_set<Slot, Hash, Eq> entries;
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

FactKey::FactKey(std::string_view key, size_t hash) {
  const FactPool::Probe probe{key, hash};
  FactPool::Shard& s = FactPool::shard(probe.hash);
  std::lock_guard<std::mutex> lock(s.mu);
  if (auto it = s.entries.find(probe); it != s.entries.end()) {
    e_ = it->entry();
    e_->refs.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  e_ = Entry::make(key, probe.hash);
  s.entries.insert(FactPool::Slot(e_));
}

void FactKey::intern(std::span<const std::string_view> keys, std::span<FactKey> out) {
  constexpr size_t kAtOnce = 16;
  std::array<size_t, kAtOnce> hashes;
  for (size_t start = 0; start < keys.size(); start += kAtOnce) {
    const size_t n = std::min(kAtOnce, keys.size() - start);
    // Three passes, each fetching what the next reads (under the shards'
    // locks: a table may be growing on another thread): the keys' places
    // in their tables; then, from the places' hashes, the entries the keys
    // would be; then each key interned where the one-by-one constructor
    // would look, now in the cache.
    for (size_t i = 0; i < n; ++i) {
      hashes[i] = keyed_text_hash(keys[start + i]);
      FactPool::Shard& s = FactPool::shard(hashes[i]);
      std::lock_guard<std::mutex> lock(s.mu);
      s.entries.prefetch(FactPool::HashOnly{hashes[i]});
    }
    for (size_t i = 0; i < n; ++i) {
      FactPool::Shard& s = FactPool::shard(hashes[i]);
      std::lock_guard<std::mutex> lock(s.mu);
      if (auto it = s.entries.find(FactPool::HashOnly{hashes[i]}); it != s.entries.end())
        __builtin_prefetch(it->entry());
    }
    for (size_t i = 0; i < n; ++i) out[start + i] = FactKey(keys[start + i], hashes[i]);
  }
}

FactKey::FactKey(std::string_view key) : FactKey(key, keyed_text_hash(key)) {}

FactKey::Entry* FactKey::Entry::make(std::string_view text, size_t hash) {
  if (text.size() >= (size_t{1} << 32)) throw std::length_error("a fact key of 4 GiB or more");
  void* raw = ::operator new(sizeof(Entry) + text.size(), std::align_val_t{kAlignment});
  Entry* e = new (raw) Entry;
  e->hash = hash;
  e->size = static_cast<uint32_t>(text.size());
  if (!text.empty()) std::memcpy(reinterpret_cast<char*>(e + 1), text.data(), text.size());
  return e;
}

void FactKey::Entry::destroy(Entry* e) {
  const size_t bytes = sizeof(Entry) + e->size;  // sized: the allocator need not look the block up
  e->~Entry();
  ::operator delete(e, bytes, std::align_val_t{kAlignment});
}

void FactKey::release_last(Entry* e) {
  FactPool::Shard& s = FactPool::shard(e->hash);
  std::lock_guard<std::mutex> lock(s.mu);
  if (e->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  s.entries.erase(FactPool::Slot(e));
  Entry::destroy(e);
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
