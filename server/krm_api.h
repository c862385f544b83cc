// The KRM API: Kubernetes' resource semantics over the engine, per logical
// cluster.
//
// Every logical cluster that exists (root, and the child of every
// Workspace) is a complete API root: discovery, OpenAPI v3, and objects of
// every declared kind with create, get, list, update, patch (merge, JSON
// patch, strategic merge treated as merge, server-side apply), delete, the
// status subresource, selectors, pagination and watch. One write is one
// engine transaction and one durable commit; watchers see the user's change
// and everything the rules derived, in resource-version order. Errors are
// metav1.Status bodies with reason and code.
//
// Thread safety: single-threaded; runs on the server's io_context thread.
#pragma once

#include <boost/asio/io_context.hpp>

#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "engine/durable_store.h"
#include "engine/engine.h"
#include "server/http_server.h"
#include "server/selectors.h"

namespace pmesh::server {

class KrmApi {
 public:
  // `after_commit`, if set, runs a function once the transactions committed so
  // far are durable; watch events and answers to writes wait for it.
  KrmApi(engine::Engine& engine, engine::DurableStore* store, boost::asio::io_context& io, std::string address,
         std::function<void(std::function<void()>)> after_commit = nullptr);
  ~KrmApi();

  std::optional<HttpResponse> handle(const HttpRequest& req, const std::shared_ptr<Stream>& stream);
  // Ends every watch (on shutdown).
  void close_watches();

 private:
  struct Watcher;
  struct Target;

  std::optional<HttpResponse> objects(const HttpRequest& req, const Target& t, const std::shared_ptr<Stream>& stream);
  HttpResponse create(const HttpRequest& req, const Target& t);
  HttpResponse get(const Target& t);
  HttpResponse list(const HttpRequest& req, const Target& t);
  std::optional<HttpResponse> watch(const HttpRequest& req, const Target& t, const std::shared_ptr<Stream>& stream);
  HttpResponse update(const HttpRequest& req, const Target& t, nlohmann::json body);
  HttpResponse patch(const HttpRequest& req, const Target& t);
  HttpResponse remove(const HttpRequest& req, const Target& t);
  HttpResponse write(const HttpRequest& req, const Target& t, engine::Op op, int success_code);

  bool cluster_exists(const std::string& cluster) const;
  nlohmann::json present(const nlohmann::json& object) const;
  void publish(const engine::Result& r);

  engine::Engine& engine_;
  engine::DurableStore* store_;
  boost::asio::io_context& io_;
  std::string address_;
  std::function<void(std::function<void()>)> after_commit_;
  std::list<std::shared_ptr<Watcher>> watchers_;
};

}  // namespace pmesh::server
