// Logical clusters by name and by path.
//
// kcp gives every logical cluster a generated name apart from its path
// ("root" is both): objects carry the name in `kcp.io/cluster`,
// `/clusters/<name>` reaches the workspace as `/clusters/<path>` does, and
// fields such as an APIBinding's `status.apiExportClusterName` hold names.
// The engine keeps objects by path; the rules that schedule workspaces
// derive the two ways between them as relations `cluster_id(path, name)`
// and `logical_cluster(name, path)` (policies/workspaces.rules). Without
// those rules (a program of kinds alone) nothing has a name.
//
// Thread safety: reads the state; as the state's readers.
#pragma once

#include <string>

namespace pmesh::engine {

class State;

// The relation from a cluster's path to its name.
inline constexpr const char* kClusterNameRelation = "cluster_id";

// The name of the logical cluster at `path`, or "" when it has none.
std::string cluster_name(const State& state, const std::string& path);
// The path of the logical cluster named `name`, or "" when none is.
std::string cluster_path(const State& state, const std::string& name);
// The path a cluster reference names, as kcp reads `/clusters/<ref>`: a
// path from root as it is, a name as its cluster's path, a path that starts
// at a name ("<name>:team-a") from that cluster's path; "" when no cluster
// has the name.
std::string resolve_cluster(const State& state, const std::string& ref);

}  // namespace pmesh::engine
