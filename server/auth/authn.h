// Authentication: who sent a request.
//
// Bearer tokens from a token file in kube-apiserver's static token format
// (CSV lines `token,user,uid,"group1,group2"`), the server's own admin
// token (user `admin`, group `system:masters`), ServiceAccount tokens the
// server issued (service_account_tokens.h), and OIDC ID tokens (oidc.h).
// A request without a credential, or with one that is not known, is not
// authenticated; why is for the server log only.
//
// A ServiceAccount authenticates as kube's authenticator has it
// (`system:serviceaccount:<ns>:<name>`, groups `system:serviceaccounts`,
// `system:serviceaccounts:<ns>`, `system:authenticated`) and, as in kcp,
// with the workspace it lives in as the extra
// `authentication.kubernetes.io/cluster-name`: it is somebody in that
// workspace only (authz.h). Its token is valid while the ServiceAccount
// (and the Secret the token is bound to) exist with the uids it names.
//
// Thread safety: set up, then immutable; authenticate() reads the store
// through `UidOf` for ServiceAccount tokens, so it is called where the
// store may be read (the engine's thread).
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
  // An administrator of the whole installation: system:masters, or kcp's
  // global admin group system:kcp:admin.
  bool privileged() const { return in_group("system:masters") || in_group("system:kcp:admin"); }
};

// The installation's administrator: the admin token's user, and everyone
// when the server runs without authentication.
UserInfo admin_user();

// kcp's extra naming the workspace a ServiceAccount lives in.
inline constexpr const char* kClusterNameExtra = "authentication.kubernetes.io/cluster-name";
// kcp's scopes: each value a comma-separated list of "cluster:<name>", all
// of which must admit a workspace for the user to be somebody there.
inline constexpr const char* kScopesExtra = "authentication.kcp.io/scopes";
// The workspace a ServiceAccount lives in ("" for anyone else).
std::string home_cluster(const UserInfo& user);
// Whether `user` is somebody in `cluster` (kcp's IsInScope): a
// ServiceAccount in its own workspace only, a scoped user (one impersonated
// by RBAC's grant in a workspace) in its scopes only, anyone else anywhere.
bool in_scope(const UserInfo& user, const std::string& cluster);

class OidcVerifier;
class ServiceAccountTokens;
struct Jws;

class Authenticator {
 public:
  // OIDC ID tokens too (checked after the token file's tokens).
  void set_oidc(std::shared_ptr<OidcVerifier> oidc) { oidc_ = std::move(oidc); }
  // ServiceAccount tokens that `tokens` issued. `uid_of` answers the uid of
  // a stored object of kind "ServiceAccount" or "Secret" ("" when there is none).
  using UidOf = std::function<std::string(const std::string& kind, const std::string& cluster, const std::string& ns,
                                          const std::string& name)>;
  // A token names its cluster as kcp does, by the logical cluster's name:
  // `path_of` answers the cluster's path ("" when no cluster has the name;
  // null: names are paths).
  using PathOf = std::function<std::string(const std::string& cluster_name)>;
  void set_service_accounts(std::shared_ptr<const ServiceAccountTokens> tokens, UidOf uid_of, PathOf path_of = nullptr) {
    service_accounts_ = std::move(tokens);
    uid_of_ = std::move(uid_of);
    path_of_ = std::move(path_of);
  }
  // Reads `token_file` if not empty; `admin_token` authenticates `admin`.
  // Returns false with `error` when the file cannot be read or parsed.
  bool load(const std::string& token_file, const std::string& admin_token, std::string* error);

  // The user an `Authorization: Bearer ...` header names (the scheme in any
  // letter case), or nothing; `why` says why not (for the log). When an ID
  // token names a key the server may not have fetched yet, `keys_unknown`
  // is set: refresh_keys(), then ask again.
  std::optional<UserInfo> authenticate(const std::string& authorization, std::string* why,
                                       bool* keys_unknown = nullptr) const;
  // TokenReview's question: the user `token` names if it is good for one of
  // `audiences` (empty: the API's own); `matched` gets those it is good for.
  // A token that is not a ServiceAccount's is good for the API's audiences.
  std::optional<UserInfo> review(const std::string& token, const std::vector<std::string>& audiences,
                                 std::vector<std::string>* matched, std::string* why) const;
  // Fetches the OIDC keys again, off the serving thread, at most every 10
  // seconds; `done` runs on the server's thread afterwards.
  void refresh_keys(std::function<void()> done) const;

 private:
  // The user a ServiceAccount token names, if it is still good.
  // `token_audiences`, if given, gets the audiences the token names.
  std::optional<UserInfo> service_account(const Jws& jws, const std::vector<std::string>& audiences, std::string* why,
                                          std::vector<std::string>* token_audiences = nullptr) const;
  std::vector<std::string> api_audiences() const;

  std::map<std::string, UserInfo> tokens_;
  std::shared_ptr<OidcVerifier> oidc_;
  std::shared_ptr<const ServiceAccountTokens> service_accounts_;
  UidOf uid_of_;
  PathOf path_of_;
};

// A fresh random token (hex), for the admin kubeconfig.
std::string random_token();

}  // namespace pmesh::server
