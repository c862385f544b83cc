// Every failed write changes nothing: each stage of a write is made to fail
// in turn (failpoints: decode, admission, evaluate, encode, commit), and
// memory, the data directory, watch streams and a recomputation are checked
// to be exactly as before. Then the watch hub's exactness: a watch started
// while a commit is pending shows each change once; closed watches go.
#include <doctest/doctest.h>

#include "engine/failpoint.h"
#include "tests/unit/server_fixture.h"

namespace pmesh::test {
namespace {

using nlohmann::json;

const char* kOrgs = "/clusters/root:orgs/apis/core.platform-mesh.io/v1alpha1/accounts";

std::string org(const std::string& name) {
  return json{{"apiVersion", "core.platform-mesh.io/v1alpha1"}, {"kind", "Account"}, {"metadata", {{"name", name}}},
              {"spec", {{"type", "org"}, {"displayName", "An organization"}, {"creator", "alice"}}}}
      .dump();
}

// Everything the engine holds, as text. (Of the rule sets loaded at run
// time, what they derive: their bookkeeping is numbered in the order they
// were loaded, which a restart need not repeat.)
std::string dump_state_at_version(const engine::Engine& e) {
  std::string out = std::to_string(e.resource_version()) + "\n";
  for (const auto& [f, o] : e.state().objects()) out += engine::encode_object(o).dump() + "\n";
  for (const auto* t : e.state().tuples_in_order()) out += engine::describe_fact(t->first) + "\n";
  e.state().for_each_match([&](const engine::MatchKey&, const engine::Match& m) {
    if (static_cast<size_t>(m.rule()) < e.program().rules.size()) out += engine::encode_match(m).dump() + "\n";
  });
  return out;
}

TEST_CASE("a write that fails at any stage leaves memory, disk, watchers and recomputation as they were") {
  ServerFixture s;
  REQUIRE(s.call("POST", kOrgs, org("before"))->status == 201);
  auto orgs = std::make_shared<FakeStream>();
  auto workspaces = std::make_shared<FakeStream>();
  CHECK_FALSE(s.call("GET", std::string(kOrgs) + "?watch=true", "", "", orgs));
  CHECK_FALSE(s.call("GET", "/clusters/*/apis/tenancy.kcp.io/v1alpha1/workspaces?watch=true", "", "", workspaces));
  size_t orgs_seen = orgs->chunks.size(), workspaces_seen = workspaces->chunks.size();
  REQUIRE(orgs_seen == 1);
  std::string before = dump_state_at_version(s.engine());
  for (const char* stage : {"decode", "admission", "evaluate", "encode", "commit"}) {
    CAPTURE(stage);
    failpoint::arm(stage);
    auto res = s.call("POST", kOrgs, org("doomed"));
    failpoint::disarm_all();
    REQUIRE(res);
    CHECK(res->status == 500);
    CHECK(json::parse(res->body)["reason"] == "InternalError");
    CHECK(res->body.find(stage) != std::string::npos);
    s.settle();
    CHECK(dump_state_at_version(s.engine()) == before);
    CHECK_FALSE(s.store().has_pending());
    CHECK(orgs->chunks.size() == orgs_seen);
    CHECK(workspaces->chunks.size() == workspaces_seen);
    CHECK(s.call("GET", std::string(kOrgs) + "/doomed")->status == 404);
  }
  // The same write then goes through, and watchers hear of it once, in order.
  auto res = s.call("POST", kOrgs, org("doomed"));
  REQUIRE(res->status == 201);
  auto events = orgs->events(orgs_seen);
  REQUIRE_FALSE(events.empty());
  CHECK(events[0]["type"] == "ADDED");
  CHECK(events[0]["object"]["metadata"]["name"] == "doomed");
  int64_t last = 0;
  for (const auto& e : workspaces->events(workspaces_seen)) {
    int64_t rv = std::stoll(e["object"]["metadata"]["resourceVersion"].get<std::string>());
    CHECK(rv > last);
    last = rv;
  }
  CHECK(s.engine().verify().empty());
  // And the data directory holds exactly what memory did.
  std::string committed = dump_state_at_version(s.engine());
  s.close();
  s.open();
  CHECK(dump_state_at_version(s.engine()) == committed);
  CHECK(s.engine().verify().empty());
}

TEST_CASE("a failed OpenFGA write changes no tuple and tells no watcher") {
  ServerFixture s;
  REQUIRE(s.call("POST", kOrgs, org("acme"))->status == 201);
  std::string before = dump_state_at_version(s.engine());
  failpoint::arm("evaluate");
  auto res = s.call("POST", "/stores/acme/write",
                    R"({"writes":{"tuple_keys":[{"user":"user:bob","relation":"member","object":"core_platform-mesh_io_account:x/acme"}]}})");
  failpoint::disarm_all();
  REQUIRE(res);
  CHECK(res->status == 400);
  CHECK(dump_state_at_version(s.engine()) == before);
}

TEST_CASE("a watch from the current state, started while a commit is pending, shows each change once") {
  ServerFixture s;
  // A create whose commit is not durable yet (its answer waits for it)...
  server::HttpRequest req;
  req.method = "POST";
  req.target = req.path = kOrgs;
  req.body = org("racing");
  req.content_type = "application/json";
  auto pending = s.api().handle(req, std::make_shared<FakeStream>());
  REQUIRE(pending);
  CHECK(pending->later);
  CHECK(s.store().has_pending());
  // ...and a watch from resourceVersion 0 that arrives meanwhile.
  auto stream = std::make_shared<FakeStream>();
  server::HttpRequest watch;
  watch.method = "GET";
  watch.target = std::string(kOrgs) + "?watch=true";
  server::parse_target(watch.target, &watch.path, &watch.query);
  CHECK_FALSE(s.api().handle(watch, stream));
  s.settle();
  int racing = 0;
  for (const auto& e : stream->events())
    if (e["object"]["metadata"]["name"] == "racing") ++racing;
  CHECK(racing == 1);
}

TEST_CASE("closed watches leave the hub, and a watch costs no timer of its own") {
  ServerFixture s;
  std::vector<std::shared_ptr<FakeStream>> streams;
  for (int i = 0; i < 50; ++i) {
    streams.push_back(std::make_shared<FakeStream>());
    CHECK_FALSE(s.call("GET", "/clusters/root/api/v1/namespaces?watch=true&allowWatchBookmarks=true", "", "", streams.back()));
  }
  CHECK(s.api().watch_hub().size() == 50);
  std::weak_ptr<FakeStream> first = streams[0];
  for (auto& st : streams) st->close();
  streams.clear();
  // The next change drops them.
  REQUIRE(s.call("POST", "/clusters/root/api/v1/namespaces", R"({"metadata":{"name":"n1"}})")->status == 201);
  CHECK(s.api().watch_hub().size() == 0);
  CHECK(first.expired());
}

}  // namespace
}  // namespace pmesh::test
