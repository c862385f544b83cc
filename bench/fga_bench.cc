// OpenFGA benchmark: a documents model (groups, nested folders, documents)
// loaded as a rule set, at several sizes of store.
//
//   build/bench/pmesh-fga-bench [--sizes 10000,100000,1000000] [--samples 2000] [--http 100000] [--http-only 1] [--pmesh build/pmesh]
//
// For each size, in a process of its own: the time to load the tuples, peak
// RSS, the derived facts; check in process (p50) against the cheapest
// engine read (a base tuple's lookup) in the same run; list-objects and
// list-users; the cost of one tuple write that changes N derived facts,
// for N = 10 .. 10,000 (a group granted a folder with N folders and
// documents below it), as time per derived fact. With --http N (at most
// that many tuples): check through `pmesh serve` against a bare request
// (GET /healthz) on the same connection. Prints JSON; times are never
// asserted.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/bench_util.h"
#include "bench/bench_http.h"
#include "engine/engine.h"
#include "fga/compile.h"
#include "fga/dsl_parser.h"
#include "fga/query.h"

using json = nlohmann::json;
using pmesh::engine::Op;
using pmesh::bench::Clock;

namespace {

const char* kModel = R"(model
  schema 1.1
type user
type group
  relations
    define member: [user, group#member]
type folder
  relations
    define parent: [folder]
    define viewer: [user, group#member] or viewer from parent
type doc
  relations
    define parent: [folder]
    define owner: [user]
    define viewer: [user] or owner or viewer from parent
)";

using pmesh::bench::us;

// The tuples of a store of about `n`: a folder tree of fanout 8 (a tenth of
// the tuples), documents in it with an owner each, groups of 5 users, and a
// group granted each folder of the first three levels.
struct Store {
  std::vector<std::vector<std::string>> tuples;  // object, relation, user
  int folders = 0, docs = 0, groups = 0;
};

Store make_store(int n) {
  Store s;
  s.folders = std::max(10, n / 10);
  s.groups = std::max(2, n / 100);
  for (int f = 1; f < s.folders; ++f) s.tuples.push_back({"folder:f" + std::to_string(f), "parent", "folder:f" + std::to_string((f - 1) / 8)});
  for (int g = 0; g < s.groups; ++g)
    for (int u = 0; u < 5; ++u) s.tuples.push_back({"group:g" + std::to_string(g), "member", "user:u" + std::to_string(g * 5 + u)});
  for (int f = 0; f < std::min(s.folders, 73); ++f)
    s.tuples.push_back({"folder:f" + std::to_string(f), "viewer", "group:g" + std::to_string(f % s.groups) + "#member"});
  while (static_cast<int>(s.tuples.size()) + 2 <= n) {
    std::string d = "doc:d" + std::to_string(s.docs);
    s.tuples.push_back({d, "parent", "folder:f" + std::to_string(s.docs % s.folders)});
    s.tuples.push_back({d, "owner", "user:u" + std::to_string((s.docs * 7) % (s.groups * 5))});
    ++s.docs;
  }
  return s;
}

template <typename F>
double median_us(int samples, F&& f) {
  std::vector<double> t;
  for (int i = 0; i < samples; ++i) {
    auto t0 = Clock::now();
    f(i);
    t.push_back(us(Clock::now() - t0));
  }
  return pmesh::bench::percentile(t, 0.5);
}

// The folders and documents at or below folder `f`.
int subtree(const Store& s, int f) {
  int count = 0;
  std::vector<int> todo = {f};
  while (!todo.empty()) {
    int x = todo.back();
    todo.pop_back();
    ++count;
    count += s.docs / s.folders + (x < s.docs % s.folders ? 1 : 0);
    for (int c = x * 8 + 1; c <= x * 8 + 8 && c < s.folders; ++c) todo.push_back(c);
  }
  return count;
}

json in_process(int n, int samples) {
  std::shared_ptr<const pmesh::dsl::CompiledProgram> base;
  {
    pmesh::dsl::DiagnosticSink diags;
    auto p = pmesh::dsl::load_program_from_texts({{"base.rules", "module base\nimport stdlib.fga\n"}}, diags);
    base = pmesh::dsl::compile(std::move(p), diags);
  }
  pmesh::engine::Engine e(base);
  auto m = pmesh::fga::compile_model(pmesh::fga::parse_dsl({{"m.fga", kModel}}), "fga_s_");
  if (!e.add_rule_set("s", m.program, false, nullptr, {Op::add_tuple(pmesh::fga::kLoadedRelation, m.lowered.loaded("s"))}).ok)
    throw std::runtime_error("the model did not load");
  pmesh::fga::ModelView view{m.model, m.lowered, "s"};
  Store s = make_store(n);
  auto t0 = Clock::now();
  for (size_t i = 0; i < s.tuples.size(); i += 1000) {
    std::vector<Op> ops;
    for (size_t j = i; j < std::min(s.tuples.size(), i + 1000); ++j)
      ops.push_back(Op::add_tuple("fga_tuple", std::vector<std::string>{"s", s.tuples[j][0], s.tuples[j][1], s.tuples[j][2]}));
    if (!e.apply(ops).ok) throw std::runtime_error("loading failed");
  }
  double load_s = std::chrono::duration<double>(Clock::now() - t0).count();
  size_t facts = e.state().tuples().size();
  auto doc = [&](int i) { return "doc:d" + std::to_string((i * 7919) % s.docs); };
  auto user = [&](int i) { return "user:u" + std::to_string((i * 31) % (s.groups * 5)); };
  double bare = median_us(samples, [&](int i) { (void)e.has_tuple("fga_tuple", std::vector<std::string>{"s", doc(i), "owner", user(i)}); });
  double check = median_us(samples, [&](int i) { (void)pmesh::fga::check(e, view, user(i), "viewer", doc(i)); });
  size_t listed = 0;
  double list_objects = median_us(std::max(5, samples / 100), [&](int i) {
    listed = pmesh::fga::list_objects(e, view, "folder", "viewer", "user:u" + std::to_string(5 * (72 % s.groups) + i % 5)).size();
  });
  size_t users = 0;
  double list_users = median_us(std::max(5, samples / 10), [&](int i) {
    users = pmesh::fga::list_users(e, view, doc(i), "viewer", {{"user", ""}}).size();
  });
  // One write that grants a fresh group (one member) a folder: it derives a
  // viewer fact for every folder and document below.
  json writes = json::array();
  for (int want : {10, 100, 1000, 10000}) {
    int f = s.folders - 1;
    while (f > 0 && subtree(s, f) < want) f = (f - 1) / 8;
    int derived = subtree(s, f);
    if (derived < want / 2 || (!writes.empty() && writes.back()["derived"] == derived)) continue;
    std::vector<double> t;
    for (int r = 0; r < 5; ++r) {
      std::string g = "group:w" + std::to_string(want) + "_" + std::to_string(r);
      if (!e.apply({Op::add_tuple("fga_tuple", std::vector<std::string>{"s", g, "member", "user:w"})}).ok) throw std::runtime_error("write failed");
      auto w0 = Clock::now();
      if (!e.apply({Op::add_tuple("fga_tuple", std::vector<std::string>{"s", "folder:f" + std::to_string(f), "viewer", g + "#member"})}).ok)
        throw std::runtime_error("write failed");
      t.push_back(us(Clock::now() - w0));
    }
    double med = pmesh::bench::percentile(t, 0.5);
    writes.push_back({{"derived", derived}, {"write_us", std::round(med)}, {"us_per_derived", std::round(med / derived * 100) / 100}});
  }
  return {{"tuples", s.tuples.size()},
          {"facts", facts},
          {"load_s", std::round(load_s * 100) / 100},
          {"peak_rss_mb", pmesh::bench::peak_rss_kib() / 1024},
          {"bare_lookup_us", std::round(bare * 100) / 100},
          {"check_us", std::round(check * 100) / 100},
          {"check_vs_bare", std::round(check / bare * 10) / 10},
          {"list_objects_us", std::round(list_objects)},
          {"list_objects_results", listed},
          {"list_users_us", std::round(list_users * 10) / 10},
          {"list_users_results", users},
          {"write", writes}};
}

json through_http(const std::string& pmesh, int n, int samples) {
  namespace http = pmesh::bench::http;
  std::string dir = std::filesystem::temp_directory_path() / ("pmesh-fga-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  json out;
  {
    pmesh::bench::Proc server;
    int port = pmesh::bench::start_pmesh(pmesh, dir, server);
    pmesh::bench::Client c(port);
    std::string body;
    c.request(http::verb::post, "/stores", json{{"name", "bench"}}.dump(), &body);
    std::string store = json::parse(body)["id"];
    auto model = pmesh::fga::to_json(pmesh::fga::parse_dsl({{"m.fga", kModel}}));
    c.request(http::verb::post, "/stores/" + store + "/authorization-models", model.dump());
    Store s = make_store(n);
    auto t0 = Clock::now();
    for (size_t i = 0; i < s.tuples.size(); i += 100) {
      json keys = json::array();
      for (size_t j = i; j < std::min(s.tuples.size(), i + 100); ++j)
        keys.push_back({{"object", s.tuples[j][0]}, {"relation", s.tuples[j][1]}, {"user", s.tuples[j][2]}});
      if (c.request(http::verb::post, "/stores/" + store + "/write", json{{"writes", {{"tuple_keys", keys}}}}.dump()) != 200)
        throw std::runtime_error("a write failed");
    }
    double load_s = std::chrono::duration<double>(Clock::now() - t0).count();
    auto doc = [&](int i) { return "doc:d" + std::to_string((i * 7919) % s.docs); };
    auto user = [&](int i) { return "user:u" + std::to_string((i * 31) % (s.groups * 5)); };
    double bare = median_us(samples, [&](int) { c.request(http::verb::get, "/healthz", ""); });
    double check = median_us(samples, [&](int i) {
      c.request(http::verb::post, "/stores/" + store + "/check",
                json{{"tuple_key", {{"user", user(i)}, {"relation", "viewer"}, {"object", doc(i)}}}}.dump());
    });
    out = {{"tuples", s.tuples.size()},
           {"load_s", std::round(load_s * 10) / 10},
           {"bare_request_us", std::round(bare)},
           {"check_us", std::round(check)},
           {"check_vs_bare", std::round(check / bare * 100) / 100}};
  }
  std::filesystem::remove_all(dir);
  return out;
}

// Runs `f` in a child process so that each size's peak RSS is its own.
json isolated(const std::function<json()>& f) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::string s;
    try {
      s = f().dump();
    } catch (const std::exception& e) {
      s = json{{"error", e.what()}}.dump();
    }
    if (write(fds[1], s.data(), s.size()) < 0) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  std::string s;
  char buf[4096];
  ssize_t r;
  while ((r = read(fds[0], buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(r));
  close(fds[0]);
  int st;
  waitpid(pid, &st, 0);
  return s.empty() ? json{{"error", "the child died"}} : json::parse(s);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes = {10000, 100000, 1000000};
  int samples = 2000, http_max = 0;
  bool http_only = false;
  std::string pmesh = (std::filesystem::path(argv[0]).parent_path().parent_path() / "pmesh").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    if (f == "--sizes") {
      sizes = pmesh::bench::counts_arg("--sizes", argv[i + 1]);
    } else if (f == "--samples") {
      samples = pmesh::bench::count_arg("--samples", argv[i + 1]);
    } else if (f == "--http") {
      http_max = pmesh::bench::count_arg("--http", argv[i + 1]);
    } else if (f == "--http-only") {
      http_only = pmesh::bench::count_arg("--http-only", argv[i + 1]) != 0;
    } else if (f == "--pmesh") {
      pmesh = argv[i + 1];
    }
  }
  signal(SIGPIPE, SIG_IGN);
  json out = json::array();
  for (int n : sizes) {
    json r = {{"size", n}};
    if (!http_only) r["in_process"] = isolated([&] { return in_process(n, samples); });
    if (n <= http_max) r["http"] = isolated([&] { return through_http(pmesh, n, samples); });
    out.push_back(r);
    std::cerr << r.dump() << "\n";
  }
  std::cout << out.dump(2) << "\n";
}
