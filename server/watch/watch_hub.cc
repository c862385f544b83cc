#include "server/watch/watch_hub.h"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "engine/conversion.h"
#include "engine/json_path.h"
#include "server/api/present.h"
#include "server/api/request.h"
#include "server/api/status.h"
#include "stdlib/keyed_hash.h"

namespace pmesh::server {

using engine::string_field;

using Clock = std::chrono::steady_clock;

namespace {
constexpr int kBookmarkTicks = 5;  // a bookmark every five seconds
}  // namespace

// A watcher's events gathered into sends of about a MiB: its initial
// events, a replay, what a change of access shows or hides, and each
// commit's events. One send per event wakes a transport thread per event:
// for a watch of 30,000 objects from scratch that was most of the server's
// CPU (docs/performance.md).
class WatchHub::Burst {
 public:
  explicit Burst(Stream& stream) : stream_(stream) {}
  // To `w`'s stream, or while its initial events are still being sent, to
  // what it holds until they are (Watcher::held).
  explicit Burst(Watcher& w);
  ~Burst() { flush(); }
  // One event, given whole or in pieces (appended without a copy of their sum).
  template <class... Pieces>
  void add(const Pieces&... pieces) {
    ((text_ += pieces), ...);
    if (text_.size() >= kBytes) flush();
  }
  // One event whose object is already encoded as the API shows it (shared
  // by the watchers that read it so), without a string of its own.
  void add_encoded(std::string_view object, const char* type) { add("{\"object\":", object, ",\"type\":\"", type, "\"}\n"); }
  // Sends what is gathered. REQUIRES: called before anything else is sent
  // on the stream (a bookmark) or it is closed, which would overtake it.
  void flush() {
    if (text_.empty()) return;
    if (hold_) hold_->append(text_);
    else stream_.send(std::move(text_));
    text_.clear();
  }

 private:
  static constexpr size_t kBytes = size_t{1} << 20;
  Stream& stream_;
  std::string* hold_ = nullptr;
  std::string text_;
};

struct WatchHub::Watcher {
  WatchSpec spec;
  std::shared_ptr<Stream> stream;
  Clock::time_point deadline;
  int64_t last_rv = 0;  // the last resource version delivered
  bool started = false;
  bool table_headers_sent = false;
  // Filtered watchers remember what they were shown (object facts).
  std::unordered_set<std::string, KeyedTextHash, std::equal_to<>> shown;

  // A filtered watch's start decides its objects a slice at a time
  // (scan_slice), in key order: kInitial sends them as ADDED, kResume (a
  // watch from a resource version, whose client has them) only learns
  // which it shows. `scanned_to` is the last key decided. While kInitial,
  // changes ahead of it are not delivered (the scan reads them when it gets
  // there) and those behind wait in `held` until every initial event is
  // out. While kResume, changes go out as they commit; one ahead of the
  // scan is judged by what the object was before it (it is then `touched`,
  // and the scan leaves it be).
  enum class Scan { kNone, kInitial, kResume };
  Scan scan = Scan::kNone;
  std::string scanned_to;
  std::string held;
  std::unordered_set<std::string, KeyedTextHash, std::equal_to<>> touched;
  // Objects whose change the scan found not durable yet: judged, as those
  // ahead, by what they were before it, when its commit is published.
  std::unordered_set<std::string, KeyedTextHash, std::equal_to<>> unsure;
  // With candidates (WatchSpec), the objects the scan decides: the
  // candidates' at the start, and those ahead of it that a change or a
  // recheck asked about since (consider()). Unset: every object.
  std::optional<std::set<std::string, std::less<>>> to_scan;
  bool scanning() const { return scan != Scan::kNone; }
  // An object whose visibility may have changed ahead of the scan: the
  // scan decides it when it gets there.
  void consider(std::string_view fact) {
    if (to_scan && scanning() && fact > scanned_to) to_scan->emplace(fact);
  }
  // Whether `shown` says if the watcher was shown `fact`.
  bool known(std::string_view fact) const {
    if (!unsure.empty() && unsure.count(fact)) return false;
    return scan == Scan::kNone || fact <= scanned_to || touched.count(fact) > 0;
  }

  bool tracks() const { return static_cast<bool>(spec.visible); }
  bool wants(const Json& object) const {
    const Json& md = object["metadata"];
    if (spec.cluster != "*" && string_field(md, "cluster") != spec.cluster) return false;
    if (!spec.ns.empty() && string_field(md, "namespace") != spec.ns) return false;
    return spec.labels.matches(object) && spec.fields.matches(object);
  }
  bool sees(const Json& object) const {
    if (object.is_null() || !wants(object)) return false;
    return !spec.visible || spec.visible(object);
  }
};

WatchHub::Burst::Burst(Watcher& w) : stream_(*w.stream), hold_(w.scan == Watcher::Scan::kInitial ? &w.held : nullptr) {}

WatchHub::WatchHub(const engine::Engine& engine, const ClusterNames& names, engine::DurableStore* store,
                   boost::asio::io_context& io, AfterCommit after_commit)
    : engine_(engine), names_(names), store_(store), io_(io), after_commit_(std::move(after_commit)), ticker_(io),
      published_rv_(engine.resource_version()) {}

WatchHub::~WatchHub() {
  ticker_.cancel();
  close_all();
}

Json WatchHub::shown_as(Watcher& w, Json shown, bool row) {
  if (!w.spec.table) return shown;
  const Json* md = shown.contains("metadata") ? &shown["metadata"] : nullptr;
  Json table_md = {{"resourceVersion", md ? md->value("resourceVersion", "") : ""}};
  std::vector<const Json*> rows;
  if (row) rows.push_back(&shown);
  Json t = w.spec.table->table(rows, table_md, !w.table_headers_sent);
  w.table_headers_sent = true;
  return t;
}

std::string WatchHub::event(Watcher& w, const char* type, const Json& object) const {
  ++events_sent_;
  Json shown = present(engine_, names_, object);
  if (w.spec.served) shown = engine::from_storage(*w.spec.served, std::move(shown));
  return encode_json(Json{{"type", type}, {"object", shown_as(w, std::move(shown))}}) + "\n";
}

namespace {
// What a DELETED event shows: the object as it was last, at the version
// that deleted it (or took it out of view).
Json as_deleted(const Json& object, int64_t rv) {
  Json last = object;
  last["metadata"]["resourceVersion"] = std::to_string(rv);
  return last;
}
}  // namespace

std::string WatchHub::deleted(Watcher& w, const Json& object, int64_t rv) const { return event(w, "DELETED", as_deleted(object, rv)); }

std::string WatchHub::bookmark(Watcher& w, const Json& annotations) {
  Json md = {{"resourceVersion", std::to_string(w.last_rv)}};
  if (!annotations.empty()) md["annotations"] = annotations;
  Json bm = {{"kind", w.spec.kind_name}, {"apiVersion", w.spec.api_version}, {"metadata", md}};
  // As a Table, a bookmark has no row (it names no object).
  Json shown = shown_as(w, bm, false);
  shown["metadata"] = md;
  return encode_json(Json{{"type", "BOOKMARK"}, {"object", shown}}) + "\n";
}

void WatchHub::scan_scope(const Watcher& w, const std::function<void(const engine::ObjectEntry&)>& fn) const {
  const std::string* cluster = w.spec.cluster == "*" ? nullptr : &w.spec.cluster;
  const std::string* ns = cluster && !w.spec.ns.empty() ? &w.spec.ns : nullptr;
  engine_.state().scan_objects(engine::object_prefix(w.spec.kind_key, cluster, ns), [&](const engine::FactKey&, const engine::ObjectEntry& e) {
    fn(e);
    return true;
  });
}

void WatchHub::start(WatchSpec spec, const std::string& from_rv, const std::shared_ptr<Stream>& stream) {
  auto w = std::make_shared<Watcher>();
  w->spec = std::move(spec);
  w->stream = stream;
  w->deadline = Clock::now() + std::chrono::seconds(std::max<int64_t>(0, w->spec.timeout_seconds));
  int64_t rv = parse_int(from_rv).value_or(0);  // the request decoder checked it
  // Without initial events, "" and "0" start at what has been delivered.
  std::optional<int64_t> from;
  if (!w->spec.send_initial_events.value_or(rv == 0)) from = rv == 0 ? published_rv_ : rv;
  watchers_.push_back(w);
  if (!ticking_) {
    ticking_ = true;
    tick();
  }
  // Memory may hold transactions whose commit is not durable yet (group
  // commit): the initial state waits for them, so that it shows nothing
  // undurable and nothing twice.
  if (!from && store_ && store_->has_pending() && after_commit_) {
    std::weak_ptr<Watcher> weak = w;
    after_commit_([this, weak]() {
      if (auto me = weak.lock(); me && !me->stream->closed()) begin(me, std::nullopt);
    });
    return;
  }
  begin(w, from);
}

void WatchHub::begin(const std::shared_ptr<Watcher>& w, std::optional<int64_t> start) {
  Watcher& me = *w;
  if (!start && me.tracks() && !me.spec.table) {
    // A filtered watch asks about each object (an organization each, for a
    // watch of organizations): its initial events go out a slice at a time,
    // with the engine's other work between, as a list decided object by
    // object is. It shows what is durable and is delivered what commits
    // after that, behind its scan. (Not for Tables: their first event
    // carries the columns, and a change held back would be made before the
    // initial events it follows.)
    me.last_rv = published_rv_;
    return start_scan(w, true);
  }
  if (!start) {
    // The snapshot has the objects encoded as the API shows them, in the
    // same order as the state: the state says which the watcher wants, the
    // snapshot how they read (a watch of everything in a large collection
    // costs a copy per object, not a rendering).
    std::vector<const ListSnapshots::Item*> encoded;
    ListSnapshots::ViewPtr view;
    if (snapshots_ && !me.tracks()) {
      // ("*": the kind's collection across all workspaces, whose items of
      // other namespaces the merge below steps over.)
      bool all = me.spec.cluster == "*";
      view = snapshots_->view(me.spec.kind_key, me.spec.cluster);
      view->scan(engine::object_prefix(me.spec.kind_key, all ? nullptr : &me.spec.cluster,
                                       all || me.spec.ns.empty() ? nullptr : &me.spec.ns),
                 "", [&](const ListSnapshots::Item& i) {
                   encoded.push_back(&i);
                   return true;
                 });
    }
    size_t next = 0;
    Burst burst(*me.stream);
    auto each = [&](const engine::ObjectEntry& e) {
      e.effective.visit([&](const nlohmann::json& object) {
        if (!me.sees(object)) return;
        std::string fact = std::string(e.fact.str());
        while (next < encoded.size() && encoded[next]->fact < fact) ++next;
        if (!me.spec.table && !me.spec.served && next < encoded.size() && encoded[next]->fact == fact) {
          ++events_sent_;
          burst.add_encoded(encoded[next]->bytes, "ADDED");
        } else {
          burst.add(event(me, "ADDED", object));
        }
        if (me.tracks()) me.shown.insert(std::move(fact));
      });
    };
    if (!me.spec.candidates) scan_scope(me, each);
    else
      for (const std::string& fact : me.spec.candidates())
        if (const engine::ObjectEntry* e = engine_.state().object(fact)) each(*e);
    burst.flush();
    me.last_rv = engine_.resource_version();
    if (me.spec.send_initial_events.value_or(false) && me.spec.bookmarks)
      me.stream->send(bookmark(me, {{"k8s.io/initial-events-end", "true"}}));
  } else {
    int64_t from = *start;
    int64_t oldest = store_ ? store_->oldest_log_rv() : 0;
    if (store_ && from < published_rv_ && (oldest == 0 || from < oldest - 1)) {
      ApiError gone = ApiError::expired("too old resource version: " + std::to_string(from) + " (" +
                                        std::to_string(oldest == 0 ? published_rv_ : oldest - 1) + ")");
      me.stream->send(encode_json(Json{{"type", "ERROR"}, {"object", status_json(gone)}}) + "\n");
      me.stream->close();
      return;
    }
    me.last_rv = from;
    Burst burst(*me.stream);
    if (store_)
      store_->scan_log(from, [&](int64_t rv, const Json& ev) {
        if (rv > published_rv_) return false;
        const Json& obj = ev["object"];
        const std::string stored = me.spec.served ? me.spec.served->storage->api_version() : me.spec.api_version;
        if (string_field(obj, "kind") == me.spec.kind_name && string_field(obj, "apiVersion") == stored &&
            me.sees(obj))
          burst.add(event(me, ev["type"].get<std::string>().c_str(), obj));
        me.last_rv = std::max(me.last_rv, rv);
        return true;
      });
    burst.flush();
    me.last_rv = std::max(me.last_rv, published_rv_);
    if (me.tracks()) {
      // From here on, a filtered watcher has been shown what it sees now:
      // which that is, a slice at a time.
      return start_scan(w, false);
    }
  }
  me.started = true;
}

void WatchHub::start_scan(const std::shared_ptr<Watcher>& w, bool initial) {
  Watcher& me = *w;
  me.scan = initial ? Watcher::Scan::kInitial : Watcher::Scan::kResume;
  me.started = true;
  if (me.spec.candidates) {
    std::vector<std::string> facts = me.spec.candidates();
    me.to_scan.emplace(facts.begin(), facts.end());
  }
  scan_slice(w);
}

void WatchHub::scan_slice(const std::shared_ptr<Watcher>& w) {
  Watcher& me = *w;
  if (me.stream->closed() || !me.scanning()) return;
  const bool initial = me.scan == Watcher::Scan::kInitial;
  const std::string* cluster = me.spec.cluster == "*" ? nullptr : &me.spec.cluster;
  const std::string* ns = cluster && !me.spec.ns.empty() ? &me.spec.ns : nullptr;
  const std::string after = me.scanned_to;
  size_t n = 0;
  bool more = false;
  {
    Burst burst(*me.stream);
    auto each = [&](const engine::FactKey& f, const engine::ObjectEntry& e) {
      if (n++ == kScanSlice) {
        more = true;
        return false;
      }
      me.scanned_to.assign(f.str());
      if (auto t = me.touched.find(f.str()); t != me.touched.end()) {
        me.touched.erase(t);  // its change said
        return true;
      }
      // What a commit not durable yet changed, that commit's publish says
      // (behind the scan by then).
      if (e.resource_version > published_rv_) {
        if (!initial) me.unsure.insert(std::string(f.str()));
        return true;
      }
      e.effective.visit([&](const Json& object) {
        if (!me.sees(object)) return;
        if (initial) burst.add(event(me, "ADDED", object));
        me.shown.insert(std::string(f.str()));
      });
      return true;
    };
    if (!me.to_scan) {
      engine_.state().scan_objects(engine::object_prefix(me.spec.kind_key, cluster, ns), each, after);
    } else {
      // (An object gone since it was named is passed over.)
      for (auto it = me.to_scan->upper_bound(after); it != me.to_scan->end(); ++it) {
        const engine::ObjectEntry* e = engine_.state().object(*it);
        if (!e) {
          me.scanned_to = *it;
          continue;
        }
        if (!each(e->fact, *e)) break;
      }
    }
  }
  if (more) {
    boost::asio::post(io_, [this, w]() {
      if (!w->stream->closed()) scan_slice(w);
    });
    return;
  }
  me.scan = Watcher::Scan::kNone;
  me.scanned_to.clear();
  me.touched.clear();
  me.to_scan.reset();
  if (!initial) return;
  if (!me.held.empty()) me.stream->send(std::exchange(me.held, {}));
  me.last_rv = std::max(me.last_rv, published_rv_);
  if (me.spec.send_initial_events.value_or(false) && me.spec.bookmarks)
    me.stream->send(bookmark(me, {{"k8s.io/initial-events-end", "true"}}));
}

// One change's object as the API shows it, encoded once for every watcher
// that reads it as stored (no Table, no other served version), as kube's
// watch cache serializes an event once for all its watchers
// (cachingObject): with a thousand watchers of a kind, presenting and
// encoding per watcher was most of a commit's fan-out.
struct WatchHub::Encoded {
  std::string after;    // the object as it is now
  std::string deleted;  // as a DELETED event shows it
};

void WatchHub::add_event(Burst& burst, Watcher& w, const char* type, const std::function<const Json&()>& object,
                         std::string* encoded) const {
  if (w.spec.table || w.spec.served) return burst.add(event(w, type, object()));
  ++events_sent_;
  if (encoded->empty()) *encoded = encode_json(present(engine_, names_, object()));
  burst.add_encoded(*encoded, type);
}

void WatchHub::deliver(Watcher& w, const engine::ObjectChange& c, Encoded& encoded, Burst& burst) {
  // (The key's text only for a watcher that remembers what it showed.)
  std::string fact = w.tracks() ? engine::object_fact(c.key) : std::string();
  bool now = w.sees(*c.after);
  bool was = w.tracks() ? w.shown.count(fact) > 0 : (!c.before->is_null() && w.wants(*c.before));
  auto after = [&c]() -> const Json& { return *c.after; };
  if (now && !was) {
    add_event(burst, w, "ADDED", after, &encoded.after);
  } else if (now && was) {
    add_event(burst, w, "MODIFIED", after, &encoded.after);
  } else if (was) {
    Json last;  // made only if this watcher's event needs it
    add_event(burst, w, "DELETED", [&]() -> const Json& {
      return last = as_deleted(c.after->is_null() ? *c.before : *c.after, c.resource_version);
    }, &encoded.deleted);
  }
  if (w.tracks()) {
    if (now) w.shown.insert(fact);
    else w.shown.erase(fact);
  }
}

void WatchHub::recheck_access(Watcher& w) {
  if (w.spec.allowed && !w.spec.allowed()) {
    // Access to the whole watch is gone: what it showed leaves its view.
    // (What a resumed watch's client holds that the scan has not reached
    // stays unsaid: deciding it now would show it to who may not see it.)
    w.scan = Watcher::Scan::kNone;
    if (!w.held.empty()) w.stream->send(std::exchange(w.held, {}));
    Burst burst(*w.stream);
    scan_scope(w, [&](const engine::ObjectEntry& e) {
      bool shown = w.tracks() ? w.shown.count(std::string(e.fact.str())) > 0 : w.wants(*e.effective);
      if (shown) burst.add(deleted(w, *e.effective, published_rv_));
    });
    burst.flush();
    w.shown.clear();
    w.stream->close();
    return;
  }
  if (!w.tracks()) return;
  Burst burst(w);
  if (!w.spec.candidates) return scan_scope(w, [&](const engine::ObjectEntry& e) { recheck_object(w, e, burst); });
  // What it may see now is among the candidates; what it no longer sees,
  // among what it was shown.
  std::vector<std::string> facts = w.spec.candidates();
  facts.insert(facts.end(), w.shown.begin(), w.shown.end());
  std::sort(facts.begin(), facts.end());
  facts.erase(std::unique(facts.begin(), facts.end()), facts.end());
  for (const auto& fact : facts)
    if (const auto* e = engine_.state().object(fact)) recheck_object(w, *e, burst);
}

void WatchHub::recheck_objects(Watcher& w, const std::vector<std::string>& names) {
  if (!w.tracks()) return;
  // Found by their keys where the watch names one cluster and (for a
  // namespaced kind) one namespace; else the scope is read for them.
  if (w.spec.cluster == "*" || (w.spec.namespaced && w.spec.ns.empty())) {
    ++watches_rechecked_;
    Burst burst(w);
    scan_scope(w, [&](const engine::ObjectEntry& e) {
      if (std::binary_search(names.begin(), names.end(), e.key().name)) recheck_object(w, e, burst);
    });
    return;
  }
  objects_rechecked_ += names.size();
  Burst burst(w);
  for (const auto& name : names)
    if (const auto* e = engine_.state().object(engine::object_fact({w.spec.kind_key, w.spec.cluster, w.spec.ns, name})))
      recheck_object(w, *e, burst);
}

bool WatchHub::judge_before(Watcher& w, const engine::ObjectChange& c) {
  std::string fact = engine::object_fact(c.key);
  if (w.scan == Watcher::Scan::kInitial) return false;  // the scan reads it later
  if (!c.before->is_null() && w.sees(*c.before)) w.shown.insert(fact);
  else w.shown.erase(fact);
  w.unsure.erase(fact);
  if (w.scanning() && fact > w.scanned_to) w.touched.insert(std::move(fact));
  return true;
}

void WatchHub::recheck_object(Watcher& w, const engine::ObjectEntry& e, Burst& burst) {
  if (!w.known(e.fact.str())) {
    w.consider(e.fact.str());  // decided when the scan or its change gets there
    return;
  }
  std::string fact = std::string(e.fact.str());
  bool now = w.sees(*e.effective), was = w.shown.count(fact) > 0;
  if (now && !was) {
    burst.add(event(w, "ADDED", *e.effective));
    w.shown.insert(fact);
  } else if (was && !now) {
    burst.add(deleted(w, *e.effective, published_rv_));
    w.shown.erase(fact);
  }
}

void WatchHub::publish(const engine::Result& r) {
  watchers_.remove_if([](const std::shared_ptr<Watcher>& w) { return w->stream->closed(); });
  published_rv_ = std::max(published_rv_, r.resource_version);
  if (!watchers_.empty() && !r.objects.empty()) {
    // The commit's changes by kind, in order: a watcher visits its kind's
    // alone, and gets what this commit shows it in one send.
    std::unordered_map<std::string_view, std::vector<size_t>> by_kind;
    for (size_t i = 0; i < r.objects.size(); ++i) by_kind[r.objects[i].key.kind].push_back(i);
    std::vector<Encoded> encoded(r.objects.size());
    for (const auto& w : watchers_) {
      if (!w->started) continue;
      auto changes = by_kind.find(w->spec.kind_key);
      if (changes == by_kind.end()) continue;
      Burst burst(*w);
      for (size_t i : changes->second) {
        const engine::ObjectChange& c = r.objects[i];
        if (c.resource_version <= w->last_rv) continue;
        if (w->tracks() && (w->scanning() || !w->unsure.empty()) && !w->known(engine::object_fact(c.key)) &&
            !judge_before(*w, c)) {
          w->consider(engine::object_fact(c.key));  // the scan reads it
          w->last_rv = c.resource_version;
          continue;
        }
        deliver(*w, c, encoded[i], burst);
        w->last_rv = c.resource_version;
      }
    }
  }
  // Each tuple read once for every watcher that asks.
  std::vector<engine::TupleView> tuples;
  for (const auto& w : watchers_) {
    if (!w->started || !w->spec.access_depends_on) continue;
    if (tuples.empty())
      for (const auto& t : r.tuples) tuples.push_back(t.view());
    bool whole = false;
    std::vector<std::string> objects;
    std::string object;
    for (const auto& t : tuples) {
      object.clear();
      if (!w->spec.access_depends_on(t, &object)) continue;
      if (object.empty()) {
        whole = true;
        break;
      }
      objects.push_back(object);
    }
    if (whole) {
      ++watches_rechecked_;
      recheck_access(*w);
    } else if (!objects.empty()) {
      std::sort(objects.begin(), objects.end());
      objects.erase(std::unique(objects.begin(), objects.end()), objects.end());
      recheck_objects(*w, objects);
    }
  }
  for (const auto& w : watchers_)
    if (w->started) w->last_rv = std::max(w->last_rv, r.resource_version);
}

void WatchHub::tick() {
  watchers_.remove_if([](const std::shared_ptr<Watcher>& w) { return w->stream->closed(); });
  if (watchers_.empty()) {
    ticking_ = false;
    return;
  }
  auto now = Clock::now();
  bool bookmark_due = ++ticks_ % kBookmarkTicks == 0;
  for (const auto& w : watchers_) {
    if (now >= w->deadline) {
      w->stream->close();
      continue;
    }
    if (bookmark_due && w->started && !w->scanning() && w->spec.bookmarks) w->stream->send(bookmark(*w, Json::object()));
  }
  ticker_.expires_after(std::chrono::seconds(1));
  ticker_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

void WatchHub::close_all() {
  for (const auto& w : watchers_) w->stream->close();
  watchers_.clear();
}

}  // namespace pmesh::server
