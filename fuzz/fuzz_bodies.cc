// Request bodies: JSON, YAML and protobuf (chosen by the first byte), then
// what the registry checks of a decoded object. Decoding either fails with a
// 400 or yields JSON that encodes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dsl/ast.h"
#include "server/api/body.h"
#include "server/registry/builtin_kinds.h"
#include "server/registry/object_meta.h"

using namespace pmesh::server;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  BodyFormat formats[] = {BodyFormat::kJson, BodyFormat::kYaml, BodyFormat::kProtobuf};
  BodyFormat f = formats[data[0] % 3];
  std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  ApiError error;
  auto j = decode_body(body, f, &error);
  if (!j) {
    if (error.code != 400) __builtin_trap();
    return 0;
  }
  (void)j->dump();  // throws (and so aborts) on what is not UTF-8
  if (check_object_types(*j)) return 0;
  if (j->is_object() && j->contains("metadata") && (*j)["metadata"].is_object()) {
    const pmesh::NameValidation rules[] = {pmesh::NameValidation::kDNS1123Subdomain, pmesh::NameValidation::kDNS1123Label,
                                           pmesh::NameValidation::kPathSegment, pmesh::NameValidation::kDNS1123Subdomain};
    (void)validate_object_meta((*j)["metadata"], data[0] & 4, rules[(data[0] >> 3) & 3]);
    (void)validate_object_meta_update((*j)["metadata"], (*j)["metadata"]);
  }
  pmesh::dsl::KindDecl cm;
  cm.name = data[0] & 16 ? "ConfigMap" : "Secret";
  cm.version = "v1";
  cm.sections = {"data", "binaryData", "stringData", "type", "immutable"};
  std::vector<std::string> dropped;
  if (!decode_builtin(cm, *j, &dropped)) (void)validate_builtin(cm, *j, *j);
  return 0;
}
