#include "server/registry/patch.h"

namespace pmesh::server {

namespace {

// Go's name for the type of a patch that is not what its decoder wants
// ("json: cannot unmarshal bool into ..."); Go decodes null into either
// without an error, so a null patch keeps JSON's name.
std::string patch_type(const Json& patch) { return patch.is_null() ? "null" : go_json_type(patch); }

ApiError patch_failed(const std::string& why) {
  // kube answers a patch that does not apply with a generic 422.
  return ApiError{422, "Invalid", why, nullptr};
}

std::optional<Json> json_patch(const Json& current, const Json& patch, ApiError* error) {
  if (!patch.is_array()) {
    *error = ApiError::bad_request("json: cannot unmarshal " + patch_type(patch) + " into Go value of type jsonpatch.Patch");
    return std::nullopt;
  }
  Json doc = current;
  size_t copied = 0;
  for (const auto& op : patch) {
    if (!op.is_object() || !op.contains("op") || !op["op"].is_string()) {
      *error = ApiError::bad_request("invalid JSON patch operation: " + encode_json(op));
      return std::nullopt;
    }
    try {
      if (op["op"] == "copy" && op.contains("from") && op["from"].is_string()) {
        const Json& source = doc.at(Json::json_pointer(op["from"].get<std::string>()));
        copied += encode_json(source).size();
        if (copied > kMaxJsonPatchCopyBytes) {
          *error = ApiError::request_entity_too_large("the JSON patch copies more than " +
                                                      std::to_string(kMaxJsonPatchCopyBytes) + " bytes");
          return std::nullopt;
        }
      }
      doc.patch_inplace(Json::array({op}));
    } catch (const std::exception& e) {
      *error = patch_failed(std::string("the JSON patch could not be applied: ") + e.what());
      return std::nullopt;
    }
  }
  return doc;
}

}  // namespace

std::optional<Json> apply_patch(const Json& current, const Json& patch, PatchType type, ApiError* error) {
  if (type == PatchType::kJson) return json_patch(current, patch, error);
  if (!patch.is_object()) {
    *error = ApiError::bad_request("json: cannot unmarshal " + patch_type(patch) + " into Go value of type map[string]interface {}");
    return std::nullopt;
  }
  Json doc = current;
  doc.merge_patch(patch);
  return doc;
}

}  // namespace pmesh::server
