// OpenFGA's stores, models, tuples, changes and assertions, kept as
// relations of the engine (stdlib/fga.rules), and each store's latest model
// loaded as a rule set that keeps its relations materialized.
//
//   fga_store(store, name, created_at, creator)
//   fga_model(store, model, json)             every model written; the latest is the greatest id
//   fga_tuple(store, object, rel, user)       what models read
//   fga_written(store, object, rel, user, at) when a tuple was written
//   fga_change(store, id, operation, object, rel, user, at)   the changelog, ids in write order
//                                             (what the platform derives into an organization's
//                                             store is logged too, as the security-operator's
//                                             writes are in OpenFGA's)
//   fga_assertions(store, model, json)
//
// Every write is one engine transaction, so a failed write changes nothing
// and a committed one is durable with everything it touched. Ids are ULIDs,
// as OpenFGA's are. load() adds the rule sets again after a restart; what
// they derived is stored, and taken up then rather than derived again
// (Engine::park_rule_set).
//
// Thread safety: the engine's thread only.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "fga/compile.h"
#include "fga/query.h"
#include "stdlib/keyed_hash.h"

namespace pmesh::server {

class FgaStore {
 public:
  struct StoreInfo {
    std::string id, name, created_at, creator;
  };

  // Logs what the platform derives into its stores in the engine's
  // transactions (Engine::set_before_commit). REQUIRES: one FgaStore per
  // engine; the engine outlives it.
  explicit FgaStore(engine::Engine& engine);
  ~FgaStore();
  FgaStore(const FgaStore&) = delete;
  FgaStore& operator=(const FgaStore&) = delete;

  // The model of the stores the platform derives (organizations' stores,
  // an fga_store tuple that no user wrote): Platform Mesh's core model,
  // as DSL module files, extended for each API bound in the organization
  // (`org_bound_resource(store, group, plural, singular, scope)`, as the
  // security-operator generates; platform_model.h). A platform store whose
  // model was never written through the API has this one (its id: ulid_of
  // the model's JSON). Throws FgaError if the files are not a valid model.
  void set_platform_model(const std::vector<std::pair<std::string, std::string>>& files);
  bool is_platform(const std::string& store) const;
  // The platform store named `name` (an organization's), or "".
  std::string platform_store_named(const std::string& name);
  // After any transaction committed: stores that came are loaded, stores
  // that went are unloaded (and a platform store's API-written tuples
  // deleted with it).
  void committed(const engine::Result& r);
  // Before a transaction commits: the changelog entries of the tuples the
  // platform derived into its stores, to commit with them (an API write
  // logs its own).
  std::vector<engine::Op> changelog(const std::vector<engine::TupleChange>& tuples) const;

  // Loads each store's latest model; what fails to load is reported, and
  // that store answers as if it had no model.
  std::vector<std::string> load();

  std::optional<StoreInfo> store(const std::string& id) const;
  std::vector<StoreInfo> stores() const;  // by id: oldest first

  // The operations of a write, for the caller to apply.
  std::vector<engine::Op> create_store(const StoreInfo& s) const;
  std::vector<engine::Op> delete_store(const std::string& id) const;

  // Model ids of a store, newest first; the newest ("" if none).
  std::vector<std::string> models(const std::string& store) const;
  std::string latest_model(const std::string& store) const;
  std::optional<nlohmann::json> model_json(const std::string& store, const std::string& model) const;
  // The compiled model (cached); throws FgaError: authorization_model_not_found,
  // latest_authorization_model_not_found (when `model` is empty and there is none).
  std::shared_ptr<const fga::CompiledModel> model(const std::string& store, const std::string& model);
  // Validates and compiles `model` (throws FgaError) and returns the write.
  std::vector<engine::Op> write_model(const std::string& store, const std::string& id, const fga::Model& model);
  // After a model write committed: the store's rule set becomes that model's.
  engine::Result activate(const std::string& store);
  // Unloads the store's rule set (its store went).
  void deactivate(const std::string& store);

  // Whether the store's loaded model gives `user` `relation` to `object`
  // (false when none is loaded, or the object's type has no such
  // relation; `defined` says whether it has).
  bool ask(const std::string& store, const std::string& user, const std::string& relation, const std::string& object,
           bool* defined);

  // Whether the store holds the tuple.
  bool has_tuple(const std::string& store, const std::string& object, const std::string& rel, const std::string& user) const;

  // Answers `ask` with `model` (empty: the latest) evaluated over the store's
  // tuples and `contextual` ones (object, relation, user), which are not
  // committed: the engine state holds both while `ask` runs. Throws FgaError.
  void with_model(const std::string& store, const std::string& model,
                  const std::vector<std::vector<std::string>>& contextual,
                  const std::function<void(engine::Engine&, const fga::ModelView&)>& ask);

  engine::Engine& engine() { return engine_; }

 private:
  // One rule set per model, whichever stores it is loaded for.
  static std::string rule_set_id(const std::string& model) { return "fga:" + model; }
  // The compiled model of id `id` whose JSON is `stored`: shared by the
  // stores that have it.
  std::shared_ptr<const fga::CompiledModel> compiled(const std::string& id, std::shared_ptr<const nlohmann::json> stored);
  // The JSON of `store`'s model `model`, or null: a platform store's shares
  // the platform model's value (no copy per organization).
  std::shared_ptr<const nlohmann::json> model_value(const std::string& store, const std::string& model) const;
  // The modules fga_loaded names for `store`.
  std::vector<std::string> loaded_models(const std::string& store) const;
  // A store no longer has `model` loaded; the last one takes its rule set away.
  void release(const std::string& model);
  // A platform store's model and its id (cached until its bound APIs change;
  // the value is shared by the stores that bind the same APIs).
  using PlatformModel = std::shared_ptr<const std::pair<nlohmann::json, std::string>>;
  const PlatformModel& platform_model(const std::string& store) const;

  engine::Engine& engine_;
  // Hashed (keyed: stores are named by tenants), since every authorization
  // decision looks both up, and a server holds one entry per organization.
  template <class V>
  using ByText = absl::flat_hash_map<std::string, V, KeyedTextHash, std::equal_to<>>;
  ByText<std::shared_ptr<const fga::CompiledModel>> cache_;  // store "/" model id ->
  ByText<std::string> active_;  // store -> the model loaded for it
  std::map<std::string, int> users_;           // model -> how many stores have it loaded
  struct Compiled {
    std::weak_ptr<const fga::CompiledModel> model;  // alive while a store's cache_ entry holds it
    std::shared_ptr<const nlohmann::json> json;
  };
  std::map<std::string, Compiled> compiled_;  // model id ->
  std::vector<std::pair<std::string, std::string>> platform_files_;
  // The model of a store that binds nothing, and its id: one, shared by
  // every such store.
  PlatformModel platform_base_ = std::make_shared<const std::pair<nlohmann::json, std::string>>();
  mutable std::map<std::string, PlatformModel> platform_models_;  // store ->
};

// Now, as OpenFGA writes times: RFC 3339 in UTC with microseconds.
std::string fga_timestamp();

// A ULID (26 characters of Crockford's base32: 48 bits of milliseconds,
// 80 random bits), increasing within one process.
std::string new_ulid();

}  // namespace pmesh::server
