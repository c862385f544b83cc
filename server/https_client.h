// A small blocking HTTPS GET, for fetching an OIDC issuer's JWKS.
//
// Thread safety: reentrant; blocks the calling thread for at most about
// 10 seconds.
#pragma once

#include <string>

namespace pmesh::server {

// GETs `url` (https://host[:port]/path), verifying the server against
// `ca_file` (the system's CAs when empty) and its name or address. Returns
// the body of a 200 answer; false with `error` otherwise.
bool https_get(const std::string& url, const std::string& ca_file, std::string* body, std::string* error);

}  // namespace pmesh::server
