#include "server/auth/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <algorithm>

#include "engine/json_path.h"
#include "server/api/body.h"
#include "stdlib/digest.h"
#include "stdlib/text.h"

namespace pmesh::server {

using engine::string_field;
using nlohmann::json;

namespace {

BIGNUM* bignum(const std::string& b64) {
  auto bytes = base64_decode(b64);
  if (!bytes) return nullptr;
  return BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes->data()), static_cast<int>(bytes->size()), nullptr);
}

}  // namespace

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

namespace {

bool verify_signature(EVP_PKEY* key, const std::string& data, const std::string& sig) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) > 0 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

}  // namespace

std::optional<Jws> parse_jws(const std::string& token, std::string* why) {
  size_t d1 = token.find('.'), d2 = d1 == std::string::npos ? d1 : token.find('.', d1 + 1);
  if (d1 == std::string::npos || d2 == std::string::npos || token.find('.', d2 + 1) != std::string::npos)
    return *why = "not a JWT", std::nullopt;
  auto header = base64_decode(token.substr(0, d1)), payload = base64_decode(token.substr(d1 + 1, d2 - d1 - 1));
  auto sig = base64_decode(token.substr(d2 + 1));
  if (!header || !payload || !sig) return *why = "malformed JWT encoding", std::nullopt;
  Jws out{parse_json(*header).value_or(json()), parse_json(*payload).value_or(json()), token.substr(0, d2), *sig};
  if (!out.header.is_object() || !out.claims.is_object()) return *why = "malformed JWT", std::nullopt;
  return out;
}

bool verify_jws(EVP_PKEY* key, const Jws& jws) {
  std::string alg = string_field(jws.header, "alg");
  int type = EVP_PKEY_get_base_id(key);
  if (alg == "RS256" && type == EVP_PKEY_RSA) return verify_signature(key, jws.signing_input, jws.signature);
  if (alg == "ES256" && type == EVP_PKEY_EC) {
    auto der = es256_der(jws.signature);
    return der && verify_signature(key, jws.signing_input, *der);
  }
  return false;
}

std::string claims_problem(const json& claims, const std::string& issuer, const std::vector<std::string>& audiences,
                           std::time_t now) {
  if (string_field(claims, "iss") != issuer) return "wrong issuer";
  const json aud = claims.value("aud", json());
  bool aud_ok = false;
  for (const auto& a : audiences)
    aud_ok = aud_ok || (aud.is_string() ? aud == a : aud.is_array() && std::find(aud.begin(), aud.end(), a) != aud.end());
  if (!aud_ok) return "wrong audience";
  if (!claims.contains("exp") || !claims["exp"].is_number() || claims["exp"].get<double>() <= static_cast<double>(now)) return "expired";
  if (claims.contains("nbf") && claims["nbf"].is_number() && claims["nbf"].get<double>() > static_cast<double>(now)) return "not valid yet";
  return "";
}

std::string sign_rs256(EVP_PKEY* key, const std::string& kid, const json& claims) {
  std::string input = base64_encode(json{{"alg", "RS256"}, {"kid", kid}}.dump(), true) + "." + base64_encode(claims.dump(), true);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  std::string sig;
  if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) > 0 &&
      EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) > 0) {
    sig.resize(len);
    if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) > 0)
      sig.resize(len);
    else
      sig.clear();
  }
  EVP_MD_CTX_free(ctx);
  return input + "." + base64_encode(sig, true);
}

json rsa_public_jwk(EVP_PKEY* key, const std::string& kid) {
  auto b64 = [&](const char* param) {
    BIGNUM* bn = nullptr;
    std::string out;
    if (EVP_PKEY_get_bn_param(key, param, &bn) > 0) {
      out.resize(static_cast<size_t>(BN_num_bytes(bn)));
      BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
    }
    BN_free(bn);
    return base64_encode(out, true);
  };
  return {{"use", "sig"}, {"kty", "RSA"}, {"kid", kid}, {"alg", "RS256"}, {"n", b64(OSSL_PKEY_PARAM_RSA_N)}, {"e", b64(OSSL_PKEY_PARAM_RSA_E)}};
}

std::string key_id(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  if (len <= 0) return "";
  std::string digest = sha256(std::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(len)));
  OPENSSL_free(der);
  return base64_encode(digest, true);
}

}  // namespace pmesh::server
