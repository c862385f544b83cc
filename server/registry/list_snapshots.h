// Lists served off the engine's thread, from snapshots.
//
// The engine and everything that reads it run on one thread, so a list of
// 30,000 objects (present each, encode 9 MB) used to hold every writer for a
// quarter of a second. Instead, each collection that has been listed (a
// kind in one workspace, all its namespaces) is kept as an immutable,
// sorted sequence of its objects already encoded as the API shows them
// (present.h). A commit replaces only the chunks it touches (copy on write,
// chunks of at most kChunk objects; a kind across all workspaces, cluster
// "*", is a collection too), so taking a collection's current
// snapshot is copying one pointer, and readers on other threads walk,
// filter and concatenate it while the engine goes on. A collection is made
// on its first list, from the engine's state, and kept while it is listed:
// past a budget of encoded bytes, the collections listed longest ago are
// dropped (and made again if listed again), so that listing every
// collection one can read does not make the server keep a copy of them all.
//
// A list that hands out a continue token retains the view it read (a
// pointer: the chunks are shared with the views after it), so that its
// next pages read the collection as it was at the first, as kube's pages
// read etcd at the first page's revision. A collection's view is also the
// collection at every version since the last commit that changed it, which
// is what an Exact list at a version reads. Retained views go after
// kRetainFor (etcd's compaction interval, which bounds kube's tokens as
// well), or sooner past kMaxRetained views or the byte budget; a page or
// an Exact list at a version no view holds is 410 Expired, as kube's are
// once etcd has compacted the revision.
//
// Thread safety: view() and committed() on the engine's thread; a View is
// immutable and may be read on any thread.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "server/api/cluster_names.h"

namespace pmesh::server {

class ListSnapshots {
 public:
  struct Item {
    std::string fact;   // the engine's key: the sort order, and where a continue token resumes
    std::string cluster;
    std::string ns;
    std::string bytes;  // the object as the API shows it, encoded
  };
  using ItemPtr = std::shared_ptr<const Item>;
  using Chunk = std::shared_ptr<const std::vector<ItemPtr>>;

  // One collection at one moment.
  class View {
   public:
    // Items with a fact above `after` (all when empty) and starting with
    // `prefix`, in order, until `fn` returns false.
    void scan(const std::string& prefix, const std::string& after, const std::function<bool(const Item&)>& fn) const;
    // The item whose fact is `fact`, or null.
    const Item* find(const std::string& fact) const;
    size_t size() const;
    size_t bytes() const { return bytes_; }

   private:
    friend class ListSnapshots;
    std::vector<Chunk> chunks_;  // each non-empty, in fact order
    size_t bytes_ = 0;           // of the encoded items
  };
  using ViewPtr = std::shared_ptr<const View>;

  static constexpr size_t kChunk = 512;
  // The cluster that names a kind's collection across all workspaces.
  static inline const std::string kAllClusters = "*";

  // REQUIRES: `engine` outlives this.
  ListSnapshots(const engine::Engine& engine, const ClusterNames& names, size_t budget_bytes = size_t{512} << 20)
      : engine_(engine), names_(names), budget_(budget_bytes) {}

  // The current snapshot of `kind_key` in `cluster` ("*": in all).
  ViewPtr view(const std::string& kind_key, const std::string& cluster);
  // A view and the first version at which it is the collection.
  struct At {
    ViewPtr view;
    int64_t since = 0;
  };
  // The collection as it was at resource version `rv`: the current view
  // when nothing changed it since, else one a paginated list retained at a
  // version it holds. `view` is null when no view held is the collection
  // at `rv`.
  // REQUIRES: `rv` is not above the engine's resource version.
  At view_at(const std::string& kind_key, const std::string& cluster, int64_t rv);
  // Keeps `at` (view_at's answer), the collection at `rv` too, for the
  // next pages of a list.
  void retain(const std::string& kind_key, const std::string& cluster, int64_t rv, At at);
  static constexpr std::chrono::minutes kRetainFor{5};
  static constexpr size_t kMaxRetained = 256;
  size_t retained() const { return retained_.size(); }
  // Brings the collections kept up to date with a committed transaction.
  void committed(const engine::Result& r);

 private:
  // The item of the object whose fact key is `fact`.
  ItemPtr item(std::string_view fact, const nlohmann::json& effective) const;
  static ViewPtr with(const View& v, const std::string& fact, ItemPtr item);  // item null: without `fact`

  void keep_within_budget(const std::pair<std::string, std::string>& listed_now);

  const engine::Engine& engine_;
  const ClusterNames& names_;
  size_t budget_;
  struct Kept {
    ViewPtr view;
    uint64_t listed = 0;  // when it was last listed (a counter)
    // The version from which `view` is the collection: the commit that
    // last changed it, or the engine's version when it was made (earlier
    // changes are not known then).
    int64_t since = 0;
  };
  std::map<std::pair<std::string, std::string>, Kept> views_;
  // The collection's entry, made from the engine's state if it is not
  // kept, and counted as listed now.
  Kept& listed(const std::string& kind_key, const std::string& cluster);
  uint64_t lists_ = 0;
  // A view retained for pages: the collection at every version from
  // `since` to `rv`.
  struct Retained {
    std::string kind_key, cluster;
    int64_t since = 0, rv = 0;
    ViewPtr view;
    std::chrono::steady_clock::time_point at;
  };
  std::deque<Retained> retained_;  // oldest first
  void expire_retained(std::chrono::steady_clock::time_point now);
};

}  // namespace pmesh::server
