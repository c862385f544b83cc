// Digests shared by the engine and the server (OpenSSL underneath).
//
// Thread safety: pure functions; a Sha256 is used by one thread at a time.
#pragma once

#include <string>
#include <string_view>

struct evp_md_st;
struct evp_md_ctx_st;

namespace pmesh {

// The SHA-256 of `bytes`: 32 raw bytes.
std::string sha256(std::string_view bytes);

// SHA-256 over pieces fed one after another, without joining them first.
// OpenSSL's one-shot SHA256() looks the algorithm up and allocates a
// context on every call, which cost nine times the hashing on short inputs
// (the engine digests every match it evaluates); the algorithm here is
// fetched once and the context is reused.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view bytes);
  // The 32 raw bytes of what was fed; the digest starts over after.
  std::string finish();

 private:
  evp_md_ctx_st* ctx_;
};

// The digest of `bytes` by a hash OpenSSL names (EVP_sha1(), EVP_sha3_256(), ...),
// in lower-case hex.
std::string hex_digest(const evp_md_st* md, std::string_view bytes);

}  // namespace pmesh
