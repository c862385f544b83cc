#include "cli/serve_command.h"

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdlib>
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <thread>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <vector>

#include "cli/serve_setup.h"
#include "dsl/compiler.h"
#include "engine/cluster_names.h"
#include "engine/durable_store.h"
#include "engine/engine.h"
#include "server/api/api_server.h"
#include "server/api/request.h"
#include "server/auth/oidc.h"
#include "server/auth/service_account_tokens.h"
#include "server/http/http_server.h"
#include "server/http/tls_files.h"
#include "server/log/server_log.h"
#include "server/registry/group_commit.h"
#include "stdlib/text.h"

namespace pmesh::cli {

using namespace pmesh::server;

namespace {

// Holds `e` until the process ends, reachable (from a static) so that leak
// checkers do not report it.
engine::Engine& keep_until_exit(std::unique_ptr<engine::Engine> e) {
  static auto* kept = new std::vector<std::unique_ptr<engine::Engine>>;
  kept->push_back(std::move(e));
  return *kept->back();
}

// Threads for connections (TLS, parsing, writing answers): the machine's
// cores, two at least, eight at most.
size_t transport_threads() { return std::clamp<size_t>(std::thread::hardware_concurrency(), 2, 8); }

int serve_usage(const std::string& msg) {
  flush_log();  // after the lines logged before it
  std::cerr << "pmesh serve: " << msg << "\nUsage: pmesh serve [--data-dir DIR] [--listen HOST:PORT] [--policies PATHS]... [--bootstrap PATHS]... [--watch-history N] [--cold-after N]\n"
               "       [--plain-http | --tls-cert-file PEM --tls-private-key-file PEM] [--token-file CSV] [--service-account-issuer URL]\n"
               "       [--oidc-issuer-url URL --oidc-client-id ID (--oidc-jwks-file JWKS | --oidc-jwks-url URL [--oidc-ca-file PEM])\n"
               "        [--oidc-username-claim C] [--oidc-groups-claim C]]\n";
  return 2;
}

std::shared_ptr<const dsl::CompiledProgram> compile_rules(const std::vector<std::string>& policies) {
  dsl::DiagnosticSink diags;
  std::unique_ptr<dsl::CompiledProgram> p;
  if (!policies.empty()) {
    p = dsl::compile_paths(policies, diags);
  } else {
    p = dsl::compile(dsl::load_embedded_program(diags), diags);
  }
  std::cerr << diags.format();
  if (diags.has_errors()) return nullptr;
  return std::shared_ptr<const dsl::CompiledProgram>(std::move(p));
}

}  // namespace

int serviceaccount_keys_main(const std::vector<std::string>& args) {
  if (args.size() != 3 || args[0] != "rotate" || args[1] != "--data-dir") {
    std::cerr << "Usage: pmesh serviceaccount-keys rotate --data-dir DIR\n";
    return 2;
  }
  std::string made, err, dir = args[2] + "/serviceaccount-keys";
  if (!ServiceAccountTokens::rotate(dir, &made, &err)) {
    std::cerr << "pmesh serviceaccount-keys: " << err << "\n";
    return 1;
  }
  std::cout << dir << "/" << made << ": signs ServiceAccount tokens from the server's next start\n";
  return 0;
}

int serve_main(const std::vector<std::string>& args) {
  // First, so that it outlives every thread that logs (server_log.h).
  LogWriter log_writer;
  std::string data_dir = ".pmesh", listen = "127.0.0.1:6443";
  int64_t log_limit = 100000;
  engine::Engine::Options engine_options;
  std::vector<std::string> bootstrap_paths;  // empty: policies/bootstrap.yaml, compiled in
  std::vector<std::string> policies;
  std::string tls_cert, tls_key, token_file, sa_issuer;
  OidcConfig oidc;
  bool plain_http = false;
  // Flags that take one string.
  const std::map<std::string, std::string*> strings = {
      {"--data-dir", &data_dir},
      {"--listen", &listen},
      {"--tls-cert-file", &tls_cert},
      {"--tls-private-key-file", &tls_key},
      {"--token-file", &token_file},
      {"--service-account-issuer", &sa_issuer},
      {"--oidc-issuer-url", &oidc.issuer_url},
      {"--oidc-client-id", &oidc.client_id},
      {"--oidc-username-claim", &oidc.username_claim},
      {"--oidc-groups-claim", &oidc.groups_claim},
      {"--oidc-jwks-file", &oidc.jwks_file},
      {"--oidc-jwks-url", &oidc.jwks_url},
      {"--oidc-ca-file", &oidc.ca_file}};
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--plain-http") {
      plain_http = true;
      continue;
    }
    bool takes_value = strings.count(flag) || flag == "--watch-history" || flag == "--cold-after" || flag == "--bootstrap" ||
                       flag == "--policies";
    if (!takes_value) return serve_usage("unknown argument " + flag);
    if (i + 1 >= args.size()) return serve_usage(flag + " needs a value");
    const std::string& v = args[++i];
    if (auto it = strings.find(flag); it != strings.end()) {
      *it->second = v;
    } else if (flag == "--watch-history" || flag == "--cold-after") {
      // --watch-history: how many changes watchers can resume from; older
      // resource versions get 410 Expired. --cold-after: how many
      // transactions an object stays a tree after its last change before it
      // is held as CBOR (0: never; engine.h, Options::cold_after_transactions).
      auto n = parse_int(v);
      if (!n || *n < 0 || *n > std::numeric_limits<int>::max()) return serve_usage(flag + " takes a whole number, 0 or more");
      if (flag == "--watch-history") log_limit = *n;
      else engine_options.cold_after_transactions = static_cast<int>(*n);
    } else if (flag == "--bootstrap") {
      bootstrap_paths.push_back(v);
    } else {
      policies.push_back(v);
    }
  }
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return serve_usage("--listen is HOST:PORT");
  std::string host = listen.substr(0, colon);
  unsigned short port = 0;
  try {
    port = static_cast<unsigned short>(std::stoi(listen.substr(colon + 1)));
  } catch (...) {
    return serve_usage("--listen is HOST:PORT");
  }

  auto program = compile_rules(policies);
  if (!program) return 1;
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  std::string err;
  auto store = engine::DurableStore::open(data_dir + "/store", &err);
  if (!store) {
    log("error", err);
    return 1;
  }
  store->set_log_limit(log_limit);
  // The engine is never deleted: its state goes with the process, where
  // freeing it node by node made a stop take a quarter of a restart.
  engine::Engine& engine = keep_until_exit(std::make_unique<engine::Engine>(program, engine_options));
  if (!store->load(engine, &err)) {
    log("error", err);
    return 1;
  }
  engine.set_persistence(store.get());
  log("info", "loaded " + std::to_string(engine.state().objects().size()) + " objects at resource version " +
                  std::to_string(engine.resource_version()) + " from " + data_dir);
  if (engine.resource_version() == 0) {
    std::string summary;
    if (!bootstrap(engine, bootstrap_paths, &summary, &err)) {
      log("error", "bootstrap: " + err);
      return 1;
    }
    log("info", summary);
  }

  const char* level = std::getenv("PMESH_LOG");
  bool debug = level && std::string(level) == "debug";
  // Connections run on transport threads (declared first: it outlives the
  // engine's io_context, whose pending handlers may hold connections); the
  // engine and every handler on `io`, one thread.
  boost::asio::io_context transport;
  boost::asio::io_context io(1);
  GroupCommit group_commit(io, *store, [](const std::string& error) {
    // Memory is ahead of the disk now; restarting recovers the durable state.
    log("error", "the data directory cannot be written: " + error + "; stopping");
    flush_log();
    std::abort();
  });
  auto after_commit = group_commit.hook();
  // HTTPS, with authentication and authorization: the admin token (kept in
  // the data directory), the token file's users and OIDC tokens, decided by
  // the policies' relations. Without certificates the server makes its own.
  // --plain-http serves HTTP without any of it (local benchmarks and tools).
  if (tls_cert.empty() != tls_key.empty()) return serve_usage("--tls-cert-file and --tls-private-key-file go together");
  if (plain_http && (!tls_cert.empty() || !token_file.empty() || !oidc.issuer_url.empty()))
    return serve_usage("--plain-http has no TLS and no authentication");
  if (!plain_http && tls_cert.empty()) {
    std::string err;
    if (!ensure_serving_certificate(data_dir, host, &tls_cert, &tls_key, &err)) {
      log("error", "the serving certificate: " + err);
      return 1;
    }
  }
  if (plain_http) log("warning", "--plain-http: no TLS, no authentication; every client is an admin");
  std::shared_ptr<Authenticator> authn;
  std::string admin_token, ca_data;
  if (!tls_cert.empty()) {
    std::string token_path = data_dir + "/admin.token";
    std::ifstream(token_path) >> admin_token;
    if (admin_token.empty()) {
      admin_token = random_token();
      std::ofstream(token_path) << admin_token << "\n";
      std::filesystem::permissions(token_path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    }
    authn = std::make_shared<Authenticator>();
    std::string err;
    if (!authn->load(token_file, admin_token, &err)) {
      log("error", err);
      return 1;
    }
    if (!oidc.issuer_url.empty()) {
      if (oidc.client_id.empty() || oidc.jwks_file.empty() == oidc.jwks_url.empty())
        return serve_usage("--oidc-issuer-url needs --oidc-client-id and one of --oidc-jwks-file, --oidc-jwks-url");
      auto verifier = std::make_shared<OidcVerifier>(oidc, io);
      if (!verifier->load(&err)) {
        log("error", err);
        return 1;
      }
      authn->set_oidc(std::move(verifier));
    }
    std::ifstream cert(tls_cert);
    std::stringstream pem;
    pem << cert.rdbuf();
    ca_data = base64_encode(pem.str());
  }
  std::unique_ptr<ApiServer> api;
  std::unique_ptr<HttpServer> http;
  try {
    ApiServer::Options api_options;
    api_options.address = listen;
    api_options.authenticator = authn;
    api_options.log = [](const std::string& level, const std::string& line) { log(level, line); };
    api_options.log_reads = debug;
    api = std::make_unique<ApiServer>(engine, store.get(), io, after_commit, std::move(api_options));
    HttpServer::Options http_options;
    http_options.tls_cert_file = tls_cert;
    http_options.tls_key_file = tls_key;
    http_options.error = [&api](int code, const std::string& message) { return api->transport_error(code, message); };
    http_options.observe = [&api](const std::string& method, const std::string& path, bool watch, int status, double seconds) {
      api->observe(method, path, watch, status, seconds);
    };
    group_commit.set_observer([&api](double seconds, size_t waiting) { api->metrics().commit(seconds, waiting); });
    http = std::make_unique<HttpServer>(
        io, transport, transport_threads(), host, port, [&api](const HttpRequest& request, const std::shared_ptr<Stream>& s) { return api->handle(request, s); },
        std::move(http_options));
    api->metrics().set_transport([&http] { return http->open_connections(); }, [&http] { return http->stream_backlog_bytes(); });
  } catch (const std::exception& e) {
    log("error", std::string("cannot listen on ") + listen + ": " + e.what());
    return 1;
  }
  std::string base = (tls_cert.empty() ? "http://" : "https://") + host + ":" + std::to_string(http->port());
  if (!register_shard(engine, *store, base, &err)) {
    log("error", "registering the shard: " + err);
    return 1;
  }
  if (authn) {
    // ServiceAccount tokens: keys and issuer kept in the data directory, so
    // that tokens outlive a restart (on another port, too).
    std::string issuer = sa_issuer, issuer_path = data_dir + "/serviceaccount-issuer";
    if (issuer.empty()) std::ifstream(issuer_path) >> issuer;
    if (issuer.empty()) {
      issuer = base;
      std::ofstream(issuer_path) << issuer << "\n";
    }
    std::shared_ptr<const ServiceAccountTokens> tokens = ServiceAccountTokens::open(data_dir + "/serviceaccount-keys", issuer, &err);
    if (!tokens) {
      log("error", "ServiceAccount keys: " + err);
      return 1;
    }
    authn->set_service_accounts(tokens, [&engine](const std::string& kind, const std::string& cluster, const std::string& ns,
                                                  const std::string& name) {
      const engine::Json* o = engine.get({kind, cluster, ns, name});
      return o ? engine::string_field((*o)["metadata"], "uid") : std::string();
    }, [&engine](const std::string& cluster) { return engine::resolve_cluster(engine.state(), cluster); });
    api->set_service_accounts(std::move(tokens));
  }
  std::string kc = data_dir + "/admin.kubeconfig";
  std::ofstream(kc) << admin_kubeconfig(base, ca_data, admin_token);
  if (!admin_token.empty())
    std::filesystem::permissions(kc, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  log("info", "serving the KRM API on " + base + "/clusters/root");
  std::cout << "pmesh serve: kubeconfig written to " << std::filesystem::absolute(kc).string() << std::endl;

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int sig) {
    log("info", std::string("shutting down on ") + (sig == SIGINT ? "SIGINT" : "SIGTERM"));
    api->begin_shutdown();
    http->stop();
    std::string ferr;
    if (!group_commit.write_now(&ferr)) log("error", "the last commits could not be written: " + ferr);
    api->close_watches();
    // Let the last writes (closing watch streams) go out, then stop.
    auto timer = std::make_shared<boost::asio::steady_timer>(io, std::chrono::milliseconds(200));
    timer->async_wait([&io, timer](const boost::system::error_code&) { io.stop(); });
  });
  io.run();
  log("info", "stopped");
  return 0;
}

}  // namespace pmesh::cli
