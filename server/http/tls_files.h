// The serving certificate `pmesh serve` makes for itself when it is given
// none, as kcp does on its first start: a self-signed EC P-256 certificate
// for the listen address (and 127.0.0.1, localhost), kept in the data
// directory so that restarts keep it and clients keep trusting it.
//
// Thread safety: call before serving.
#pragma once

#include <string>

namespace pmesh::server {

// Makes DIR/serving.pem and DIR/serving-key.pem unless both exist.
// REQUIRES: DIR exists. Returns false with `error` on failure.
bool ensure_serving_certificate(const std::string& dir, const std::string& host, std::string* cert_file,
                                std::string* key_file, std::string* error);

}  // namespace pmesh::server
