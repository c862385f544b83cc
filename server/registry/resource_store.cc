#include "server/registry/resource_store.h"

#include <boost/asio/post.hpp>

#include <algorithm>

#include "engine/conversion.h"
#include "engine/json_path.h"
#include "server/api/body.h"
#include "server/api/present.h"
#include "server/http/content_encoding.h"
#include "server/log/server_log.h"
#include "server/registry/object_meta.h"
#include "server/registry/patch.h"
#include "server/registry/strategy.h"
#include "stdlib/text.h"

namespace pmesh::server {

using engine::string_field;

using engine::Op;

namespace {

Json json_object(const Json& o, const char* key) {
  return o.is_object() && o.contains(key) && o[key].is_object() ? o[key] : Json::object();
}


// Who writes, as admission rules read it (request.userInfo).
Json requester(const UserInfo& user) {
  Json out = {{"username", user.name}, {"uid", user.uid}, {"groups", user.groups}};
  if (!user.extra.empty()) out["extra"] = user.extra;
  return out;
}

// Warning headers (RFC 7234's warn-text): what a client sent, such as a
// field name, must not reach a header as control characters or quotes.
void add_warnings(HttpResponse& res, const std::vector<std::string>& warnings) {
  for (const auto& w : warnings) {
    std::string text;
    for (unsigned char c : coerce_utf8(w)) {
      if (c < 0x20 || c == 0x7f) text += '?';
      else if (c == '"' || c == '\\') text += '\\', text += static_cast<char>(c);
      else text += static_cast<char>(c);
    }
    res.headers.emplace_back("Warning", "299 - \"" + text + "\"");
  }
}

// A continue token, as kube's: unpadded URL-safe base64 of {"v", "rv", "start"}.
std::string encode_continue(const std::string& rv, const std::string& start) {
  return base64_encode(encode_json(Json{{"v", "meta.k8s.io/v1"}, {"rv", rv}, {"start", start}}), true);
}

std::optional<Json> decode_continue(const std::string& token) {
  auto text = base64_decode(token);
  if (!text) return std::nullopt;
  Json j = parse_json(*text).value_or(Json());
  if (!j.is_object() || !j.contains("rv") || !j["rv"].is_string() || !j.contains("start") || !j["start"].is_string())
    return std::nullopt;
  return j;
}

}  // namespace

ResourceStore::ResourceStore(engine::Engine& engine, ClusterNames& names, engine::DurableStore* store, WatchHub& hub,
                             boost::asio::io_context& io, AfterCommit after_commit)
    : engine_(engine),
      names_(names),
      store_(store),
      hub_(hub),
      io_(io),
      after_commit_(std::move(after_commit)),
      snapshots_(engine, names),
      readers_(ReaderPool::beside_writer(8)) {
  // The names of clusters that went first: the snapshots and watchers
  // still show them on what went with them.
  engine_.set_commit_listener([this](const engine::Result& r) {
    names_.committed(r);
    snapshots_.committed(r);
  });
  engine_.set_cold_scheduler([this]() { hold_cold_later(); });
}

ResourceStore::~ResourceStore() {
  engine_.set_cold_scheduler(nullptr);
  engine_.set_commit_listener(nullptr);
  self_.reset();
  readers_.join();
}

// Some 15 us an object (its form and parts packed): about a millisecond a
// handler, the longest a request waits behind one.
constexpr size_t kColdObjectsPerHandler = 64;

void ResourceStore::hold_cold_later() {
  boost::asio::post(io_, [self = std::weak_ptr<ResourceStore*>(self_)]() {
    auto me = self.lock();
    if (me && (*me)->engine_.hold_cold_due(kColdObjectsPerHandler)) (*me)->hold_cold_later();
  });
}

HttpResponse ResourceStore::when_durable(HttpResponse res) {
  if (!after_commit_ || !store_ || !store_->has_pending()) return res;
  auto shared = std::make_shared<HttpResponse>(std::move(res));
  HttpResponse later;
  later.later = [this, shared](Respond respond) { after_commit_([shared, respond]() { respond(std::move(*shared)); }); };
  return later;
}

std::optional<HttpResponse> ResourceStore::serve(const ApiRequest& req, const std::shared_ptr<Stream>& stream,
                                                 WatchSpec watch_access) {
  switch (req.verb) {
    case Verb::kGet: return get(req);
    case Verb::kList: return list(req);
    case Verb::kWatch: return watch(req, stream, std::move(watch_access));
    case Verb::kCreate: return create(req, *req.body);
    case Verb::kUpdate: return update(req, *req.body, !req.kind->unconditional_update);
    case Verb::kPatch: return patch(req);
    case Verb::kDelete: return remove(req);
    case Verb::kDeleteCollection: return remove_collection(req);
    case Verb::kOther: break;
  }
  return status_response(ApiError::method_not_allowed());
}

namespace {

// The answer to a get or list that asked for a Table.
HttpResponse table_response(const ApiRequest& req, const std::vector<const Json*>& objects, Json metadata) {
  TablePrinter printer(*req.kind, *req.table, std::time(nullptr));
  return {200, printer.content_type(), encode_json(printer.table(objects, std::move(metadata))), {}, nullptr};
}

// kube's words for a list at a version etcd no longer holds (etcd3's
// interpretListError): pmesh's pages and Exact lists read views that it
// retains for a while (list_snapshots.h).
const char* const kListTooOld = "The resourceVersion for the provided list is too old.";
const char* const kInconsistentContinue =
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of "
    "the results. Continuing with the provided token results in an inconsistent list - objects that were "
    "created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

// A list or a watch's initial events "not older than" a version the server
// has not reached yet: kube's error once its watch cache gives up waiting.
std::optional<ApiError> too_large_resource_version(const std::string& rv, int64_t current) {
  if (parse_int(rv).value_or(0) <= current) return std::nullopt;
  return ApiError{504, "Timeout", "Too large resource version: " + rv + ", current: " + std::to_string(current),
                  {{"causes", Json::array({{{"reason", "ResourceVersionTooLarge"}, {"message", "Too large resource version"}}})},
                   {"retryAfterSeconds", 1}}};
}

// A delete's preconditions (DeleteOptions.preconditions) that `md` fails.
std::optional<ApiError> precondition_error(const GroupResource& gr, const DeleteOptions& o, const Json& md) {
  const std::string name = string_field(md, "name");
  if (o.precondition_uid && *o.precondition_uid != string_field(md, "uid"))
    return ApiError::conflict(gr, name, "Precondition failed: UID in precondition: " + *o.precondition_uid +
                                            ", UID in object meta: " + string_field(md, "uid"));
  if (o.precondition_resource_version && *o.precondition_resource_version != string_field(md, "resourceVersion"))
    return ApiError::conflict(gr, name, "Precondition failed: ResourceVersion in precondition: " +
                                            *o.precondition_resource_version + ", ResourceVersion in meta: " +
                                            string_field(md, "resourceVersion"));
  return std::nullopt;
}

}  // namespace

HttpResponse ResourceStore::get(const ApiRequest& req) {
  // A version not yet reached: what the cacher answers once it stops waiting.
  if (auto e = too_large_resource_version(req.list.resource_version, engine_.resource_version())) return status_response(*e);
  const Json* o = engine_.get({req.kind->key(), req.info.cluster, req.info.ns, req.info.name});
  if (!o || (req.visible && !req.visible(*o))) return status_response(ApiError::not_found(req.gr(), req.info.name));
  Json shown = present(engine_, names_, *o, req.kind);
  if (req.table) return when_durable(table_response(req, {&shown}, {{"resourceVersion", shown["metadata"].value("resourceVersion", "")}}));
  return when_durable(json_response(200, shown));
}

HttpResponse ResourceStore::list(const ApiRequest& req) {
  const ListOptions& o = req.list;
  int64_t current = engine_.resource_version();
  std::string start_after;
  // The version the list reads: the current one, unless a continue token
  // or an Exact list names another (kube reads etcd at that revision). A
  // token whose version is -1 continues at the current one: kube hands
  // those out with a 410, for a client that accepts an inconsistent list.
  std::optional<int64_t> at;
  bool paging = !o.continue_token.empty();
  if (paging) {
    // etcd3's checks of a page's options (storage.ValidateListOptions),
    // before any other.
    auto invalid = [](const std::string& why) {
      return status_response(ApiError::bad_request("invalid continue token: continue key is not valid: " + why));
    };
    auto token = decode_continue(o.continue_token);
    if (!token) return invalid("incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
    if (!o.resource_version.empty() && o.resource_version != "0")
      return status_response(ApiError::bad_request("specifying resource version is not allowed when using continue"));
    start_after = (*token)["start"].get<std::string>();
    std::string token_rv = (*token)["rv"].get<std::string>();
    if (token_rv != "-1") {
      at = parse_resource_version(token_rv);
      if (!at || *at == 0 || *at > current) return invalid("incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
    }
  } else {
    if (auto e = too_large_resource_version(o.resource_version, current)) return status_response(*e);
    // A version with a limit and no match is Exact too (kube's legacy
    // paging, which client-go's reflector sends when it relists).
    if (o.resource_version_match == "Exact" ||
        (o.resource_version_match.empty() && o.limit && parse_resource_version(o.resource_version).value_or(0) > 0))
      at = parse_resource_version(o.resource_version);
  }
  const std::string* cluster = req.info.wildcard() ? nullptr : &req.info.cluster;
  const std::string* ns = cluster && !req.info.ns.empty() ? &req.info.ns : nullptr;
  std::string prefix = engine::object_prefix(req.kind->key(), cluster, ns);
  // A token names where the last page ended, and only ever inside this list.
  if (!start_after.empty() && start_after.compare(0, prefix.size(), prefix) != 0)
    return status_response(ApiError::bad_request("invalid continue token: continue key is not valid: the token belongs to another list"));
  // Every list reads the collection's snapshot. Those whose access is
  // decided workspace by workspace (or by a function of each object alone)
  // take the workspaces here and are rendered off the writer's thread;
  // those decided object by object on the engine's state (the
  // organizations a user sees) are rendered here, where that state is.
  // A list has no other way to decide access: fail closed.
  if (req.visible && !req.visible_clusters && !req.visible_by_key)
    return status_response(ApiError::internal("this list's access is decided object by object, with no key to decide it by"));
  std::shared_ptr<const ApiRequest::ClusterFilters> clusters;
  if (req.visible_clusters) clusters = std::make_shared<const ApiRequest::ClusterFilters>(req.visible_clusters());
  return list_snapshot(req, prefix, start_after, at, paging, std::move(clusters));
}

namespace {

// One page of a list, read from a collection's snapshot: what the
// request's filters let through, in order, up to its limit.
struct ListPage {
  ListSnapshots::ViewPtr view;
  std::string prefix, start_after, rv, ns;
  ListOptions options;
  std::shared_ptr<const ApiRequest::ClusterFilters> clusters;
  // Object by object (ApiRequest::visible_by_key, decided beforehand on
  // the engine's thread: VisibleScan): the items visible, in order, which
  // the page reads instead of the view.
  std::shared_ptr<const std::vector<const ListSnapshots::Item*>> decided;
  std::shared_ptr<const TablePrinter> printer;  // a Table's rows
  const dsl::KindDecl* as = nullptr;            // served as another version than stored
  std::string head, kind;                       // of a List: its start and `kind`

  struct Rendered {
    std::string body, type;
    bool more = false;
  };
  Rendered render() const;
};

ListPage::Rendered ListPage::render() const {
  std::string body, last;
  int64_t n = 0;
  int64_t remaining = 0;
  const ListOptions& o = options;
  bool selecting = !o.labels.empty() || !o.fields.empty();
  bool more = false, filtered = selecting || clusters || decided;
  auto each = [&](const ListSnapshots::Item& i) {
    if (!ns.empty() && i.ns != ns) return true;
    const std::function<bool(const Json&)>* holds = nullptr;
    if (clusters) {
      auto c = clusters->find(i.cluster);
      if (c == clusters->end()) c = clusters->find(ListSnapshots::kAllClusters);
      if (c == clusters->end()) return true;
      if (c->second) holds = &c->second;
    }
    Json obj;
    if (selecting || printer || as || holds) obj = Json::parse(i.bytes, nullptr, false);
    if (holds && !(*holds)(obj)) return true;
    if (as && obj.is_object()) obj = engine::from_storage(*as, std::move(obj));
    if (selecting && (!o.labels.matches(obj) || !o.fields.matches(obj))) return true;
    if (o.limit && n == o.limit) {
      more = true;
      if (filtered) return false;
      ++remaining;  // kube counts what is left of a list no selector filters
      return true;
    }
    if (n++) body += ',';
    body += printer ? printer->row_json(obj) : !as ? i.bytes : encode_json(obj);
    last = i.fact;
    return true;
  };
  if (!decided) view->scan(prefix, start_after, each);
  else
    for (const ListSnapshots::Item* i : *decided)
      if (!each(*i)) break;
  Json md = {{"resourceVersion", rv}};
  if (more) md["continue"] = encode_continue(rv, last);
  if (more && !filtered) md["remainingItemCount"] = remaining;
  if (printer) body = printer->head(md) + body + TablePrinter::tail();
  else body = head + body + "],\"kind\":" + kind + ",\"metadata\":" + encode_json(md) + "}";
  return {std::move(body), printer ? printer->content_type() : "application/json", more};
}

// The facts of the objects `req.visible_candidates` names, sorted, each
// once, made when asked; null where a name is not one object (the request
// spans workspaces, or a namespaced kind's namespaces) or none are named.
std::function<std::vector<std::string>()> candidate_facts(const ApiRequest& req) {
  if (!req.visible_candidates || req.info.wildcard() || (req.kind->scope == dsl::Scope::kNamespaced && req.info.ns.empty()))
    return nullptr;
  return [names = req.visible_candidates, scope = engine::ObjectKey{req.kind->key(), req.info.cluster, req.info.ns, ""}]() {
    std::vector<std::string> facts;
    engine::ObjectKey key = scope;
    for (auto& name : names()) {
      key.name = std::move(name);
      facts.push_back(engine::object_fact(key));
    }
    std::sort(facts.begin(), facts.end());
    facts.erase(std::unique(facts.begin(), facts.end()), facts.end());
    return facts;
  };
}

// The items of a view that ApiRequest::visible_by_key lets through. It
// reads the engine, so it runs on the engine's thread, a slice of items at
// a time: between slices that thread runs whatever else is ready, and a
// list of 100,000 organizations decided one by one (any authenticated
// user's) holds no writer for longer than a slice. Given the candidates
// (ApiRequest::visible_candidates), it decides those alone.
struct VisibleScan {
  static constexpr size_t kSlice = 256;
  ListSnapshots::ViewPtr view;
  std::string prefix, cursor, ns;
  ApiRequest::VisibleByKey by_key;
  std::optional<std::vector<std::string>> candidates;  // facts above `cursor`, in order
  size_t next = 0;    // of `candidates`
  size_t enough = 0;  // visible items that fill the page (0: all are needed)
  // Read by the page's renderer once the scan is done; the view holds its
  // items while the page holds the view.
  std::shared_ptr<std::vector<const ListSnapshots::Item*>> visible = std::make_shared<std::vector<const ListSnapshots::Item*>>();

  // Decides the next slice; false once every item needed is decided.
  bool step() {
    if (candidates) {
      for (size_t n = 0; next < candidates->size(); ++next) {
        if (n++ == kSlice) return true;
        const ListSnapshots::Item* i = view->find((*candidates)[next]);
        if (i && decide(*i) && enough && visible->size() >= enough) return false;
      }
      return false;
    }
    size_t n = 0;
    bool more = false;
    view->scan(prefix, cursor, [&](const ListSnapshots::Item& i) {
      if (n++ == kSlice) {
        more = true;
        return false;
      }
      cursor = i.fact;
      return !decide(i) || !enough || visible->size() < enough;
    });
    return more;
  }

  // Whether `i` is visible (and then kept).
  bool decide(const ListSnapshots::Item& i) {
    if (!ns.empty() && i.ns != ns) return false;
    if (!by_key(i.cluster, i.ns, engine::view_object_fact(i.fact).name)) return false;
    visible->push_back(&i);
    return true;
  }

  // Decides slice after slice on `io` (the engine's thread), each in a
  // handler of its own, then calls `then` there.
  static void run(boost::asio::io_context& io, std::shared_ptr<VisibleScan> scan, std::function<void()> then) {
    boost::asio::post(io, [&io, scan = std::move(scan), then = std::move(then)]() mutable {
      if (!scan->step()) return then();
      run(io, std::move(scan), std::move(then));
    });
  }
};

}  // namespace

HttpResponse ResourceStore::list_snapshot(const ApiRequest& req, const std::string& prefix, const std::string& start_after,
                                          std::optional<int64_t> at, bool paging,
                                          std::shared_ptr<const ApiRequest::ClusterFilters> clusters) {
  const std::string& collection = req.info.wildcard() ? ListSnapshots::kAllClusters : req.info.cluster;
  int64_t rv_n = at.value_or(engine_.resource_version());
  ListSnapshots::At view = snapshots_.view_at(req.kind->key(), collection, rv_n);
  if (!view.view) {
    if (!paging) return status_response(ApiError::expired(kListTooOld));
    // As kube does once etcd compacted a page's revision: a token to go on
    // at the current state, for a client that accepts the inconsistency.
    ApiError e = ApiError::expired(kInconsistentContinue);
    e.continue_token = encode_continue("-1", start_after);
    return status_response(e);
  }
  auto page = std::make_shared<ListPage>();
  page->view = view.view;
  page->prefix = prefix;
  page->start_after = start_after;
  page->rv = std::to_string(rv_n);
  page->ns = req.info.ns;
  page->options = req.list;
  page->clusters = std::move(clusters);
  std::shared_ptr<VisibleScan> scan;
  if (!page->clusters && req.visible_by_key) {
    scan = std::make_shared<VisibleScan>();
    scan->view = view.view;
    scan->prefix = prefix;
    scan->cursor = start_after;
    scan->ns = req.info.ns;
    scan->by_key = req.visible_by_key;
    if (auto facts = candidate_facts(req)) {
      scan->candidates = facts();
      scan->candidates->erase(scan->candidates->begin(),
                              std::upper_bound(scan->candidates->begin(), scan->candidates->end(), start_after));
    }
    // Without selectors, a page of `limit` is full at one more than that
    // (which says that there is more).
    if (req.list.limit && req.list.labels.empty() && req.list.fields.empty())
      scan->enough = static_cast<size_t>(req.list.limit) + 1;
    page->decided = scan->visible;
  }
  // A Table's rows are made where the page is, from each item.
  if (req.table) page->printer = std::make_shared<const TablePrinter>(*req.kind, *req.table, std::time(nullptr));
  // Another served version than the stored one: each item converted to it.
  page->as = req.kind->storage ? req.kind : nullptr;
  page->head = "{\"apiVersion\":" + encode_json(req.kind->api_version()) + ",\"items\":[";
  page->kind = encode_json(req.kind->name + "List");
  const std::string kind_key = req.kind->key();
  bool wait = after_commit_ && store_ && store_->has_pending();
  HttpResponse later;
  later.later = [this, page, scan, wait, view, kind_key, collection, rv_n, gzip = req.accepts_gzip](Respond respond) {
    auto render = [this, page, wait, view, kind_key, collection, rv_n, gzip, respond]() {
      readers_.post([this, page, wait, view, kind_key, collection, rv_n, gzip, respond]() {
        ListPage::Rendered rendered = page->render();
        bool more = rendered.more;
        // Compressed here too, below the writer's priority, not on the I/O threads.
        auto res = std::make_shared<HttpResponse>(HttpResponse{200, std::move(rendered.type), std::move(rendered.body), {}, nullptr});
        gzip_if_large(*res, gzip);
        boost::asio::post(io_, [this, wait, respond, res, more, view, kind_key, collection, rv_n]() mutable {
          // The next pages read what this one read.
          if (more) snapshots_.retain(kind_key, collection, rv_n, std::move(view));
          if (!wait) return respond(std::move(*res));
          after_commit_([res, respond]() { respond(std::move(*res)); });
        });
      });
    };
    if (!scan) return render();
    // Access decided object by object: a slice now, the next once the
    // engine's thread has run what else was ready, then the rendering.
    VisibleScan::run(io_, scan, render);
  };
  return later;
}

std::optional<HttpResponse> ResourceStore::watch(const ApiRequest& req, const std::shared_ptr<Stream>& stream, WatchSpec spec) {
  if (req.list.send_initial_events.value_or(false))
    if (auto e = too_large_resource_version(req.list.resource_version, engine_.resource_version())) return status_response(*e);
  spec.cluster = req.info.cluster;
  spec.kind_key = req.kind->key();
  spec.api_version = req.kind->api_version();
  if (req.kind->storage) spec.served = req.kind;
  spec.kind_name = req.kind->name;
  spec.ns = req.info.ns;
  spec.namespaced = req.kind->scope == dsl::Scope::kNamespaced;
  spec.labels = req.list.labels;
  spec.fields = req.list.fields;
  if (!req.info.name.empty()) spec.fields.require_field("metadata.name", req.info.name);
  spec.bookmarks = req.list.allow_bookmarks;
  // Ages in a watch's rows count from when each event is sent.
  if (req.table) spec.table = std::make_shared<const TablePrinter>(*req.kind, *req.table, 0);
  spec.send_initial_events = req.list.send_initial_events;
  if (req.list.timeout_seconds) spec.timeout_seconds = *req.list.timeout_seconds;
  if (!req.visible) {
    spec.visible = nullptr;
  } else if (!spec.visible) {
    spec.visible = req.visible;
    spec.candidates = candidate_facts(req);
  }
  hub_.start(std::move(spec), req.list.resource_version, stream);
  return std::nullopt;
}

HttpResponse ResourceStore::commit(const ApiRequest& req, Op op, int code, bool dry_run, const std::string& name,
                                   const std::vector<std::string>& warnings) {
  if (admission_ && (op.type == Op::Type::kCreate || op.type == Op::Type::kUpdate))
    if (auto refused = admission_(req, op.object)) return status_response(*refused);
  if (req.writable && op.type != Op::Type::kDelete && !req.writable(op.object))
    return status_response(ApiError::forbidden(req.gr(), name, "the object would not be one the request may write"));
  Json result_object;
  engine::ObjectKey key = op.type == Op::Type::kDelete
                              ? op.key
                              : engine::ObjectKey{req.kind->key(), req.info.cluster, string_field(op.object["metadata"], "namespace"), name};
  engine::Result r = engine_.apply({std::move(op).as(requester(req.user))}, dry_run, [&](engine::Result&) {
    if (const Json* o = engine_.get(key)) result_object = *o;
  });
  if (!r.ok) return refused(req, r, name);
  for (const auto& w : r.warnings) log("warning", w);
  HttpResponse res = result_object.is_null()
                         ? success_status({{"name", name}, {"group", req.kind->group}, {"kind", req.kind->plural}})
                         : json_response(code, present(engine_, names_, result_object, req.kind));
  add_warnings(res, warnings);
  if (dry_run) return res;
  return published(std::move(r), std::move(res));
}

HttpResponse ResourceStore::refused(const ApiRequest& req, const engine::Result& r, const std::string& name) {
  ApiError e;
  if (r.reason == "AlreadyExists") e = ApiError::already_exists(req.gr(), name);
  else if (r.reason == "NotFound") e = ApiError::not_found(req.gr(), name);
  else if (r.reason == "BadRequest") e = ApiError::bad_request(r.message);
  else if (r.reason == "Conflict") e = ApiError::conflict(req.gr(), name, r.message);
  // A rule's `refuse` is an admission plugin's denial; with field errors
  // (stdlib/validation.rules), kube's validation of the kind.
  else if (r.reason == "Invalid") e = ApiError::forbidden(req.gr(), name, r.message);
  else if (r.reason == "FieldInvalid" && req.kind) e = ApiError::invalid(req.kind->group, req.kind->name, name, r.field_errors);
  // What rules derived from the write breaks its kind's schema: as an
  // object a mutating admission made invalid, a 422 (naming the rules).
  else if (r.reason == "DerivedInvalid")
    e = ApiError{422, "Invalid", r.message, {{"name", name}, {"group", req.gr().group}, {"kind", req.gr().resource}}};
  else e = ApiError::internal(r.message);
  if (!r.rules.empty()) {
    std::string rules;
    for (const auto& x : r.rules) rules += (rules.empty() ? "" : ", ") + x;
    log("warning", req.user.name + " " + verb_name(req.verb) + " " + req.gr().to_string() + " \"" + name + "\" in " +
                       req.info.cluster + ": " + r.reason + " (rules " + rules + "): " + r.message);
  }
  return status_response(e);
}

HttpResponse ResourceStore::published(engine::Result r, HttpResponse answer) {
  if (on_commit_) on_commit_(r);
  // Watchers and the writer hear of the change once it is durable.
  if (!after_commit_) {
    hub_.publish(r);
    return answer;
  }
  // Moved, not copied: an Account's create changes some forty tuples.
  after_commit_([this, r = std::move(r)]() { hub_.publish(r); });
  return when_durable(std::move(answer));
}

HttpResponse ResourceStore::create(const ApiRequest& req, Json object) {
  std::vector<std::string> warnings;
  if (auto e = prepare_create(engine_, req, object, &warnings)) return status_response(*e);
  std::string name = string_field(object["metadata"], "name");
  return commit(req, Op::create(std::move(object)), 201, req.write.dry_run, name, warnings);
}

HttpResponse ResourceStore::update(const ApiRequest& req, Json object, bool rv_required) {
  const Json* cur = engine_.get({req.kind->key(), req.info.cluster, req.info.ns, req.info.name});
  if (!cur && req.kind->create_on_update && req.info.subresource.empty()) return create_by_update(req, std::move(object));
  if (!cur || (req.visible && !req.visible(*cur))) return status_response(ApiError::not_found(req.gr(), req.info.name));
  std::vector<std::string> warnings;
  // Another served version is updated as that version shows the object.
  Json converted;
  if (req.kind->storage) converted = engine::from_storage(*req.kind, *cur);
  if (auto e = prepare_update(req, object, req.kind->storage ? converted : *cur, rv_required, &warnings)) return status_response(*e);
  return commit(req, Op::update(std::move(object)), 200, req.write.dry_run, req.info.name, warnings);
}

HttpResponse ResourceStore::create_by_update(const ApiRequest& req, Json object) {
  // As kube's generic store creates it: named by the URL, its uid a
  // precondition no missing object meets, its resourceVersion dropped.
  if (object.is_object()) {  // (what is not, create's decoding refuses)
    const Json md = json_object(object, "metadata");
    if (auto e = check_url_name(md, req.info.name)) return status_response(*e);
    if (!string_field(md, "uid").empty())
      return status_response(ApiError::conflict(req.gr(), req.info.name,
                                                "Precondition failed: UID in precondition: " + string_field(md, "uid") + ", UID in object meta: "));
    object["metadata"].erase("resourceVersion");
  }
  return create(req, std::move(object));
}

HttpResponse ResourceStore::patch(const ApiRequest& req) {
  const Json* cur = engine_.get({req.kind->key(), req.info.cluster, req.info.ns, req.info.name});
  if (cur && req.visible && !req.visible(*cur)) return status_response(ApiError::not_found(req.gr(), req.info.name));
  const Json& p = *req.body;
  if (req.patch_type == PatchType::kApply) {
    // The applied configuration names the object the URL names.
    if (auto e = check_object_types(p)) return status_response(*e);
    if (string_field(p, "apiVersion").empty() || string_field(p, "kind").empty())
      return status_response(ApiError::bad_request("an apply patch must set apiVersion and kind"));
    const Json md = json_object(p, "metadata");
    if (!string_field(md, "name").empty() && string_field(md, "name") != req.info.name)
      return status_response(ApiError::bad_request("the name of the object (" + string_field(md, "name") +
                                                   ") does not match the name on the URL (" + req.info.name + ")"));
    if (!cur) {
      // Server-side apply creates what does not exist.
      Json object = p;
      object["metadata"]["name"] = req.info.name;
      return create(req, std::move(object));
    }
  }
  if (!cur) return status_response(ApiError::not_found(req.gr(), req.info.name));
  ApiError error;
  Json current = *cur;
  if (req.kind->storage) current = engine::from_storage(*req.kind, std::move(current));  // patched as the version the URL names
  auto next = apply_patch(current, p, req.patch_type, &error);
  if (!next) return status_response(error);
  // A patch is an update of the current version, with a resourceVersion
  // precondition only if it sets one.
  bool sets_rv = p.is_object() && p.contains("metadata") && p["metadata"].is_object() && p["metadata"].contains("resourceVersion");
  if (!sets_rv && next->is_object() && next->contains("metadata") && (*next)["metadata"].is_object())
    (*next)["metadata"]["resourceVersion"] = (*cur)["metadata"].value("resourceVersion", Json());
  return update(req, std::move(*next), false);
}

HttpResponse ResourceStore::remove(const ApiRequest& req) {
  engine::ObjectKey key{req.kind->key(), req.info.cluster, req.info.ns, req.info.name};
  const Json* cur = engine_.get(key);
  if (!cur || (req.visible && !req.visible(*cur))) return status_response(ApiError::not_found(req.gr(), req.info.name));
  if (auto e = precondition_error(req.gr(), req.del, (*cur)["metadata"])) return status_response(*e);
  return commit(req, Op::remove(key), 200, req.del.dry_run, req.info.name, {});
}

HttpResponse ResourceStore::remove_collection(const ApiRequest& req) {
  const ListOptions& o = req.list;
  const DeleteOptions& d = req.del;
  // The objects a list with the same selectors would show this user, all
  // deleted in one transaction: all or none (kube deletes them one by one).
  std::vector<Op> ops;
  std::vector<Json> before;
  const std::string* ns = req.info.ns.empty() ? nullptr : &req.info.ns;
  std::optional<ApiError> failed;
  engine_.state().scan_objects(engine::object_prefix(req.kind->key(), &req.info.cluster, ns),
                               [&](std::string_view, const engine::ObjectEntry& e) {
                                 if (ns && e.key().ns != *ns) return true;
                                 return e.effective.visit([&](const Json& object) {
                                   if (!o.labels.matches(object) || !o.fields.matches(object)) return true;
                                   if (req.visible && !req.visible(object)) return true;
                                   // The options are each delete's, preconditions too.
                                   failed = precondition_error(req.gr(), d, object["metadata"]);
                                   if (failed) return false;
                                   ops.push_back(Op::remove(e.key().owned()).as(requester(req.user)));
                                   before.push_back(object);
                                   return true;
                                 });
                               });
  if (failed) return status_response(*failed);
  std::vector<Json> items(before.size());
  engine::Result r;
  if (!ops.empty()) {
    std::vector<engine::ObjectKey> keys;
    for (const auto& op : ops) keys.push_back(op.key);
    r = engine_.apply(std::move(ops), d.dry_run, [&](engine::Result&) {
      // What a finalizer holds is shown as it is now (being deleted).
      for (size_t i = 0; i < keys.size(); ++i)
        if (const Json* now = engine_.get(keys[i])) items[i] = *now;
    });
    // Which object a rule refused, where the engine says.
    if (!r.ok) return refused(req, r, r.name);
    for (const auto& w : r.warnings) log("warning", w);
  }
  Json shown = Json::array();
  for (size_t i = 0; i < before.size(); ++i)
    shown.push_back(present(engine_, names_, items[i].is_null() ? before[i] : items[i], req.kind));
  HttpResponse res = json_response(200, {{"kind", req.kind->name + "List"},
                                         {"apiVersion", req.kind->api_version()},
                                         {"metadata", {{"resourceVersion", std::to_string(engine_.resource_version())}}},
                                         {"items", std::move(shown)}});
  if (d.dry_run || before.empty()) return when_durable(std::move(res));
  return published(std::move(r), std::move(res));
}

}  // namespace pmesh::server
