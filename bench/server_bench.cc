// Server benchmark: `pmesh serve` under load from a Beast HTTP client, and
// etcd (if installed) under the same load through its v3 JSON gateway.
//
//   build/bench/pmesh-server-bench [--pmesh build/pmesh] [--seconds 5] [--watchers 1000] [--list 10000]
//
// Reports, as JSON: durable creates per second and p50/p99 latency at 1, 16
// and 64 connections; watch delivery p50/p99 with N watchers at 500 writes/s;
// the time to list 10,000 objects; and etcd's put rate at the same
// concurrencies with the ratio. Everything runs on 127.0.0.1.
#include <utility>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <signal.h>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

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
int start_pmesh(const std::string& pmesh, const std::string& dir, Proc& p) {
  std::string out = dir + "/serve.out";
  p.pid = fork();
  if (p.pid == 0) {
    FILE* f = std::fopen(out.c_str(), "w");
    dup2(fileno(f), 1);
    FILE* e = std::fopen((dir + "/serve.log").c_str(), "w");
    dup2(fileno(e), 2);
    execl(pmesh.c_str(), pmesh.c_str(), "serve", "--data-dir", (dir + "/data").c_str(), "--listen", "127.0.0.1:0",
          static_cast<char*>(nullptr));
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

int free_port() {
  net::io_context io;
  tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

// Starts etcd on free loopback ports, or returns 0 when etcd is not installed.
int start_etcd(const std::string& dir, Proc& p) {
  if (system("command -v etcd > /dev/null 2>&1") != 0) return 0;
  int client = free_port(), peer = free_port();
  std::string c = "http://127.0.0.1:" + std::to_string(client), pe = "http://127.0.0.1:" + std::to_string(peer);
  p.pid = fork();
  if (p.pid == 0) {
    FILE* e = std::fopen((dir + "/etcd.log").c_str(), "w");
    dup2(fileno(e), 1);
    dup2(fileno(e), 2);
    execlp("etcd", "etcd", "--data-dir", (dir + "/etcd").c_str(), "--listen-client-urls", c.c_str(), "--advertise-client-urls",
           c.c_str(), "--listen-peer-urls", pe.c_str(), "--initial-advertise-peer-urls", pe.c_str(), "--initial-cluster",
           ("default=" + pe).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 100; ++i) {
    try {
      net::io_context io;
      tcp::socket s(io);
      s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(client)));
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      return client;
    } catch (...) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return 0;
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

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

// `connections` clients each sending `make(i)` requests for `seconds`.
json load(int port, int connections, double seconds, const std::function<std::pair<std::string, std::string>(int, int)>& make,
          int ok_code) {
  std::vector<std::vector<double>> lat(static_cast<size_t>(connections));
  std::atomic<int64_t> done{0}, failed{0};
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> ts;
  for (int c = 0; c < connections; ++c)
    ts.emplace_back([&, c]() {
      Client cl(port);
      for (int i = 0; Clock::now() < end; ++i) {
        auto [target, body] = make(c, i);
        auto t0 = Clock::now();
        int code = cl.request(http::verb::post, target, body);
        lat[static_cast<size_t>(c)].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        (code == ok_code ? done : failed)++;
      }
    });
  for (auto& t : ts) t.join();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  return {{"connections", connections},
          {"per_second", std::round(static_cast<double>(done) / seconds)},
          {"p50_ms", std::round(percentile(all, 0.5) * 100) / 100},
          {"p99_ms", std::round(percentile(all, 0.99) * 100) / 100},
          {"failed", failed.load()}};
}

std::string b64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -6;
  for (unsigned char c : in) {
    val = (val << 8) + c;
    bits += 8;
    while (bits >= 0) {
      out += t[(val >> bits) & 0x3F];
      bits -= 6;
    }
  }
  if (bits > -6) out += t[((val << 8) >> (bits + 8)) & 0x3F];
  while (out.size() % 4) out += '=';
  return out;
}

// N watchers on one thread; a writer at `rate` creates per second, each
// carrying its send time; the latency of every event at every watcher.
json watch_fanout(int port, int watchers, int rate, double seconds) {
  net::io_context io;
  std::vector<double> lat;
  std::mutex mu;
  struct W {
    tcp::socket s;
    std::array<char, 65536> buf;
    std::string acc;
    explicit W(net::io_context& io) : s(io) {}
  };
  std::vector<std::unique_ptr<W>> ws;
  std::function<void(W*)> read = [&](W* w) {
    w->s.async_read_some(net::buffer(w->buf), [&, w](beast::error_code ec, size_t n) {
      if (ec) return;
      auto now = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
      w->acc.append(w->buf.data(), n);
      size_t nl;
      while ((nl = w->acc.find('\n')) != std::string::npos) {
        std::string line = w->acc.substr(0, nl);
        w->acc.erase(0, nl + 1);
        size_t at = line.find("\"sent\":\"");
        if (at != std::string::npos) {
          long long sent = std::stoll(line.substr(at + 8));
          std::lock_guard<std::mutex> g(mu);
          lat.push_back(static_cast<double>(now - sent) / 1000.0);
        }
      }
      read(w);
    });
  };
  std::string target = "/clusters/root/api/v1/namespaces/fanout/configmaps?watch=true&timeoutSeconds=" + std::to_string(static_cast<int>(seconds) + 5);
  for (int i = 0; i < watchers; ++i) {
    auto w = std::make_unique<W>(io);
    w->s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    net::write(w->s, net::buffer(req));
    read(w.get());
    ws.push_back(std::move(w));
  }
  std::thread reader([&]() { io.run(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  Client writer(port);
  int n = static_cast<int>(rate * seconds);
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    std::this_thread::sleep_until(start + std::chrono::microseconds(static_cast<int64_t>(i * 1e6 / rate)));
    auto sent = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
    json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "f" + std::to_string(i)}, {"namespace", "fanout"}}},
               {"data", {{"sent", std::to_string(sent)}}}};
    writer.request(http::verb::post, "/clusters/root/api/v1/namespaces/fanout/configmaps", cm.dump());
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  for (auto& w : ws) {
    beast::error_code ec;
    w->s.shutdown(tcp::socket::shutdown_both, ec);
    w->s.close(ec);
  }
  io.stop();
  reader.join();
  double expected = static_cast<double>(n) * watchers;
  return {{"watchers", watchers},
          {"writes_per_second", rate},
          {"events_delivered", lat.size()},
          {"events_expected", expected},
          {"p50_ms", std::round(percentile(lat, 0.5) * 100) / 100},
          {"p99_ms", std::round(percentile(lat, 0.99) * 100) / 100}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string pmesh = (std::filesystem::path(argv[0]).parent_path().parent_path() / "pmesh").string();
  double seconds = 5;
  int watchers = 1000, list_n = 10000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    if (f == "--pmesh") pmesh = argv[i + 1];
    else if (f == "--seconds") seconds = std::stod(argv[i + 1]);
    else if (f == "--watchers") watchers = std::stoi(argv[i + 1]);
    else if (f == "--list") list_n = std::stoi(argv[i + 1]);
  }
  signal(SIGPIPE, SIG_IGN);
  std::string dir = std::filesystem::temp_directory_path() / ("pmesh-server-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  json out;
  {
    Proc server;
    int port = start_pmesh(pmesh, dir, server);
    json creates = json::array();
    for (int conns : {1, 16, 64}) {
      creates.push_back(load(port, conns, seconds, [conns](int c, int i) {
        std::string name = "c" + std::to_string(conns) + "-" + std::to_string(c) + "-" + std::to_string(i);
        json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}, {"namespace", "load"}}}, {"data", {{"k", "v"}}}};
        return std::make_pair(std::string("/clusters/root/api/v1/namespaces/load/configmaps"), cm.dump());
      }, 201));
    }
    out["pmesh_creates"] = creates;
    // A list of `list_n` objects.
    {
      std::atomic<int> next{0};
      std::vector<std::thread> ts;
      for (int c = 0; c < 16; ++c)
        ts.emplace_back([&]() {
          Client cl(port);
          for (int i = next++; i < list_n; i = next++) {
            json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "l" + std::to_string(i)}, {"namespace", "list"}}}, {"data", {{"k", "v"}}}};
            cl.request(http::verb::post, "/clusters/root/api/v1/namespaces/list/configmaps", cm.dump());
          }
        });
      for (auto& t : ts) t.join();
      Client cl(port);
      std::vector<double> times;
      size_t items = 0;
      for (int r = 0; r < 5; ++r) {
        std::string body;
        auto t0 = Clock::now();
        cl.request(http::verb::get, "/clusters/root/api/v1/namespaces/list/configmaps", "", &body);
        times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        items = json::parse(body)["items"].size();
      }
      out["list"] = {{"items", items}, {"median_ms", std::round(percentile(times, 0.5) * 10) / 10}};
    }
    out["watch"] = watch_fanout(port, watchers, 500, seconds);
  }
  {
    Proc etcd;
    int port = start_etcd(dir, etcd);
    if (port) {
      json puts = json::array();
      for (int conns : {1, 16, 64})
        puts.push_back(load(port, conns, seconds, [conns](int c, int i) {
          std::string key = "/registry/configmaps/load/c" + std::to_string(conns) + "-" + std::to_string(c) + "-" + std::to_string(i);
          json body = {{"key", b64(key)}, {"value", b64(R"({"apiVersion":"v1","kind":"ConfigMap","data":{"k":"v"}})")}};
          return std::make_pair(std::string("/v3/kv/put"), body.dump());
        }, 200));
      out["etcd_puts"] = puts;
      json ratio = json::array();
      for (size_t i = 0; i < puts.size(); ++i)
        ratio.push_back(std::round(out["pmesh_creates"][i]["per_second"].get<double>() / std::max(1.0, puts[i]["per_second"].get<double>()) * 100) / 100);
      out["pmesh_vs_etcd_rate"] = ratio;
    } else {
      out["etcd_puts"] = "etcd is not installed (apt-get install etcd-server)";
    }
  }
  std::filesystem::remove_all(dir);
  std::cout << out.dump(2) << std::endl;
  return 0;
}
