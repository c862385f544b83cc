// Run-time kinds: every version a workspace's CustomResourceDefinition (or a
// bound APIResourceSchema) serves is served, each pointing at the storage
// version's declaration; a schema changed under the same names is a new
// declaration; versions are bounded.
#include <doctest/doctest.h>

#include "dsl/diagnostics.h"
#include "engine/kinds.h"
#include "engine/state.h"

namespace pmesh::engine {
namespace {

using nlohmann::json;

// Widgets whose spec has one field, `field`.
json schema_object(const std::string& field, int served) {
  json versions = json::array();
  for (int i = 1; i <= served; ++i)
    versions.push_back({{"name", "v" + std::to_string(i)},
                        {"served", true},
                        {"storage", i == 1},
                        {"schema", {{"openAPIV3Schema", {{"type", "object"}, {"properties", {{"spec", {{"type", "object"},
                            {"properties", {{field, {{"type", "string"}}}}}}}}}}}}}});
  return {{"apiVersion", "apiextensions.k8s.io/v1"},
          {"kind", "CustomResourceDefinition"},
          {"metadata", {{"name", "w.acme.io"}}},
          {"spec", {{"group", "acme.io"}, {"scope", "Namespaced"}, {"names", {{"kind", "Widget"}, {"plural", "widgets"}}},
                    {"versions", versions}}}};
}

void put(State& st, const std::string& kind, const std::string& name, json effective) {
  ObjectKey key{kind, "root:p", "", name};
  ObjectEntry e;
  e.key = key;
  e.effective = std::move(effective);
  st.put_object(object_fact(key), std::move(e));
}

TEST_CASE("kinds: every served version, pointing at the storage version: a changed schema is a new declaration") {
  dsl::DiagnosticSink diags;
  dsl::Program program({}, diags);
  Kinds kinds(program);
  State st({});
  put(st, "CustomResourceDefinition", "w.acme.io", schema_object("size", 2));
  kinds.refresh(st);
  auto in = kinds.in_cluster("root:p");
  REQUIRE(in.size() == 2);
  CHECK(in[0]->version == "v1");
  CHECK(in[0]->storage == nullptr);
  CHECK(in[1]->version == "v2");
  CHECK(in[1]->storage == in[0]);
  CHECK(kinds.by_resource("root:p", "acme.io", "v2", "widgets") == in[1]);
  CHECK(kinds.by_api("root:p", "acme.io/v2", "Widget") == in[0]);  // objects are the storage version's
  CHECK((*in[0]->schema)["properties"]["spec"]["properties"].contains("size"));
  CHECK(kinds.in_cluster("root:q").empty());

  // The same names (and sections) with another schema: not the old declaration.
  put(st, "CustomResourceDefinition", "w.acme.io", schema_object("colour", 2));
  kinds.refresh(st);
  in = kinds.in_cluster("root:p");
  REQUIRE(in.size() == 2);
  CHECK((*in[0]->schema)["properties"]["spec"]["properties"].contains("colour"));
  CHECK(in[1]->storage == in[0]);

  // A tenant's schema decides how many declarations a binding makes: bounded.
  put(st, "CustomResourceDefinition", "w.acme.io", schema_object("size", 40));
  kinds.refresh(st);
  CHECK(kinds.in_cluster("root:p").size() == kMaxServedVersions);
  CHECK(kinds.in_cluster("*").size() == kMaxServedVersions);
}

}  // namespace
}  // namespace pmesh::engine
