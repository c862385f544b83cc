// Digests shared by the engine and the server (OpenSSL underneath).
//
// Thread safety: pure functions; a Sha256 is used by one thread at a time.
#pragma once

#include <string>
#include <string_view>

struct evp_md_st;
struct SHA256state_st;

namespace pmesh {

// The SHA-256 of `bytes`: 32 raw bytes.
std::string sha256(std::string_view bytes);

// SHA-256 over pieces fed one after another, without joining them first.
// The engine digests every match it evaluates, a few short facts each: it
// uses OpenSSL's SHA-256 functions directly (the same implementation, SHA
// extensions where the CPU has them). Through EVP, OpenSSL's one-shot
// SHA256() fetched the algorithm and allocated a context per call (nine
// times the hashing), and even a reused context's re-initialisation
// through the provider cost several times the hashing of a match's facts.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view bytes);
  // The 32 raw bytes of what was fed; the digest starts over after.
  std::string finish();
  // The same into `out`. REQUIRES: out holds 32 bytes.
  void finish(unsigned char* out);

 private:
  SHA256state_st* ctx_;
};

// The digest of `bytes` by a hash OpenSSL names (EVP_sha1(), EVP_sha3_256(), ...),
// in lower-case hex.
std::string hex_digest(const evp_md_st* md, std::string_view bytes);

}  // namespace pmesh
