// A filtered watch's start (a watch that asks about each object, as a watch
// of organizations does) decides its objects a slice at a time on the
// engine's thread, with other work between. What commits meanwhile reaches
// the watcher once: with initial events, behind the scan as a change after
// them, ahead of it as the object the scan then reads; from a resource
// version, as it commits, judged by what the object was before.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <map>
#include <memory>
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

// A watch of root's ConfigMaps in "default" showing those whose data says
// show: yes, counting the questions in `asked`.
server::WatchSpec shown_maps_watch(const engine::Engine& e, size_t& asked) {
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
  spec.visible = [&asked](const Json& o) {
    ++asked;
    return o["data"].value("show", "") == "yes";
  };
  return spec;
}

// Runs the engine's thread (bounded) until `done`.
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done) {
  for (int i = 0; i < 20000 && !done(); ++i) {
    io.restart();
    io.poll();
    if (!done()) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return done();
}

std::vector<std::string> said(const std::vector<nlohmann::json>& events, size_t from = 0) {
  std::vector<std::string> out;
  for (size_t i = from; i < events.size(); ++i)
    out.push_back(events[i]["type"].get<std::string>() + " " + events[i]["object"]["metadata"].value("name", ""));
  return out;
}

std::string name_of(int i) {
  char n[16];
  std::snprintf(n, sizeof n, "cm%03d", i);
  return n;
}

// 600 ConfigMaps in root's "default", every third shown, and a hub over
// them (made after them: they are durable).
struct ShownMaps {
  static std::unique_ptr<engine::Engine> filled() {
    auto e = std::make_unique<engine::Engine>(prelude_program());
    std::vector<Op> ops;
    for (int i = 0; i < 600; ++i) ops.push_back(Op::create(shown_map(name_of(i), i % 3 == 0)));
    REQUIRE(e->apply(ops).ok);
    return e;
  }
  std::unique_ptr<engine::Engine> engine = filled();
  boost::asio::io_context io;
  server::ClusterNames names_of{*engine};
  server::WatchHub hub{*engine, names_of, nullptr, io, nullptr};
  // Commits and publishes, as the server does once a commit is durable.
  void commit(std::vector<Op> ops) {
    engine::Result r = engine->apply(std::move(ops));
    REQUIRE(r.ok);
    hub.publish(r);
  }
};

}  // namespace

TEST_CASE("a filtered watch's initial events go out a slice at a time, and what commits meanwhile arrives once") {
  ShownMaps f;
  engine::Engine& e = *f.engine;
  boost::asio::io_context& io = f.io;
  server::WatchHub& hub = f.hub;

  size_t asked = 0;
  server::WatchSpec spec = shown_maps_watch(e, asked);
  spec.send_initial_events = true;
  auto stream = std::make_shared<FakeStream>();
  hub.start(spec, "", stream);
  // One slice decided; the rest waits for the engine's thread.
  CHECK(asked > 0);
  CHECK(asked <= server::WatchHub::kScanSlice);

  // Commits while the scan is under way, each published as the server does.
  auto commit = [&f](std::vector<Op> ops) { f.commit(std::move(ops)); };
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
  REQUIRE(run_until(io, done));
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

TEST_CASE("a filtered watch from a resource version learns what its client holds a slice at a time, and says each change as it commits") {
  ShownMaps f;
  engine::Engine& e = *f.engine;
  boost::asio::io_context& io = f.io;
  server::WatchHub& hub = f.hub;
  size_t asked = 0;
  auto stream = std::make_shared<FakeStream>();
  // The client listed at this version and holds every third.
  hub.start(shown_maps_watch(e, asked), std::to_string(e.resource_version()), stream);
  CHECK(asked > 0);
  CHECK(asked <= server::WatchHub::kScanSlice);
  CHECK(stream->events().empty());

  auto commit = [&f](std::vector<Op> ops) { f.commit(std::move(ops)); };
  auto with = [](int i, bool show, const char* more) {
    Json m = shown_map(name_of(i), show);
    m["data"]["more"] = more;
    return m;
  };
  commit({Op::update(with(0, true, "a"))});                                // behind, held: MODIFIED
  commit({Op::update(with(599, true, "a"))});                              // ahead, was hidden: ADDED
  commit({Op::remove({"ConfigMap", "root", "default", name_of(597)})});    // ahead, was held: DELETED
  commit({Op::update(with(594, false, "a"))});                             // ahead, leaves the view: DELETED
  commit({Op::update(with(591, true, "a"))});                              // ahead, stays: MODIFIED
  commit({Op::update(with(590, true, "a"))});                              // ahead, then again:
  commit({Op::update(with(590, true, "b"))});                              //   ADDED, MODIFIED
  // Each as it commits, while the scan is still under way.
  CHECK(asked < 600);
  CHECK(said(stream->events()) == std::vector<std::string>{"MODIFIED cm000", "ADDED cm599", "DELETED cm597", "DELETED cm594",
                                                           "MODIFIED cm591", "ADDED cm590", "MODIFIED cm590"});
  // Not durable (published) yet while the scan passes them.
  engine::Result shown_now = e.apply({Op::update(with(451, true, "a"))});  // was hidden: ADDED
  engine::Result still = e.apply({Op::update(with(450, true, "a"))});      // was held: MODIFIED
  REQUIRE(shown_now.ok);
  REQUIRE(still.ok);
  std::optional<size_t> between;
  boost::asio::post(io, [&]() { between = asked; });
  REQUIRE(run_until(io, [&]() { return asked >= 590; }));
  io.restart();
  io.poll();
  REQUIRE(between);
  CHECK(*between < 590);
  size_t before = stream->events().size();
  hub.publish(shown_now);
  hub.publish(still);
  CHECK(said(stream->events(), before) == std::vector<std::string>{"ADDED cm451", "MODIFIED cm450"});

  // What the scan learned holds: a change of what the client holds is
  // MODIFIED, of what it does not hold nothing, and what comes into view ADDED.
  before = stream->events().size();
  commit({Op::update(with(3, true, "a"))});
  commit({Op::update(with(4, false, "a"))});
  commit({Op::update(with(594, true, "b"))});
  commit({Op::update(with(599, false, "b"))});
  CHECK(said(stream->events(), before) == std::vector<std::string>{"MODIFIED cm003", "ADDED cm594", "DELETED cm599"});
}

}  // namespace pmesh::test
