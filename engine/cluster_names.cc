#include "engine/cluster_names.h"

#include "engine/state.h"

namespace pmesh::engine {

std::string cluster_name(const State& state, const std::string& path) { return state.second_arg(kClusterNameRelation, path); }

std::string cluster_path(const State& state, const std::string& name) {
  return state.second_arg("logical_cluster", name);
}

std::string resolve_cluster(const State& state, const std::string& ref) {
  size_t colon = ref.find(':');
  std::string first = ref.substr(0, colon);
  if (first == "root") return ref;
  std::string base = cluster_path(state, first);
  if (base.empty()) return "";
  return colon == std::string::npos ? base : base + ref.substr(colon);
}

}  // namespace pmesh::engine
