#include "server/auth/authn.h"

#include "server/auth/oidc.h"
#include "server/auth/service_account_tokens.h"
#include "stdlib/text.h"

#include <openssl/rand.h>

#include <ctime>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace pmesh::server {

bool UserInfo::in_group(const std::string& g) const { return std::find(groups.begin(), groups.end(), g) != groups.end(); }

std::string home_cluster(const UserInfo& user) {
  auto it = user.extra.find(kClusterNameExtra);
  std::string ns, name;
  if (it == user.extra.end() || !parse_service_account_username(user.name, &ns, &name)) return "";
  // Two clusters are none: nowhere to be somebody (kcp's IsInScope).
  return it->second.size() == 1 && !it->second[0].empty() ? it->second[0] : std::string("\x1f");
}

bool in_scope(const UserInfo& user, const std::string& cluster) {
  if (std::string home = home_cluster(user); !home.empty() && home != cluster) return false;
  auto it = user.extra.find(kScopesExtra);
  if (it == user.extra.end()) return true;
  for (const auto& value : it->second) {
    bool admits = false;
    std::stringstream alternatives(value);
    for (std::string a; std::getline(alternatives, a, ',');) admits = admits || a == "cluster:" + cluster;
    if (!admits) return false;
  }
  return true;
}

UserInfo admin_user() { return UserInfo{"admin", "admin", {"system:masters", "system:authenticated"}, {}}; }

namespace {

// One CSV line; fields may be double-quoted (with "" for a quote).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') out.back() += '"', ++i;
    else if (c == '"') quoted = !quoted;
    else if (c == ',' && !quoted) out.emplace_back();
    else out.back() += c;
  }
  return out;
}

}  // namespace

bool Authenticator::load(const std::string& token_file, const std::string& admin_token, std::string* error) {
  if (!admin_token.empty()) tokens_[admin_token] = admin_user();
  if (token_file.empty()) return true;
  std::ifstream in(token_file);
  if (!in) {
    *error = "cannot read the token file " + token_file;
    return false;
  }
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto f = csv_fields(line);
    if (f.size() < 3 || f[0].empty() || f[1].empty()) {
      *error = token_file + ":" + std::to_string(n) + ": expected token,user,uid[,\"group1,group2\"]";
      return false;
    }
    UserInfo u{f[1], f[2], {}, {}};
    if (f.size() > 3) {
      std::stringstream gs(f[3]);
      for (std::string g; std::getline(gs, g, ',');)
        if (!g.empty()) u.groups.push_back(g);
    }
    u.groups.push_back("system:authenticated");
    tokens_[f[0]] = std::move(u);
  }
  return true;
}

std::optional<UserInfo> Authenticator::authenticate(const std::string& authorization, std::string* why,
                                                    bool* keys_unknown) const {
  if (keys_unknown) *keys_unknown = false;
  // As kube's bearer token authenticator: the scheme in any letter case,
  // the token up to the next space.
  std::string header = authorization;
  size_t b = header.find_first_not_of(" \t"), e = header.find_last_not_of(" \t");
  header = b == std::string::npos ? std::string() : header.substr(b, e - b + 1);
  if (header.empty()) {
    *why = "no credential";
    return std::nullopt;
  }
  size_t sp = header.find(' ');
  std::string scheme = header.substr(0, sp);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  if (scheme != "bearer" || sp == std::string::npos) {
    *why = "not a bearer token";
    return std::nullopt;
  }
  std::string token = header.substr(sp + 1);
  token = token.substr(0, token.find(' '));
  if (token.empty()) {
    *why = "empty bearer token";
    return std::nullopt;
  }
  auto it = tokens_.find(token);
  if (it != tokens_.end()) return it->second;
  if (service_accounts_ && std::count(token.begin(), token.end(), '.') == 2) {
    std::string ignored;
    if (auto jws = parse_jws(token, &ignored); jws && service_accounts_->claims_issuer(*jws)) return service_account(*jws, api_audiences(), why);
  }
  if (oidc_ && std::count(token.begin(), token.end(), '.') == 2) return oidc_->verify(token, std::time(nullptr), why, keys_unknown);
  *why = "unknown token";
  return std::nullopt;
}

std::vector<std::string> Authenticator::api_audiences() const {
  return service_accounts_ ? service_accounts_->api_audiences() : std::vector<std::string>();
}

std::optional<UserInfo> Authenticator::review(const std::string& token, const std::vector<std::string>& audiences,
                                              std::vector<std::string>* matched, std::string* why) const {
  std::vector<std::string> wanted = audiences.empty() ? api_audiences() : audiences;
  matched->clear();
  // The token as given, all of it: not a header to take a first word of.
  if (token.empty() || token.find_first_of(" \t\r\n") != std::string::npos) return *why = "malformed token", std::nullopt;
  std::string ignored;
  if (auto jws = parse_jws(token, &ignored); jws && service_accounts_ && service_accounts_->claims_issuer(*jws)) {
    std::vector<std::string> named;
    auto u = service_account(*jws, wanted, why, &named);
    if (!u) return std::nullopt;
    for (const auto& a : wanted)
      if (std::find(named.begin(), named.end(), a) != named.end()) matched->push_back(a);
    return u;
  }
  auto u = authenticate("Bearer " + token, why, nullptr);
  if (!u) return std::nullopt;
  for (const auto& a : api_audiences())
    if (std::find(wanted.begin(), wanted.end(), a) != wanted.end()) matched->push_back(a);
  if (!wanted.empty() && matched->empty()) {
    auto list = [](const std::vector<std::string>& v) {
      std::string out = "[";
      for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + v[i];
      return out + "]";
    };
    return *why = "token audiences " + list(api_audiences()) + " is invalid for the target audiences " + list(wanted), std::nullopt;
  }
  return u;
}

std::optional<UserInfo> Authenticator::service_account(const Jws& jws, const std::vector<std::string>& audiences,
                                                       std::string* why, std::vector<std::string>* token_audiences) const {
  auto c = service_accounts_->verify(jws, audiences, std::time(nullptr), why);
  if (!c) return std::nullopt;
  if (token_audiences) *token_audiences = c->audiences;
  // As kube's validator: the token dies with its ServiceAccount, or with
  // the Secret it is bound to (a new object of the same name is not it).
  const char* invalidated = "service account token has been invalidated";
  // A cluster deleted and made again at the same path has another name.
  if (path_of_) c->cluster = path_of_(c->cluster);
  if (c->cluster.empty()) return *why = invalidated, std::nullopt;
  std::string uid = uid_of_ ? uid_of_("ServiceAccount", c->cluster, c->ns, c->service_account.name) : "";
  if (uid.empty() || uid != c->service_account.uid) return *why = invalidated, std::nullopt;
  // Nor does it outlive its namespace (whose objects pmesh does not yet
  // delete with it, as kube's namespace controller does).
  if (uid_of_("Namespace", c->cluster, "", c->ns).empty()) return *why = invalidated, std::nullopt;
  if (c->secret) {
    std::string s = uid_of_("Secret", c->cluster, c->ns, c->secret->name);
    if (s.empty() || s != c->secret->uid) return *why = invalidated, std::nullopt;
  }
  UserInfo u{service_account_username(c->ns, c->service_account.name), uid,
             {"system:serviceaccounts", "system:serviceaccounts:" + c->ns, "system:authenticated"}, {}};
  u.extra[kClusterNameExtra] = {c->cluster};
  if (!c->jti.empty()) u.extra["authentication.kubernetes.io/credential-id"] = {"JTI=" + c->jti};
  return u;
}

void Authenticator::refresh_keys(std::function<void()> done) const {
  if (oidc_) oidc_->refresh(std::move(done));
  else done();
}

std::string random_token() {
  unsigned char b[24];
  // A failure leaves `b` as it was: never a token from it.
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("the random number generator failed");
  return hex_encode(std::string_view(reinterpret_cast<const char*>(b), sizeof b));
}

}  // namespace pmesh::server
