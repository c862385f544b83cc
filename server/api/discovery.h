// The discovery documents and OpenAPI schemas of one logical cluster, made
// from the kinds the rules declare.
//
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "dsl/ast.h"

namespace pmesh::server {

using Json = nlohmann::json;

Json api_versions(const std::string& server_address);
Json group_list(const std::vector<const dsl::KindDecl*>& kinds);
// null when no kind has `group`.
Json api_group(const std::vector<const dsl::KindDecl*>& kinds, const std::string& group);
// null when no kind has `group`/`version`.
Json resource_list(const std::vector<const dsl::KindDecl*>& kinds, const std::string& group, const std::string& version);
Json version_info();
// OpenAPI v2 with no paths or definitions: enough for kubectl versions that
// fetch it (1.27, 1.28) to fall back to their generic handling of kinds they
// do not know. As JSON, and as the protobuf encoding kubectl asks for.
Json openapi_v2_json();
std::string openapi_v2_protobuf();
Json openapi_v3_root(const std::vector<const dsl::KindDecl*>& kinds);
// null when no kind has the group-version `gv_path` ("api/v1", "apis/g/v").
Json openapi_v3_group_version(const std::vector<const dsl::KindDecl*>& kinds, const std::string& gv_path);

}  // namespace pmesh::server
