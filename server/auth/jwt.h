// JSON Web Tokens in compact form (RFC 7515/7519), as far as pmesh reads
// and writes them: OIDC ID tokens signed RS256 or ES256 by an issuer's key
// (oidc.h), and ServiceAccount tokens pmesh signs RS256 itself
// (service_account_tokens.h). Keys are OpenSSL's.
//
// Thread safety: pure functions; a key may be shared by threads that only
// sign or verify with it.
#pragma once

#include <memory>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

namespace pmesh::server {

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

// A token taken apart; nothing verified yet.
struct Jws {
  nlohmann::json header, claims;  // objects
  std::string signing_input;      // "<header>.<payload>" as sent
  std::string signature;          // raw bytes
};

// nullopt with `why` for what is not three base64url parts of JSON objects.
std::optional<Jws> parse_jws(const std::string& token, std::string* why);

// Whether `jws` is signed by `key` with its header's alg (RS256 for an RSA
// key, ES256 for a P-256 one; anything else is false).
bool verify_jws(EVP_PKEY* key, const Jws& jws);

// Why `claims` are not for us now ("" if they are): `iss` must be
// `issuer`, `aud` (a string or a list) must name one of `audiences`, `exp`
// must be in the future and `nbf`, if any, not.
std::string claims_problem(const nlohmann::json& claims, const std::string& issuer, const std::vector<std::string>& audiences,
                           std::time_t now);

// The compact token of `claims` signed RS256 by `key`, its header naming `kid`.
// REQUIRES: `key` is an RSA private key.
std::string sign_rs256(EVP_PKEY* key, const std::string& kid, const nlohmann::json& claims);

// A JWK as an OpenSSL public key: RSA (n, e) or EC P-256 (x, y); null if neither.
Pkey key_from_jwk(const nlohmann::json& jwk);
// An RSA key's public half as a JWK ({"use":"sig","kty":"RSA","kid","alg":"RS256","n","e"}).
nlohmann::json rsa_public_jwk(EVP_PKEY* key, const std::string& kid);
// The key id kube-apiserver gives a public key: the unpadded base64url of
// the SHA-256 of its DER SubjectPublicKeyInfo.
std::string key_id(EVP_PKEY* key);

}  // namespace pmesh::server
