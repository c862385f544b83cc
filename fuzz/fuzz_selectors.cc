// Label and field selectors: parsed or refused, and matched against
// objects; the input as a CRD's selectable field path, labelled and
// checked against a schema.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "server/api/selectors.h"
#include "dsl/selectable_field.h"

using namespace pmesh::server;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string error;
  static const nlohmann::json objects[] = {
      {{"metadata", {{"name", "a"}, {"namespace", "default"}, {"labels", {{"app", "db"}, {"n", "12"}}}}},
       {"status", {{"phase", "Active"}}}},
      {{"metadata", {{"name", "b"}}}, {"status", "not an object"}, {"type", 3}},
      {{"metadata", {{"name", "c"}}}, {"spec", {{"size", 3}, {"folded", true}, {"ratio", 0.5}}}},
      nlohmann::json::object(),
  };
  // The default labels, and a kind's own, some of them paths through
  // what may not be an object.
  static const std::vector<std::string> labels[] = {{}, {"status.phase", "metadata.name", "type", "status.phase.x"},
                                                     {"metadata.name", "metadata.namespace", "spec.size", "spec.folded", "spec.ratio"}};
  if (auto s = Selector::parse_labels(text, &error))
    for (const auto& o : objects) (void)s->matches(o);
  for (const auto& l : labels)
    if (auto s = Selector::parse_fields(text, l, &error))
      for (const auto& o : objects) (void)s->matches(o);
  (void)pmesh::dsl::selectable_field_label(text);
  static const nlohmann::json schema = nlohmann::json::parse(R"({"type": "object", "properties": {"spec": {"type": "object",
      "properties": {"size": {"type": "integer"}, "m": {"type": "object", "additionalProperties": {"type": "string"}}}}}})");
  nlohmann::json versions = nlohmann::json::array({{{"name", "v1"}, {"schema", {{"openAPIV3Schema", schema}}},
                                                    {"selectableFields", {{{"jsonPath", text}}, {{"jsonPath", text}}}}}});
  (void)pmesh::dsl::selectable_fields_errors(versions, "spec.versions");
  return 0;
}
