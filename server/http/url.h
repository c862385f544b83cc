// Request targets: the percent-decoded path and query of an HTTP request.
//
// Thread safety: pure functions.
#pragma once

#include <map>
#include <string>

namespace pmesh::server {

// Splits a request target into its decoded path and query (the first of
// repeated parameters, as Go's url.Values.Get). False when the target has a
// malformed escape ("%zz", "%4"), which Go's URL parser refuses.
bool parse_target(const std::string& target, std::string* path, std::map<std::string, std::string>* query);

// Go's url.PathUnescape: false on a malformed escape.
bool path_unescape(const std::string& s, std::string* out);

}  // namespace pmesh::server
