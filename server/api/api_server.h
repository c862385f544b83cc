// The KRM API's request pipeline, as kube-apiserver's handler chain.
//
//   /healthz, /livez, /readyz     answered at once (health.h)
//   the URL                       decoded (request_info.h): 400 for a malformed
//                                 workspace path or object name
//   authentication                bearer tokens and OIDC (auth/authn.h): 401;
//                                 an unknown OIDC key is fetched off this
//                                 thread and the request resumes after
//   /metrics                      for system:masters and system:monitoring
//                                 (metrics/metrics.h)
//   /stores/...                   the OpenFGA API (openfga/openfga_api.h)
//   authorization                 the relations (auth/authz.h): 404 for what
//                                 the user may not see, 403 for what they may
//                                 see but not do
//   discovery, OpenAPI, version   per workspace (discovery.h)
//   /api/clusters/<ws>/graphql    the GraphQL gateway (graphql/gateway.h), for
//                                 those who may see the workspace; its fields
//                                 come back through this pipeline as the user
//   objects                       options and body decoded once into an
//                                 ApiRequest (request.h), then the registry
//                                 (registry/resource_store.h) and the watch hub
//
// Every error leaves as a metav1.Status through status_response().
//
// Thread safety: runs on the engine's io_context thread (http_server.h),
// but for observe() and transport_error(), called on transport threads.
#pragma once

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "engine/durable_store.h"
#include "engine/engine.h"
#include "server/api/cluster_names.h"
#include "server/api/request.h"
#include "server/api/virtual_workspace_path.h"
#include "server/auth/authn.h"
#include "server/auth/authz.h"
#include "server/auth/service_account_tokens.h"
#include "server/graphql/gateway.h"
#include "server/http/http_server.h"
#include "server/metrics/metrics.h"
#include "server/openfga/openfga_api.h"
#include "server/registry/resource_store.h"
#include "server/watch/watch_hub.h"

namespace pmesh::server {

class ApiServer {
 public:
  using AfterCommit = std::function<void(std::function<void()>)>;
  struct Options {
    std::string address;  // host:port, for discovery's serverAddressByClientCIDRs
    // Who sends requests; unset: no authentication, every client an admin
    // (--plain-http, for local tools and benchmarks).
    std::shared_ptr<const Authenticator> authenticator;
    // Gets one line per write, per failed request and per watch.
    std::function<void(const std::string& level, const std::string& line)> log;
    bool log_reads = false;
  };

  // REQUIRES: `engine`, `store` and `io` outlive the server.
  ApiServer(engine::Engine& engine, engine::DurableStore* store, boost::asio::io_context& io, AfterCommit after_commit,
            Options options);
  ~ApiServer();

  std::optional<HttpResponse> handle(const HttpRequest& req, const std::shared_ptr<Stream>& stream);
  // The answer to a request the transport could not read (400, 413, 431).
  HttpResponse transport_error(int code, const std::string& message) const;
  // Ends every watch (on shutdown).
  void close_watches() { hub_.close_all(); }
  WatchHub& watch_hub() { return hub_; }
  // The server's metrics; the transport tells it of each answered request
  // through observe().
  Metrics& metrics() { return metrics_; }
  void observe(const std::string& method, const std::string& path, bool watch, int status, double seconds);
  // ServiceAccount tokens: TokenRequest, TokenReview, the issuer's
  // discovery document and JWKS. Unset: none are served.
  void set_service_accounts(std::shared_ptr<const ServiceAccountTokens> tokens) { service_accounts_ = std::move(tokens); }
  // From now on /readyz fails (its `shutdown` check), as kube-apiserver's
  // does while it drains.
  void begin_shutdown() { shutting_down_ = true; }

 private:
  // What the URL names, decoded once: the path's RequestInfo, or why not.
  struct Target {
    std::optional<RequestInfo> info;
    ApiError error;
    std::optional<std::string> graphql;  // the workspace of a GraphQL gateway request
    // A virtual workspace's request (an APIExport's: its cluster a path),
    // `info` the request it carries.
    std::optional<VirtualWorkspacePath> virtual_workspace;
  };
  // The user a request acts as: the requester, or whom it impersonates.
  std::optional<HttpResponse> acting_as(const HttpRequest& http, const Target& target, const UserInfo& requester,
                                        const std::shared_ptr<Stream>& stream);
  std::optional<HttpResponse> authenticated(const HttpRequest& http, const Target& target, const UserInfo& user,
                                            const std::shared_ptr<Stream>& stream);
  // `watch_allowed`: whether a watch may go on, if not the user's `watch`
  // of what the request names (a virtual workspace's own authorization),
  // decided in workspace `watch_decided_in` (whose RBAC changes make a
  // watch ask again; with no `watch_allowed`, the request's).
  std::optional<HttpResponse> objects(const HttpRequest& http, ApiRequest req, const std::shared_ptr<Stream>& stream,
                                      std::function<bool()> watch_allowed = nullptr, std::string watch_decided_in = {});
  // kcp's APIExport virtual workspace (apiexport_content.cc): the exported
  // resources of every workspace bound to the export, for those the
  // export's workspace lets at its `apiexports/content`.
  std::optional<HttpResponse> apiexport_content(const HttpRequest& http, const Target& target, const UserInfo& user,
                                                const std::shared_ptr<Stream>& stream);
  // kcp's initializing and terminating virtual workspaces
  // (workspace_hooks.cc): the logical clusters waiting for an initializer
  // or terminator, their content, and finishing by removing it from the
  // LogicalCluster's status.
  std::optional<HttpResponse> workspace_hook(const HttpRequest& http, const Target& target, const UserInfo& user,
                                             const std::shared_ptr<Stream>& stream);
  HttpResponse discovery(const HttpRequest& http, const RequestInfo& info, const std::vector<const dsl::KindDecl*>& kinds);
  std::optional<HttpResponse> graphql(const HttpRequest& http, const std::string& workspace, const UserInfo& user,
                                      const std::shared_ptr<Stream>& stream);
  bool cluster_exists(const std::string& cluster) const;
  // The path of the cluster a URL names by path or by name (an unknown
  // name stays as it is, and reaches nothing).
  std::string reached(const std::string& cluster) const;
  // The answer to a request `d` refuses (404 where the workspace must stay
  // unseen, or does not exist; 403 otherwise), or nothing when it may go on.
  std::optional<HttpResponse> refusal(const Decision& d, const RequestInfo& info, const GroupResource& gr,
                                      const std::string& name) const;
  void log(const HttpRequest& http, const std::optional<HttpResponse>& res) const;

  engine::Engine& engine_;
  engine::DurableStore* store_;
  AfterCommit after_commit_;
  Options options_;
  Authorizer authz_;
  ClusterNames names_;
  WatchHub hub_;
  ResourceStore resources_;
  OpenFgaApi fga_;
  GraphqlGateway graphql_;
  Metrics metrics_;
  std::shared_ptr<const ServiceAccountTokens> service_accounts_;
  bool shutting_down_ = false;
};

}  // namespace pmesh::server
