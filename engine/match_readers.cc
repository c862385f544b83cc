#include "engine/match_readers.h"

#include <algorithm>
#include <new>
#include <stdexcept>

namespace pmesh::engine {

void MatchKeyList::push_back(const MatchKey* key) {
  if (!p_) {
    p_ = key;
    return;
  }
  Many* m = many();
  if (!m || m->size == m->capacity) {
    const size_t size = m ? m->size : 1;
    // 3, 7, 15, ... keys: with the header, 32, 64, 128 bytes (allocators' size classes).
    const size_t capacity = size * 2 + 1;
    if (capacity > UINT32_MAX) throw std::length_error("a fact read by 2^32 matches");
    auto* grown = new (::operator new(sizeof(Many) + capacity * sizeof(const MatchKey*)))
        Many{static_cast<uint32_t>(size), static_cast<uint32_t>(capacity)};
    std::copy(begin(), end(), grown->keys());
    if (m) ::operator delete(m);
    m = grown;
    p_ = reinterpret_cast<const MatchKey*>(reinterpret_cast<uintptr_t>(m) | 1);
  }
  m->keys()[m->size++] = key;
}

void MatchKeyList::pop_back() {
  Many* m = many();
  if (!m) {
    p_ = nullptr;
    return;
  }
  if (--m->size > 1) return;
  // Down to one: the key inline again, so that a fact read by one match
  // costs the same however many read it before.
  const MatchKey* one = m->keys()[0];
  ::operator delete(m);
  p_ = one;
}

MatchReaders::Places* MatchReaders::places_of(const List& keys) {
  if (keys.size() < kUnindexed) return nullptr;
  auto p = places_.find(&keys);
  return p == places_.end() ? nullptr : &p->second;
}

void MatchReaders::add(const FactKey& fact, const MatchKey* key) {
  List& keys = lists_[fact];
  keys.push_back(key);
  if (Places* places = places_of(keys)) {
    places->emplace(key, static_cast<uint32_t>(keys.size() - 1));
  } else if (keys.size() > kIndexed) {
    Places& places = places_[&keys];
    places.reserve(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) places.emplace(keys[i], static_cast<uint32_t>(i));
  }
}

void MatchReaders::remove(const FactKey& fact, const MatchKey* key) {
  auto u = lists_.find(fact);
  if (u == lists_.end()) return;
  List& keys = u->second;
  Places* places = places_of(keys);
  size_t i;
  if (places) {
    auto at = places->find(key);
    if (at == places->end()) return;
    i = at->second;
    places->erase(at);
  } else {
    auto at = std::find(keys.begin(), keys.end(), key);
    if (at == keys.end()) return;
    i = static_cast<size_t>(at - keys.begin());
  }
  if (i + 1 != keys.size()) {
    keys.set(i, keys.back());
    if (places) (*places)[keys[i]] = static_cast<uint32_t>(i);
  }
  keys.pop_back();
  // Well below the threshold, a scan is cheaper than the places again
  // (a quarter: a list that hovers around it is not re-indexed each time).
  if (places && keys.size() < kUnindexed) places_.erase(&keys);
  if (keys.empty()) lists_.erase(u);
}

const MatchReaders::List* MatchReaders::find(std::string_view fact) const {
  auto it = lists_.find(fact);
  return it == lists_.end() ? nullptr : &it->second;
}

const MatchReaders::List* MatchReaders::find(const FactKey& fact) const {
  auto it = lists_.find(fact);
  return it == lists_.end() ? nullptr : &it->second;
}

}  // namespace pmesh::engine
