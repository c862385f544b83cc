// GroupCommit: the synced write on a thread of its own, while the server's
// thread goes on committing.
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

TEST_CASE("commits made while a write is under way go into the next one, and what waits runs in order") {
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
    REQUIRE(o.engine->apply({Op::create(configmap("two"))}).ok);
    gc([&]() { ran.push_back(2); });
    io.restart();
    REQUIRE(io.poll_one() == 1);  // the first write starts, on the writer's thread
    CHECK(gc.busy());
    CHECK(ran.empty());
    // The server's thread is free meanwhile: this commit waits for the next
    // write, and memory is ahead of the disk until it is done.
    REQUIRE(o.engine->apply({Op::create(configmap("three"))}).ok);
    gc([&]() { ran.push_back(3); });
    CHECK(o.store->has_pending());
    settle(io, &gc);
    CHECK(ran == std::vector<int>{1, 2, 3});
    CHECK(writes == std::vector<size_t>{2, 1});
    CHECK_FALSE(o.store->has_pending());
    // A function queued with nothing to write runs at the next turn.
    gc([&]() { ran.push_back(4); });
    settle(io, &gc);
    CHECK(ran == std::vector<int>{1, 2, 3, 4});
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
    io.restart();
    REQUIRE(io.poll_one() == 1);
    CHECK(gc.busy());
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

}  // namespace pmesh::test
