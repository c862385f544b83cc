// Run-time kinds: every version a workspace's CustomResourceDefinition (or a
// bound APIResourceSchema) serves is served, each pointing at the storage
// version's declaration; a schema changed under the same names is a new
// declaration; versions are bounded; a version's selectableFields are the
// field labels of its kind, validated as kube does.
#include <doctest/doctest.h>

#include "dsl/diagnostics.h"
#include "engine/kinds.h"
#include "engine/state.h"
#include "dsl/selectable_field.h"

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
  e.fact = FactKey(object_fact(key));
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

TEST_CASE("kinds: a version's selectableFields are its field labels, checked in kube's words") {
  json crd = schema_object("color", 2);
  crd["spec"]["versions"][0]["selectableFields"] = {{{"jsonPath", ".spec.color"}}, {{"jsonPath", ".spec.color"}}, {{"jsonPath", ".spec[0]"}}};
  auto decls = kinds_from_schema(crd);
  REQUIRE(decls.size() == 2);
  CHECK(decls[0].field_labels == std::vector<std::string>{"metadata.name", "metadata.namespace", "spec.color"});
  CHECK(decls[1].field_labels.empty());  // the other version selects none: the defaults
  CHECK(dsl::selectable_field_label(".spec.a.b") == "spec.a.b");
  for (const char* bad : {"", ".", "spec.a", ".spec..a", ".spec.a.", ".spec[0]", ".spec['a']", ".metadata.name", ".metadata"})
    CHECK_MESSAGE(dsl::selectable_field_label(bad).empty(), bad);

  json versions = crd["spec"]["versions"];
  versions[0]["selectableFields"] = {{{"jsonPath", ".spec.color"}}, {{"jsonPath", ".spec.color"}}, {{"jsonPath", ".spec[0]"}},
                                     {{"jsonPath", ".spec"}}, {{"jsonPath", ".spec.shade"}}, {{"jsonPath", "spec.color"}}, json::object(),
                                     {{"jsonPath", ".metadata.name"}}, {{"jsonPath", ".spec."}}};
  std::vector<std::string> got;
  for (const auto& e : dsl::selectable_fields_errors(versions, "spec.versions")) got.push_back(e.message());
  CHECK(got == std::vector<std::string>{
                   "spec.versions[0].selectableFields[1].jsonPath: Duplicate value: \".spec.color\"",
                   "spec.versions[0].selectableFields[2].jsonPath: Invalid value: \".spec[0]\": is an invalid path: array notation is not allowed",
                   "spec.versions[0].selectableFields[3].jsonPath: Invalid value: \".spec\": must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.",
                   "spec.versions[0].selectableFields[4].jsonPath: Invalid value: \".spec.shade\": is an invalid path: does not refer to a valid field",
                   "spec.versions[0].selectableFields[5].jsonPath: Invalid value: \"spec.color\": is an invalid path: expected [ or . but got: spec",
                   "spec.versions[0].selectableFields[6].jsonPath: Required value",
                   "spec.versions[0].selectableFields[7].jsonPath: Invalid value: \".metadata.name\": is an invalid path: does not refer to a valid field",
                   "spec.versions[0].selectableFields[8].jsonPath: Invalid value: \".spec.\": is an invalid path: unexpected end of JSON path"});
  // More than eight distinct fields; a map's keys resolve to its values' schema.
  json wide = {{"type", "object"}, {"properties", {{"spec", {{"type", "object"}, {"additionalProperties", {{"type", "integer"}}}}}}}};
  json many = json::array();
  for (int i = 0; i < 9; ++i) many.push_back({{"jsonPath", ".spec.k" + std::to_string(i)}});
  json v = json::array({{{"name", "v1"}, {"schema", {{"openAPIV3Schema", wide}}}, {"selectableFields", many}}});
  got.clear();
  for (const auto& e : dsl::selectable_fields_errors(v, "spec.versions")) got.push_back(e.message());
  CHECK(got == std::vector<std::string>{"spec.versions[0].selectableFields: Too many: 9: must have at most 8 items"});
  // An APIResourceSchema's version holds its schema directly.
  json ars = json::array({{{"name", "v1"}, {"schema", wide}, {"selectableFields", {{{"jsonPath", ".spec.x"}}}}}});
  CHECK(dsl::selectable_fields_errors(ars, "spec.versions").empty());
  json schemaless = json::array({{{"name", "v1"}, {"selectableFields", {{{"jsonPath", ".spec.x"}}}}}});
  CHECK(dsl::selectable_fields_errors(schemaless, "spec.versions").size() == 1);
}

}  // namespace
}  // namespace pmesh::engine
