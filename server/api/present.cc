#include "server/api/present.h"

namespace pmesh::server {

Json present(const engine::Engine& engine, const Json& object) {
  Json o = object;
  Json& md = o["metadata"];
  std::string cluster = md.value("cluster", "");
  md.erase("cluster");
  md["annotations"]["kcp.io/cluster"] = cluster;
  const dsl::KindDecl* d = engine.kinds().by_api(cluster, o.value("apiVersion", ""), o.value("kind", ""));
  engine::ObjectKey key{d ? d->key() : o.value("kind", ""), cluster, md.value("namespace", ""), md.value("name", "")};
  Json managed = Json::array();
  for (const auto& rule : engine.owners(key))
    managed.push_back({{"manager", "pmesh-rule:" + rule},
                       {"operation", "Apply"},
                       {"apiVersion", o.value("apiVersion", "")},
                       {"fieldsType", "FieldsV1"},
                       {"fieldsV1", Json::object()}});
  if (!managed.empty()) md["managedFields"] = managed;
  if (md.contains("generation") && md["generation"].is_number() && md["generation"].get<int64_t>() == 0) md.erase("generation");
  return o;
}

std::string encode_json(const Json& v) { return v.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace pmesh::server
