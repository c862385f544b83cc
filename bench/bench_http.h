// What the benchmarks that talk HTTP share: `pmesh serve` started on a free
// loopback port (plain HTTP without authentication, or HTTPS with its admin
// token) and stopped with the benchmark, a keep-alive Beast client.
//
// Thread safety: a Client per thread.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/asio/ssl.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "server/http/content_encoding.h"

namespace pmesh::bench {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

// The servers a benchmark started, stopped if it dies of an uncaught
// exception (in any thread): std::terminate runs no destructor, and a
// server left running would hold its port, memory and data directory.
inline std::array<std::atomic<pid_t>, 8>& live_children() {
  static std::array<std::atomic<pid_t>, 8> pids{};
  return pids;
}
[[noreturn]] inline void stop_children_and_abort() {
  for (auto& p : live_children())
    if (pid_t pid = p.load(); pid > 0) kill(pid, SIGTERM);
  std::abort();
}

// A child process, stopped (SIGTERM, then reaped) when this goes.
struct Proc {
  pid_t pid = -1;
  ~Proc() { stop(); }
  // Records the child fork() made. REQUIRES: in the parent, pid > 0.
  void started(pid_t child) {
    pid = child;
    std::set_terminate(stop_children_and_abort);
    for (auto& p : live_children()) {
      pid_t none = 0;
      if (p.compare_exchange_strong(none, child)) break;
    }
  }
  void stop() {
    if (pid > 0) {
      for (auto& p : live_children()) {
        pid_t mine = pid;
        p.compare_exchange_strong(mine, 0);
      }
      kill(pid, SIGTERM);
      int st;
      waitpid(pid, &st, 0);
      pid = -1;
    }
  }
};

// How a client reaches an HTTPS server: the CA it trusts (pmesh's
// self-signed serving certificate) and the bearer token it sends.
struct Tls {
  std::string ca_file;
  std::string token;
};

// Starts `pmesh serve` on a free port; returns the port. With `tls`, the
// server authenticates and authorizes as it does by default, and `*tls`
// is filled in with its serving certificate and admin token.
inline int start_pmesh(const std::string& pmesh, const std::string& dir, Proc& p, Tls* tls = nullptr) {
  std::string out = dir + "/serve.out";
  pid_t child = fork();
  if (child == 0) {
    FILE* f = std::fopen(out.c_str(), "w");
    dup2(fileno(f), 1);
    FILE* e = std::fopen((dir + "/serve.log").c_str(), "w");
    dup2(fileno(e), 2);
    // Without `tls`, plain HTTP: the KRM API and the store, without TLS
    // and authentication.
    if (tls)
      execl(pmesh.c_str(), pmesh.c_str(), "serve", "--data-dir", (dir + "/data").c_str(), "--listen", "127.0.0.1:0",
            static_cast<char*>(nullptr));
    else
      execl(pmesh.c_str(), pmesh.c_str(), "serve", "--data-dir", (dir + "/data").c_str(), "--listen", "127.0.0.1:0",
            "--plain-http", static_cast<char*>(nullptr));
    _exit(127);
  }
  if (child < 0) throw std::runtime_error("fork failed");
  p.started(child);
  const std::string scheme = tls ? "https://127.0.0.1:" : "http://127.0.0.1:";
  for (int i = 0; i < 200; ++i) {
    std::ifstream kc(dir + "/data/admin.kubeconfig");
    std::string text((std::istreambuf_iterator<char>(kc)), std::istreambuf_iterator<char>());
    size_t at = text.find(scheme);
    if (at != std::string::npos) {
      if (tls) {
        tls->ca_file = dir + "/data/serving.pem";
        std::ifstream t(dir + "/data/admin.token");
        std::getline(t, tls->token);
      }
      return std::stoi(text.substr(at + scheme.size()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("pmesh serve did not start");
}

inline int free_port() {
  net::io_context io;
  tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

// A keep-alive connection, plain or (given a Tls) HTTPS verified against
// the server's certificate and sending its token. With `gzip`, it asks for
// compressed answers and inflates them, as client-go does by default.
struct Client {
  net::io_context io;
  net::ssl::context ssl{net::ssl::context::tls_client};
  tcp::socket socket{io};
  std::unique_ptr<net::ssl::stream<tcp::socket&>> tls_stream;
  std::string authorization;
  bool gzip = false;
  beast::flat_buffer buffer;
  int port;
  explicit Client(int port_, const Tls* tls = nullptr) : port(port_) {
    if (tls) {
      ssl.load_verify_file(tls->ca_file);
      ssl.set_verify_mode(net::ssl::verify_peer);
      authorization = "Bearer " + tls->token;
    }
    connect(tls != nullptr);
  }
  void connect(bool tls) {
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    if (!tls) return;
    tls_stream = std::make_unique<net::ssl::stream<tcp::socket&>>(socket, ssl);
    tls_stream->handshake(net::ssl::stream_base::client);
  }
  int request(http::verb verb, const std::string& target, const std::string& body, std::string* out = nullptr) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    if (!authorization.empty()) req.set(http::field::authorization, authorization);
    if (gzip) req.set(http::field::accept_encoding, "gzip");
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    // Lists and watches of 30,000 objects pass Beast's default limit (8 MiB).
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    if (tls_stream) {
      http::write(*tls_stream, req);
      http::read(*tls_stream, buffer, parser);
    } else {
      http::write(socket, req);
      http::read(socket, buffer, parser);
    }
    auto& res = parser.get();
    if (!res.keep_alive()) {  // a watch's stream ends its connection
      beast::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
      buffer.clear();
      connect(tls_stream != nullptr);
    }
    if (out) {
      if (res[http::field::content_encoding] != "gzip") *out = std::move(res.body());
      else if (!server::gunzip(res.body(), out)) throw std::runtime_error("a gzipped body that does not inflate");
    }
    return res.result_int();
  }
};

}  // namespace pmesh::bench
