// Every failed write changes nothing: each stage of a write is made to fail
// in turn (failpoints: decode, admission, evaluate, encode, commit), and
// memory, the data directory, watch streams and a recomputation are checked
// to be exactly as before. Then the watch hub's exactness: a watch started
// while a commit is pending shows each change once; closed watches go; a
// commit's events, encoded once for the watchers that share them, are what
// each watcher would have had.
#include <doctest/doctest.h>

#include <map>
#include <set>

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

TEST_CASE("a commit's events reach each watcher in one send, encoded once and as each watcher reads them") {
  ServerFixture s;
  const std::string ns = "/clusters/root/api/v1/namespaces";
  const std::string cms = ns + "/w/configmaps";
  REQUIRE(s.call("POST", ns, R"({"metadata":{"name":"w"}})")->status == 201);
  auto plain = std::make_shared<FakeStream>(), also = std::make_shared<FakeStream>(), labeled = std::make_shared<FakeStream>(),
       table = std::make_shared<FakeStream>(), secrets = std::make_shared<FakeStream>();
  CHECK_FALSE(s.call("GET", cms + "?watch=true", "", "", plain));
  CHECK_FALSE(s.call("GET", cms + "?watch=true", "", "", also));
  CHECK_FALSE(s.call("GET", cms + "?watch=true&labelSelector=app%3Dx", "", "", labeled));
  CHECK_FALSE(s.call("GET", cms + "?watch=true", "", "", table, "application/json;as=Table;v=v1;g=meta.k8s.io"));
  CHECK_FALSE(s.call("GET", ns + "/w/secrets?watch=true", "", "", secrets));
  for (const char* name : {"a", "b", "c"}) {
    json cm = {{"metadata", {{"name", name}}}, {"data", {{"k", name}}}};
    if (std::string(name) == "a") cm["metadata"]["labels"] = {{"app", "x"}};
    REQUIRE(s.call("POST", cms, cm.dump())->status == 201);
  }
  std::map<std::string, json> got;
  for (const char* name : {"a", "b", "c"}) got[name] = json::parse(s.call("GET", cms + "/" + name)->body);
  size_t before = plain->chunks.size();
  // One transaction that deletes all three.
  auto gone = s.call("DELETE", cms);
  REQUIRE(gone);
  REQUIRE(gone->status == 200);
  s.settle();
  std::string deleted_at = json::parse(gone->body)["metadata"]["resourceVersion"];

  // Each watcher reading as stored: the same bytes, the commit in one send.
  CHECK(plain->chunks == also->chunks);
  CHECK(plain->chunks.size() == before + 1);
  auto events = plain->events();
  REQUIRE(events.size() == 6);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(events[i]["type"] == "ADDED");
    CHECK(events[i]["object"] == got[events[i]["object"]["metadata"]["name"]]);
  }
  // Each object as it was last, at the version that deleted it: a
  // version of its own each, as kube's deletecollection deletes one by one,
  // the last the list's.
  std::set<std::string> deleted;
  std::map<std::string, int64_t> deleted_rv;
  int64_t previous = 0;
  for (size_t i = 3; i < 6; ++i) {
    CAPTURE(events[i].dump());
    CHECK(events[i]["type"] == "DELETED");
    std::string name = events[i]["object"]["metadata"]["name"];
    deleted.insert(name);
    int64_t rv = std::stoll(events[i]["object"]["metadata"]["resourceVersion"].get<std::string>());
    CHECK(rv > previous);
    CHECK(rv > std::stoll(got[name]["metadata"]["resourceVersion"].get<std::string>()));
    previous = deleted_rv[name] = rv;
    json last = got[name];
    last["metadata"]["resourceVersion"] = std::to_string(rv);
    CHECK(events[i]["object"] == last);
  }
  CHECK(std::to_string(previous) == deleted_at);
  CHECK(deleted == std::set<std::string>{"a", "b", "c"});
  // A selector's watcher: what it selects.
  auto mine = labeled->events();
  REQUIRE(mine.size() == 2);
  CHECK(mine[0]["type"] == "ADDED");
  CHECK(mine[1]["type"] == "DELETED");
  CHECK(mine[1]["object"]["metadata"]["name"] == "a");
  CHECK(mine[1]["object"]["metadata"]["resourceVersion"] == std::to_string(deleted_rv["a"]));
  // A Table's watcher: its own rows, the columns in its first event only.
  auto rows = table->events();
  REQUIRE(rows.size() == 6);
  for (size_t i = 0; i < rows.size(); ++i) {
    CHECK(rows[i]["object"]["kind"] == "Table");
    const json& columns = rows[i]["object"]["columnDefinitions"];
    CHECK((columns.is_array() && !columns.empty()) == (i == 0));
    REQUIRE(rows[i]["object"]["rows"].size() == 1);
    CHECK(rows[i]["object"]["rows"][0]["object"]["metadata"]["name"] == events[i]["object"]["metadata"]["name"]);
  }
  CHECK(rows[5]["type"] == "DELETED");
  // Another kind's watcher hears nothing.
  CHECK(secrets->chunks.empty());
}

}  // namespace
}  // namespace pmesh::test
