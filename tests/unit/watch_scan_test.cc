// A filtered watch's start (a watch that asks about each object, as a watch
// of organizations does) decides its objects a slice at a time on the
// engine's thread, with other work between. What commits meanwhile reaches
// the watcher once: with initial events, behind the scan as a change after
// them, ahead of it as the object the scan then reads; from a resource
// version, as it commits, judged by what the object was before.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
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

std::string name_of(int i);

// The facts of the ConfigMaps in root's "default" named `names`, sorted
// (WatchSpec::candidates).
std::vector<std::string> facts_of(const engine::Engine& e, const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& n : names) out.push_back(engine::object_fact({e.kinds().by_resource("root", "", "v1", "configmaps")->key(), "root", "default", n}));
  std::sort(out.begin(), out.end());
  return out;
}

// A superset of what shown_maps_watch shows at first (every third): every
// third and every second, past one slice's worth.
std::function<std::vector<std::string>()> thirds_and_halves(const engine::Engine& e) {
  return [&e]() {
    std::vector<std::string> names;
    for (int i = 0; i < 600; ++i)
      if (i % 3 == 0 || i % 2 == 0) names.push_back(name_of(i));
    return facts_of(e, names);
  };
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

// Runs the engine's thread until it has nothing ready (bounded).
bool drain(boost::asio::io_context& io) {
  for (int i = 0; i < 20000; ++i) {
    io.restart();
    if (io.poll() == 0) return true;
  }
  return false;
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
struct ShownMaps : HubFixture {
  static std::unique_ptr<engine::Engine> filled() {
    auto e = std::make_unique<engine::Engine>(prelude_program());
    std::vector<Op> ops;
    for (int i = 0; i < 600; ++i) ops.push_back(Op::create(shown_map(name_of(i), i % 3 == 0)));
    REQUIRE(e->apply(ops).ok);
    return e;
  }
  ShownMaps() : HubFixture(filled()) {}
};

}  // namespace

TEST_CASE("a filtered watch's initial events go out a slice at a time, and what commits meanwhile arrives once") {
  ShownMaps f;
  engine::Engine& e = *f.engine;
  boost::asio::io_context& io = f.io;
  server::WatchHub& hub = f.hub;

  // Deciding every object, or the candidates the spec names (a superset
  // of what is shown, and what changes meanwhile): the same events.
  bool candidates = false;
  SUBCASE("every object") {}
  SUBCASE("the candidates") { candidates = true; }
  size_t asked = 0;
  server::WatchSpec spec = shown_maps_watch(e, asked);
  spec.send_initial_events = true;
  if (candidates) spec.candidates = thirds_and_halves(e);
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
  // (With candidates, two slices: the second was before it.)
  CHECK(*between <= asked);
  if (!candidates) CHECK(*between < asked);
  if (candidates) CHECK(asked < 420);  // of 600

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
  bool candidates = false;
  SUBCASE("every object") {}
  SUBCASE("the candidates") { candidates = true; }
  size_t asked = 0;
  auto stream = std::make_shared<FakeStream>();
  // The client listed at this version and holds every third.
  server::WatchSpec spec = shown_maps_watch(e, asked);
  if (candidates) spec.candidates = thirds_and_halves(e);
  hub.start(spec, std::to_string(e.resource_version()), stream);
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
  REQUIRE(drain(io));
  REQUIRE(between);
  // (With candidates, two slices: the second was before it.)
  CHECK(*between <= asked);
  if (!candidates) CHECK(*between < asked);
  if (candidates) CHECK(asked < 420);  // of 600
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

TEST_CASE("a filtered watch with candidates decides them, and what tuples bring into view while it starts") {
  // Visibility by key, as an organization's is: a `grant(name)` tuple
  // shows the ConfigMap of that name. The candidates are the granted names.
  auto n4 = [](int i) {
    char n[16];
    std::snprintf(n, sizeof n, "cm%04d", i);
    return std::string(n);
  };
  auto filled = std::make_unique<engine::Engine>(prelude_program("relation grant(name)\nrelation everything(x)\n"));
  std::vector<Op> ops;
  for (int i = 0; i < 1200; ++i) ops.push_back(Op::create(shown_map(n4(i), true)));
  for (int i = 0; i < 1200; i += 3) ops.push_back(Op::add_tuple("grant", {n4(i)}));
  REQUIRE(filled->apply(ops).ok);
  HubFixture f(std::move(filled));
  engine::Engine* e = f.engine.get();
  boost::asio::io_context& io = f.io;
  server::WatchHub& hub = f.hub;
  auto commit = [&f](std::vector<Op> ops) { f.commit(std::move(ops)); };
  size_t asked = 0;
  server::WatchSpec spec = shown_maps_watch(*e, asked);
  spec.send_initial_events = true;
  spec.visible = [&](const Json& o) {
    ++asked;
    return e->has_tuple("grant", {o["metadata"].value("name", "")});
  };
  spec.candidates = [&]() {
    std::vector<std::string> names;
    e->state().scan_tuples("grant", [&](const engine::FactKey& f) {
      names.emplace_back(engine::view_tuple_fact(f.str()).args[0]);
      return true;
    });
    return facts_of(*e, names);
  };
  // A grant changes one object's visibility; `everything` the whole watch's.
  spec.access_depends_on = [](const engine::TupleView& t, std::string* object) {
    if (t.relation == "everything") return true;
    if (t.relation != "grant") return false;
    *object = std::string(t.args[0]);
    return true;
  };
  auto stream = std::make_shared<FakeStream>();
  hub.start(spec, "", stream);
  CHECK(asked == server::WatchHub::kScanSlice);  // one slice of the 400 candidates

  commit({Op::add_tuple("grant", {n4(1)})});       // behind the scan: ADDED after the initial events
  commit({Op::remove_tuple("grant", {n4(0)})});    // behind, shown: DELETED after them
  commit({Op::add_tuple("grant", {n4(1100)})});    // ahead, not a candidate: read by the scan
  commit({Op::remove_tuple("grant", {n4(1101)})});  // ahead, a candidate no longer granted: not shown
  auto done = [&]() {
    auto ev = stream->events();
    return !ev.empty() && ev.back()["type"] == "BOOKMARK";
  };
  REQUIRE(run_until(io, done));
  // The initial events in key order, then what changed behind the scan,
  // in commit order, then the bookmark.
  std::vector<std::string> want;
  for (int k = 0; k < 1200; ++k)
    if ((k % 3 == 0 && k != 1101) || k == 1100) want.push_back("ADDED " + n4(k));
  want.insert(want.end(), {"ADDED cm0001", "DELETED cm0000", "BOOKMARK "});
  CHECK(said(stream->events()) == want);
  // The candidates and what the tuples named, not the 1,200 objects.
  CHECK(asked < 420);

  // A whole recheck decides the candidates and what was shown alone.
  size_t before = stream->events().size();
  asked = 0;
  commit({Op::remove_tuple("grant", {n4(3)}), Op::add_tuple("grant", {n4(2)}), Op::add_tuple("everything", {"x"})});
  CHECK(said(stream->events(), before) == std::vector<std::string>{"ADDED cm0002", "DELETED cm0003"});
  CHECK(asked < 420);
  CHECK(asked > 300);
}

}  // namespace pmesh::test
