#include "server/api/cluster_names.h"

#include "engine/cluster_names.h"

namespace pmesh::server {

std::string ClusterNames::name_of(const std::string& path) const {
  if (std::string name = engine::cluster_name(engine_.state(), path); !name.empty()) return name;
  auto it = gone_.find(path);
  return it == gone_.end() ? path : it->second.first;
}

std::string ClusterNames::path_of(const std::string& segment) const {
  return segment == "*" ? segment : engine::resolve_cluster(engine_.state(), segment);
}

void ClusterNames::committed(const engine::Result& r) {
  for (const auto& c : r.tuples) {
    const engine::TupleView t = c.view();
    if (t.relation != engine::kClusterNameRelation || t.args.size() != 2) continue;
    const std::string path(t.args[0]);
    if (c.added) {
      gone_.erase(path);  // a new cluster at the path: its entry in the order is stale now
      continue;
    }
    gone_[path] = {std::string(t.args[1]), ++sequence_};
    gone_order_.emplace_back(path, sequence_);
  }
  while (gone_order_.size() > remembered_) {
    auto it = gone_.find(gone_order_.front().first);
    if (it != gone_.end() && it->second.second == gone_order_.front().second) gone_.erase(it);
    gone_order_.pop_front();
  }
}

}  // namespace pmesh::server
