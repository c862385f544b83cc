// GroupCommit: the synced write on a thread of its own, while the server's
// thread goes on committing; and the server thread's other work after its
// commits (objects going cold).
#include "server/registry/group_commit.h"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include <string>
#include <vector>

#include "engine/durable_store.h"
#include "engine/engine.h"
#include "tests/unit/server_fixture.h"
#include "tests/unit/test_util.h"

namespace pmesh::test {
namespace {

using engine::Json;
using engine::Op;

Json configmap(const std::string& name) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "default"}, {"cluster", "root"}}}, {"data", {{"k", "v"}}}};
}

}  // namespace

TEST_CASE("a write starts as soon as a commit waits and the writer is free, commits meanwhile go into the next, and what waits runs in order") {
  TempDir dir;
  auto program = prelude_program();
  std::vector<int> ran;
  {
    OpenedStore o = open_data_dir(dir.path, program);
    boost::asio::io_context io;
    std::vector<size_t> writes;  // the functions each write made durable
    server::GroupCommit gc(io, *o.store, [](const std::string&) { FAIL("the write failed"); });
    gc.set_observer([&](double, size_t waiting) { writes.push_back(waiting); });
    REQUIRE(o.engine->apply({Op::create(configmap("one"))}).ok);
    gc([&]() { ran.push_back(1); });
    // The writer was idle: the write started at once, not after the
    // requests at hand (nothing has run on io yet).
    CHECK(gc.busy());
    CHECK_FALSE(o.store->has_collected());
    // Everything committed is in that write: this waits for it alone.
    gc([&]() { ran.push_back(10); });
    // The server's thread is free meanwhile: these commits wait for the
    // next write, and memory is ahead of the disk until it is done.
    REQUIRE(o.engine->apply({Op::create(configmap("two"))}).ok);
    gc([&]() { ran.push_back(2); });
    REQUIRE(o.engine->apply({Op::create(configmap("three"))}).ok);
    gc([&]() { ran.push_back(3); });
    CHECK(o.store->has_pending());
    CHECK(ran.empty());
    settle(io, &gc);
    CHECK(ran == std::vector<int>{1, 10, 2, 3});
    CHECK(writes == std::vector<size_t>{2, 2});
    CHECK_FALSE(o.store->has_pending());
    // A function queued with nothing to write runs at the next turn.
    gc([&]() { ran.push_back(4); });
    CHECK(ran.size() == 4);  // not inside the call: at the next turn
    settle(io, &gc);
    CHECK(ran == std::vector<int>{1, 10, 2, 3, 4});
  }
  OpenedStore again = open_data_dir(dir.path, program);
  for (const char* name : {"one", "two", "three"}) {
    CAPTURE(name);
    CHECK(again.engine->get({"ConfigMap", "root", "default", name}));
  }
}

TEST_CASE("write_now makes durable what was committed behind a write under way, in order") {
  TempDir dir;
  auto program = prelude_program();
  int64_t rv = 0;
  {
    OpenedStore o = open_data_dir(dir.path, program);
    boost::asio::io_context io;
    server::GroupCommit gc(io, *o.store, [](const std::string&) { FAIL("the write failed"); });
    REQUIRE(o.engine->apply({Op::create(configmap("one"))}).ok);
    gc([]() {});
    CHECK(gc.busy());  // started at once: the writer was idle
    REQUIRE(o.engine->apply({Op::create(configmap("two"))}).ok);
    std::string err;
    CHECK(gc.write_now(&err));
    rv = o.engine->resource_version();
    // Destroyed with the first write's hand-back still queued: it does
    // nothing when io runs it.
  }
  OpenedStore again = open_data_dir(dir.path, program);
  CHECK(again.engine->get({"ConfigMap", "root", "default", "one"}));
  CHECK(again.engine->get({"ConfigMap", "root", "default", "two"}));
  CHECK(again.engine->resource_version() == rv);
}

TEST_CASE("the server holds objects cold in handlers of their own, after the commit that ends their window") {
  engine::Engine::Options options;
  options.cold_after_transactions = 2;
  ServerFixture f(options);
  const std::string collection = "/clusters/root/api/v1/namespaces/default/configmaps";
  auto held = [&](const std::string& name) {
    const engine::ObjectEntry* o = f.engine().state().object(engine::object_fact({"ConfigMap", "root", "default", name}));
    REQUIRE(o);
    return o->effective.held_as_cbor();
  };
  for (const char* name : {"one", "two"}) {
    auto res = f.call("POST", collection, configmap(name).dump());
    REQUIRE(res);
    REQUIRE(res->status == 201);
  }
  CHECK_FALSE(held("one"));
  // The third commit ends the first's window. It runs in the request's
  // handler, and the object goes cold in a handler after it.
  auto pending = f.api().handle(ServerFixture::request("POST", collection, configmap("three").dump()), std::make_shared<FakeStream>());
  REQUIRE(pending);
  CHECK(f.engine().get({"ConfigMap", "root", "default", "three"}));
  CHECK_FALSE(held("one"));
  f.settle();
  CHECK(held("one"));
  CHECK_FALSE(held("three"));
  // And it reads as before.
  auto got = f.call("GET", collection + "/one");
  REQUIRE(got);
  CHECK(got->status == 200);
  CHECK(Json::parse(got->body).at("data") == Json{{"k", "v"}});
  CHECK(f.engine().verify().empty());
}

}  // namespace pmesh::test
