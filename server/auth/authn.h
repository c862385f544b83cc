// Authentication: who sent a request.
//
// Bearer tokens from a token file in kube-apiserver's static token format
// (CSV lines `token,user,uid,"group1,group2"`), the server's own admin
// token (user `admin`, group `system:masters`), and OIDC ID tokens
// (oidc.h). A request without a
// credential, or with one that is not known, is not authenticated; why is
// for the server log only.
//
// Thread safety: immutable after construction.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pmesh::server {

struct UserInfo {
  std::string name, uid;
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;
  bool in_group(const std::string& g) const;
};

// The installation's administrator: the admin token's user, and everyone
// when the server runs without authentication.
UserInfo admin_user();

class OidcVerifier;

class Authenticator {
 public:
  // OIDC ID tokens too (checked after the token file's tokens).
  void set_oidc(std::shared_ptr<OidcVerifier> oidc) { oidc_ = std::move(oidc); }
  // Reads `token_file` if not empty; `admin_token` authenticates `admin`.
  // Returns false with `error` when the file cannot be read or parsed.
  bool load(const std::string& token_file, const std::string& admin_token, std::string* error);

  // The user an `Authorization: Bearer ...` header names (the scheme in any
  // letter case), or nothing; `why` says why not (for the log). When an ID
  // token names a key the server may not have fetched yet, `keys_unknown`
  // is set: refresh_keys(), then ask again.
  std::optional<UserInfo> authenticate(const std::string& authorization, std::string* why,
                                       bool* keys_unknown = nullptr) const;
  // Fetches the OIDC keys again, off the serving thread, at most every 10
  // seconds; `done` runs on the server's thread afterwards.
  void refresh_keys(std::function<void()> done) const;

 private:
  std::map<std::string, UserInfo> tokens_;
  std::shared_ptr<OidcVerifier> oidc_;
};

// A fresh random token (hex), for the admin kubeconfig.
std::string random_token();

}  // namespace pmesh::server
