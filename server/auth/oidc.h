// OIDC ID tokens, as Keycloak issues them: a JWT signed with RS256 or
// ES256 by a key of the issuer's JWKS (chosen by `kid`), with `iss` the
// issuer, `aud` containing the client id, `exp` in the future and `nbf` (if
// any) in the past. The username and groups come from configured claims.
// The JWKS is read from a file, or fetched from the issuer's JWKS URL, and
// read again when a token names a key it does not hold (key rotation; a
// fetch at most every 10 seconds). A fetch runs on a thread of its own: the
// serving thread never waits for the issuer.
//
// Thread safety: verify() and refresh() are called from the server's
// thread; the fetch thread only fetches, and hands its result back through
// the io_context.
#pragma once

#include <boost/asio/io_context.hpp>

#include <ctime>
#include <functional>
#include <thread>
#include <vector>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "server/auth/authn.h"

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
  // `io` is where refresh() reports back (REQUIRES: outlives the verifier).
  OidcVerifier(OidcConfig config, boost::asio::io_context& io);
  ~OidcVerifier();
  // Loads the JWKS; false with `error` when it cannot be read.
  bool load(std::string* error);
  // The user a token names, or nothing with `why` (for the log).
  // `keys_unknown` is set when the token names a key not held, and the keys
  // may be fetched again: refresh(), then verify again.
  std::optional<UserInfo> verify(const std::string& token, std::time_t now, std::string* why, bool* keys_unknown);
  // Reads the JWKS again (a file at once; a URL on a thread of its own, at
  // most every 10 seconds, once for all who wait); `done` runs on `io`.
  void refresh(std::function<void()> done);

 private:
  struct Keys;
  bool file_changed() const;
  bool parse(const std::string& text, std::string* error);

  OidcConfig config_;
  boost::asio::io_context& io_;
  std::time_t fetched_at_ = 0;
  std::thread fetcher_;
  std::vector<std::function<void()>> waiting_;  // for the fetch under way
  std::unique_ptr<Keys> keys_;
  std::filesystem::file_time_type loaded_at_{};
};

}  // namespace pmesh::server
