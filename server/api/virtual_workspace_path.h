// What a URL of one of kcp's virtual workspaces names:
//
//   /services/apiexport/<export cluster>/<export name>/clusters/<cluster>/<rest>
//   /services/initializingworkspaces/<initializer>/clusters/<cluster>/<rest>
//   /services/terminatingworkspaces/<terminator>/clusters/<cluster>/<rest>
//
// the virtual workspace and the request it carries, `/clusters/<cluster>/<rest>`,
// which parse_request_path reads; `<cluster>` is `*` for every workspace
// the virtual workspace reaches. Initializers and terminators are named as
// kcp names them, `<type's workspace>:<type>`.
//
// Thread safety: pure.
#pragma once

#include <optional>
#include <string>

namespace pmesh::server {

struct VirtualWorkspacePath {
  enum class Kind { kApiExport, kInitializing, kTerminating };
  Kind kind = Kind::kApiExport;
  std::string export_cluster;  // kApiExport: the export's workspace (a name or a path)
  std::string export_name;
  std::string hook;   // kInitializing, kTerminating: the initializer or terminator
  std::string inner;  // "/clusters/<cluster>[/<rest>]"
};

// The parts of `path`, or nothing when it is not a virtual workspace URL
// (a part missing or empty, or no /clusters/<cluster> after them).
std::optional<VirtualWorkspacePath> parse_virtual_workspace_path(const std::string& path);

}  // namespace pmesh::server
