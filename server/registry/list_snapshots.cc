#include "server/registry/list_snapshots.h"

#include <algorithm>

#include "server/api/present.h"
#include "server/api/status.h"

namespace pmesh::server {

namespace {

// The first chunk whose last fact is not below `fact`.
size_t chunk_for(const std::vector<ListSnapshots::Chunk>& chunks, const std::string& fact) {
  auto it = std::lower_bound(chunks.begin(), chunks.end(), fact,
                             [](const ListSnapshots::Chunk& c, const std::string& f) { return c->back()->fact < f; });
  return static_cast<size_t>(it - chunks.begin());
}

}  // namespace

void ListSnapshots::View::scan(const std::string& prefix, const std::string& after,
                               const std::function<bool(const Item&)>& fn) const {
  const std::string& from = after.empty() || after < prefix ? prefix : after;
  for (size_t c = chunk_for(chunks_, from); c < chunks_.size(); ++c) {
    const auto& items = *chunks_[c];
    auto it = std::lower_bound(items.begin(), items.end(), from, [](const ItemPtr& i, const std::string& f) { return i->fact < f; });
    for (; it != items.end(); ++it) {
      const Item& i = **it;
      if (!after.empty() && i.fact <= after) continue;
      if (i.fact.compare(0, prefix.size(), prefix) != 0) return;
      if (!fn(i)) return;
    }
  }
}

const ListSnapshots::Item* ListSnapshots::View::find(const std::string& fact) const {
  size_t c = chunk_for(chunks_, fact);
  if (c == chunks_.size()) return nullptr;
  const auto& items = *chunks_[c];
  auto it = std::lower_bound(items.begin(), items.end(), fact, [](const ItemPtr& i, const std::string& f) { return i->fact < f; });
  return it != items.end() && (*it)->fact == fact ? it->get() : nullptr;
}

size_t ListSnapshots::View::size() const {
  size_t n = 0;
  for (const auto& c : chunks_) n += c->size();
  return n;
}

ListSnapshots::ItemPtr ListSnapshots::item(std::string_view fact, const nlohmann::json& effective) const {
  const engine::ObjectKeyView key = engine::view_object_fact(fact);
  return std::make_shared<const Item>(Item{std::string(fact), std::string(key.cluster), std::string(key.ns),
                                           encode_json(present(engine_, names_, effective))});
}

ListSnapshots::ViewPtr ListSnapshots::view(const std::string& kind_key, const std::string& cluster) {
  return listed(kind_key, cluster).view;
}

ListSnapshots::Kept& ListSnapshots::listed(const std::string& kind_key, const std::string& cluster) {
  auto& kept = views_[{kind_key, cluster}];
  kept.listed = ++lists_;
  if (kept.view) return kept;
  auto made = std::make_shared<View>();
  std::vector<ItemPtr> chunk;
  engine_.state().scan_objects(engine::object_prefix(kind_key, cluster == kAllClusters ? nullptr : &cluster, nullptr), [&](const engine::FactKey&, const engine::ObjectEntry& e) {
    if (e.effective.is_null()) return true;
    chunk.push_back(e.effective.visit([&](const nlohmann::json& j) { return item(e.fact.str(), j); }));
    made->bytes_ += chunk.back()->bytes.size();
    if (chunk.size() == kChunk) {
      made->chunks_.push_back(std::make_shared<const std::vector<ItemPtr>>(std::move(chunk)));
      chunk.clear();
    }
    return true;
  });
  if (!chunk.empty()) made->chunks_.push_back(std::make_shared<const std::vector<ItemPtr>>(std::move(chunk)));
  kept.view = std::move(made);
  kept.since = engine_.resource_version();
  keep_within_budget({kind_key, cluster});  // never the one listed now: `kept` stays
  return kept;
}

ListSnapshots::At ListSnapshots::view_at(const std::string& kind_key, const std::string& cluster, int64_t rv) {
  const Kept& current = listed(kind_key, cluster);
  if (current.since <= rv) return {current.view, current.since};
  expire_retained(std::chrono::steady_clock::now());
  for (const Retained& r : retained_)
    if (r.since <= rv && rv <= r.rv && r.kind_key == kind_key && r.cluster == cluster) return {r.view, r.since};
  return {};
}

void ListSnapshots::retain(const std::string& kind_key, const std::string& cluster, int64_t rv, At at) {
  auto now = std::chrono::steady_clock::now();
  expire_retained(now);
  // The same view retained again (the next page, or another list of the
  // same state): one entry, holding every version seen, refreshed.
  for (auto it = retained_.begin(); it != retained_.end(); ++it)
    if (it->view == at.view) {
      at.since = std::min(at.since, it->since);
      rv = std::max(rv, it->rv);
      retained_.erase(it);
      break;
    }
  retained_.push_back({kind_key, cluster, at.since, rv, std::move(at.view), now});
  size_t total = 0;
  for (const Retained& r : retained_) total += r.view->bytes();  // shared chunks counted in each: at most
  while (retained_.size() > 1 && (retained_.size() > kMaxRetained || total > budget_)) {
    total -= retained_.front().view->bytes();
    retained_.pop_front();
  }
}

void ListSnapshots::expire_retained(std::chrono::steady_clock::time_point now) {
  while (!retained_.empty() && now - retained_.front().at > kRetainFor) retained_.pop_front();
}

void ListSnapshots::keep_within_budget(const std::pair<std::string, std::string>& listed_now) {
  size_t total = 0;
  for (const auto& [k, kept] : views_) total += kept.view ? kept.view->bytes() : 0;
  while (total > budget_) {
    auto oldest = views_.end();
    for (auto it = views_.begin(); it != views_.end(); ++it)
      if (it->first != listed_now && (oldest == views_.end() || it->second.listed < oldest->second.listed)) oldest = it;
    if (oldest == views_.end()) return;  // only the one being listed: kept, until another is listed
    total -= oldest->second.view ? oldest->second.view->bytes() : 0;
    views_.erase(oldest);
  }
}

ListSnapshots::ViewPtr ListSnapshots::with(const View& v, const std::string& fact, ItemPtr item) {
  auto out = std::make_shared<View>(v);  // copies chunk pointers, not items
  auto& chunks = out->chunks_;
  size_t c = std::min(chunk_for(chunks, fact), chunks.empty() ? 0 : chunks.size() - 1);
  std::vector<ItemPtr> items = chunks.empty() ? std::vector<ItemPtr>{} : *chunks[c];
  auto it = std::lower_bound(items.begin(), items.end(), fact, [](const ItemPtr& i, const std::string& f) { return i->fact < f; });
  bool present = it != items.end() && (*it)->fact == fact;
  if (present) out->bytes_ -= (*it)->bytes.size();
  if (item) out->bytes_ += item->bytes.size();
  if (item && present) *it = std::move(item);
  else if (item) items.insert(it, std::move(item));
  else if (present) items.erase(it);
  else return out;
  if (chunks.empty()) {
    chunks.push_back(std::make_shared<const std::vector<ItemPtr>>(std::move(items)));
  } else if (items.empty()) {
    chunks.erase(chunks.begin() + static_cast<std::ptrdiff_t>(c));
  } else if (items.size() > 2 * kChunk) {
    std::vector<ItemPtr> second(items.begin() + static_cast<std::ptrdiff_t>(kChunk), items.end());
    items.resize(kChunk);
    chunks[c] = std::make_shared<const std::vector<ItemPtr>>(std::move(items));
    chunks.insert(chunks.begin() + static_cast<std::ptrdiff_t>(c) + 1, std::make_shared<const std::vector<ItemPtr>>(std::move(second)));
  } else {
    chunks[c] = std::make_shared<const std::vector<ItemPtr>>(std::move(items));
  }
  return out;
}

void ListSnapshots::committed(const engine::Result& r) {
  for (const auto& c : r.objects) {
    // The object's workspace's collection and its kind's across all: one
    // item, shared.
    ItemPtr made;
    bool encoded = false;
    for (const std::string* cluster : {&c.key.cluster, &kAllClusters}) {
      auto it = views_.find({c.key.kind, *cluster});
      if (it == views_.end() || !it->second.view) continue;
      try {
        if (!encoded) made = c.after->is_null() ? nullptr : item(engine::object_fact(c.key), *c.after);
        encoded = true;
        it->second.view = with(*it->second.view, engine::object_fact(c.key), made);
        it->second.since = r.resource_version;
      } catch (const std::exception&) {
        // The commit stands; a snapshot that could not follow it is dropped
        // and made again from the engine on its next list.
        views_.erase(it);
      }
    }
  }
}

}  // namespace pmesh::server
