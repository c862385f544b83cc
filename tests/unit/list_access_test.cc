// Lists whose access is decided object by object: each item by its key
// (ApiRequest::visible_by_key) on the engine's thread; and a list whose
// request says only `visible`, which a list cannot ask of each item, fails
// closed instead of showing everything.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include "engine/engine.h"
#include "server/api/cluster_names.h"
#include "server/registry/resource_store.h"
#include "server/watch/watch_hub.h"
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
  CHECK(res->status == 200);
  CHECK_FALSE(res->later);  // rendered on the engine's thread, at once
  CHECK(names(*res) == std::vector<std::string>{"a", "c"});
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

}  // namespace pmesh::test
