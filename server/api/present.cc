#include "server/api/present.h"

#include "engine/conversion.h"
#include "engine/json_path.h"
#include "server/api/status.h"

namespace pmesh::server {

using engine::string_field;

Json present(const engine::Engine& engine, const ClusterNames& names, const Json& object, const dsl::KindDecl* as) {
  Json o = object;
  Json& md = o["metadata"];
  std::string cluster = string_field(md, "cluster");
  md.erase("cluster");
  md["annotations"]["kcp.io/cluster"] = names.name_of(cluster);
  const dsl::KindDecl* d = engine.kinds().by_api(cluster, string_field(o, "apiVersion"), string_field(o, "kind"));
  engine::ObjectKey key{d ? d->key() : string_field(o, "kind"), cluster, string_field(md, "namespace"), string_field(md, "name")};
  Json managed = Json::array();
  for (const auto& rule : engine.owners(key))
    managed.push_back({{"manager", "pmesh-rule:" + rule},
                       {"operation", "Apply"},
                       {"apiVersion", string_field(o, "apiVersion")},
                       {"fieldsType", "FieldsV1"},
                       {"fieldsV1", Json::object()}});
  if (!managed.empty()) md["managedFields"] = managed;
  if (md.contains("generation") && md["generation"].is_number() && md["generation"].get<int64_t>() == 0) md.erase("generation");
  if (as && as->storage) o = engine::from_storage(*as, std::move(o));
  return o;
}

}  // namespace pmesh::server
