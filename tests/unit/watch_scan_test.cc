// A filtered watch's initial events (a watch that asks about each object,
// as a watch of organizations does) go out a slice at a time on the
// engine's thread, with other work between; what commits meanwhile reaches
// the watcher once: behind the scan as a change after the initial events,
// ahead of it as the object the scan then reads.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <thread>

#include "engine/engine.h"
#include "server/api/cluster_names.h"
#include "server/watch/watch_hub.h"
#include "tests/unit/server_fixture.h"
#include "tests/unit/test_util.h"

namespace pmesh::test {
namespace {

using engine::Json;
using engine::Op;

Json shown_map(const std::string& name, bool show) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "default"}, {"cluster", "root"}}},
          {"data", {{"show", show ? "yes" : "no"}}}};
}

std::string name_of(int i) {
  char n[16];
  std::snprintf(n, sizeof n, "cm%03d", i);
  return n;
}

}  // namespace

TEST_CASE("a filtered watch's initial events go out a slice at a time, and what commits meanwhile arrives once") {
  engine::Engine e(prelude_program());
  std::vector<Op> ops;
  for (int i = 0; i < 600; ++i) ops.push_back(Op::create(shown_map(name_of(i), i % 3 == 0)));
  REQUIRE(e.apply(ops).ok);
  boost::asio::io_context io;
  server::ClusterNames names_of(e);
  server::WatchHub hub(e, names_of, nullptr, io, nullptr);

  const dsl::KindDecl* kind = e.kinds().by_resource("root", "", "v1", "configmaps");
  REQUIRE(kind);
  server::WatchSpec spec;
  spec.cluster = "root";
  spec.kind_key = kind->key();
  spec.api_version = "v1";
  spec.kind_name = "ConfigMap";
  spec.ns = "default";
  spec.namespaced = true;
  spec.bookmarks = true;
  spec.send_initial_events = true;
  size_t asked = 0;
  spec.visible = [&](const Json& o) {
    ++asked;
    return o["data"].value("show", "") == "yes";
  };
  auto stream = std::make_shared<FakeStream>();
  hub.start(spec, "", stream);
  // One slice decided; the rest waits for the engine's thread.
  CHECK(asked > 0);
  CHECK(asked <= server::WatchHub::kScanSlice);

  // Commits while the scan is under way, each published as the server does.
  auto commit = [&](std::vector<Op> ops) {
    engine::Result r = e.apply(std::move(ops));
    REQUIRE(r.ok);
    hub.publish(r);
  };
  Json changed = shown_map(name_of(0), true);
  changed["data"]["more"] = "x";
  commit({Op::update(changed)});                                          // behind the scan, shown: MODIFIED
  commit({Op::remove({"ConfigMap", "root", "default", name_of(3)})});     // behind, shown: DELETED
  commit({Op::create(shown_map("cm000a", true))});                        // behind, new: ADDED
  commit({Op::update(shown_map(name_of(599), true))});                    // ahead, now shown: ADDED once
  commit({Op::remove({"ConfigMap", "root", "default", name_of(597)})});   // ahead, was shown: never shown
  commit({Op::update(shown_map(name_of(596), true))});                    // ahead, then again
  commit({Op::update(shown_map(name_of(596), false))});                   // (hidden: never shown)
  // Committed in memory, not durable (published) yet: the scan leaves it
  // to its publish.
  engine::Result pending = e.apply({Op::update(shown_map(name_of(451), true))});
  REQUIRE(pending.ok);

  std::optional<size_t> between;
  boost::asio::post(io, [&]() { between = asked; });
  auto done = [&]() {
    auto ev = stream->events();
    return !ev.empty() && ev.back()["type"] == "BOOKMARK";
  };
  for (int i = 0; i < 20000 && !done(); ++i) {
    io.restart();
    io.poll();
    if (!done()) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  REQUIRE(done());
  // Work posted after the start ran before the scan's last slice.
  REQUIRE(between);
  CHECK(*between < 600);

  auto events = stream->events();
  std::vector<std::string> added, after;
  size_t i = 0;
  for (; i < events.size() && events[i]["type"] == "ADDED"; ++i) added.push_back(events[i]["object"]["metadata"]["name"]);
  for (; i + 1 < events.size(); ++i)
    after.push_back(events[i]["type"].get<std::string>() + " " + events[i]["object"]["metadata"]["name"].get<std::string>());
  // The initial events: what is visible, in key order, once each; cm003 was
  // shown before its deletion, cm597 and cm596 were not reached in time.
  std::vector<std::string> want;
  for (int k = 0; k < 600; ++k)
    if ((k % 3 == 0 && k != 597) || k == 599) want.push_back(name_of(k));
  CHECK(added == want);
  // Then what changed behind the scan, in commit order.
  CHECK(after == std::vector<std::string>{"MODIFIED cm000", "DELETED cm003", "ADDED cm000a"});
  // The ADDED of cm599 reads as it is now; the end's bookmark says how far
  // what is durable goes.
  for (const auto& ev : events)
    if (ev["object"]["metadata"].value("name", "") == name_of(599)) CHECK(ev["object"]["data"]["show"] == "yes");
  CHECK(events.back()["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true");

  CHECK(events.back()["object"]["metadata"]["resourceVersion"] == std::to_string(pending.resource_version - 1));
  hub.publish(pending);
  auto published = stream->events();
  REQUIRE(published.size() == events.size() + 1);
  CHECK(published.back()["type"] == "ADDED");
  CHECK(published.back()["object"]["metadata"]["name"] == name_of(451));

  // From here on, changes arrive as they commit.
  size_t before = stream->events().size();
  commit({Op::update(shown_map(name_of(1), true))});
  auto later = stream->events(0);
  REQUIRE(later.size() == before + 1);
  CHECK(later.back()["type"] == "ADDED");
  CHECK(later.back()["object"]["metadata"]["name"] == name_of(1));
}

}  // namespace pmesh::test
