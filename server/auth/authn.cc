#include "server/auth/authn.h"

#include "server/auth/oidc.h"

#include <openssl/rand.h>

#include <ctime>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

namespace pmesh::server {

bool UserInfo::in_group(const std::string& g) const { return std::find(groups.begin(), groups.end(), g) != groups.end(); }

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
    UserInfo u{f[1], f[2], {}};
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
  if (oidc_ && std::count(token.begin(), token.end(), '.') == 2) return oidc_->verify(token, std::time(nullptr), why, keys_unknown);
  *why = "unknown token";
  return std::nullopt;
}

void Authenticator::refresh_keys(std::function<void()> done) const {
  if (oidc_) oidc_->refresh(std::move(done));
  else done();
}

std::string random_token() {
  unsigned char b[24];
  RAND_bytes(b, sizeof b);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) out += hex[c >> 4], out += hex[c & 15];
  return out;
}

}  // namespace pmesh::server
