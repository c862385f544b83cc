// The watch hub: every watch stream, fed from one place.
//
// A watch starts from the current state (resourceVersion "" or "0": an
// ADDED event per object, then changes) or from a resource version (the
// change log after it, then changes; 410 Expired once the log no longer
// reaches back that far). Live changes arrive through publish() once their
// commit is durable. The hub keeps, per watcher, the last resource version it
// delivered: replay and live delivery meet there, so every change is
// delivered once and in resource-version order. A start that would read
// memory ahead of what is durable waits for the pending commit.
//
// Access: a watch may show only some objects (an organization list shows a
// user their own organizations) and may lose access altogether. The hub
// remembers which objects a filtered watcher has been shown; an object that
// leaves its view — deleted, relabeled, or no longer visible because access
// changed — is a DELETED event, and one that enters it is ADDED. A watcher
// that loses access to what it watches gets a DELETED event for everything
// it was shown, and its stream ends.
//
// A filtered watch asks a question per object, so its start decides them a
// slice at a time (kScanSlice objects per handler of the engine's thread,
// other work between), in key order: every object, or those its
// candidates name (a user's organizations) and those that change while the
// scan is under way. Initial events (not as Tables, whose
// first event carries the columns) show what is durable;
// what commits meanwhile behind the slices is held and sent after them,
// what commits ahead is read when the slices get there. A watch from a
// resource version gets changes as they commit while it learns what its
// client holds; one ahead of the slices is judged by what the object was.
//
// One timer serves every watcher (timeouts and bookmarks): a watch costs no
// timer of its own, and a closed stream is dropped at the next change or tick.
//
// Thread safety: runs on the engine's io_context thread (http_server.h).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "engine/durable_store.h"
#include "engine/engine.h"
#include "server/api/cluster_names.h"
#include "server/api/selectors.h"
#include "server/api/table.h"
#include "server/http/http_server.h"
#include "server/registry/list_snapshots.h"

namespace pmesh::server {

struct WatchSpec {
  std::string cluster;  // "*" for every cluster
  std::string kind_key, api_version, kind_name;
  // The served version the watch names when it is not the one objects are
  // stored in (null when it is): events are converted to it
  // (engine/conversion.h).
  const dsl::KindDecl* served = nullptr;
  std::string ns;  // "" for every namespace
  bool namespaced = false;  // the kind's scope
  Selector labels, fields;
  bool bookmarks = false;
  // Whether the watch starts with the objects as ADDED events (unset: when
  // it starts from no version or "0"), ended by the initial-events-end
  // bookmark when it was set and bookmarks are allowed: kube's WatchList.
  std::optional<bool> send_initial_events;
  int64_t timeout_seconds = 1800;
  // Which objects the watcher may see (as stored); unset: all.
  std::function<bool(const Json& object)> visible;
  // The facts (engine::object_fact) of the objects `visible` may say yes
  // to, and perhaps more, sorted, each once; unset: any object.
  // A start's scan and a whole recheck then decide these alone (and what
  // the watcher was shown, and what changes while the scan is under way).
  std::function<std::vector<std::string>()> candidates;
  // Whether the watcher may still watch at all; unset: always.
  std::function<bool()> allowed;
  // Whether a changed tuple may change what the watcher sees (its user's
  // access); unset: never. It may say that only one object's visibility
  // may change, by naming it in `*object` (in the watch's cluster and
  // namespace): the hub then decides that one again, not the whole watch.
  std::function<bool(const engine::TupleView&, std::string* object)> access_depends_on;
  // Events as Tables (`kubectl get -w`): each object a Table of one row,
  // the column definitions in the first event only, as kube sends them.
  std::shared_ptr<const TablePrinter> table;
};

class WatchHub {
 public:
  using AfterCommit = std::function<void(std::function<void()>)>;
  // `after_commit` runs a function once what is committed so far is durable
  // (null: everything is durable at once).
  WatchHub(const engine::Engine& engine, const ClusterNames& names, engine::DurableStore* store,
           boost::asio::io_context& io, AfterCommit after_commit);
  ~WatchHub();

  // Starts a watch on `stream` from `from_rv` ("", "0" or a resource version
  // the caller has checked is a number): with the initial events if the
  // spec asks for them (`from_rv` is then a lower bound the caller has
  // checked is reached), else the changes after `from_rv`, or after now
  // when it is "" or "0".
  void start(WatchSpec spec, const std::string& from_rv, const std::shared_ptr<Stream>& stream);
  // Delivers a committed, durable transaction's changes.
  void publish(const engine::Result& r);
  // Ends every watch (on shutdown).
  void close_all();
  size_t size() const { return watchers_.size(); }
  // Where the initial state of a watch (no resource version) is read
  // already encoded: the lists' snapshots (list_snapshots.h); unset: each
  // object is presented and encoded for each watcher.
  void set_snapshots(ListSnapshots* s) { snapshots_ = s; }
  // Events made for watchers since the start (each watcher's copy counts).
  uint64_t events_sent() const { return events_sent_; }
  // Since the start: how often a watch's access was decided again whole
  // (whether it may still watch, and what it sees), and how many single
  // objects' visibility was.
  uint64_t watches_rechecked() const { return watches_rechecked_; }
  uint64_t objects_rechecked() const { return objects_rechecked_; }
  // How many objects a filtered watch's start decides in one handler of
  // the engine's thread.
  static constexpr size_t kScanSlice = 256;
  // The resource version delivered to every watcher so far.
  int64_t published_rv() const { return published_rv_; }

 private:
  struct Watcher;
  class Burst;
  // Sends the initial events (`from` unset) or the changes after `from`.
  void begin(const std::shared_ptr<Watcher>& w, std::optional<int64_t> from);
  // Decides a filtered watcher's next kScanSlice objects at its start
  // (sending them as initial events, or only noting which it shows), then
  // posts the rest, or ends the start.
  void scan_slice(const std::shared_ptr<Watcher>& w);
  // For a change of an object whose visibility to `w` is not known yet
  // (ahead of its start's scan, or not durable when the scan passed it):
  // notes it as it was before the change, so that deliver() can say what
  // changed; false when the scan will read it instead.
  bool judge_before(Watcher& w, const engine::ObjectChange& c);
  struct Encoded;
  // Sends `w` what change `c` shows it into `burst`, reading and filling
  // `encoded`, what watchers share of its events.
  void deliver(Watcher& w, const engine::ObjectChange& c, Encoded& encoded, Burst& burst);
  void recheck_access(Watcher& w);
  // Decides again whether `w` sees the objects named `names` (sorted, unique).
  void recheck_objects(Watcher& w, const std::vector<std::string>& names);
  // Sends `w` ADDED or DELETED for `e` if whether it sees it changed.
  void recheck_object(Watcher& w, const engine::ObjectEntry& e, Burst& burst);
  void scan_scope(const Watcher& w, const std::function<void(const engine::ObjectEntry&)>& fn) const;
  // Starts a filtered watcher's scan at its first slice: with initial
  // events, or (resumed) only learning what it shows.
  void start_scan(const std::shared_ptr<Watcher>& w, bool initial);
  std::string event(Watcher& w, const char* type, const nlohmann::json& object) const;
  // Adds to `burst` `w`'s event of the object `object()` makes: through
  // `*encoded`, the object as presented and encoded for every watcher that
  // reads it as stored (made on first use; `object` is not called once it
  // is), or `w`'s own for a Table or a served version.
  void add_event(Burst& burst, Watcher& w, const char* type, const std::function<const nlohmann::json&()>& object,
                 std::string* encoded) const;
  // A DELETED event of `object` as of resource version `rv`.
  std::string deleted(Watcher& w, const nlohmann::json& object, int64_t rv) const;
  // A BOOKMARK at the watcher's last resource version, with `annotations`.
  static std::string bookmark(Watcher& w, const nlohmann::json& annotations);
  // The event's object as the watcher reads it: the object, or its Table
  // (with `shown` as its row unless `row` is false: a bookmark).
  static nlohmann::json shown_as(Watcher& w, nlohmann::json shown, bool row = true);
  void tick();

  const engine::Engine& engine_;
  const ClusterNames& names_;
  engine::DurableStore* store_;
  boost::asio::io_context& io_;
  AfterCommit after_commit_;
  boost::asio::steady_timer ticker_;
  bool ticking_ = false;
  std::list<std::shared_ptr<Watcher>> watchers_;
  int64_t published_rv_ = 0;
  int ticks_ = 0;
  mutable uint64_t events_sent_ = 0;
  uint64_t watches_rechecked_ = 0, objects_rechecked_ = 0;
  ListSnapshots* snapshots_ = nullptr;
};

}  // namespace pmesh::server
