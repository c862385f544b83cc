#include "stdlib/digest.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <new>

namespace pmesh {

namespace {

// Fetched once for the process (an implicit fetch per digest is what made
// the one-shot call slow); never freed, as static objects may digest late.
const EVP_MD* sha256_md() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex2(ctx_, sha256_md(), nullptr) != 1) throw std::bad_alloc();
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::update(std::string_view bytes) { EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()); }

std::string Sha256::finish() {
  unsigned char out[SHA256_DIGEST_LENGTH];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_, out, &n);
  EVP_DigestInit_ex2(ctx_, sha256_md(), nullptr);
  return std::string(reinterpret_cast<const char*>(out), n);
}

std::string sha256(std::string_view bytes) {
  thread_local Sha256 h;
  h.update(bytes);
  return h.finish();
}

std::string hex_digest(const EVP_MD* md, std::string_view bytes) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), out, &n, md, nullptr);
  static const char* hex = "0123456789abcdef";
  std::string r;
  for (unsigned int i = 0; i < n; ++i) r += hex[out[i] >> 4], r += hex[out[i] & 15];
  return r;
}

}  // namespace pmesh
