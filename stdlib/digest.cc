#include "stdlib/digest.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace pmesh {

std::string sha256(std::string_view bytes) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), out);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
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
