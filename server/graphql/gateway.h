// The GraphQL gateway: `/api/clusters/{workspace}/graphql` (and
// `/api/clusters/{workspace}`, as the gateway's newer releases route it),
// behaving as platform-mesh's kubernetes-graphql-gateway does in front of kcp.
//
//   POST (JSON {query, variables, operationName}, a batch of them as an
//   array, or application/graphql) and GET (?query=...) run queries and
//   mutations; with `Accept: text/event-stream`, subscriptions (and any
//   other operation, once) answer as server-sent events: `event: next` with
//   each result, `event: complete` at the end.
//
// The schema is the workspace's (kube_schema.h), made again when its kinds
// change (a binding comes or goes). Every field of the Kubernetes API runs
// as a request of the KRM API made in-process, as the caller, through the
// same authorization, admission, validation and storage as kubectl's
// requests (the `Serve` function): no field shows or changes what the
// caller could not through the KRM API, and errors carry the KRM API's
// messages. Subscriptions are watches of the watch hub, with the gateway's
// filtering: MODIFIED only when a selected field changed, unless
// `subscribeToAll`.
//
// The gateway's limits (validation.h) refuse a request with 400 before
// anything runs; what one operation's calls answer is bounded too.
//
// Thread safety: runs on the engine's io_context thread (http_server.h),
// but for what the calls' answers become and the response made of them
// (parsing, sorting, completing: proportional to what was listed), which
// run on the gateway's worker threads and hand the response back.
#pragma once

#include <boost/asio/io_context.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dsl/ast.h"
#include "server/graphql/document.h"
#include "server/graphql/schema.h"
#include "server/graphql/validation.h"
#include "server/http/http_server.h"
#include "server/http/reader_pool.h"

namespace pmesh::server {

class GraphqlGateway {
 public:
  // Answers a KRM API request as the caller (no authentication again);
  // may answer later, or take `stream` over (a watch).
  using Serve = std::function<std::optional<HttpResponse>(const HttpRequest&, const std::shared_ptr<Stream>&)>;
  // Runs `work` on a worker thread, then `then` on the engine's thread.
  // REQUIRES: `work` does not throw.
  using Offload = std::function<void(std::function<void()> work, std::function<void()> then)>;

  // REQUIRES: `io` (the engine's) outlives the gateway.
  explicit GraphqlGateway(boost::asio::io_context& io, graphql::Limits limits = {});
  ~GraphqlGateway();

  // The workspace a gateway path names ("/api/clusters/root:orgs/graphql"
  // or "/api/clusters/root:orgs" -> "root:orgs"), or nullopt for any other
  // path.
  static std::optional<std::string> workspace_of(const std::string& path);

  // Serves one gateway request for `workspace`, whose kinds are `kinds`.
  // REQUIRES: the caller may see the workspace.
  std::optional<HttpResponse> handle(const HttpRequest& http, const std::string& workspace,
                                     const std::vector<const dsl::KindDecl*>& kinds, Serve serve,
                                     const std::shared_ptr<Stream>& stream);

 private:
  std::shared_ptr<const graphql::Schema> schema_for(const std::vector<const dsl::KindDecl*>& kinds);
  Offload offload();

  boost::asio::io_context& io_;
  graphql::Limits limits_;
  // Schemas by kube_schema_key: workspaces with the same kinds share one.
  std::map<std::string, std::shared_ptr<const graphql::Schema>> schemas_;
  ReaderPool workers_{2};  // last: joined before the rest goes
};

}  // namespace pmesh::server
