// The REST storage of every kind, over the engine, as kube's generic
// registry store is over etcd.
//
// get, list (selectors, pagination, resource versions), watch (through the
// hub), create, update, patch and delete. Each write is first checked the
// way kube-apiserver's handlers and strategies check it — types and names of
// its metadata, immutable fields, resource versions, namespaces that must
// exist, defaults, status only through /status (strategy.h) — and then runs
// as one engine transaction. Its answer and its watch events wait until the
// commit is durable; a read waits for the commits it may show. Lists read
// snapshots (list_snapshots.h) and are rendered off the engine's thread;
// one whose access is decided object by object (reading the engine) has
// those decisions made on the engine's thread first, a slice at a time.
//
// Thread safety: runs on the engine's io_context thread (http_server.h);
// its list readers run on a pool of their own and hand their answers back
// to that thread.
#pragma once

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/durable_store.h"
#include "engine/engine.h"
#include "server/api/request.h"
#include "server/http/http_server.h"
#include "server/http/reader_pool.h"
#include "server/registry/list_snapshots.h"
#include "server/watch/watch_hub.h"

namespace pmesh::server {

class ResourceStore {
 public:
  using AfterCommit = std::function<void(std::function<void()>)>;
  // `after_commit` as WatchHub's. REQUIRES: everything outlives the store.
  ResourceStore(engine::Engine& engine, ClusterNames& names, engine::DurableStore* store, WatchHub& hub,
                boost::asio::io_context& io, AfterCommit after_commit);
  ~ResourceStore();

  // Serves an object request. `watch_access` carries the watcher's access
  // (visibility, whether it may go on watching); the store fills in the rest.
  // REQUIRES: req.kind, and options and body decoded.
  std::optional<HttpResponse> serve(const ApiRequest& req, const std::shared_ptr<Stream>& stream, WatchSpec watch_access);
  // For writes made elsewhere (tuples through the OpenFGA API): tells the
  // watchers once `r` is durable, and holds `answer` until then.
  HttpResponse published(engine::Result r, HttpResponse answer);
  // Called with every committed transaction as soon as it is applied (on
  // the engine's thread), before watchers hear of it.
  void set_on_commit(std::function<void(const engine::Result&)> f) { on_commit_ = std::move(f); }
  // Called with every create and update, on the object as it would be
  // written, before the engine sees it (dry runs too): an authorization
  // webhook's place. A Status refuses the write.
  using Admission = std::function<std::optional<ApiError>(const ApiRequest&, const Json& object)>;
  void set_admission(Admission f) { admission_ = std::move(f); }
  // The lists' snapshots (the watch hub reads initial states from them).
  ListSnapshots& snapshots() { return snapshots_; }

 private:
  HttpResponse get(const ApiRequest& req);
  HttpResponse list(const ApiRequest& req);
  // A list read from the collection's snapshot (in all workspaces for a
  // wildcard list) at version `at` (unset: the current one), of the
  // objects `clusters` lets through when given
  // (ApiRequest::visible_clusters), else those `req.visible_by_key` lets
  // through when set (asked on the engine's thread, in slices between
  // which other work runs). Rendered by a reader thread. `paging`: `at` is
  // a continue token's.
  HttpResponse list_snapshot(const ApiRequest& req, const std::string& prefix, const std::string& start_after,
                             std::optional<int64_t> at, bool paging,
                             std::shared_ptr<const ApiRequest::ClusterFilters> clusters);
  std::optional<HttpResponse> watch(const ApiRequest& req, const std::shared_ptr<Stream>& stream, WatchSpec spec);
  HttpResponse create(const ApiRequest& req, Json object);
  HttpResponse update(const ApiRequest& req, Json object, bool rv_required);
  // An update of what does not exist, for a kind that takes it (createOnUpdate).
  HttpResponse create_by_update(const ApiRequest& req, Json object);
  HttpResponse patch(const ApiRequest& req);
  HttpResponse remove(const ApiRequest& req);
  // deletecollection: what a list with the request's selectors shows, in
  // one transaction; a List of what was deleted.
  HttpResponse remove_collection(const ApiRequest& req);
  // Runs `op` as one transaction and answers with `code` and the object
  // (or a Status when it is gone), once durable.
  HttpResponse commit(const ApiRequest& req, engine::Op op, int code, bool dry_run, const std::string& name,
                      const std::vector<std::string>& warnings);
  // The Status for a transaction the engine refused (`name`: the object's).
  HttpResponse refused(const ApiRequest& req, const engine::Result& r, const std::string& name);
  // An answer that must not leave before what it shows is durable.
  HttpResponse when_durable(HttpResponse res);
  // Holds objects whose cold window has ended as their CBOR, a few in each
  // handler of the engine's io_context, after the requests at hand
  // (Engine::set_cold_scheduler).
  void hold_cold_later();

  engine::Engine& engine_;
  ClusterNames& names_;
  engine::DurableStore* store_;
  std::function<void(const engine::Result&)> on_commit_;
  Admission admission_;
  WatchHub& hub_;
  boost::asio::io_context& io_;
  AfterCommit after_commit_;
  ListSnapshots snapshots_;
  // Handlers posted to `io_` hold it weakly: one that runs after the store
  // is gone does nothing.
  std::shared_ptr<ResourceStore*> self_ = std::make_shared<ResourceStore*>(this);
  ReaderPool readers_;  // last: joined before the rest goes
};

}  // namespace pmesh::server
