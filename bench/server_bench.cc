// Server benchmark: `pmesh serve` under load from a Beast HTTP client, and
// etcd (if installed) under the same load through its v3 JSON gateway.
//
//   build/bench/pmesh-server-bench [--pmesh build/pmesh] [--seconds 5] [--watchers 1000] [--watch-rate 500] [--list 10000]
//                                  [--accounts-only 1] [--gzip 0]
//
// Reports, as JSON: durable creates per second and p50/p99 latency at 1, 16
// and 64 connections; Account creates (in one organization, with the
// embedded policies) at 16 connections and their ratio to ConfigMap creates,
// over plain HTTP and again over HTTPS with authentication and authorization
// (`https`); watch delivery p50/p99 with N watchers at 500 writes/s;
// the time to list 10,000 objects, and creates on one connection alone and
// while 1 and 4 clients list them (the rate, and its ratio to creates
// alone), across all workspaces (`/clusters/*`), through the GraphQL gateway
// (the listers ask for gzip as client-go does; --gzip 0: they do not), and
// while clients watch them from scratch, once a second each;
// and etcd's put rate at the same
// concurrencies with the ratio, and HTTPS Account creates against etcd's
// puts at 16 connections (`https.accounts_vs_etcd_puts`; etcd-server from
// apt, plain HTTP). Everything runs on 127.0.0.1. With --accounts-only 1,
// only the Account creates over plain HTTP (`pmesh_account_creates`), for
// a profiler to attach to that phase alone; the server's pid is on stderr.
#include <utility>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
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

#include "bench/bench_http.h"
#include "bench/bench_util.h"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

using pmesh::bench::Client;
using pmesh::bench::Proc;
using pmesh::bench::free_port;
using pmesh::bench::percentile;
using pmesh::bench::start_pmesh;

// Starts etcd on free loopback ports, or returns 0 when etcd is not installed.
int start_etcd(const std::string& dir, Proc& p) {
  if (system("command -v etcd > /dev/null 2>&1") != 0) return 0;
  int client = free_port(), peer = free_port();
  std::string c = "http://127.0.0.1:" + std::to_string(client), pe = "http://127.0.0.1:" + std::to_string(peer);
  pid_t child = fork();
  if (child == 0) {
    FILE* e = std::fopen((dir + "/etcd.log").c_str(), "w");
    dup2(fileno(e), 1);
    dup2(fileno(e), 2);
    execlp("etcd", "etcd", "--data-dir", (dir + "/etcd").c_str(), "--listen-client-urls", c.c_str(), "--advertise-client-urls",
           c.c_str(), "--listen-peer-urls", pe.c_str(), "--initial-advertise-peer-urls", pe.c_str(), "--initial-cluster",
           ("default=" + pe).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  if (child < 0) throw std::runtime_error("fork failed");
  p.started(child);
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

// `connections` clients each sending `make(i)` requests for `seconds`.
json load(int port, int connections, double seconds, const std::function<std::pair<std::string, std::string>(int, int)>& make,
          int ok_code, const pmesh::bench::Tls* tls = nullptr) {
  std::vector<std::vector<double>> lat(static_cast<size_t>(connections));
  std::atomic<int64_t> done{0}, failed{0};
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> ts;
  for (int c = 0; c < connections; ++c)
    ts.emplace_back([&, c]() {
      Client cl(port, tls);
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

// An organization, then Accounts in it on 16 connections for `seconds`,
// each Ready in its transaction (workspace, logical cluster, AccountInfo,
// the organization's model's tuples).
json account_creates(int port, double seconds, const pmesh::bench::Tls* tls) {
  Client cl(port, tls);
  int code = cl.request(http::verb::post, "/clusters/root:orgs/apis/core.platform-mesh.io/v1alpha1/accounts",
                        json{{"apiVersion", "core.platform-mesh.io/v1alpha1"}, {"kind", "Account"},
                             {"metadata", {{"name", "bench"}}}, {"spec", {{"type", "org"}, {"displayName", "An organization"}}}}.dump());
  if (code != 201) std::cerr << "pmesh-server-bench: creating the organization answered " << code << "\n";
  return load(port, 16, seconds, [](int c, int i) {
    json a = {{"apiVersion", "core.platform-mesh.io/v1alpha1"}, {"kind", "Account"},
              {"metadata", {{"name", "a" + std::to_string(c) + "-" + std::to_string(i)}}}, {"spec", {{"type", "account"}, {"displayName", "An account"}}}};
    return std::make_pair(std::string("/clusters/root:orgs:bench/apis/core.platform-mesh.io/v1alpha1/accounts"), a.dump());
  }, 201, tls);
}

// Creates on one connection for `seconds` while `listers` clients list
// `list_path` over and over (GET, or POST of `query` to a GraphQL path):
// whether reads hold up writes. With `gzip` the listers ask for compressed
// answers and inflate them, as client-go's clients do.
json creates_while_listing(int port, int listers, double seconds, bool gzip, const std::string& list_path,
                           const std::string& query = "") {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> lists{0};
  std::vector<std::thread> ts;
  for (int l = 0; l < listers; ++l)
    ts.emplace_back([&]() {
      Client cl(port);
      cl.gzip = gzip;
      std::string body;
      while (!stop) {
        if (query.empty()) cl.request(http::verb::get, list_path, "", &body);
        else cl.request(http::verb::post, list_path, json{{"query", query}}.dump(), &body);
        ++lists;
      }
    });
  static int round = 0;
  ++round;
  json r = load(port, 1, seconds, [listers](int c, int i) {
    std::string name = "w" + std::to_string(round) + "-" + std::to_string(listers) + "-" + std::to_string(c) + "-" + std::to_string(i);
    json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}, {"namespace", "load"}}}, {"data", {{"k", "v"}}}};
    return std::make_pair(std::string("/clusters/root/api/v1/namespaces/load/configmaps"), cm.dump());
  }, 201);
  stop = true;
  for (auto& t : ts) t.join();
  r["listers"] = listers;
  r["gzip"] = gzip;
  r["lists_per_second"] = std::round(static_cast<double>(lists) / seconds * 10) / 10;
  return r;
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

// N watchers read with poll() on one thread; a writer at `rate` creates per
// second, each carrying its send time; the latency of every event at every
// watcher.
json watch_fanout(int port, int watchers, int rate, double seconds) {
  std::vector<int> fds;
  std::string target = "/clusters/root/api/v1/namespaces/fanout/configmaps?watch=true&timeoutSeconds=" +
                       std::to_string(static_cast<int>(seconds) + 60);
  for (int i = 0; i < watchers; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("connect failed");
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    if (::write(fd, req.data(), req.size()) < 0) throw std::runtime_error("write failed");
    fcntl(fd, F_SETFL, O_NONBLOCK);
    fds.push_back(fd);
  }
  std::vector<double> lat;
  std::vector<std::string> acc(fds.size());
  std::atomic<bool> stop{false};
  std::thread reader([&]() {
    std::vector<pollfd> pfds;
    for (int fd : fds) pfds.push_back({fd, POLLIN, 0});
    std::vector<char> buf(1 << 20);
    while (!stop) {
      if (::poll(pfds.data(), pfds.size(), 100) <= 0) continue;
      auto now = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
      for (size_t i = 0; i < pfds.size(); ++i) {
        if (!(pfds[i].revents & POLLIN)) continue;
        ssize_t n = ::read(pfds[i].fd, buf.data(), buf.size());
        if (n <= 0) continue;
        acc[i].append(buf.data(), static_cast<size_t>(n));
        size_t pos = 0, at;
        while ((at = acc[i].find("\"sent\":\"", pos)) != std::string::npos) {
          size_t q = acc[i].find('"', at + 8);
          if (q == std::string::npos) break;
          lat.push_back(static_cast<double>(now - std::stoll(acc[i].substr(at + 8, q - at - 8))) / 1000.0);
          pos = q;
        }
        acc[i].erase(0, pos);
      }
    }
  });
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
  double achieved = n / std::chrono::duration<double>(Clock::now() - start).count();
  // Wait for every event to arrive (or 30 s): undelivered events count as missing, not as fast.
  double expected = static_cast<double>(n) * watchers;
  auto wait_until = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < wait_until && static_cast<double>(lat.size()) < expected)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop = true;
  reader.join();
  for (int fd : fds) ::close(fd);
  return {{"watchers", watchers},
          {"writes_per_second", rate},
          {"writes_per_second_achieved", std::round(achieved)},
          {"events_delivered", lat.size()},
          {"events_expected", expected},
          {"p50_ms", std::round(percentile(lat, 0.5) * 100) / 100},
          {"p99_ms", std::round(percentile(lat, 0.99) * 100) / 100}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string pmesh = (std::filesystem::path(argv[0]).parent_path().parent_path() / "pmesh").string();
  double seconds = 5;
  int watchers = 1000, list_n = 10000, watch_rate = 500, accounts_only = 0;
  bool gzip = true;  // listers as client-go: `Accept-Encoding: gzip`
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    if (f == "--pmesh") pmesh = argv[i + 1];
    else if (f == "--seconds") seconds = pmesh::bench::number_arg<double>("--seconds", argv[i + 1]);
    else if (f == "--watchers") watchers = pmesh::bench::count_arg("--watchers", argv[i + 1]);
    else if (f == "--list") list_n = pmesh::bench::count_arg("--list", argv[i + 1]);
    else if (f == "--watch-rate") watch_rate = pmesh::bench::count_arg("--watch-rate", argv[i + 1]);
    else if (f == "--accounts-only") accounts_only = pmesh::bench::count_arg("--accounts-only", argv[i + 1]);
    else if (f == "--gzip") gzip = pmesh::bench::count_arg("--gzip", argv[i + 1]) != 0;
  }
  signal(SIGPIPE, SIG_IGN);
  std::string dir = std::filesystem::temp_directory_path() / ("pmesh-server-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  json out;
  if (accounts_only) {
    Proc server;
    int port = start_pmesh(pmesh, dir, server);
    std::cerr << "pmesh-server-bench: pmesh serve is pid " << server.pid << std::endl;
    out["pmesh_account_creates"] = account_creates(port, seconds, nullptr);
    server.stop();
    std::filesystem::remove_all(dir);
    std::cout << out.dump(2) << std::endl;
    return out["pmesh_account_creates"]["failed"].get<int64_t>() > 0 ? 1 : 0;
  }
  {
    Proc server;
    int port = start_pmesh(pmesh, dir, server);
    {
      // Namespaced creates need their namespace.
      Client cl(port);
      for (const char* ns : {"load", "list", "fanout"})
        cl.request(http::verb::post, "/clusters/root/api/v1/namespaces",
                   json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}}.dump());
    }
    json creates = json::array();
    for (int conns : {1, 16, 64}) {
      creates.push_back(load(port, conns, seconds, [conns](int c, int i) {
        std::string name = "c" + std::to_string(conns) + "-" + std::to_string(c) + "-" + std::to_string(i);
        json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}, {"namespace", "load"}}}, {"data", {{"k", "v"}}}};
        return std::make_pair(std::string("/clusters/root/api/v1/namespaces/load/configmaps"), cm.dump());
      }, 201));
    }
    out["pmesh_creates"] = creates;
    // Accounts against the ConfigMap creates at 16 connections above.
    {
      json accounts = account_creates(port, seconds, nullptr);
      accounts["vs_configmaps"] = std::round(accounts["per_second"].get<double>() /
                                             std::max(1.0, creates[1]["per_second"].get<double>()) * 1000) / 1000;
      out["pmesh_account_creates"] = accounts;
    }
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
      cl.gzip = gzip;
      std::vector<double> times;
      size_t items = 0;
      for (int r = 0; r < 5; ++r) {
        std::string body;
        auto t0 = Clock::now();
        cl.request(http::verb::get, "/clusters/root/api/v1/namespaces/list/configmaps", "", &body);
        times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        items = json::parse(body)["items"].size();
      }
      out["list"] = {{"items", items}, {"median_ms", std::round(percentile(times, 0.5) * 10) / 10}, {"gzip", gzip}};
      // Creates alone, then while 1 and 4 clients list those objects.
      json mixed = json::array();
      for (int listers : {0, 1, 4})
        mixed.push_back(creates_while_listing(port, listers, seconds, gzip, "/clusters/root/api/v1/namespaces/list/configmaps"));
      for (auto& m : mixed)
        m["vs_alone"] = std::round(m["per_second"].get<double>() / std::max(1.0, mixed[0]["per_second"].get<double>()) * 1000) / 1000;
      out["creates_while_listing"] = mixed;
      // The same objects listed across all workspaces (`/clusters/*`), as a
      // controller watching every workspace relists them.
      json wildcard = json::array();
      for (int listers : {1, 4}) {
        json m = creates_while_listing(port, listers, seconds, gzip, "/clusters/*/api/v1/configmaps");
        m["vs_alone"] = std::round(m["per_second"].get<double>() / std::max(1.0, mixed[0]["per_second"].get<double>()) * 1000) / 1000;
        wildcard.push_back(m);
      }
      out["creates_while_wildcard_listing"] = wildcard;
      // The same lists through the GraphQL gateway: parsed and completed
      // off the engine's thread.
      json graphql = json::array();
      for (int listers : {1, 4}) {
        json m = creates_while_listing(port, listers, seconds, gzip, "/api/clusters/root/graphql",
                                       "{ v1 { ConfigMaps(namespace: \"list\") { items { metadata { name } } } } }");
        m["vs_alone"] = std::round(m["per_second"].get<double>() / std::max(1.0, mixed[0]["per_second"].get<double>()) * 1000) / 1000;
        graphql.push_back(m);
      }
      out["creates_while_graphql_listing"] = graphql;
      // Watches of those objects from scratch, each ending after a second
      // (`timeoutSeconds=1`): a client that re-watches gets the whole
      // collection as initial events every time.
      json rewatching = json::array();
      for (int watchers : {1, 4}) {
        json m = creates_while_listing(port, watchers, seconds, gzip,
                                       "/clusters/root/api/v1/namespaces/list/configmaps?watch=true&timeoutSeconds=1");
        m["vs_alone"] = std::round(m["per_second"].get<double>() / std::max(1.0, mixed[0]["per_second"].get<double>()) * 1000) / 1000;
        rewatching.push_back(m);
      }
      out["creates_while_watching_from_scratch"] = rewatching;
    }
    out["watch"] = watch_fanout(port, watchers, watch_rate, seconds);
  }
  {
    // Through HTTPS as clients reach pmesh by default: TLS, the admin's
    // bearer token authenticated, every request authorized. ConfigMap and
    // Account creates at 16 connections, in the same run.
    Proc server;
    pmesh::bench::Tls tls;
    std::string tls_dir = dir + "/https";
    std::filesystem::create_directories(tls_dir);
    int port = start_pmesh(pmesh, tls_dir, server, &tls);
    {
      Client cl(port, &tls);
      cl.request(http::verb::post, "/clusters/root/api/v1/namespaces",
                 json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "load"}}}}.dump());
    }
    json cms = load(port, 16, seconds, [](int c, int i) {
      json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"},
                 {"metadata", {{"name", "s" + std::to_string(c) + "-" + std::to_string(i)}, {"namespace", "load"}}}, {"data", {{"k", "v"}}}};
      return std::make_pair(std::string("/clusters/root/api/v1/namespaces/load/configmaps"), cm.dump());
    }, 201, &tls);
    json accounts = account_creates(port, seconds, &tls);
    out["https"] = {{"configmap_creates", cms},
                    {"account_creates", accounts},
                    {"accounts_vs_configmaps", std::round(accounts["per_second"].get<double>() /
                                                          std::max(1.0, cms["per_second"].get<double>()) * 1000) / 1000}};
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
      // Accounts end to end through HTTPS (TLS, authentication, the
      // authorization model, every policy rule, a durable commit) at 16
      // connections, against etcd's puts of one key at 16 (issue 12).
      out["https"]["accounts_vs_etcd_puts"] = std::round(out["https"]["account_creates"]["per_second"].get<double>() /
                                                         std::max(1.0, puts[1]["per_second"].get<double>()) * 1000) / 1000;
    } else {
      out["etcd_puts"] = "etcd is not installed (apt-get install etcd-server)";
    }
  }
  std::filesystem::remove_all(dir);
  std::cout << out.dump(2) << std::endl;
  // A run where requests failed measured nothing: say so.
  json phases = out["pmesh_creates"];
  phases.push_back(out["pmesh_account_creates"]);
  phases.push_back(out["https"]["configmap_creates"]);
  phases.push_back(out["https"]["account_creates"]);
  for (const auto& c : phases)
    if (c["failed"].get<int64_t>() > 0) {
      std::cerr << "pmesh-server-bench: " << c["failed"] << " creates failed\n";
      return 1;
    }
  if (out["watch"]["events_delivered"] != out["watch"]["events_expected"]) {
    std::cerr << "pmesh-server-bench: watchers got " << out["watch"]["events_delivered"] << " of "
              << out["watch"]["events_expected"] << " events\n";
    return 1;
  }
  return 0;
}
