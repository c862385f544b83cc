// The api-syncagent's functions: mutations (cases from the agent's
// transformer tests, internal/mutation/transformer/*_test.go) and the
// templated label selectors of related resources.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "stdlib/syncagent.h"

namespace pmesh {
namespace {

const Json kCronTab = Json::parse(R"({"apiVersion": "kcp.example.com/v1", "kind": "CronTab",
  "metadata": {"namespace": "default", "name": "my-crontab"},
  "spec": {"cronSpec": "* * *", "image": "ubuntu:latest", "ports": [80, 443]}})");

Json mutate(const char* mutations, const Json& other = nullptr) {
  return apply_syncagent_mutations(kCronTab, Json::parse(mutations), other);
}

TEST_CASE("delete mutations remove what the path finds, and nothing else") {
  CHECK_FALSE(mutate(R"([{"delete": {"path": "spec.image"}}])")["spec"].contains("image"));
  CHECK(mutate(R"([{"delete": {"path": "spec.ports.0"}}])")["spec"]["ports"] == Json({443}));
  CHECK(mutate(R"([{"delete": {"path": "spec.nothing.here"}}])") == kCronTab);
  CHECK(mutate(R"([{"delete": {"path": "spec"}}])").contains("metadata"));
}

TEST_CASE("regex mutations replace in the value as text, or set the replacement") {
  CHECK(mutate(R"([{"regex": {"path": "spec.image", "pattern": ":latest$", "replacement": ":24.04"}}])")["spec"]["image"] ==
        "ubuntu:24.04");
  // An empty pattern sets the replacement, even where nothing was.
  CHECK(mutate(R"([{"regex": {"path": "spec.image", "replacement": "debian"}}])")["spec"]["image"] == "debian");
  CHECK(mutate(R"([{"regex": {"path": "spec.extra.tier", "replacement": "gold"}}])")["spec"]["extra"] == Json({{"tier", "gold"}}));
  // Numbers are read as their text and written back as strings, as gjson and sjson do.
  CHECK(mutate(R"([{"regex": {"path": "spec.ports.1", "pattern": "4", "replacement": "8"}}])")["spec"]["ports"][1] == "883");
  // Groups expand as Go's ReplaceAllString expands them.
  CHECK(mutate(R"([{"regex": {"path": "metadata.name", "pattern": "^my-(.*)$", "replacement": "their-$1"}}])")["metadata"]["name"] ==
        "their-crontab");
  CHECK_THROWS_AS(mutate(R"([{"regex": {"path": "spec.image", "pattern": "(", "replacement": "x"}}])"), BuiltinError);
}

TEST_CASE("template mutations render html/template over Value, LocalObject and RemoteObject") {
  // The agent's own cases: an empty template empties the value, a path may
  // change its type, and `.Value.String` is gjson.Result's method.
  CHECK(mutate(R"([{"template": {"path": "spec.cronSpec"}}])")["spec"]["cronSpec"] == "");
  CHECK(mutate(R"([{"template": {"path": "spec"}}])")["spec"] == "");
  CHECK(mutate(R"([{"template": {"path": "spec.image", "template": "{{ upper .Value.String }}"}}])")["spec"]["image"] ==
        "UBUNTU:LATEST");
  CHECK(mutate(R"([{"template": {"path": "spec.image", "template": "{{ .Value }}-x"}}])")["spec"]["image"] == "ubuntu:latest-x");
  CHECK(mutate(R"([{"template": {"path": "spec.port", "template": "{{ .Value.Int }}"}}])")["spec"]["port"] == "0");
  Json other = {{"metadata", {{"name", "copy-1"}}}};
  CHECK(mutate(R"([{"template": {"path": "spec.copy", "template": "{{ .RemoteObject.metadata.name }}"}}])", other)["spec"]["copy"] ==
        "copy-1");
  // html/template: what an action prints is escaped, and a missing value prints nothing.
  Json quoted = {{"metadata", {{"name", "a<b>&'\""}}}};
  CHECK(mutate(R"([{"template": {"path": "spec.q", "template": "<{{ .RemoteObject.metadata.name }}>"}}])", quoted)["spec"]["q"] ==
        "<a&lt;b&gt;&amp;&#39;&#34;>");
  CHECK(mutate(R"([{"template": {"path": "spec.q", "template": "[{{ .RemoteObject.nothing }}]"}}])")["spec"]["q"] == "[]");
}

TEST_CASE("mutations apply in order, each to what the one before made") {
  Json out = mutate(R"([{"regex": {"path": "spec.image", "pattern": "ubuntu", "replacement": "debian"}},
                        {"template": {"path": "spec.tag", "template": "{{ .LocalObject.spec.image }}"}},
                        {"delete": {"path": "spec.image"}}])");
  CHECK(out["spec"]["tag"] == "debian:latest");
  CHECK_FALSE(out["spec"].contains("image"));
  CHECK(apply_syncagent_mutations(kCronTab, nullptr, nullptr) == kCronTab);
  CHECK_THROWS_WITH_AS(mutate(R"([{}])"), "syncagent_mutate: no valid mutation mechanism provided", BuiltinError);
}

TEST_CASE("set paths make what is missing as sjson does, within bounds") {
  CHECK(mutate(R"([{"regex": {"path": "spec.list.1", "replacement": "b"}}])")["spec"]["list"] == Json({nullptr, "b"}));
  CHECK(mutate(R"([{"regex": {"path": "spec.ports.-1", "replacement": "8080"}}])")["spec"]["ports"] == Json({80, 443, "8080"}));
  CHECK(mutate(R"([{"regex": {"path": "metadata.annotations.a\\.b", "replacement": "x"}}])")["metadata"]["annotations"] ==
        Json({{"a.b", "x"}}));
  // A provider's path cannot make a huge array, nor use gjson's queries.
  CHECK_THROWS_AS(mutate(R"([{"regex": {"path": "spec.ports.99999999", "replacement": "x"}}])"), BuiltinError);
  CHECK_THROWS_AS(mutate(R"([{"delete": {"path": "spec.ports.#"}}])"), BuiltinError);
}

TEST_CASE("a related resource's selector: matchLabels rendered, empty keys dropped, expressions kept") {
  const Builtin* b = find_builtin("syncagent_selector");
  REQUIRE(b != nullptr);
  Json selector = Json::parse(R"({"matchLabels": {"app": "db", "owner": "{{ .LocalObject.metadata.name }}",
      "{{ .RemoteObject.metadata.name }}": "yes", "{{ .RemoteObject.nothing | default \"\" }}": "gone"},
      "matchExpressions": [{"key": "tier", "operator": "Exists"}], "rewrite": {"template": {"template": "x"}}})");
  Json context = {{"LocalObject", {{"metadata", {{"name", "copy-1"}}}}}, {"RemoteObject", {{"metadata", {{"name", "db1"}}}}}};
  Json out = call_builtin(*b, {selector, context});
  CHECK(out["matchLabels"] == Json({{"app", "db"}, {"owner", "copy-1"}, {"db1", "yes"}}));
  CHECK(out["matchExpressions"] == selector["matchExpressions"]);
  CHECK_FALSE(out.contains("rewrite"));
  CHECK(call_builtin(*b, {nullptr, context}).is_null());
}

}  // namespace
}  // namespace pmesh
