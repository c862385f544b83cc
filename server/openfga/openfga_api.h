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
// store that does not exist. An organization's store (the platform derives
// it; policies/authz.rules) answers those its model lets `get_iam_users` on
// the organization's account; their writes are the IAM grants on accounts
// they may `manage_iam_roles` of. An organization's store may also be
// addressed by the organization's name (`/stores/acme/check`): a pmesh
// convenience, as OpenFGA's store names are not unique.
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
  OpenFgaApi(engine::Engine& engine, Committed committed);
  // nullopt when the path is neither /stores nor under it.
  std::optional<HttpResponse> handle(const HttpRequest& req, const UserInfo& user);
  // After a restart: loads each store's latest model; returns what failed.
  std::vector<std::string> load() { return store_.load(); }
  // After any committed transaction: organizations' stores that came or went.
  void committed(const engine::Result& r) { store_.committed(r); }
  FgaStore& store() { return store_; }

 private:
  HttpResponse stores(const HttpRequest& req, const UserInfo& user);
  HttpResponse in_store(const HttpRequest& req, const UserInfo& user, const FgaStore::StoreInfo& s,
                        const std::vector<std::string>& path);
  HttpResponse models(const HttpRequest& req, const std::string& store, const std::vector<std::string>& path);
  HttpResponse write(const std::string& store, const nlohmann::json& body);
  // Which objects' tuples and answers a reader may have: in an
  // organization's store, those of the accounts (and their roles) the model
  // lets the reader get_iam_users of; everything elsewhere.
  using Sees = std::function<bool(const std::string& object)>;
  HttpResponse read(const std::string& store, const nlohmann::json& body, const Sees& sees);
  HttpResponse changes(const HttpRequest& req, const std::string& store, const Sees& sees);
  HttpResponse query(const std::string& op, const std::string& store, const nlohmann::json& body, const Sees& sees);
  HttpResponse assertions(const HttpRequest& req, const std::string& store, const std::string& model);
  HttpResponse commit(const std::vector<engine::Op>& ops, HttpResponse answer);
  // Whether the store's model lets `user` have `relation` to `account` (the
  // store's own account when empty).
  bool may(const UserInfo& user, const std::string& store, const std::string& relation, std::string account);
  // The account an object of Platform Mesh's model is about: an account
  // itself, or the account of one of its roles; "" for anything else.
  static std::string account_of_object(const std::string& object);
  // For an organization's store: what a user other than an administrator
  // may not change (nullopt: the request may go on).
  std::optional<HttpResponse> platform_write_refused(const HttpRequest& req, const UserInfo& user, const std::string& store,
                                                     const std::vector<std::string>& path);

  engine::Engine& engine_;
  Committed committed_;
  FgaStore store_;
};


}  // namespace pmesh::server
