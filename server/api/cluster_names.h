// Logical clusters' names as the API shows and takes them.
//
// kcp's `kcp.io/cluster` annotation carries a logical cluster's generated
// name, and `/clusters/<name>` reaches the workspace as `/clusters/<path>`
// does; the engine keeps objects by path (engine/cluster_names.h has the
// two ways between them). An object deleted with its cluster is shown, in
// its DELETED event, with the name the cluster had: the names of clusters
// that went are remembered (the latest kRemembered), learned from each
// commit before watchers hear of it. They are not stored: an event replayed
// after a restart, of a cluster deleted before it, shows the cluster's path.
//
// Thread safety: the engine's thread.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>

#include "engine/engine.h"
#include "stdlib/keyed_hash.h"

namespace pmesh::server {

class ClusterNames {
 public:
  static constexpr size_t kRemembered = 65536;

  // REQUIRES: `engine` outlives this.
  explicit ClusterNames(const engine::Engine& engine, size_t remembered = kRemembered)
      : engine_(engine), remembered_(remembered) {}

  // The name of the logical cluster at `path`; the path itself for a
  // cluster that never had a name (a program without workspace rules).
  std::string name_of(const std::string& path) const;
  // The path a `/clusters/<segment>` names (engine::resolve_cluster; "*"
  // stays), "" when no cluster has that name.
  std::string path_of(const std::string& segment) const;
  // Remembers the names of the clusters `r` deleted.
  void committed(const engine::Result& r);

 private:
  const engine::Engine& engine_;
  size_t remembered_;
  // The clusters that went: path -> (name, when), and the paths in the
  // order they went (an entry whose `when` is not the map's is stale).
  std::unordered_map<std::string, std::pair<std::string, uint64_t>, KeyedTextHash, std::equal_to<>> gone_;
  std::deque<std::pair<std::string, uint64_t>> gone_order_;
  uint64_t sequence_ = 0;
};

}  // namespace pmesh::server
