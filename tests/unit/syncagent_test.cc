// The api-syncagent's functions: mutations (cases from the agent's
// transformer tests, internal/mutation/transformer/*_test.go), the
// templated label selectors of related resources, and the schema it
// publishes for a CRD.
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

// Cases after the agent's projection tests (internal/projection).
TEST_CASE("the schema the agent publishes for a CRD: versions selected, a storage version, projection, or its error") {
  const Json crd = Json::parse(R"({"spec": {"group": "example.com", "scope": "Namespaced",
    "names": {"kind": "Thing", "plural": "things", "singular": "thing", "listKind": "ThingList"},
    "versions": [{"name": "v1beta1", "served": true, "storage": false, "schema": {"openAPIV3Schema": {"type": "object"}}},
                 {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}}},
                 {"name": "v2", "served": false, "storage": false}]}})");
  auto project = [&](const char* pr, std::string* error) { return project_crd(crd, Json::parse(pr), error); };
  std::string error;
  Json all = project(R"({"spec": {"resource": {}}})", &error);
  CHECK(error == "");
  REQUIRE(all["versions"].size() == 3);
  CHECK(all["versions"][0] == Json::parse(R"({"name": "v1beta1", "served": true, "storage": false, "schema": {"type": "object"}})"));
  CHECK(all["versions"][2]["schema"] == Json::object());  // no schema: an empty one
  CHECK(all["conversion"] == Json::parse(R"({"strategy": "None"})"));
  // One version selected, not the storage one: it becomes it.
  Json one = project(R"({"spec": {"resource": {"version": "v1beta1"}, "projection": {"kind": "Gadget", "scope": "Cluster"}}})", &error);
  REQUIRE(one["versions"].size() == 1);
  CHECK(one["versions"][0]["storage"] == true);
  CHECK(!one.contains("conversion"));
  CHECK(one["names"] == Json::parse(R"({"kind": "Gadget", "listKind": "GadgetList", "singular": "gadget", "plural": "gadgets"})"));
  CHECK(one["scope"] == "Cluster");
  // Only unserved versions left: nothing to store.
  CHECK(project(R"({"spec": {"resource": {"versions": ["v2"]}}})", &error).is_null());
  CHECK(error == "no CRD version selected that is marked as served");
  // Renamed versions that collide.
  CHECK(project(R"({"spec": {"resource": {}, "projection": {"versions": {"v1beta1": "v1"}}}})", &error).is_null());
  CHECK(error == "CRD contains multiple entries for v1 after applying mutation rules");
  // Renamed versions in kube's order, the least stable first.
  Json renamed = project(R"({"spec": {"resource": {"versions": ["v1beta1", "v1"]}, "projection": {"versions": {"v1": "v3", "v1beta1": "v2"}}}})", &error);
  REQUIRE(renamed["versions"].size() == 2);
  CHECK(renamed["versions"][0]["name"] == "v2");
  CHECK(renamed["versions"][1]["name"] == "v3");
  CHECK(project(R"({"spec": {"resource": {"versions": ["v7", "v8"]}}})", &error).is_null());
  CHECK(error == "CRD does not contain any of versions [v7 v8]");
  CHECK(project_crd(Json::object(), Json::object(), &error).is_null());
  CHECK(error == "CRD contains no versions");
}

}  // namespace
}  // namespace pmesh
