#include "server/auth/oidc.h"

#include "engine/json_path.h"
#include "server/api/body.h"
#include "server/auth/jwt.h"
#include "server/http/https_client.h"
#include "stdlib/thread_name.h"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace pmesh::server {

using engine::string_field;

using nlohmann::json;

struct OidcVerifier::Keys {
  std::map<std::string, Pkey> by_kid;
};

OidcVerifier::OidcVerifier(OidcConfig config, boost::asio::io_context& io)
    : config_(std::move(config)), io_(io), keys_(std::make_unique<Keys>()) {}
OidcVerifier::~OidcVerifier() {
  if (fetcher_.joinable()) fetcher_.join();
}

bool OidcVerifier::load(std::string* error) {
  if (!config_.jwks_url.empty()) {
    fetched_at_ = std::time(nullptr);
    std::string text;
    if (!https_get(config_.jwks_url, config_.ca_file, &text, error)) return false;
    return parse(text, error);
  }
  std::ifstream in(config_.jwks_file);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    *error = "cannot read " + config_.jwks_file;
    return false;
  }
  if (!parse(text.str(), error)) return false;
  std::error_code ec;
  loaded_at_ = std::filesystem::last_write_time(config_.jwks_file, ec);
  return true;
}

bool OidcVerifier::parse(const std::string& text, std::string* error) {
  json jwks = parse_json(text).value_or(json());
  if (!jwks.is_object() || !jwks.contains("keys") || !jwks["keys"].is_array()) {
    *error = "not a JWKS (no keys)";
    return false;
  }
  auto keys = std::make_unique<Keys>();
  for (const auto& k : jwks["keys"]) {
    if (!k.is_object() || string_field(k, "kid").empty()) continue;
    if (Pkey p = key_from_jwk(k)) keys->by_kid[string_field(k, "kid")] = std::move(p);
  }
  keys_ = std::move(keys);
  return true;
}

bool OidcVerifier::file_changed() const {
  std::error_code ec;
  auto t = std::filesystem::last_write_time(config_.jwks_file, ec);
  return !ec && t != loaded_at_;
}

void OidcVerifier::refresh(std::function<void()> done) {
  if (config_.jwks_url.empty()) {
    std::string ignored;
    if (file_changed()) load(&ignored);
    done();
    return;
  }
  waiting_.push_back(std::move(done));
  if (waiting_.size() > 1) return;  // a fetch is under way; it answers everyone
  std::time_t now = std::time(nullptr);
  if (now - fetched_at_ < 10) {
    auto run = std::move(waiting_);
    waiting_.clear();
    for (auto& f : run) boost::asio::post(io_, std::move(f));
    return;
  }
  fetched_at_ = now;
  if (fetcher_.joinable()) fetcher_.join();
  fetcher_ = std::thread([this, url = config_.jwks_url, ca = config_.ca_file]() {
    name_this_thread("pmesh-jwks");
    auto text = std::make_shared<std::string>();
    auto error = std::make_shared<std::string>();
    bool ok = https_get(url, ca, text.get(), error.get());
    boost::asio::post(io_, [this, ok, text, error]() {
      std::string ignored;
      if (ok) parse(*text, &ignored);
      auto run = std::move(waiting_);
      waiting_.clear();
      for (auto& f : run) f();
    });
  });
}

std::optional<UserInfo> OidcVerifier::verify(const std::string& token, std::time_t now, std::string* why,
                                             bool* keys_unknown) {
  if (keys_unknown) *keys_unknown = false;
  auto jws = parse_jws(token, why);
  if (!jws) return std::nullopt;
  const json& claims = jws->claims;
  std::string alg = string_field(jws->header, "alg"), kid = string_field(jws->header, "kid");
  if (alg != "RS256" && alg != "ES256") return *why = "unsupported alg " + alg, std::nullopt;
  auto it = keys_->by_kid.find(kid);
  if (it == keys_->by_kid.end()) {
    // A key the issuer may have rotated in: worth a look at the JWKS, unless
    // it was looked at moments ago.
    if (keys_unknown)
      *keys_unknown = config_.jwks_url.empty() ? file_changed() : std::time(nullptr) - fetched_at_ >= 10;
    return *why = "unknown kid " + kid, std::nullopt;
  }
  if (!verify_jws(it->second.get(), *jws)) return *why = "bad signature (or an alg that does not match the key)", std::nullopt;
  if (std::string problem = claims_problem(claims, config_.issuer_url, {config_.client_id}, now); !problem.empty())
    return *why = problem, std::nullopt;
  const json name = claims.value(config_.username_claim, json());
  if (!name.is_string() || name.get<std::string>().empty())
    return *why = "no " + config_.username_claim + " claim", std::nullopt;
  // Names under system: are the platform's (ServiceAccounts, kcp's and
  // kube's own users); an identity provider does not get to claim them.
  if (name.get<std::string>().rfind("system:", 0) == 0) return *why = "a username under system: is reserved", std::nullopt;
  UserInfo u{name.get<std::string>(), string_field(claims, "sub"), {}, {}};
  if (!config_.groups_claim.empty() && claims.contains(config_.groups_claim) && claims[config_.groups_claim].is_array())
    for (const auto& g : claims[config_.groups_claim])
      if (g.is_string()) u.groups.push_back(g.get<std::string>());
  u.groups.push_back("system:authenticated");
  return u;
}

}  // namespace pmesh::server
