// Digests shared by the engine and the server (OpenSSL underneath).
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace pmesh {

// The SHA-256 of `bytes`: 32 raw bytes.
std::string sha256(std::string_view bytes);

}  // namespace pmesh
