#include "stdlib/digest.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <new>
#include <vector>

#include "stdlib/text.h"

namespace pmesh {

// SHA256_Init and its kin are deprecated in OpenSSL 3 in favour of EVP,
// whose per-digest dispatch is what this class avoids; they remain part
// of its API.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

Sha256::Sha256() : ctx_(new SHA256_CTX) { SHA256_Init(ctx_); }

Sha256::~Sha256() { delete ctx_; }

void Sha256::update(std::string_view bytes) { SHA256_Update(ctx_, bytes.data(), bytes.size()); }

void Sha256::finish(unsigned char* out) {
  SHA256_Final(out, ctx_);
  SHA256_Init(ctx_);
}

#pragma GCC diagnostic pop

std::string Sha256::finish() {
  unsigned char out[SHA256_DIGEST_LENGTH];
  finish(out);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

std::string sha256(std::string_view bytes) {
  thread_local Sha256 h;
  h.update(bytes);
  return h.finish();
}

std::string hex_digest(const EVP_MD* md, std::string_view bytes) {
  // `md` is a legacy handle (EVP_sha1(), ...), which OpenSSL 3 fetches from
  // its provider again on every use (the engine makes every object's uid
  // with one): each thread fetches each algorithm once and keeps a context.
  struct Digests {
    struct One {
      const EVP_MD* legacy;
      EVP_MD* fetched;
      EVP_MD_CTX* ctx;
    };
    std::vector<One> ones;
    ~Digests() {
      for (auto& o : ones) EVP_MD_CTX_free(o.ctx), EVP_MD_free(o.fetched);
    }
    One& of(const EVP_MD* legacy) {
      for (auto& o : ones)
        if (o.legacy == legacy) return o;
      EVP_MD* fetched = EVP_MD_fetch(nullptr, EVP_MD_get0_name(legacy), nullptr);
      EVP_MD_CTX* ctx = EVP_MD_CTX_new();
      if (!fetched || !ctx) {
        EVP_MD_free(fetched), EVP_MD_CTX_free(ctx);
        throw std::bad_alloc();
      }
      return ones.emplace_back(One{legacy, fetched, ctx});
    }
  };
  thread_local Digests digests;
  Digests::One& d = digests.of(md);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestInit_ex2(d.ctx, d.fetched, nullptr) != 1 || EVP_DigestUpdate(d.ctx, bytes.data(), bytes.size()) != 1 ||
      EVP_DigestFinal_ex(d.ctx, out, &n) != 1)
    throw std::bad_alloc();
  return hex_encode(std::string_view(reinterpret_cast<const char*>(out), n));
}

}  // namespace pmesh
