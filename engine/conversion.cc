#include "engine/conversion.h"

#include "engine/kcp_apis_conversion.h"

namespace pmesh::engine {

namespace {

struct Converter {
  Json (*to_storage)(const std::string& kind, Json object);
  Json (*from_storage)(const std::string& kind, Json object);
};

const Converter* converter(const std::string& name) {
  static const Converter kcp{kcp_apis::to_v1alpha2, kcp_apis::to_v1alpha1};
  if (name == "kcp-apis") return &kcp;
  return nullptr;
}

}  // namespace

bool known_conversion(const std::string& name) { return name.empty() || converter(name); }

Json to_storage(const dsl::KindDecl& served, Json object) {
  if (const Converter* c = converter(served.conversion)) object = c->to_storage(served.name, std::move(object));
  if (object.is_object()) object["apiVersion"] = served.storage->api_version();
  return object;
}

Json from_storage(const dsl::KindDecl& served, Json object) {
  if (const Converter* c = converter(served.conversion)) object = c->from_storage(served.name, std::move(object));
  if (object.is_object()) object["apiVersion"] = served.api_version();
  return object;
}

}  // namespace pmesh::engine
