// The server's pure parts: what a URL names, selectors, kube's name and
// label validation, the Status encoder, body decoding, and impersonation.
#include <doctest/doctest.h>
#include <openssl/evp.h>

#include "server/api/body.h"
#include "server/api/request.h"
#include "server/api/request_info.h"
#include "server/api/selectors.h"
#include "server/api/status.h"
#include "stdlib/digest.h"
#include "stdlib/field_error.h"
#include "stdlib/kube_validation.h"
#include "server/auth/impersonation.h"
#include "server/http/http_server.h"
#include "stdlib/text.h"

namespace pmesh::server {
namespace {

std::optional<RequestInfo> parse(const std::string& path, ApiError* e = nullptr) {
  ApiError ignored;
  return parse_request_path(path, e ? e : &ignored);
}

TEST_CASE("request paths: workspaces, objects, subresources, and what names nothing") {
  auto i = parse("/clusters/root:orgs:acme/apis/core.platform-mesh.io/v1alpha1/accounts/team-a");
  REQUIRE(i);
  CHECK(i->cluster == "root:orgs:acme");
  CHECK(i->group == "core.platform-mesh.io");
  CHECK(i->resource == "accounts");
  CHECK(i->name == "team-a");
  i = parse("/api/v1/namespaces/default/configmaps/cm/status");
  REQUIRE(i);
  CHECK(i->cluster == "root");
  CHECK(i->ns == "default");
  CHECK(i->subresource == "status");
  i = parse("/api/v1/namespaces/default");
  REQUIRE(i);
  CHECK(i->resource == "namespaces");
  CHECK(i->name == "default");
  i = parse("/api/v1/namespaces/default/status");  // the Namespace's own subresource, not a resource in it
  REQUIRE(i);
  CHECK(i->resource == "namespaces");
  CHECK(i->name == "default");
  CHECK(i->subresource == "status");
  CHECK(i->ns.empty());
  CHECK(parse("/clusters/*/api/v1/configmaps")->wildcard());
  CHECK(parse("/healthz")->kind == RequestInfo::Kind::kHealth);
  CHECK_FALSE(parse("/clusters/root/healthz"));  // health is the server's, not a workspace's
  ApiError e;
  CHECK_FALSE(parse("/nowhere", &e));
  CHECK(e.code == 404);
  CHECK_FALSE(parse("/api/v1/namespaces/default/configmaps/cm/status/x", &e));
  CHECK(e.code == 404);
}

TEST_CASE("workspace paths are kcp's: DNS labels joined by colons, anything else is a 400") {
  for (const char* ok : {"root", "root:orgs", "root:orgs:a-b-c", "r0:1"}) CHECK(valid_cluster_path(ok));
  for (const char* bad : {"", "Root", "root:", ":root", "root::x", "root:-x", "root:x-", "root.orgs", "root orgs", "r\xff"})
    CHECK_FALSE(valid_cluster_path(bad));
  CHECK_FALSE(valid_cluster_path("root:" + std::string(64, 'a')));
  CHECK(valid_cluster_path("root:" + std::string(63, 'a')));
  ApiError e;
  CHECK_FALSE(parse("/clusters/Root/api", &e));
  CHECK(e.code == 400);
  CHECK(e.message == "invalid cluster: \"Root\" does not match the regex");
}

TEST_CASE("names in URLs that cannot name a stored object are a 400, as kube's key functions say") {
  ApiError e;
  CHECK_FALSE(parse("/api/v1/namespaces/default/configmaps/a%b", &e));
  CHECK(e.message == "Name parameter invalid: \"a%b\": may not contain '%'");
  CHECK_FALSE(parse("/api/v1/namespaces/default/configmaps/..", &e));
  CHECK(e.message == "Name parameter invalid: \"..\": may not be '..'");
  CHECK_FALSE(parse("/api/v1/namespaces/a%b/configmaps", &e));
  CHECK(e.code == 400);
  CHECK(path_segment_problem("ok.name-1").empty());
}

TEST_CASE("request targets: percent-decoding, the first of repeated parameters, malformed escapes") {
  std::string path;
  std::map<std::string, std::string> q;
  REQUIRE(parse_target("/a%20b/c+d?x=1&x=2&y=a+b&z=%3D", &path, &q));
  CHECK(path == "/a b/c+d");
  CHECK(q["x"] == "1");
  CHECK(q["y"] == "a b");
  CHECK(q["z"] == "=");
  CHECK_FALSE(parse_target("/a%zz", &path, &q));
  CHECK_FALSE(parse_target("/a%4", &path, &q));
  CHECK_FALSE(parse_target("/a?b=%", &path, &q));
}

TEST_CASE("label selectors: kube's grammar, keys and values validated") {
  std::string err;
  auto s = Selector::parse_labels("app=db, tier in (a, b), !legacy, env!=prod, size>3", &err);
  REQUIRE(s);
  nlohmann::json o = {{"metadata", {{"labels", {{"app", "db"}, {"tier", "b"}, {"env", "dev"}, {"size", "7"}}}}}};
  CHECK(s->matches(o));
  o["metadata"]["labels"]["legacy"] = "x";
  CHECK_FALSE(s->matches(o));
  for (std::string bad : {"a b", "a/b/c=v", "a=b c", "a in ()", "a>b", "a in", ",", "!", "a in (b", "=v", "x=(y)"}) {
    CAPTURE(bad);
    CHECK_FALSE(Selector::parse_labels(bad, &err));
  }
  CHECK(Selector::parse_labels("", &err)->empty());
  CHECK(Selector::parse_labels("a=", &err));  // an empty value is a value
}

TEST_CASE("field selectors: metadata.name and metadata.namespace, with escapes") {
  std::string err;
  auto s = Selector::parse_fields("metadata.name=a\\,b,metadata.namespace!=kube-system", {}, &err);
  REQUIRE(s);
  CHECK(s->matches({{"metadata", {{"name", "a,b"}, {"namespace", "default"}}}}));
  CHECK_FALSE(Selector::parse_fields("spec.x=y", {}, &err));
  CHECK(err == "\"spec.x\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"");
  CHECK_FALSE(Selector::parse_fields("metadata.name", {}, &err));
  CHECK_FALSE(Selector::parse_fields("metadata.name=a=b", {}, &err));
}

TEST_CASE("field selectors: a built-in kind's own field labels, read from the object") {
  // As kube's conversion for Namespaces: status.phase and metadata.name,
  // and nothing else (not even metadata.namespace).
  const std::vector<std::string> namespaces = {"status.phase", "metadata.name"};
  std::string err;
  auto s = Selector::parse_fields("status.phase=Active", namespaces, &err);
  REQUIRE(s);
  CHECK(s->matches({{"metadata", {{"name", "a"}}}, {"status", {{"phase", "Active"}}}}));
  CHECK_FALSE(s->matches({{"metadata", {{"name", "a"}}}, {"status", {{"phase", "Terminating"}}}}));
  CHECK_FALSE(s->matches({{"metadata", {{"name", "a"}}}}));
  // A field the object lacks is "", so != matches it.
  auto n = Selector::parse_fields("status.phase!=Active", namespaces, &err);
  REQUIRE(n);
  CHECK(n->matches({{"metadata", {{"name", "a"}}}}));
  CHECK(n->matches({{"metadata", {{"name", "a"}}}, {"status", "not an object"}}));
  CHECK_FALSE(Selector::parse_fields("metadata.namespace=x", namespaces, &err));
  CHECK(err == "field label not supported: metadata.namespace");
  // A top-level field (a Secret's type).
  auto t = Selector::parse_fields("type=Opaque", {"type", "metadata.namespace", "metadata.name"}, &err);
  REQUIRE(t);
  CHECK(t->matches({{"metadata", {{"name", "a"}}}, {"type", "Opaque"}}));
  CHECK_FALSE(t->matches({{"metadata", {{"name", "a"}}}, {"type", "kubernetes.io/tls"}}));
  // A custom resource's selectable booleans and integers, as their text;
  // other types (a float, an object) read as "".
  const std::vector<std::string> shirts = {"metadata.name", "metadata.namespace", "spec.size", "spec.folded"};
  auto size = Selector::parse_fields("spec.size=3,spec.folded=false", shirts, &err);
  REQUIRE(size);
  CHECK(size->matches({{"spec", {{"size", 3}, {"folded", false}}}}));
  CHECK_FALSE(size->matches({{"spec", {{"size", 3}, {"folded", true}}}}));
  CHECK_FALSE(size->matches({{"spec", {{"size", "3"}}}}));
  auto empty = Selector::parse_fields("spec.size=", shirts, &err);
  REQUIRE(empty);
  CHECK(empty->matches({{"spec", {{"size", 3.5}}}}));
  CHECK(empty->matches({{"spec", {{"size", {{"a", 1}}}}}}));
}

TEST_CASE("names and labels as kube validates them, with kube's words") {
  CHECK(dns1123_subdomain_problems("a.b-c").empty());
  CHECK(dns1123_subdomain_problems("Not_Valid")[0] ==
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
        "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
  CHECK(dns1123_label_problems("a.b").size() == 1);
  CHECK(dns1123_label_problems(std::string(64, 'a'))[0] == "must be no more than 63 characters");
  CHECK(qualified_name_problems("example.com/Name_1").empty());
  CHECK(qualified_name_problems("a/b/c")[0].rfind("a qualified name must consist of", 0) == 0);
  CHECK(qualified_name_problems("/a")[0] == "prefix part must be non-empty");
  CHECK(label_value_problems("").empty());
  CHECK_FALSE(label_value_problems("b c").empty());
  CHECK(object_name_problems("gen-", NameValidation::kDNS1123Subdomain, true).empty());  // a generateName may end in '-'
  CHECK_FALSE(object_name_problems("gen-", NameValidation::kDNS1123Subdomain, false).empty());
  // RBAC's names are path segments: `system:aggregate-to-view` is one.
  CHECK(object_name_problems("system:aggregate-to-view", NameValidation::kPathSegment, false).empty());
  CHECK(object_name_problems("..", NameValidation::kPathSegment, false) == Problems{"may not be '..'"});
  CHECK(object_name_problems("a/b%c", NameValidation::kPathSegment, false) == Problems{"may not contain '/'", "may not contain '%'"});
}

TEST_CASE("the Status encoder: kube's messages for one and many field errors, causes, details") {
  ApiError one = ApiError::invalid("", "ConfigMap", "x", {FieldError::invalid("metadata.name", "X", "bad")});
  CHECK(one.code == 422);
  CHECK(one.message == "ConfigMap \"x\" is invalid: metadata.name: Invalid value: \"X\": bad");
  auto s = status_json(one);
  CHECK(s["reason"] == "Invalid");
  CHECK(s["details"]["causes"][0]["reason"] == "FieldValueInvalid");
  CHECK(s["details"]["causes"][0]["field"] == "metadata.name");
  ApiError two = ApiError::invalid("core.platform-mesh.io", "Account", "a",
                                   {FieldError::required("spec.type"), FieldError::too_long("metadata.annotations", 10)});
  CHECK(two.message == "Account.core.platform-mesh.io \"a\" is invalid: [spec.type: Required value, "
                       "metadata.annotations: Too long: must have at most 10 bytes]");
  CHECK(FieldError::not_supported("dryRun", nlohmann::json::array({"x"}), {"All"}).message() ==
        "dryRun: Unsupported value: []string{\"x\"}: supported values: \"All\"");
  CHECK(ApiError::not_found({"", "configmaps"}, "cm").message == "configmaps \"cm\" not found");
  CHECK(ApiError::forbidden({"apis.kcp.io", "apibindings"}, "b", "no").message == "apibindings.apis.kcp.io \"b\" is forbidden: no");
  // An unknown error has no reason, as kube's StatusReasonUnknown.
  CHECK_FALSE(status_json(ApiError::unknown(500, "x")).contains("reason"));
  // What clients sent may not be UTF-8; the encoder does not fail on it.
  auto res = status_response(ApiError::bad_request("bad \xff byte"));
  CHECK(valid_utf8(res.body));
}

TEST_CASE("JSON bodies: what is not UTF-8 becomes U+FFFD, as Go decodes it, and nesting is bounded") {
  ApiError e;
  auto j = decode_body("{\"a\": \"x\xffy\"}", BodyFormat::kJson, &e);
  REQUIRE(j);
  CHECK((*j)["a"] == "x\xEF\xBF\xBDy");
  CHECK_FALSE(decode_body(std::string(150, '[') + std::string(150, ']'), BodyFormat::kJson, &e));
  CHECK(e.code == 400);
  CHECK_FALSE(decode_body("{", BodyFormat::kJson, &e));
  CHECK_FALSE(decode_body("", BodyFormat::kJson, &e));
  // A number JSON cannot hold is a 400, not an exception (found by fuzzing).
  CHECK_FALSE(decode_body("{\"a\": 1e999}", BodyFormat::kJson, &e));
  CHECK(e.code == 400);
  CHECK_FALSE(parse_json("[44444444444444444444444444444444E3806]"));
}

TEST_CASE("YAML bodies: one document, UTF-8, bounded nesting and aliasing") {
  ApiError e;
  auto j = decode_body("metadata: {name: x}\ndata: {n: '1', m: 2}\n", BodyFormat::kYaml, &e);
  REQUIRE(j);
  CHECK((*j)["data"]["n"] == "1");
  CHECK((*j)["data"]["m"] == 2);
  CHECK_FALSE(decode_body("a: \"x\xffy\"\n", BodyFormat::kYaml, &e));
  CHECK(e.message.find("UTF-8") != std::string::npos);
  CHECK_FALSE(decode_body("a: 1\n---\nb: 2\n", BodyFormat::kYaml, &e));
  CHECK_FALSE(decode_body("a: 1e999\n", BodyFormat::kYaml, &e));
  CHECK(e.code == 400);
  std::string laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'g'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    laughs += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) laughs += (i ? ", *" : "*") + prev;
    laughs += "]\n";
  }
  CHECK_FALSE(decode_body(laughs, BodyFormat::kYaml, &e));
  CHECK(e.message.find("excessive aliasing") != std::string::npos);
  // A few aliases are fine.
  CHECK(decode_body("a: &a {x: 1}\nb: *a\nc: *a\n", BodyFormat::kYaml, &e));
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "- ";
  CHECK_FALSE(decode_body(deep + "x\n", BodyFormat::kYaml, &e));
  // Control characters are refused as go-yaml refuses them; the escapes \N
  // and \_ are the characters U+0085 and U+00A0 (found by fuzzing: yaml-cpp
  // wrote them as bytes that are not UTF-8).
  CHECK_FALSE(decode_body("a: \"x\x12\"\n", BodyFormat::kYaml, &e));
  CHECK(e.message.find("control characters are not allowed") != std::string::npos);
  j = decode_body("a: \"\\N\\_\\x41\u00e9\"\n\"\\N\": 1\n", BodyFormat::kYaml, &e);
  REQUIRE(j);
  CHECK((*j)["a"] == "\u0085\u00a0A\u00e9");
  CHECK(j->contains("\u0085"));
  // A kind that is not a string is not a List (found by fuzzing: it threw).
  CHECK(decode_body("kind:\nmetadata: {name: a}\n", BodyFormat::kYaml, &e));
  CHECK(decode_body("{kind: [List], items: [1]}", BodyFormat::kYaml, &e));
  // yaml-cpp would return empty documents forever on these (found by fuzzing).
  for (const char* stray : {",", "\n,\n", "a: 1\n---\n,", "- x\n,"}) {
    CHECK_FALSE(decode_body(stray, BodyFormat::kYaml, &e));
    CHECK(e.code == 400);
  }
}

TEST_CASE("content types, and what the verb of a request is") {
  CHECK(body_format("application/json; charset=utf-8") == BodyFormat::kJson);
  CHECK(body_format("") == BodyFormat::kJson);
  CHECK(body_format("application/yaml") == BodyFormat::kYaml);
  CHECK(body_format("application/vnd.kubernetes.protobuf") == BodyFormat::kProtobuf);
  CHECK(body_format("text/plain") == BodyFormat::kUnsupported);
  RequestInfo info;
  info.kind = RequestInfo::Kind::kObject;
  HttpRequest get;
  get.method = "GET";
  get.query = {{"watch", "1"}};
  ApiError e;
  CHECK(*verb_of(get, info, &e) == Verb::kWatch);
  get.query["watch"] = "perhaps";
  CHECK_FALSE(verb_of(get, info, &e));
  CHECK(e.code == 400);
  HttpRequest del;
  del.method = "DELETE";
  CHECK(*verb_of(del, info, &e) == Verb::kDeleteCollection);
  info.name = "x";
  CHECK(*verb_of(del, info, &e) == Verb::kDelete);
  CHECK(parse_bool("T") == true);
  CHECK_FALSE(parse_bool("yes"));
  CHECK(parse_int("-3") == -3);
  CHECK_FALSE(parse_int("3x"));
}

TEST_CASE("SHA-256: known answers, and pieces fed one after another digest as their concatenation") {
  CHECK(hex_encode(sha256("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(hex_encode(sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  std::string long_input(1000, 'x');
  for (int round = 0; round < 2; ++round) {  // finish() starts the digest over
    h.update("a");
    h.update("");
    h.update("bc");
    CHECK(h.finish() == sha256("abc"));
    h.update(std::string_view(long_input).substr(0, 333));
    h.update(std::string_view(long_input).substr(333));
    CHECK(h.finish() == sha256(long_input));
  }
}

TEST_CASE("text helpers: hex, join, trim") {
  CHECK(hex_encode(std::string("\x00\x7f\x80\xff", 4)) == "007f80ff");
  CHECK(hex_encode("") == "");
  CHECK(join({"a", "b", "c"}, ", ") == "a, b, c");
  CHECK(join({}, ", ") == "");
  CHECK(trim(" \ta b\t ") == "a b");
  CHECK(trim("\r\n x \n", " \t\n\r") == "x");
  CHECK(trim("\n x", " \t") == "\n x");
  CHECK(trim("   ") == "");
}

TEST_CASE("Go's %q: control bytes escaped, quotes and backslashes by go_quote only") {
  std::string escaped;
  for (unsigned char c : std::string("a\n\t\r\x01\x1b\x7f\"\\\xc3\xa9", 11)) append_go_escaped(escaped, c);
  CHECK(escaped == "a\\n\\t\\r\\x01\\x1b\\x7f\"\\\xc3\xa9");
  CHECK(go_quote("a\"b\\c\nd\x01") == "\"a\\\"b\\\\c\\nd\\x01\"");
}

TEST_CASE("base64 both ways, with either alphabet and padding or none") {
  CHECK(base64_encode("hi?") == "aGk/");
  CHECK(base64_encode("hi?", true) == "aGk_");
  CHECK(base64_decode("aGk/") == std::string("hi?"));
  CHECK(base64_decode("aGk_") == std::string("hi?"));
  CHECK(base64_decode("aGk") == std::string("hi"));
  CHECK(base64_decode("aGk=") == std::string("hi"));
  CHECK_FALSE(base64_decode("a"));
  CHECK_FALSE(base64_decode("not base64!"));
  CHECK(base64_decode("") == std::string());
  CHECK(base64_decode("-_-_") == std::string("\xfb\xff\xbf"));
  CHECK(base64_decode("+/+/") == std::string("\xfb\xff\xbf"));
  CHECK_FALSE(base64_decode("aGk=="));  // padding for a length that needs one
  CHECK_FALSE(base64_decode("a==="));
  CHECK_FALSE(base64_decode("aG=k"));
  CHECK_FALSE(base64_decode("aG k"));
  unsigned char two[2];
  CHECK((base64_decode_exact("aGk", two) && two[0] == 'h' && two[1] == 'i'));
  CHECK_FALSE(base64_decode_exact("aGk/", two));  // three bytes
  CHECK_FALSE(base64_decode_exact("aA", two));    // one
  CHECK_FALSE(base64_decode_exact("a!k", two));
  // Every length round-trips, both alphabets, padded or not (the decoder
  // reads four characters at a time, then what is left).
  std::string bytes;
  for (int n = 0; n < 40; ++n) {
    // As OpenSSL encodes (what base64_encode called before it had a table).
    std::string reference(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    reference.resize(static_cast<size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(reference.data()),
                                                         reinterpret_cast<const unsigned char*>(bytes.data()),
                                                         static_cast<int>(bytes.size()))));
    CHECK(base64_encode(bytes) == reference);
    for (bool url : {false, true}) {
      std::string text = base64_encode(bytes, url);
      CHECK(text.size() == base64_length(bytes.size(), url));
      CHECK(base64_decode(text) == bytes);
      while (!text.empty() && text.back() == '=') text.pop_back();
      CHECK(base64_decode(text) == bytes);
      if (!text.empty()) CHECK_FALSE(base64_decode(text.substr(0, text.size() - 1) + "!"));
    }
    bytes += static_cast<char>((n * 73 + 41) & 0xff);
  }
  CHECK(valid_utf8("é"));
  CHECK_FALSE(valid_utf8("\xc3"));
  CHECK_FALSE(valid_utf8("\xed\xa0\x80"));  // a surrogate
  // Past the eight-byte ASCII stride: a bad byte anywhere, and a sequence
  // that straddles a stride, are found.
  CHECK(valid_utf8("abcdefgh" "ijklmnop" "q"));
  CHECK(valid_utf8("abcdefg\xc3\xa9" "hijklmn"));
  CHECK_FALSE(valid_utf8("abcdefgh" "ijklmno\xff"));
  CHECK_FALSE(valid_utf8("abcdefgh" "ijklmnop" "\xc3"));
  CHECK_FALSE(valid_utf8("abcdefg\xc3" "hijklmno"));
  CHECK(coerce_utf8("a\xff" "b") == "a\xEF\xBF\xBD" "b");
}

}  // namespace
}  // namespace pmesh::server

namespace pmesh::server {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

TEST_CASE("impersonation: only system:masters acts as others, each part checked as kube's filter does") {
  UserInfo admin{"admin", "admin", {"system:masters", "system:authenticated"}, {}};
  UserInfo bob{"bob", "b", {"system:authenticated"}, {}};
  auto as = [](const std::variant<UserInfo, ApiError>& r) { return std::get<UserInfo>(r); };
  auto err = [](const std::variant<UserInfo, ApiError>& r) { return std::get<ApiError>(r); };
  CHECK(as(impersonate(bob, {})).name == "bob");
  CHECK(as(impersonate(bob, {{"x-other", "y"}})).name == "bob");
  UserInfo u = as(impersonate(admin, {{"impersonate-user", "bob"}}));
  CHECK(u.name == "bob");
  CHECK(u.groups == std::vector<std::string>{"system:authenticated"});
  CHECK_FALSE(u.in_group("system:masters"));
  u = as(impersonate(admin, {{"impersonate-user", "bob"}, {"impersonate-group", "devs"}, {"impersonate-uid", "42"},
                             {"impersonate-extra-acme.com%2fscopes", "a"}, {"impersonate-extra-acme.com%2fscopes", "b"}}));
  CHECK(u.groups == std::vector<std::string>{"devs"});  // named groups are the authority
  CHECK(u.uid == "42");
  CHECK(u.extra["acme.com/scopes"] == std::vector<std::string>{"a", "b"});
  u = as(impersonate(admin, {{"impersonate-user", "system:serviceaccount:ns1:robot"}}));
  CHECK(u.groups == std::vector<std::string>{"system:serviceaccounts", "system:serviceaccounts:ns1", "system:authenticated"});
  CHECK(as(impersonate(admin, {{"impersonate-user", "system:anonymous"}})).groups.empty());

  ApiError e = err(impersonate(bob, {{"impersonate-user", "admin"}}));
  CHECK(e.code == 403);
  CHECK(e.message == "users \"admin\" is forbidden: User \"bob\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope");
  e = err(impersonate(bob, {{"impersonate-group", "g"}, {"impersonate-user", "system:serviceaccount:kube-system:x"}}));
  CHECK(e.message == "serviceaccounts \"x\" is forbidden: User \"bob\" cannot impersonate resource \"serviceaccounts\" in API group \"\" "
                     "in the namespace \"kube-system\"");
  e = err(impersonate(admin, {{"impersonate-group", "system:masters"}}));
  CHECK(e.code == 500);
  CHECK(e.message == "Internal error occurred: requested [{Group  system:masters    }] without impersonating a user");
  // Whatever bytes a header holds, the answer is UTF-8.
  e = err(impersonate(bob, {{"impersonate-user", "a\xff"}}));
  CHECK(valid_utf8(e.message));
}

}  // namespace
}  // namespace pmesh::server
