// Request URLs: the target's path and query decoded, a virtual workspace's
// prefix taken off, the workspace path and object names validated, the verb
// and its options decoded for a kind — either a typed request or an error
// Status, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/api/request.h"
#include "server/api/virtual_workspace_path.h"

using namespace pmesh::server;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static const char* methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
  static const char* types[] = {"application/json", "application/yaml", "application/merge-patch+json",
                                "application/json-patch+json", "application/apply-patch+yaml",
                                "application/strategic-merge-patch+json", "application/vnd.kubernetes.protobuf", ""};
  HttpRequest http;
  http.method = methods[data[0] % 6];
  http.content_type = types[(data[0] >> 3) % 8];
  std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t body_at = rest.find('\n');
  http.target = rest.substr(0, body_at);
  http.body = body_at == std::string::npos ? "" : rest.substr(body_at + 1);
  if (!parse_target(http.target, &http.path, &http.query)) return 0;
  ApiError error;
  auto vw = parse_virtual_workspace_path(http.path);
  if (vw && (vw->inner.rfind("/clusters/", 0) != 0 || http.path.size() < vw->inner.size())) __builtin_trap();
  auto info = parse_request_path(vw ? vw->inner : http.path, &error);
  if (!info) return 0;
  if (info->kind != RequestInfo::Kind::kObject) return 0;
  ApiRequest req;
  req.info = *info;
  auto verb = verb_of(http, *info, &error);
  if (!verb) return 0;
  req.verb = *verb;
  static pmesh::dsl::KindDecl kind = [] {
    pmesh::dsl::KindDecl k;
    k.name = "Widget";
    k.group = "example.io";
    k.version = "v1";
    k.plural = "widgets";
    k.sections = {"spec", "status"};
    return k;
  }();
  req.kind = &kind;
  (void)decode_object_request(http, &req);
  return 0;
}
