// ServiceAccount tokens, as kube-apiserver issues them through TokenRequest
// (`kubectl create token`) and its authenticator checks them: RS256 JWTs
// bound to an audience, an expiry and the ServiceAccount's uid (and, if
// asked, a Secret's), with kcp's addition of the logical cluster the
// ServiceAccount lives in:
//
//   {"iss", "sub": "system:serviceaccount:<ns>:<name>", "aud": [...], "exp", "iat", "nbf", "jti",
//    "kubernetes.io": {"namespace", "serviceaccount": {"name", "uid"}, "secret"?: {"name", "uid"},
//                      "clusterName": "<logical cluster name>"}}
//
// The signing keys are PEM files in a folder of the data directory
// (`serviceaccount-keys/`, made with one key on first start). Every key
// there verifies; the newest by file name signs, so a rotation is a new
// key file (rotate()) and a restart; removing a key file revokes every
// token it signed. The public keys are published as kube-apiserver
// publishes them, at the issuer's discovery document and its JWKS.
//
// What a token is worth also depends on the store: that its ServiceAccount
// (and bound Secret) still exist with the uids it names. That check is the
// authenticator's (authn.h), which can read the store.
//
// Thread safety: immutable after open(); issue() and verify() may run
// on any thread.
#pragma once

#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/auth/jwt.h"

namespace pmesh::server {

// An object a token names: its ServiceAccount, or the Secret it is bound to.
struct TokenObject {
  std::string name, uid;
};

struct ServiceAccountClaims {
  std::string cluster, ns;
  TokenObject service_account;
  std::optional<TokenObject> secret;
  std::string jti;
  std::vector<std::string> audiences;
  int64_t expires = 0;  // Unix seconds
};

class ServiceAccountTokens {
 public:
  // Reads the keys in `dir`, making the folder and a first key if there is
  // none. `issuer` is the `iss` of the tokens (a URL). nullptr with `error`
  // when a key file cannot be read or is not an RSA private key.
  static std::unique_ptr<ServiceAccountTokens> open(const std::string& dir, std::string issuer, std::string* error);
  // Adds a new key to `dir`: it signs from the next open(). Its file name in `made`.
  static bool rotate(const std::string& dir, std::string* made, std::string* error);

  const std::string& issuer() const { return issuer_; }
  // What a token must be for to authenticate to this server: the issuer.
  std::vector<std::string> api_audiences() const { return {issuer_}; }

  // A signed token for `claims` (cluster, ns, service account, secret,
  // audiences, expires; its jti is made here), issued at `now`.
  std::string issue(ServiceAccountClaims claims, std::time_t now) const;
  // Whether `jws` claims this issuer (then it is for verify(), and no one else).
  bool claims_issuer(const Jws& jws) const;
  // The claims of a token this server signed, for one of `audiences`,
  // unexpired; nullopt with `why` (for the log) otherwise.
  std::optional<ServiceAccountClaims> verify(const Jws& jws, const std::vector<std::string>& audiences, std::time_t now,
                                             std::string* why) const;

  // kube-apiserver's /.well-known/openid-configuration and /openid/v1/jwks.
  nlohmann::json openid_configuration() const;
  nlohmann::json jwks() const;

 private:
  ServiceAccountTokens() = default;

  std::string issuer_;
  std::map<std::string, Pkey> keys_;  // kid ->
  std::string signing_kid_;
};

// The username of a ServiceAccount ("system:serviceaccount:<ns>:<name>"),
// and the parts of one (false for any other name).
std::string service_account_username(const std::string& ns, const std::string& name);
bool parse_service_account_username(const std::string& username, std::string* ns, std::string* name);

}  // namespace pmesh::server
