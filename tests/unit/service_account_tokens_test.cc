// ServiceAccount tokens from a forger's side: what pmesh signs verifies,
// and nothing else does (another key, a changed claim, alg tricks, another
// audience, an expired token, a removed key), and the authenticator takes
// a token only while its ServiceAccount, namespace and bound Secret exist
// with the uids it names.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>

#include "server/auth/authn.h"
#include "server/auth/jwt.h"
#include "server/auth/service_account_tokens.h"
#include "stdlib/text.h"
#include "tests/unit/test_util.h"

namespace pmesh::test {
namespace {

using server::ServiceAccountClaims;
using server::ServiceAccountTokens;
using nlohmann::json;

constexpr const char* kIssuer = "https://pmesh.test";
const std::time_t kNow = 1800000000;

ServiceAccountClaims claims(int64_t seconds = 3600) {
  ServiceAccountClaims c;
  c.cluster = "root:orgs:acme";
  c.ns = "default";
  c.service_account = {"ctrl", "uid-1"};
  c.audiences = {kIssuer};
  c.expires = kNow + seconds;
  return c;
}

std::optional<ServiceAccountClaims> verify(const ServiceAccountTokens& t, const std::string& token, std::time_t now = kNow,
                                           std::vector<std::string> audiences = {kIssuer}) {
  std::string why;
  auto jws = server::parse_jws(token, &why);
  if (!jws || !t.claims_issuer(*jws)) return std::nullopt;
  return t.verify(*jws, audiences, now, &why);
}

// `token` with its payload replaced by `claims`, the signature kept.
std::string with_claims(const std::string& token, const json& claims) {
  size_t d1 = token.find('.'), d2 = token.rfind('.');
  return token.substr(0, d1) + "." + base64_encode(claims.dump(), true) + token.substr(d2);
}

json payload(const std::string& token) {
  size_t d1 = token.find('.'), d2 = token.rfind('.');
  return json::parse(*base64_decode(token.substr(d1 + 1, d2 - d1 - 1)));
}

TEST_CASE("ServiceAccount tokens: what pmesh signs verifies, nothing forged does") {
  TempDir dir;
  std::string err;
  auto t = ServiceAccountTokens::open(dir.path, kIssuer, &err);
  REQUIRE(t);
  std::string token = t->issue(claims(), kNow);
  auto c = verify(*t, token);
  REQUIRE(c);
  CHECK(c->cluster == "root:orgs:acme");
  CHECK(c->service_account.uid == "uid-1");
  CHECK(payload(token)["sub"] == "system:serviceaccount:default:ctrl");
  CHECK(payload(token)["kubernetes.io"]["clusterName"] == "root:orgs:acme");

  // Expired, not for this audience, or another issuer's.
  CHECK(!verify(*t, token, kNow + 3600));
  CHECK(!verify(*t, token, kNow, {"https://elsewhere"}));
  // A claim changed under the signature: another workspace, another uid.
  json p = payload(token);
  p["kubernetes.io"]["clusterName"] = "root:orgs:globex";
  CHECK(!verify(*t, with_claims(token, p)));
  p = payload(token);
  p["exp"] = kNow + 1000000;
  CHECK(!verify(*t, with_claims(token, p)));
  // alg tricks: none, and HS256 keyed with the public key's JWK.
  std::string body = token.substr(token.find('.'), token.rfind('.') - token.find('.'));
  CHECK(!verify(*t, base64_encode(R"({"alg":"none"})", true) + body + "."));
  CHECK(!verify(*t, base64_encode(R"({"alg":"HS256","kid":")" + t->jwks()["keys"][0]["kid"].get<std::string>() + R"("})", true) + body +
                        token.substr(token.rfind('.'))));
  // Another server's key, claiming this issuer.
  TempDir other;
  auto forger = ServiceAccountTokens::open(other.path, kIssuer, &err);
  REQUIRE(forger);
  CHECK(!verify(*t, forger->issue(claims(), kNow)));
  // The sub must be the ServiceAccount the claims name.
  p = payload(token);
  p["sub"] = "system:serviceaccount:kube-system:admin";
  CHECK(!verify(*t, with_claims(token, p)));
}

TEST_CASE("ServiceAccount tokens: a new key signs after a rotation, old tokens verify until their key is removed") {
  TempDir dir;
  std::string err, made;
  auto t = ServiceAccountTokens::open(dir.path, kIssuer, &err);
  REQUIRE(t);
  std::string old_token = t->issue(claims(), kNow);
  std::string old_kid = t->jwks()["keys"][0]["kid"];
  REQUIRE(ServiceAccountTokens::rotate(dir.path, &made, &err));
  auto rotated = ServiceAccountTokens::open(dir.path, kIssuer, &err);
  REQUIRE(rotated);
  CHECK(rotated->jwks()["keys"].size() == 2);
  std::string new_token = rotated->issue(claims(), kNow);
  CHECK(json::parse(*base64_decode(new_token.substr(0, new_token.find('.'))))["kid"] != old_kid);
  CHECK(verify(*rotated, old_token));
  CHECK(verify(*rotated, new_token));
  // Removing the old key revokes what it signed.
  for (const auto& e : std::filesystem::directory_iterator(dir.path))
    if (e.path().filename() != made) std::filesystem::remove(e.path());
  auto pruned = ServiceAccountTokens::open(dir.path, kIssuer, &err);
  REQUIRE(pruned);
  CHECK(!verify(*pruned, old_token));
  CHECK(verify(*pruned, new_token));
  // The JWKS is the public half only.
  json jwks = pruned->jwks();
  for (const auto& k : jwks["keys"]) CHECK(!k.contains("d"));
}

TEST_CASE("the authenticator takes a ServiceAccount token while its objects exist as it names them") {
  TempDir dir;
  std::string err;
  std::shared_ptr<const ServiceAccountTokens> t = ServiceAccountTokens::open(dir.path, kIssuer, &err);
  REQUIRE(t);
  std::map<std::string, std::string> uids = {{"ServiceAccount", "uid-1"}, {"Namespace", "ns-uid"}, {"Secret", "secret-uid"}};
  server::Authenticator authn;
  authn.set_service_accounts(t, [&](const std::string& kind, const std::string& cluster, const std::string&, const std::string&) {
    return cluster == "root:orgs:acme" && uids.count(kind) ? uids[kind] : std::string();
  });
  ServiceAccountClaims c = claims();
  c.expires = std::time(nullptr) + 3600;
  std::string token = t->issue(c, std::time(nullptr));
  std::string why;
  auto u = authn.authenticate("Bearer " + token, &why);
  REQUIRE(u);
  CHECK(u->name == "system:serviceaccount:default:ctrl");
  CHECK(u->groups == std::vector<std::string>{"system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"});
  CHECK(server::home_cluster(*u) == "root:orgs:acme");
  // Recreated under the same name: another uid, another identity.
  uids["ServiceAccount"] = "uid-2";
  CHECK(!authn.authenticate("Bearer " + token, &why));
  CHECK(why == "service account token has been invalidated");
  uids["ServiceAccount"] = "uid-1";
  uids.erase("Namespace");
  CHECK(!authn.authenticate("Bearer " + token, &why));
  uids["Namespace"] = "ns-uid";
  // Bound to a Secret: gone with it.
  c.secret = server::TokenObject{"bound", "secret-uid"};
  std::string bound = t->issue(c, std::time(nullptr));
  CHECK(authn.authenticate("Bearer " + bound, &why));
  uids.erase("Secret");
  CHECK(!authn.authenticate("Bearer " + bound, &why));
  // A review asks for its own audiences; another audience is not this token's.
  std::vector<std::string> matched;
  CHECK(authn.review(token, {}, &matched, &why));
  CHECK(matched == std::vector<std::string>{kIssuer});
  CHECK(!authn.review(token, {"vault"}, &matched, &why));
  CHECK(!authn.review(token + " trailing", {}, &matched, &why));
}

TEST_CASE("who is somebody in a workspace: ServiceAccounts at home, scoped users in their scopes (kcp's IsInScope)") {
  using server::in_scope;
  server::UserInfo anyone{"alice", "", {}, {}};
  CHECK(in_scope(anyone, "root:orgs:acme"));
  server::UserInfo sa{"system:serviceaccount:default:ctrl", "", {}, {{server::kClusterNameExtra, {"root:orgs:acme"}}}};
  CHECK(in_scope(sa, "root:orgs:acme"));
  CHECK(!in_scope(sa, "root:orgs:globex"));
  CHECK(!in_scope(sa, "*"));
  sa.extra[server::kClusterNameExtra] = {"root:orgs:acme", "root:orgs:acme"};  // two clusters are none
  CHECK(!in_scope(sa, "root:orgs:acme"));
  server::UserInfo scoped{"bob", "", {}, {{server::kScopesExtra, {"cluster:a,cluster:b"}}}};
  CHECK(in_scope(scoped, "a"));
  CHECK(in_scope(scoped, "b"));
  CHECK(!in_scope(scoped, "c"));
  scoped.extra[server::kScopesExtra].push_back("cluster:b");  // every value must admit it
  CHECK(!in_scope(scoped, "a"));
  CHECK(in_scope(scoped, "b"));
  scoped.extra[server::kScopesExtra] = {""};
  CHECK(!in_scope(scoped, "a"));
}

}  // namespace
}  // namespace pmesh::test
