// OIDC ID tokens, as Keycloak issues them: a JWT signed with RS256 or
// ES256 by a key of the issuer's JWKS (chosen by `kid`), with `iss` the
// issuer, `aud` containing the client id, `exp` in the future and `nbf` (if
// any) in the past. The username and groups come from configured claims.
// The JWKS is read from a file, or fetched from the issuer's JWKS URL, and
// read again when a token names a key it does not hold (key rotation; a
// fetch at most every 10 seconds).
//
// Thread safety: not synchronized; the server calls it from one thread.
#pragma once

#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "server/authn.h"

namespace pmesh::server {

struct OidcConfig {
  std::string issuer_url, client_id;
  std::string username_claim = "sub", groups_claim;
  std::string jwks_file;
  // Or the issuer's JWKS over HTTPS (`jwks_uri`), verified with `ca_file`
  // (the system's CAs when empty).
  std::string jwks_url, ca_file;
};

class OidcVerifier {
 public:
  explicit OidcVerifier(OidcConfig config);
  ~OidcVerifier();
  // Loads the JWKS; false with `error` when it cannot be read.
  bool load(std::string* error);
  // The user a token names, or nothing with `why` (for the log).
  std::optional<UserInfo> verify(const std::string& token, std::time_t now, std::string* why);

 private:
  struct Keys;
  bool reload_if_changed();
  bool parse(const std::string& text, std::string* error);

  OidcConfig config_;
  std::time_t fetched_at_ = 0;
  std::unique_ptr<Keys> keys_;
  std::filesystem::file_time_type loaded_at_{};
};

}  // namespace pmesh::server
