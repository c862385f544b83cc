// What a URL of kcp's APIExport virtual workspace names:
//
//   /services/apiexport/<export cluster>/<export name>/clusters/<cluster>/<rest>
//
// the export (its workspace by logical cluster name or path) and the request
// it carries, `/clusters/<cluster>/<rest>`, which parse_request_path reads;
// `<cluster>` is `*` for every workspace bound to the export.
//
// Thread safety: pure.
#pragma once

#include <optional>
#include <string>

namespace pmesh::server {

inline constexpr const char* kApiExportPrefix = "/services/apiexport/";

struct ApiExportPath {
  std::string export_cluster;
  std::string export_name;
  std::string inner;  // "/clusters/<cluster>[/<rest>]"
};

// The parts of `path`, or nothing when it is not an APIExport virtual
// workspace URL (no export, no name, or no /clusters/ after them).
std::optional<ApiExportPath> parse_apiexport_path(const std::string& path);

}  // namespace pmesh::server
