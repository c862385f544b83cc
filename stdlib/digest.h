// Digests shared by the engine and the server (OpenSSL underneath).
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

struct evp_md_st;

namespace pmesh {

// The SHA-256 of `bytes`: 32 raw bytes.
std::string sha256(std::string_view bytes);

// The digest of `bytes` by a hash OpenSSL names (EVP_sha1(), EVP_sha3_256(), ...),
// in lower-case hex.
std::string hex_digest(const evp_md_st* md, std::string_view bytes);

}  // namespace pmesh
