// What the benchmarks that talk HTTP share: `pmesh serve` started on a free
// loopback port (plain HTTP, no authentication) and stopped with the
// benchmark, a keep-alive Beast client, percentiles.
//
// Thread safety: a Client per thread.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace pmesh::bench {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

struct Proc {
  pid_t pid = -1;
  ~Proc() { stop(); }
  void stop() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      int st;
      waitpid(pid, &st, 0);
      pid = -1;
    }
  }
};

// Starts `pmesh serve` on a free port; returns the port.
inline int start_pmesh(const std::string& pmesh, const std::string& dir, Proc& p) {
  std::string out = dir + "/serve.out";
  p.pid = fork();
  if (p.pid == 0) {
    FILE* f = std::fopen(out.c_str(), "w");
    dup2(fileno(f), 1);
    FILE* e = std::fopen((dir + "/serve.log").c_str(), "w");
    dup2(fileno(e), 2);
    // Plain HTTP: the KRM API and the store, without TLS and authentication.
    execl(pmesh.c_str(), pmesh.c_str(), "serve", "--data-dir", (dir + "/data").c_str(), "--listen", "127.0.0.1:0",
          "--plain-http", static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 200; ++i) {
    std::ifstream kc(dir + "/data/admin.kubeconfig");
    std::string text((std::istreambuf_iterator<char>(kc)), std::istreambuf_iterator<char>());
    size_t at = text.find("http://127.0.0.1:");
    if (at != std::string::npos) return std::stoi(text.substr(at + 17));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("pmesh serve did not start");
}

inline int free_port() {
  net::io_context io;
  tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

struct Client {
  net::io_context io;
  tcp::socket socket{io};
  beast::flat_buffer buffer;
  explicit Client(int port) { socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port))); }
  int request(http::verb verb, const std::string& target, const std::string& body, std::string* out = nullptr) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    http::write(socket, req);
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    if (out) *out = std::move(res.body());
    return res.result_int();
  }
};

inline double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

}  // namespace pmesh::bench
