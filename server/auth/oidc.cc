#include "server/auth/oidc.h"

#include "engine/json_path.h"
#include "server/api/body.h"
#include "server/http/https_client.h"

#include <boost/asio/post.hpp>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "stdlib/text.h"

namespace pmesh::server {

using engine::string_field;

using nlohmann::json;

namespace {


struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

BIGNUM* bignum(const std::string& b64) {
  auto bytes = base64_decode(b64);
  if (!bytes) return nullptr;
  return BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes->data()), static_cast<int>(bytes->size()), nullptr);
}

// A JWK as an OpenSSL key: RSA (n, e) or EC P-256 (x, y).
Pkey key_from_jwk(const json& k) {
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  const char* type = nullptr;
  BIGNUM *n = nullptr, *e = nullptr;
  std::string point;
  if (string_field(k, "kty") == "RSA") {
    type = "RSA";
    n = bignum(string_field(k, "n")), e = bignum(string_field(k, "e"));
    if (n && e) {
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
    }
  } else if (string_field(k, "kty") == "EC" && string_field(k, "crv") == "P-256") {
    type = "EC";
    auto x = base64_decode(string_field(k, "x")), y = base64_decode(string_field(k, "y"));
    if (x && y && x->size() == 32 && y->size() == 32) {
      point = std::string(1, '\x04') + *x + *y;  // uncompressed
      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
    }
  }
  Pkey out;
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  if (type && params) {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
    EVP_PKEY* pkey = nullptr;
    if (ctx && EVP_PKEY_fromdata_init(ctx) > 0 && EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) > 0)
      out.reset(pkey);
    EVP_PKEY_CTX_free(ctx);
  }
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  return out;
}

// ES256 signatures are r||s (32 bytes each); OpenSSL verifies DER.
std::optional<std::string> es256_der(const std::string& raw) {
  if (raw.size() != 64) return std::nullopt;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr),
                 BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

bool verify_signature(EVP_PKEY* key, const std::string& data, const std::string& sig) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) > 0 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

}  // namespace

struct OidcVerifier::Keys {
  std::map<std::string, std::pair<std::string, Pkey>> by_kid;  // kid -> (kty, key)
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
    if (Pkey p = key_from_jwk(k)) keys->by_kid[string_field(k, "kid")] = {string_field(k, "kty"), std::move(p)};
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
  size_t d1 = token.find('.'), d2 = token.find('.', d1 == std::string::npos ? d1 : d1 + 1);
  if (d1 == std::string::npos || d2 == std::string::npos) return *why = "not a JWT", std::nullopt;
  auto header_text = base64_decode(token.substr(0, d1)), payload_text = base64_decode(token.substr(d1 + 1, d2 - d1 - 1));
  auto sig = base64_decode(token.substr(d2 + 1));
  if (!header_text || !payload_text || !sig) return *why = "malformed JWT encoding", std::nullopt;
  json header = parse_json(*header_text).value_or(json()), claims = parse_json(*payload_text).value_or(json());
  if (!header.is_object() || !claims.is_object()) return *why = "malformed JWT", std::nullopt;
  std::string alg = string_field(header, "alg"), kid = string_field(header, "kid");
  if (alg != "RS256" && alg != "ES256") return *why = "unsupported alg " + alg, std::nullopt;
  auto it = keys_->by_kid.find(kid);
  if (it == keys_->by_kid.end()) {
    // A key the issuer may have rotated in: worth a look at the JWKS, unless
    // it was looked at moments ago.
    if (keys_unknown)
      *keys_unknown = config_.jwks_url.empty() ? file_changed() : std::time(nullptr) - fetched_at_ >= 10;
    return *why = "unknown kid " + kid, std::nullopt;
  }
  if ((alg == "RS256") != (it->second.first == "RSA")) return *why = "alg does not match the key", std::nullopt;
  std::string signature = *sig;
  if (alg == "ES256") {
    auto der = es256_der(*sig);
    if (!der) return *why = "malformed ES256 signature", std::nullopt;
    signature = *der;
  }
  if (!verify_signature(it->second.second.get(), token.substr(0, d2), signature))
    return *why = "bad signature", std::nullopt;
  if (string_field(claims, "iss") != config_.issuer_url) return *why = "wrong issuer", std::nullopt;
  const json aud = claims.value("aud", json());
  bool aud_ok = aud.is_string() ? aud == config_.client_id
                                : aud.is_array() && std::find(aud.begin(), aud.end(), config_.client_id) != aud.end();
  if (!aud_ok) return *why = "wrong audience", std::nullopt;
  if (!claims.contains("exp") || !claims["exp"].is_number() || claims["exp"].get<double>() <= static_cast<double>(now))
    return *why = "expired", std::nullopt;
  if (claims.contains("nbf") && claims["nbf"].is_number() && claims["nbf"].get<double>() > static_cast<double>(now))
    return *why = "not valid yet", std::nullopt;
  const json name = claims.value(config_.username_claim, json());
  if (!name.is_string() || name.get<std::string>().empty())
    return *why = "no " + config_.username_claim + " claim", std::nullopt;
  UserInfo u{name.get<std::string>(), string_field(claims, "sub"), {}};
  if (!config_.groups_claim.empty() && claims.contains(config_.groups_claim) && claims[config_.groups_claim].is_array())
    for (const auto& g : claims[config_.groups_claim])
      if (g.is_string()) u.groups.push_back(g.get<std::string>());
  u.groups.push_back("system:authenticated");
  return u;
}

}  // namespace pmesh::server
