// A small HTTPS GET, for fetching an OIDC issuer's JWKS.
//
// Thread safety: reentrant; runs its own io_context on the calling thread
// and blocks it for at most the deadline, whatever the peer does (connect,
// handshake, request and answer all count against it).
#pragma once

#include <chrono>
#include <string>

namespace pmesh::server {

// GETs `url` (https://host[:port]/path), verifying the server against
// `ca_file` (the system's CAs when empty) and its name or address. Returns
// the body of a 200 answer (at most 1 MiB); false with `error` otherwise.
bool https_get(const std::string& url, const std::string& ca_file, std::string* body, std::string* error,
               std::chrono::seconds deadline = std::chrono::seconds(10));

}  // namespace pmesh::server
