// The registry's pure parts: ObjectMeta types and validation, the built-in
// kinds, patches.
#include <doctest/doctest.h>

#include "dsl/ast.h"
#include "server/registry/builtin_kinds.h"
#include "server/registry/object_meta.h"
#include "server/registry/patch.h"

namespace pmesh::server {
namespace {

using nlohmann::json;

dsl::KindDecl kind(const std::string& name, std::vector<std::string> sections) {
  dsl::KindDecl k;
  k.name = name;
  k.version = "v1";
  k.plural = name + "s";
  k.sections = std::move(sections);
  return k;
}

TEST_CASE("metadata fields of the wrong type are a 400 naming the field, as Go's decoder words it") {
  auto e = check_object_types({{"metadata", {{"name", 123}}}});
  REQUIRE(e);
  CHECK(e->code == 400);
  CHECK(e->message == "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string");
  CHECK(check_object_types({{"metadata", {{"labels", "a"}}}})->message.find("map[string]string") != std::string::npos);
  CHECK(check_object_types({{"metadata", {{"labels", {{"a", 1}}}}}}));
  CHECK(check_object_types({{"metadata", {{"finalizers", {1}}}}}));
  CHECK(check_object_types({{"metadata", {{"ownerReferences", {{{"uid", 1}}}}}}}));
  CHECK(check_object_types({{"kind", 1}}));
  CHECK(check_object_types(json::array()));
  CHECK_FALSE(check_object_types({{"metadata", {{"name", "x"}, {"labels", {{"a", "b"}}}, {"uid", nullptr}}}}));
}

TEST_CASE("ObjectMeta values: names per kind, generateName, labels, annotations and their size, owners, finalizers") {
  const NameValidation kSub = NameValidation::kDNS1123Subdomain, kLabel = NameValidation::kDNS1123Label;
  CHECK(validate_object_meta({{"name", "ok"}}, false, kSub).empty());
  auto errs = validate_object_meta(json::object(), false, kSub);
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].message() == "metadata.name: Required value: name or generateName is required");
  CHECK(validate_object_meta({{"name", "a.b"}}, false, kLabel).size() == 1);  // a label name
  CHECK(validate_object_meta({{"name", "a"}, {"namespace", "x"}}, false, kSub)[0].message() ==
        "metadata.namespace: Forbidden: not allowed on this type");
  CHECK(validate_object_meta({{"name", "a"}}, true, kSub)[0].field == "metadata.namespace");
  CHECK(validate_object_meta({{"name", "a"}, {"labels", {{"a/b/c", "v"}}}}, false, kSub)[0].field == "metadata.labels");
  json big = {{"name", "a"}, {"annotations", {{"a", std::string(kMaxAnnotationBytes, 'x')}}}};
  CHECK(validate_object_meta(big, false, kSub)[0].message() ==
        "metadata.annotations: Too long: must have at most 262144 bytes");
  json owners = {{"name", "a"},
                 {"ownerReferences", {{{"apiVersion", "v1"}, {"kind", "A"}, {"name", "a"}, {"uid", "1"}, {"controller", true}},
                                      {{"apiVersion", "v1"}, {"kind", "B"}, {"name", "b"}, {"uid", "2"}, {"controller", true}}}}};
  CHECK(validate_object_meta(owners, false, kSub)[0].detail.find("Only one reference can have Controller set to true") == 0);
  CHECK(validate_object_meta({{"name", "a"}, {"finalizers", {"a b"}}}, false, kSub).size() == 1);
}

TEST_CASE("what an update may not change") {
  json old = {{"name", "a"}, {"uid", "u1"}, {"deletionTimestamp", "t"}, {"finalizers", {"x/y"}}};
  auto errs = validate_object_meta_update({{"name", "a"}, {"uid", "u2"}, {"finalizers", {"x/y"}}}, old);
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].message() == "metadata.uid: Invalid value: \"u2\": field is immutable");
  errs = validate_object_meta_update({{"name", "a"}, {"uid", "u1"}, {"finalizers", {"x/y", "x/z"}}}, old);
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].detail.find("no new finalizers can be added if the object is being deleted") == 0);
}

TEST_CASE("ConfigMaps and Secrets as kube types them and validates them") {
  auto cm = kind("ConfigMap", {"data", "binaryData", "immutable"});
  json o = {{"metadata", {{"name", "c"}}}, {"data", json::array()}};
  auto e = decode_builtin(cm, o, nullptr);
  REQUIRE(e);
  CHECK(e->message == "json: cannot unmarshal array into Go struct field ConfigMap.data of type map[string]string");
  std::vector<std::string> dropped;
  o = {{"metadata", {{"name", "c"}}}, {"data", {{"k", "v"}}}, {"extra", 1}};
  CHECK_FALSE(decode_builtin(cm, o, &dropped));
  CHECK(dropped == std::vector<std::string>{"extra"});
  CHECK_FALSE(o.contains("extra"));
  CHECK(validate_builtin(cm, {{"data", {{"a b", "v"}}}}, nullptr)[0].field == "data[a b]");
  CHECK(validate_builtin(cm, {{"data", {{"k", std::string(1024 * 1024 + 1, 'x')}}}}, nullptr)[0].type ==
        FieldError::Type::kTooLong);
  json imm = {{"immutable", true}, {"data", {{"k", "v"}}}};
  CHECK(validate_builtin(cm, {{"immutable", true}, {"data", {{"k", "w"}}}}, imm)[0].message() ==
        "data: Forbidden: field is immutable when `immutable` is set");
  auto secret = kind("Secret", {"data", "stringData", "type", "immutable"});
  o = {{"stringData", {{"p", "hi?"}}}};
  CHECK_FALSE(decode_builtin(secret, o, nullptr));
  CHECK(o["data"]["p"] == "aGk/");
  CHECK_FALSE(o.contains("stringData"));
  json bad = {{"data", {{"k", "%%%"}}}};
  CHECK(decode_builtin(secret, bad, nullptr));
  CHECK(config_key_problems("..a").back() == "must not start with '..'");
}

TEST_CASE("patches: JSON patch operations, copies bounded, merge patches, their errors") {
  json cur = {{"a", {{"b", 1}}}, {"l", {1, 2}}};
  ApiError e;
  auto r = apply_patch(cur, json::parse(R"([{"op":"add","path":"/a/c","value":2},{"op":"remove","path":"/l/0"}])"),
                       PatchType::kJson, &e);
  REQUIRE(r);
  CHECK((*r)["a"]["c"] == 2);
  CHECK((*r)["l"] == json({2}));
  CHECK_FALSE(apply_patch(cur, json::parse(R"([{"op":"test","path":"/a/b","value":9}])"), PatchType::kJson, &e));
  CHECK(e.code == 422);
  CHECK_FALSE(apply_patch(cur, json::object(), PatchType::kJson, &e));
  CHECK(e.code == 400);
  CHECK(e.message == "json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  CHECK_FALSE(apply_patch(cur, json::parse(R"([{"path":"/a"}])"), PatchType::kJson, &e));
  CHECK(e.code == 400);
  json big = {{"s", std::string(4 * 1024 * 1024, 'x')}};
  CHECK_FALSE(apply_patch(big, json::parse(R"([{"op":"copy","from":"/s","path":"/t"},{"op":"copy","from":"/s","path":"/u"},
                                                {"op":"copy","from":"/s","path":"/v"}])"),
                          PatchType::kJson, &e));
  CHECK(e.code == 413);
  r = apply_patch(cur, {{"a", {{"b", nullptr}}}}, PatchType::kMerge, &e);
  REQUIRE(r);
  CHECK_FALSE((*r)["a"].contains("b"));
  CHECK_FALSE(apply_patch(cur, json::array(), PatchType::kMerge, &e));
  // In Go's names for JSON's types, as its decoder words the error.
  CHECK_FALSE(apply_patch(cur, true, PatchType::kMerge, &e));
  CHECK(e.message == "json: cannot unmarshal bool into Go value of type map[string]interface {}");
  CHECK_FALSE(apply_patch(cur, 1.5, PatchType::kJson, &e));
  CHECK(e.message == "json: cannot unmarshal number into Go value of type jsonpatch.Patch");
}

}  // namespace
}  // namespace pmesh::server
