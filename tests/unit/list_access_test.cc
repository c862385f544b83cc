// Lists whose access is decided object by object: each item by its key
// (ApiRequest::visible_by_key) on the engine's thread, a slice at a time
// with other work between; and a list whose request says only `visible`,
// which a list cannot ask of each item, fails closed instead of showing
// everything.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "engine/engine.h"
#include "server/api/cluster_names.h"
#include "server/registry/resource_store.h"
#include "server/watch/watch_hub.h"
#include "tests/unit/server_fixture.h"
#include "tests/unit/test_util.h"

namespace pmesh::test {
namespace {

using engine::Json;
using engine::Op;

Json config_map(const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "default"}, {"cluster", "root"}}},
          {"data", {{"k", "v"}}}};
}

server::ApiRequest list_request(const engine::Engine& e) {
  server::ApiRequest req;
  req.info.kind = server::RequestInfo::Kind::kObject;
  req.info.cluster = "root";
  req.info.version = "v1";
  req.info.resource = "configmaps";
  req.info.ns = "default";
  req.verb = server::Verb::kList;
  req.kind = e.kinds().by_resource("root", "", "v1", "configmaps");
  return req;
}

std::vector<std::string> names(const server::HttpResponse& res) {
  std::vector<std::string> out;
  const Json list = Json::parse(res.body);
  for (const auto& i : list["items"]) out.push_back(i["metadata"]["name"].get<std::string>());
  return out;
}

// The answer of a list whose rendering is handed to the reader pool: the
// engine's thread (`io`) run until it comes back, bounded. `meanwhile`
// runs once the list has started, before the engine's thread does.
std::optional<server::HttpResponse> answer_of(boost::asio::io_context& io, server::HttpResponse& res,
                                              const std::function<void()>& meanwhile = {}) {
  std::optional<server::HttpResponse> answer;
  if (!res.later) return std::move(res);
  res.later([&](std::optional<server::HttpResponse> r) { answer = std::move(r); });
  if (meanwhile) meanwhile();
  for (int i = 0; i < 20000 && !answer; ++i) {
    io.restart();
    io.poll();
    if (!answer) std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return answer;
}

// 600 ConfigMaps (cm-1000 to cm-1599) in root's "default", and a store to
// list them.
struct SixHundredMaps : HubFixture {
  static std::unique_ptr<engine::Engine> filled() {
    auto e = std::make_unique<engine::Engine>(prelude_program());
    std::vector<Op> ops;
    for (int i = 0; i < 600; ++i) ops.push_back(Op::create(config_map("cm-" + std::to_string(1000 + i))));
    REQUIRE(e->apply(ops).ok);
    return e;
  }
  SixHundredMaps() : HubFixture(filled()) {}
};

}  // namespace

TEST_CASE("a list decided object by object: by each item's key, and closed without a key to decide by") {
  engine::Engine e(prelude_program());
  for (const char* n : {"a", "b", "c"}) REQUIRE(e.apply({Op::create(config_map(n))}).ok);
  boost::asio::io_context io;
  server::ClusterNames names_of(e);
  server::WatchHub hub(e, names_of, nullptr, io, nullptr);
  server::ResourceStore store(e, names_of, nullptr, hub, io, nullptr);

  server::ApiRequest req = list_request(e);
  REQUIRE(req.kind);
  std::vector<std::string> asked;
  req.set_visible_by_key([&](std::string_view cluster, std::string_view ns, std::string_view name) {
    asked.push_back(std::string(cluster) + "/" + std::string(ns) + "/" + std::string(name));
    return name != "b";
  });
  auto res = store.serve(req, nullptr, {});
  REQUIRE(res);
  CHECK(asked.empty());  // decided once the engine's thread runs the list
  auto answer = answer_of(io, *res);
  REQUIRE(answer);
  CHECK(answer->status == 200);
  CHECK(names(*answer) == std::vector<std::string>{"a", "c"});
  CHECK(asked == std::vector<std::string>{"root/default/a", "root/default/b", "root/default/c"});
  // The object-reading form says the same, from the object's metadata.
  CHECK(req.visible(config_map("a")));
  CHECK_FALSE(req.visible(config_map("b")));

  // `visible` alone: nothing a list could ask of each item without the
  // engine's objects, so it is refused rather than shown whole.
  server::ApiRequest only = list_request(e);
  only.visible = [](const Json&) { return false; };
  auto refused = store.serve(only, nullptr, {});
  REQUIRE(refused);
  CHECK(refused->status == 500);
  CHECK(Json::parse(refused->body)["message"].get<std::string>().find("decided object by object") != std::string::npos);
  CHECK(refused->body.find("\"items\"") == std::string::npos);
}

TEST_CASE("a list decided object by object lets other work run between slices of its decisions, and pages as one") {
  SixHundredMaps f;
  engine::Engine& e = *f.engine;
  boost::asio::io_context& io = f.io;
  server::ResourceStore& store = f.store;
  size_t asked = 0;
  auto every_other = [&](std::string_view, std::string_view, std::string_view name) {
    ++asked;
    return (name.back() - '0') % 2 == 0;
  };
  server::ApiRequest req = list_request(e);
  req.set_visible_by_key(every_other);
  auto res = store.serve(req, nullptr, {});
  REQUIRE(res);
  REQUIRE(res->later);
  // Work that arrives while the list is decided runs before its last
  // decision, not after them all.
  std::optional<size_t> between;
  auto answer = answer_of(io, *res, [&]() { boost::asio::post(io, [&]() { between = asked; }); });
  REQUIRE(answer);
  REQUIRE(between);
  CHECK(*between > 0);
  CHECK(*between < 600);
  CHECK(asked == 600);
  std::vector<std::string> whole = names(*answer);
  REQUIRE(whole.size() == 300);

  // In pages of 7, each asking only as far as it needs: the same items.
  std::vector<std::string> paged;
  std::string token;
  for (int page = 0; page < 100; ++page) {
    server::ApiRequest p = list_request(e);
    p.set_visible_by_key(every_other);
    p.list.limit = 7;
    p.list.continue_token = token;
    asked = 0;
    auto r = store.serve(p, nullptr, {});
    REQUIRE(r);
    auto a = answer_of(io, *r);
    REQUIRE(a);
    REQUIRE(a->status == 200);
    for (auto& n : names(*a)) paged.push_back(n);
    CHECK(asked <= 16);  // seven shown, one more to know there is more, and those between
    Json md = Json::parse(a->body)["metadata"];
    token = md.value("continue", "");
    if (token.empty()) break;
  }
  CHECK(paged == whole);
}

TEST_CASE("a list decided object by object with candidates decides those alone, and pages as without them") {
  SixHundredMaps f;
  engine::Engine& e = *f.engine;
  boost::asio::io_context& io = f.io;
  server::ResourceStore& store = f.store;
  std::vector<std::string> asked;
  // Every tenth is visible; the candidates are every fifth (more than
  // what is visible, as a superset may be), out of order, and a name no
  // object has.
  auto tenth = [&](std::string_view, std::string_view, std::string_view name) {
    asked.emplace_back(name);
    return name.back() == '0';
  };
  auto fifth = []() {
    std::vector<std::string> c = {"cm-none"};
    for (int i = 595; i >= 0; i -= 5) c.push_back("cm-" + std::to_string(1000 + i));
    return c;
  };
  auto listed = [&](int64_t limit, const std::string& token) {
    server::ApiRequest p = list_request(e);
    p.set_visible_by_key(tenth);
    p.visible_candidates = fifth;
    p.list.limit = limit;
    p.list.continue_token = token;
    auto r = store.serve(p, nullptr, {});
    REQUIRE(r);
    auto a = answer_of(io, *r);
    REQUIRE(a);
    REQUIRE(a->status == 200);
    return Json::parse(a->body);
  };
  Json whole = listed(0, "");
  std::vector<std::string> want;
  for (int i = 0; i < 600; i += 10) want.push_back("cm-" + std::to_string(1000 + i));
  std::vector<std::string> got;
  for (const auto& i : whole["items"]) got.push_back(i["metadata"]["name"]);
  CHECK(got == want);
  // Only the candidates that name an object were asked about, in order.
  std::vector<std::string> candidates;
  for (int i = 0; i < 600; i += 5) candidates.push_back("cm-" + std::to_string(1000 + i));
  CHECK(asked == candidates);

  // In pages of 7: the same items, each page asking about no more than it needs.
  std::vector<std::string> paged;
  std::string token;
  for (int page = 0; page < 100; ++page) {
    asked.clear();
    Json p = listed(7, token);
    for (const auto& i : p["items"]) paged.push_back(i["metadata"]["name"]);
    CHECK(asked.size() <= 16);
    CHECK(p["metadata"].count("remainingItemCount") == 0);
    token = p["metadata"].value("continue", "");
    if (token.empty()) break;
  }
  CHECK(paged == want);
}

}  // namespace pmesh::test
