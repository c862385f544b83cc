#include "server/auth/service_account_tokens.h"

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "engine/json_path.h"

namespace pmesh::server {

using engine::string_field;
using nlohmann::json;

namespace {

constexpr const char* kPrefix = "system:serviceaccount:";

std::string uuid4() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("the random number generator failed");
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4],
                b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

// Key files are named by when they were made (to the nanosecond), so the
// newest sorts last.
std::string key_file_name() {
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  long nanos = static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count() % 1000000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%09ldZ", nanos);
  return std::string("key-") + stamp + frac + ".pem";
}

bool write_new_key(const std::filesystem::path& file, std::string* error) {
  Pkey key(EVP_RSA_gen(2048));
  if (!key) return *error = "cannot make an RSA key", false;
  // Readable by the server's user only, from the first byte on.
  mode_t old = umask(077);
  FILE* f = std::fopen(file.c_str(), "wx");
  umask(old);
  if (!f) return *error = "cannot write " + file.string(), false;
  bool ok = PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) *error = "cannot write " + file.string();
  return ok;
}

json object_claim(const TokenObject& o) { return {{"name", o.name}, {"uid", o.uid}}; }

bool read_object(const json& claims, const char* key, TokenObject* out) {
  const json* o = engine::find_fields(claims, {"kubernetes.io", key});
  if (!o || !o->is_object()) return false;
  *out = {string_field(*o, "name"), string_field(*o, "uid")};
  return !out->name.empty() && !out->uid.empty();
}

}  // namespace

std::string service_account_username(const std::string& ns, const std::string& name) { return kPrefix + ns + ":" + name; }

bool parse_service_account_username(const std::string& username, std::string* ns, std::string* name) {
  if (username.rfind(kPrefix, 0) != 0) return false;
  std::string rest = username.substr(std::string(kPrefix).size());
  size_t colon = rest.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size() || rest.find(':', colon + 1) != std::string::npos)
    return false;
  *ns = rest.substr(0, colon);
  *name = rest.substr(colon + 1);
  return true;
}

bool ServiceAccountTokens::rotate(const std::string& dir, std::string* made, std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace, ec);
  std::string name = key_file_name();
  if (!write_new_key(std::filesystem::path(dir) / name, error)) return false;
  if (made) *made = name;
  return true;
}

std::unique_ptr<ServiceAccountTokens> ServiceAccountTokens::open(const std::string& dir, std::string issuer, std::string* error) {
  std::error_code ec;
  auto keys = [&] {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
      if (e.is_regular_file() && e.path().extension() == ".pem") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  };
  std::vector<std::filesystem::path> files = keys();
  if (files.empty()) {
    if (!rotate(dir, nullptr, error)) return nullptr;
    files = keys();
  }
  std::unique_ptr<ServiceAccountTokens> t(new ServiceAccountTokens());
  t->issuer_ = std::move(issuer);
  for (const auto& file : files) {
    FILE* f = std::fopen(file.c_str(), "r");
    Pkey key(f ? PEM_read_PrivateKey(f, nullptr, nullptr, nullptr) : nullptr);
    if (f) std::fclose(f);
    if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
      *error = file.string() + ": not an RSA private key in PEM";
      return nullptr;
    }
    std::string kid = key_id(key.get());
    t->signing_kid_ = kid;  // the files are sorted: the last one signs
    t->keys_[kid] = std::move(key);
  }
  return t;
}

std::string ServiceAccountTokens::issue(ServiceAccountClaims c, std::time_t now) const {
  json k8s = {{"namespace", c.ns}, {"serviceaccount", object_claim(c.service_account)}, {"clusterName", c.cluster}};
  if (c.secret) k8s["secret"] = object_claim(*c.secret);
  json claims = {{"iss", issuer_},
                 {"sub", service_account_username(c.ns, c.service_account.name)},
                 {"aud", c.audiences},
                 {"exp", c.expires},
                 {"iat", static_cast<int64_t>(now)},
                 {"nbf", static_cast<int64_t>(now)},
                 {"jti", uuid4()},
                 {"kubernetes.io", k8s}};
  return sign_rs256(keys_.at(signing_kid_).get(), signing_kid_, claims);
}

bool ServiceAccountTokens::claims_issuer(const Jws& jws) const { return string_field(jws.claims, "iss") == issuer_; }

std::optional<ServiceAccountClaims> ServiceAccountTokens::verify(const Jws& jws, const std::vector<std::string>& audiences,
                                                                std::time_t now, std::string* why) const {
  if (string_field(jws.header, "alg") != "RS256") return *why = "a ServiceAccount token must be RS256", std::nullopt;
  auto key = keys_.find(string_field(jws.header, "kid"));
  // A token of a key that was removed is revoked.
  if (key == keys_.end() || !verify_jws(key->second.get(), jws)) return *why = "bad signature", std::nullopt;
  if (std::string problem = claims_problem(jws.claims, issuer_, audiences, now); !problem.empty())
    return *why = problem, std::nullopt;
  ServiceAccountClaims c;
  const json* k8s = engine::find_fields(jws.claims, {"kubernetes.io"});
  if (!k8s || !k8s->is_object() || !read_object(jws.claims, "serviceaccount", &c.service_account))
    return *why = "no kubernetes.io claims", std::nullopt;
  c.ns = string_field(*k8s, "namespace");
  c.cluster = string_field(*k8s, "clusterName");
  if (c.ns.empty() || c.cluster.empty()) return *why = "no namespace or cluster claim", std::nullopt;
  if (string_field(jws.claims, "sub") != service_account_username(c.ns, c.service_account.name))
    return *why = "the subject is not the ServiceAccount", std::nullopt;
  if (k8s->contains("secret")) {
    TokenObject s;
    if (!read_object(jws.claims, "secret", &s)) return *why = "a malformed secret claim", std::nullopt;
    c.secret = s;
  }
  c.jti = string_field(jws.claims, "jti");
  const json& aud = jws.claims["aud"];
  for (const auto& a : aud.is_array() ? aud : json::array({aud}))
    if (a.is_string()) c.audiences.push_back(a.get<std::string>());
  c.expires = jws.claims["exp"].get<int64_t>();
  return c;
}

json ServiceAccountTokens::openid_configuration() const {
  return {{"issuer", issuer_},
          {"jwks_uri", issuer_ + "/openid/v1/jwks"},
          {"response_types_supported", {"id_token"}},
          {"subject_types_supported", {"public"}},
          {"id_token_signing_alg_values_supported", {"RS256"}}};
}

json ServiceAccountTokens::jwks() const {
  json keys = json::array();
  for (const auto& [kid, key] : keys_) keys.push_back(rsa_public_jwk(key.get(), kid));
  return {{"keys", keys}};
}

}  // namespace pmesh::server
