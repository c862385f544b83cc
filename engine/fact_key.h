// A fact's key, interned: every match and contribution that names a fact
// holds the same one copy of its key, and a copy of a FactKey copies a
// pointer. Two FactKeys are equal when they point at the same entry; they
// order by their text, so that whatever is sorted by facts comes out in the
// same order on every run. The entry goes when its last FactKey does.
//
// Thread safety: FactKeys may be made, copied and dropped on any thread
// (the pool is locked; counts are atomic); a FactKey's text never changes.
#pragma once

#include <atomic>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "stdlib/keyed_hash.h"

namespace pmesh::engine {

class FactKey {
 public:
  FactKey() = default;
  explicit FactKey(std::string_view key);
  // Interns each of `keys` into the same place of `out` (REQUIRES:
  // out.size() == keys.size()). The same keys as one by one; a decoder of
  // stored records interns a batch of records' keys so, since each key's
  // lookup in a pool of millions is two cache misses (its place in the
  // table, then its entry), and fetched for all keys first they wait for
  // memory together.
  static void intern(std::span<const std::string_view> keys, std::span<FactKey> out);
  FactKey(const FactKey& o) : e_(o.e_) { retain(); }
  FactKey(FactKey&& o) noexcept : e_(o.e_) { o.e_ = nullptr; }
  FactKey& operator=(const FactKey& o) {
    if (e_ != o.e_) {
      FactKey copy(o);
      std::swap(e_, copy.e_);
    }
    return *this;
  }
  FactKey& operator=(FactKey&& o) noexcept {
    std::swap(e_, o.e_);
    return *this;
  }
  ~FactKey() { release(); }

  // The key's text ("" for a FactKey made empty), valid while this key
  // (or another copy of it) is. Most code reads facts as text, hence the
  // conversion.
  std::string_view str() const { return e_ ? e_->text() : std::string_view(); }
  operator std::string_view() const { return str(); }  // NOLINT: a key reads as its text
  bool empty() const { return e_ == nullptr; }

  bool operator==(const FactKey& o) const { return e_ == o.e_; }
  std::strong_ordering operator<=>(const FactKey& o) const {
    if (e_ == o.e_) return std::strong_ordering::equal;
    int c = str().compare(o.str());
    return c < 0 ? std::strong_ordering::less : std::strong_ordering::greater;
  }
  // The interned entry's address: the same for equal keys while one of
  // them lives. An order and a hash for a table of one process, read
  // without touching the entry (a cache miss in a table of millions); not
  // the text's order, so nothing written out or shown may follow it.
  const void* identity() const { return e_; }
  // The keyed hash of the text (stdlib/keyed_hash.h: tenants choose the
  // text), computed once when the key was interned.
  size_t text_hash() const { return e_ ? e_->hash : keyed_text_hash(""); }
  // Brings the key's entry (its hash and text) into the cache: a bulk load
  // reads keys that other threads interned.
  void prefetch() const {
    if (e_) __builtin_prefetch(e_);
  }

  // How many distinct keys are interned (for tests and the census).
  static size_t interned();

  // What a FactKey points at: one interned key, in the pool's table
  // (fact_key.cc), which finds entries by their text and hash. The text
  // follows the entry in the same allocation (Entry::make), so that reading
  // a key's text is one pointer from the FactKey, not two, and a key costs
  // one allocation. Defined here since every reading of a fact's text goes
  // through str().
  struct Entry {
    size_t hash = 0;
    std::atomic<uint32_t> refs{1};
    uint32_t size = 0;
    std::string_view text() const { return {reinterpret_cast<const char*>(this + 1), size}; }
    // Throws std::length_error for a text of 4 GiB or more (requests are
    // far smaller).
    static Entry* make(std::string_view text, size_t hash);
    // Entries are aligned to it: the pool keeps bits of a hash in the low
    // bits of an entry's pointer (fact_key.cc).
    static constexpr size_t kAlignment = 16;
    static void destroy(Entry* e);
  };

 private:
  // Interns `key`, whose keyed_text_hash is `hash`.
  FactKey(std::string_view key, size_t hash);
  void retain() const {
    if (e_) e_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  // Not the last holder: only a count. The last one takes the pool's lock
  // (release_last), so that an intern finding the entry and this release
  // cannot cross.
  void release() {
    if (!e_) return;
    Entry* e = std::exchange(e_, nullptr);
    uint32_t r = e->refs.load(std::memory_order_relaxed);
    while (r > 1)
      if (e->refs.compare_exchange_weak(r, r - 1, std::memory_order_acq_rel)) return;
    release_last(e);
  }
  static void release_last(Entry* e);
  Entry* e_ = nullptr;
};

// Hashing and equality by text, for maps of FactKeys that are also looked
// up by a fact's text (heterogeneous lookup).
struct FactKeyTextHash {
  using is_transparent = void;
  size_t operator()(const FactKey& k) const { return k.text_hash(); }
  size_t operator()(std::string_view s) const { return keyed_text_hash(s); }
};
struct FactKeyTextEq {
  using is_transparent = void;
  bool operator()(const FactKey& a, const FactKey& b) const { return a == b; }
  bool operator()(const FactKey& a, std::string_view b) const { return a.str() == b; }
  bool operator()(std::string_view a, const FactKey& b) const { return a == b.str(); }
};

}  // namespace pmesh::engine
