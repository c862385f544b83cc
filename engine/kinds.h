// The kinds objects can have, per logical cluster: the kinds declared in the
// rules, which every cluster serves, and the kinds bound into a cluster at
// run time from APIResourceSchemas.
//
// A cluster serves a run-time kind when
//   - an APIBinding in it lists the resource in `status.boundResources`
//     (`schema.name` is an APIResourceSchema in the logical cluster
//     `status.apiExportClusterName` names: cluster_names.h), or
//   - a CustomResourceDefinition in it defines the kind, as kcp serves a
//     workspace's CRDs (a provider's workspace stands in for the
//     api-syncagent's service cluster, whose CRDs the agent publishes).
// Every version the APIResourceSchema serves is served; objects are stored
// (and rules see them) in its storage version, and the other versions'
// declarations point at it (KindDecl::storage).
// The policies decide when the bindings' status fields are set; this
// registry only reads them. Run-time kinds are identified by `plural.group`
// (KindDecl::key()).
//
// Declarations are never freed: objects and plans keep pointers to them
// after a binding goes away.
//
// Thread safety: not synchronized; owned and used by one Engine.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "dsl/program.h"
#include "engine/json_path.h"

namespace pmesh::engine {

class State;

class Kinds {
 public:
  explicit Kinds(const dsl::Program& program);

  // The kind with this identity (a declared name or `plural.group`) in
  // `cluster`, or null.
  const dsl::KindDecl* by_key(const std::string& cluster, const std::string& key) const;
  // The kind of an object written as {apiVersion, kind} in `cluster`, or
  // null: for another served version of a bound kind, its storage version's.
  const dsl::KindDecl* by_api(const std::string& cluster, const std::string& api_version,
                              const std::string& kind) const;
  // The declaration of the version {apiVersion, kind} names when it is not
  // the one stored (KindDecl::storage is set), or null.
  const dsl::KindDecl* served_version(const std::string& cluster, const std::string& api_version,
                                      const std::string& kind) const;
  // The kind served at /apis/group/version/resource in `cluster` ("*": in any).
  const dsl::KindDecl* by_resource(const std::string& cluster, const std::string& group,
                                   const std::string& version, const std::string& resource) const;
  // Every kind `cluster` serves ("*": the declared ones and every bound one).
  std::vector<const dsl::KindDecl*> in_cluster(const std::string& cluster) const;
  // The kind named `name` (Workspace, Database) in `cluster`: a declared one
  // first.
  const dsl::KindDecl* by_name(const std::string& cluster, const std::string& name) const;
  const dsl::KindDecl* declared(const std::string& name) const;
  // A run-time kind ever bound anywhere, by its key and apiVersion, served
  // or not: what an object stored under a kind its cluster no longer
  // serves still is (declarations are never freed).
  const dsl::KindDecl* ever_bound(const std::string& key, const std::string& api_version) const;

  // Recomputes the run-time kinds from the objects in `state`: of every
  // cluster, or (`cluster` non-null) of that one only, which is what an
  // APIBinding or CustomResourceDefinition in it can change. With `additive`,
  // kinds are only added (in the middle of a transaction, when the objects
  // that bind them may not all be there yet).
  void refresh(const State& state, bool additive = false, const std::string* cluster = nullptr);
  // Whether objects of this kind can change what clusters serve.
  static bool binds_kinds(const std::string& kind_key);
  // The kinds the APIExport `name` in `cluster` offers (the schemas its
  // `spec.resources` name), every served version, whether or not a
  // workspace binds them: what its virtual workspace serves.
  std::vector<const dsl::KindDecl*> exported(const State& state, const std::string& cluster, const std::string& name) const;

 private:
  // Declarations only accumulate (see above); the arena is shared, so a
  // const registry may intern.
  const dsl::KindDecl* intern(dsl::KindDecl decl) const;
  // The interned declarations of the APIResourceSchema (or, by `kind`, the
  // CustomResourceDefinition) `name` in `cluster` (the storage version
  // first, the others pointing at it; empty when it is missing or
  // incomplete), made once per version of the schema: refreshes and every
  // APIExport virtual workspace request ask for them again, and interning
  // compares schemas.
  const std::vector<const dsl::KindDecl*>& schema_decls(const State& state, const std::string& cluster,
                                                        const std::string& name,
                                                        const std::string& kind = "APIResourceSchema") const;

  const dsl::Program* program_;
  std::map<std::string, std::map<std::string, const dsl::KindDecl*>> bound_;  // cluster -> key -> kind
  // cluster -> key -> the bound kind's other served versions (KindDecl::storage).
  std::map<std::string, std::map<std::string, std::vector<const dsl::KindDecl*>>> versions_;
  // Shared by copies (an engine that verifies another starts from its kinds).
  std::shared_ptr<std::deque<std::unique_ptr<dsl::KindDecl>>> arena_;
  // (kind, cluster, schema name) -> (its spec, its declarations). Keyed by
  // what the schema says, not its resourceVersion: a transaction changes it
  // before the commit numbers it.
  mutable std::map<std::tuple<std::string, std::string, std::string>, std::pair<Json, std::vector<const dsl::KindDecl*>>>
      schema_cache_;
};

// The kind an APIResourceSchema defines, one declaration per served
// version: the storage version first (or the first served one), then the
// others, in order, at most kMaxServedVersions in all (their `storage` is
// left for the caller to point at the first's interned copy). Empty when
// it is incomplete.
constexpr size_t kMaxServedVersions = 16;
std::vector<dsl::KindDecl> kinds_from_schema(const Json& schema);

}  // namespace pmesh::engine
