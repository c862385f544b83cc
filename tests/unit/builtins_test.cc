// Builtin functions: results, errors, and the registry's order.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "stdlib/builtins.h"

namespace pmesh {
namespace {

Json call(const char* name, std::vector<Json> args) {
  const Builtin* b = find_builtin(name);
  REQUIRE(b != nullptr);
  return call_builtin(*b, args);
}

TEST_CASE("the registry is sorted and every builtin is found") {
  const auto& all = all_builtins();
  for (size_t i = 1; i < all.size(); ++i) CHECK(all[i - 1].name < all[i].name);
  for (const auto& b : all) CHECK(find_builtin(b.name) == &b);
  CHECK(find_builtin("nope") == nullptr);
}

TEST_CASE("strings") {
  CHECK(call("lower", {"AbC"}) == "abc");
  CHECK(call("split", {"a,b,,c", ","}) == Json({"a", "b", "", "c"}));
  CHECK(call("join", {Json({"a", "b"}), "-"}) == "a-b");
  CHECK(call("replace", {"aXbX", "X", "yy"}) == "ayybyy");
  CHECK(call("substr", {"hello", 1, 3}) == "ell");
  CHECK(call("trim", {"  x "}) == "x");
  CHECK(call("contains", {"hello", "ell"}) == true);
  CHECK(call("contains", {Json({1, 2}), 2}) == true);
  CHECK(call("len", {nullptr}) == 0);
  CHECK_THROWS_AS(call("lower", {1}), BuiltinError);
}

// Go's regexp.ReplaceAllString (the examples of its documentation), in RE2
// and linear time.
TEST_CASE("regex_replace is Go's ReplaceAllString") {
  CHECK(call("regex_replace", {"-ab-axxb-", "a(x*)b", "T"}) == "-T-T-");
  CHECK(call("regex_replace", {"-ab-axxb-", "a(x*)b", "$1"}) == "--xx-");
  CHECK(call("regex_replace", {"-ab-axxb-", "a(x*)b", "$1W"}) == "---");  // the group "1W", which does not exist
  CHECK(call("regex_replace", {"-ab-axxb-", "a(x*)b", "${1}W"}) == "-W-xxW-");
  CHECK(call("regex_replace", {"-ab-axxb-", "a(?P<mid>x*)b", "[$mid]"}) == "-[]-[xx]-");
  CHECK(call("regex_replace", {"cost", "cost", "$$5"}) == "$5");
  CHECK(call("regex_replace", {"abc", "", "-"}) == "-a-b-c-");
  CHECK(call("regex_replace", {"abc", "b*", "-"}) == "-a-c-");  // the empty match after "b" is skipped
  CHECK(call("regex_replace", {"db1-creds-prod", "^(.*)-prod$", "$1"}) == "db1-creds");
  CHECK(call("regex_replace", {"x", "x", "${1"}) == "${1");  // malformed: text
  CHECK_THROWS_AS(call("regex_replace", {"x", "(", "y"}), BuiltinError);
  // A pattern that backtracking engines take exponential time over.
  std::string hostile(30000, 'a');
  hostile += '!';
  CHECK(call("regex_replace", {hostile, "(a+)+$", "x"}) == hostile);
  // A pattern that matches everywhere and a long replacement: bounded.
  CHECK_THROWS_AS(call("regex_replace", {std::string(1000, 'a'), "", std::string(1000, 'b')}), BuiltinError);
}

TEST_CASE("hashes are the standard digests") {
  CHECK(call("sha1", {"abc"}) == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(call("sha3", {"abc"}) == "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
  CHECK(call("sha1short", {"abc", 8}) == "a9993e36");
  CHECK(call("sha3short", {"abc"}) == "3a985da74fe225b2045c");
  Json h = call("hash36", {"root:orgs:acme"});
  CHECK(h.get<std::string>().size() == 16);
  CHECK(h == call("hash36", {"root:orgs:acme"}));
  CHECK(h != call("hash36", {"root:orgs:acme2"}));
  // Computed independently (Python's hashlib): base36 of SHA-256, and a
  // ULID from its leading 128 bits.
  CHECK(h == "22fpcusxa1fwv2v8");
  CHECK(call("ulid_of", {"abc"}) == "5TF0BBZ3R1SZN42GA0VSETW8H3");
}

TEST_CASE("workspace paths") {
  CHECK(call("parent", {"root:orgs:acme"}) == "root:orgs");
  CHECK(call("parent", {"root"}).is_null());
  CHECK(call("base", {"root:orgs:acme"}) == "acme");
  CHECK(call("child", {"root:orgs", "acme"}) == "root:orgs:acme");
  CHECK(call("depth", {"root:orgs:acme"}) == 2);
  CHECK(call("ancestors", {"root:orgs:acme"}) == Json({"root", "root:orgs"}));
}

TEST_CASE("lists and objects") {
  Json conds = Json::parse(R"([{"type":"A","status":"True"},{"type":"B","status":"False"}])");
  CHECK(call("find", {conds, "type", "B"})["status"] == "False");
  CHECK(call("find", {conds, "type", "C"}).is_null());
  CHECK(call("select", {conds, "status", "True"}).size() == 1);
  CHECK(call("pluck", {conds, "type"}) == Json({"A", "B"}));
  CHECK(call("enumerate", {Json({"x", "y"})}) == Json::parse(R"([{"index":0,"value":"x"},{"index":1,"value":"y"}])"));
  CHECK(call("enumerate", {Json::array()}) == Json::array());
  CHECK(call("intersect", {Json({"A", "C"}), Json({"B", "A"})}) == Json({"A"}));
  CHECK(call("difference", {Json({"A", "C", "B"}), Json({"B", "A"})}) == Json({"C"}));
  CHECK(call("unique", {Json({1, 2, 1})}) == Json({1, 2}));
  CHECK(call("sort", {Json({3, 1, 2})}) == Json({1, 2, 3}));
  CHECK(call("merge", {Json({{"a", 1}}), Json({{"a", 2}, {"b", 3}})}) == Json({{"a", 2}, {"b", 3}}));
  CHECK(call("without_prefix", {Json({{"x.io/a", 1}, {"x.io/b", 2}, {"y.io/a", 3}, {"x.i", 4}}), "x.io/"}) ==
        Json({{"y.io/a", 3}, {"x.i", 4}}));
  CHECK(call("get", {Json({{"a", 1}}), "b", 5}) == 5);
}

// What the binder calls for pluck(select(list, field, value), picked):
// whatever the list holds, the same value as the two calls, or the same error.
TEST_CASE("pluck of a select, in one pass, is the two calls") {
  auto both = [](const Json& list, const Json& value, const char* picked) {
    Json selected = call("select", {list, "status", value});
    return call("pluck", {selected, picked});
  };
  auto fused = [](const Json& list, const Json& value, const char* picked) {
    return call_builtin(pluck_selected(), {list, "status", value, picked});
  };
  const Json lists[] = {
      Json::parse(R"([{"type":"A","status":"True"},{"type":"B","status":"False"},{"type":"C","status":"True"}])"),
      Json::parse(R"([{"status":"True"},{"type":{"x":1},"status":"True"},{"type":"D","status":true}])"),
      Json::parse(R"([1, "True", null, [], {"type":"E"}, {"type":"F","status":"True","reason":"x"}])"),
      Json::array(),
  };
  for (const Json& list : lists)
    for (const Json& value : {Json("True"), Json(true), Json()})
      for (const char* picked : {"type", "reason", "missing"}) {
        INFO(list.dump() << " " << value.dump() << " " << picked);
        CHECK(fused(list, value, picked) == both(list, value, picked));
      }
  CHECK(fused(lists[0], "True", "type") == Json({"A", "C"}));
  for (const Json& not_a_list : {Json(), Json::object(), Json("x")}) {
    std::string two, one;
    try {
      both(not_a_list, "True", "type");
    } catch (const BuiltinError& e) {
      two = e.what();
    }
    try {
      fused(not_a_list, "True", "type");
    } catch (const BuiltinError& e) {
      one = e.what();
    }
    CHECK_FALSE(two.empty());
    CHECK(one == two);
  }
}

TEST_CASE("names") {
  CHECK(call("is_dns1123_label", {"team-a"}) == true);
  CHECK(call("is_dns1123_label", {"Team_A"}) == false);
  CHECK(call("is_dns1123_subdomain", {"a.b-c"}) == true);
  CHECK(call("matches", {"abc", "a.c"}) == true);
  CHECK_THROWS_AS(call("matches", {"abc", "("}), BuiltinError);
}

TEST_CASE("the api-syncagent's reference paths and templates") {
  Json o = {{"spec", {{"secret", "db-creds"}, {"port", 5432}, {"tls", true}, {"hosts", {"a", "b"}}, {"a.b", "dotted"}, {"none", nullptr}}}};
  CHECK(call("gjson", {o, "spec.secret"}) == "db-creds");
  // gjson's String(): other values as their JSON text, null as "".
  CHECK(call("gjson", {o, "spec.port"}) == "5432");
  CHECK(call("gjson", {o, "spec.tls"}) == "true");
  CHECK(call("gjson", {o, "spec.hosts"}) == "[\"a\",\"b\"]");
  CHECK(call("gjson", {o, "spec.hosts.1"}) == "b");
  CHECK(call("gjson", {o, "spec.none"}) == "");
  CHECK(call("gjson", {o, "spec.a\\.b"}) == "dotted");
  CHECK(call("gjson", {o, "spec.missing"}).is_null());
  CHECK(call("gjson", {o, "spec.hosts.7"}).is_null());
  CHECK_THROWS_AS(call("gjson", {o, "spec.hosts.#"}), BuiltinError);
  CHECK(call("go_template", {"{{ .Object.metadata.name }}-config", Json{{"Object", {{"metadata", {{"name", "db1"}}}}}}}) == "db1-config");
  CHECK_THROWS_AS(call("go_template", {"{{ if .x }}y{{ end }}", Json::object()}), BuiltinError);
}

}  // namespace
}  // namespace pmesh
