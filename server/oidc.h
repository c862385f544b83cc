// OIDC ID tokens, as Keycloak issues them: a JWT signed with RS256 or
// ES256 by a key of the issuer's JWKS (chosen by `kid`), with `iss` the
// issuer, `aud` containing the client id, `exp` in the future and `nbf` (if
// any) in the past. The username and groups come from configured claims.
// The JWKS is read from a file and read again when the file changes or a
// token names a key it does not hold (key rotation).
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

  OidcConfig config_;
  std::unique_ptr<Keys> keys_;
  std::filesystem::file_time_type loaded_at_{};
};

}  // namespace pmesh::server
