// An OpenFGA-compatible HTTP API, as OpenFGA's HTTP reference gives it:
//
//   POST/GET /stores, GET/DELETE /stores/{id}
//   POST/GET /stores/{id}/authorization-models, GET .../authorization-models/{model}
//   POST /stores/{id}/write | read | check | batch-check | expand | list-objects
//        | streamed-list-objects | list-users
//   GET  /stores/{id}/changes
//   PUT/GET /stores/{id}/assertions/{model}
//
// Stores, models and tuples are the engine's (fga_store.h); a store's
// latest model is loaded as a rule set, so check is a lookup and a write
// re-derives only what it changes. Errors are OpenFGA's: {"code",
// "message"}, 400 for what is wrong with a request, 404 for a store or an
// endpoint that does not exist.
//
// Who may: anyone authenticated creates stores; a store answers its
// creator and system:masters, and to everyone else it reads exactly like a
// store that does not exist. Organizations' stores, named after the
// organization, answer as org_stores.cc says.
//
// Thread safety: runs on the engine's thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "server/auth/authn.h"
#include "server/auth/authz.h"
#include "server/http/http_server.h"
#include "server/openfga/fga_store.h"

namespace pmesh::server {

class OpenFgaApi {
 public:
  // `committed(result, answer)` publishes a write and returns the answer to
  // send once it is durable.
  using Committed = std::function<HttpResponse(const engine::Result&, HttpResponse)>;
  OpenFgaApi(engine::Engine& engine, Committed committed)
      : engine_(engine), authz_(engine), committed_(std::move(committed)), store_(engine) {}
  // nullopt when the path is neither /stores nor under it.
  std::optional<HttpResponse> handle(const HttpRequest& req, const UserInfo& user);
  // After a restart: loads each store's latest model; returns what failed.
  std::vector<std::string> load() { return store_.load(); }

 private:
  HttpResponse stores(const HttpRequest& req, const UserInfo& user);
  HttpResponse in_store(const HttpRequest& req, const UserInfo& user, const FgaStore::StoreInfo& s,
                        const std::vector<std::string>& path);
  HttpResponse models(const HttpRequest& req, const std::string& store, const std::vector<std::string>& path);
  HttpResponse write(const std::string& store, const nlohmann::json& body);
  HttpResponse read(const std::string& store, const nlohmann::json& body);
  HttpResponse changes(const HttpRequest& req, const std::string& store);
  HttpResponse query(const std::string& op, const std::string& store, const nlohmann::json& body);
  HttpResponse assertions(const HttpRequest& req, const std::string& store, const std::string& model);
  HttpResponse commit(const std::vector<engine::Op>& ops, HttpResponse answer);

  engine::Engine& engine_;
  Authorizer authz_;
  Committed committed_;
  FgaStore store_;
};

// Organizations' stores (org_stores.cc): the answer for `op` on store `org`.
HttpResponse org_store(engine::Engine& engine, const Authorizer& authz, const OpenFgaApi::Committed& committed,
                       const HttpRequest& req, const UserInfo& user, const std::string& org, const std::string& op);

}  // namespace pmesh::server
