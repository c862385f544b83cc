#include "server/http/tls_files.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <memory>

namespace pmesh::server {

bool ensure_serving_certificate(const std::string& dir, const std::string& host, std::string* cert_file,
                                std::string* key_file, std::string* error) {
  *cert_file = dir + "/serving.pem";
  *key_file = dir + "/serving-key.pem";
  if (std::filesystem::exists(*cert_file) && std::filesystem::exists(*key_file)) return true;
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!key || !cert) return *error = "cannot make a key", false;
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(std::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("pmesh"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  std::string san = "IP:127.0.0.1,DNS:localhost";
  if (!host.empty() && host != "127.0.0.1" && host != "0.0.0.0")
    san += (host.find_first_not_of("0123456789.:") == std::string::npos ? ",IP:" : ",DNS:") + host;
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, san.c_str()},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_key_usage, "critical,digitalSignature,keyCertSign"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext) return *error = "cannot make the certificate's extensions", false;
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return *error = "cannot sign the certificate", false;
  FILE* k = std::fopen(key_file->c_str(), "w");
  if (!k) return *error = "cannot write " + *key_file, false;
  std::filesystem::permissions(*key_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  bool ok = PEM_write_PrivateKey(k, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(k);
  FILE* c = std::fopen(cert_file->c_str(), "w");
  if (!c) return *error = "cannot write " + *cert_file, false;
  ok = ok && PEM_write_X509(c, cert.get()) == 1;
  std::fclose(c);
  if (!ok) *error = "cannot write the certificate";
  return ok;
}

}  // namespace pmesh::server
