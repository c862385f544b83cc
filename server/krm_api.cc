#include "server/krm_api.h"

#include <boost/asio/steady_timer.hpp>

#include <iostream>
#include <map>
#include <random>

#include "engine/documents.h"
#include "server/discovery.h"
#include "server/protobuf_body.h"
#include "server/request_info.h"

namespace pmesh::server {

using engine::Op;
using nlohmann::json;

namespace {

HttpResponse json_response(int code, const json& body) { return {code, "application/json", body.dump()}; }

HttpResponse status(int code, const std::string& reason, const std::string& message, json details = nullptr) {
  json s = {{"kind", "Status"},   {"apiVersion", "v1"}, {"metadata", json::object()}, {"status", "Failure"},
            {"message", message}, {"reason", reason},   {"code", code}};
  if (!details.is_null()) s["details"] = details;
  return json_response(code, s);
}

HttpResponse not_found_path(const std::string& path) {
  return status(404, "NotFound", "the server could not find the requested resource (" + path + ")",
                {{"causes", json::array({{{"reason", "UnexpectedServerResponse"}, {"message", "404 page not found"}}})}});
}

// The nesting depth of a JSON text, counted outside strings.
size_t nesting(const std::string& s) {
  size_t depth = 0, max = 0;
  bool in_string = false, escape = false;
  for (char c : s) {
    if (in_string) {
      if (escape) escape = false;
      else if (c == '\\') escape = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') max = std::max(max, ++depth);
    else if ((c == '}' || c == ']') && depth > 0) --depth;
  }
  return max;
}

constexpr size_t kMaxDepth = 100;

// Whether a write's body is in a format this server reads: JSON or YAML.
bool readable_body(const HttpRequest& req) {
  std::string type = req.content_type.substr(0, req.content_type.find(';'));
  return type.empty() || type == "application/json" || type == "application/yaml" || type == "text/yaml" ||
         type == "application/x-yaml" || type == "application/vnd.kubernetes.protobuf";
}

// The body as JSON: JSON, or YAML for YAML content types.
std::optional<json> parse_body(const HttpRequest& req, std::string* error) {
  if (nesting(req.body) > kMaxDepth) {
    *error = "the object is nested deeper than " + std::to_string(kMaxDepth) + " levels";
    return std::nullopt;
  }
  if (req.content_type.rfind("application/vnd.kubernetes.protobuf", 0) == 0) return decode_protobuf_object(req.body, error);
  bool yaml = req.content_type.find("yaml") != std::string::npos;
  if (!yaml) {
    try {
      return json::parse(req.body);
    } catch (const json::parse_error& e) {
      *error = std::string("couldn't parse the body as JSON: ") + e.what();
      return std::nullopt;
    }
  }
  std::vector<engine::Document> docs;
  if (!engine::parse_documents(req.body, "body", &docs, error)) return std::nullopt;
  if (docs.size() != 1) {
    *error = "the body must hold exactly one object";
    return std::nullopt;
  }
  return docs[0].object;
}

std::string random_suffix() {
  static std::mt19937 rng(std::random_device{}());
  static const char* chars = "bcdfghjklmnpqrstvwxz2456789";
  std::string s;
  for (int i = 0; i < 5; ++i) s += chars[rng() % 27];
  return s;
}

int code_of(const std::string& reason) {
  if (reason == "AlreadyExists" || reason == "Conflict") return 409;
  if (reason == "NotFound") return 404;
  if (reason == "Invalid" || reason == "NotConverged") return 422;
  return 500;
}

}  // namespace

// What an object request addresses.
struct KrmApi::Target {
  const dsl::KindDecl* kind = nullptr;
  RequestInfo info;
  std::string resource_group() const { return kind->group.empty() ? kind->plural : kind->plural + "." + kind->group; }
  engine::ObjectKey key() const { return {kind->key(), info.cluster, info.ns, info.name}; }
  json details() const { return {{"name", info.name}, {"group", kind->group}, {"kind", kind->plural}}; }
  HttpResponse not_found() const {
    return status(404, "NotFound", resource_group() + " \"" + info.name + "\" not found", details());
  }
};

struct KrmApi::Watcher {
  std::string cluster;  // "*" for all
  std::string kind;
  std::string ns;
  Selector labels, fields;
  std::shared_ptr<Stream> stream;
  std::unique_ptr<boost::asio::steady_timer> timeout, bookmark;
  bool bookmarks = false;
  std::string api_version, kind_name;
  std::function<bool(const std::string&, const std::string&)> visible;

  bool wants(const json& object) const {
    const json& md = object["metadata"];
    if (cluster != "*" && md.value("cluster", "") != cluster) return false;
    if (!ns.empty() && md.value("namespace", "") != ns) return false;
    if (visible && !visible(md.value("cluster", ""), md.value("name", ""))) return false;
    return labels.matches(object) && fields.matches(object);
  }
};

KrmApi::KrmApi(engine::Engine& engine, engine::DurableStore* store, boost::asio::io_context& io, std::string address,
               std::function<void(std::function<void()>)> after_commit)
    : engine_(engine), store_(store), io_(io), address_(std::move(address)), after_commit_(std::move(after_commit)) {}

KrmApi::~KrmApi() { close_watches(); }

bool KrmApi::cluster_exists(const std::string& cluster) const {
  if (cluster == "root" || cluster == "*") return true;
  size_t colon = cluster.rfind(':');
  if (colon == std::string::npos) return false;
  return engine_.get({"Workspace", cluster.substr(0, colon), "", cluster.substr(colon + 1)}) != nullptr;
}

json KrmApi::present(const json& object) const {
  json o = object;
  json& md = o["metadata"];
  std::string cluster = md.value("cluster", "");
  md.erase("cluster");
  md["annotations"]["kcp.io/cluster"] = cluster;
  const dsl::KindDecl* d = engine_.kinds().by_api(cluster, o.value("apiVersion", ""), o.value("kind", ""));
  engine::ObjectKey key{d ? d->key() : o.value("kind", ""), cluster, md.value("namespace", ""), md.value("name", "")};
  json managed = json::array();
  for (const auto& rule : engine_.owners(key))
    managed.push_back({{"manager", "pmesh-rule:" + rule},
                       {"operation", "Apply"},
                       {"apiVersion", o.value("apiVersion", "")},
                       {"fieldsType", "FieldsV1"},
                       {"fieldsV1", json::object()}});
  if (!managed.empty()) md["managedFields"] = managed;
  if (md.contains("generation") && md["generation"].is_number() && md["generation"].get<int64_t>() == 0) md.erase("generation");
  return o;
}

std::optional<HttpResponse> KrmApi::handle(const HttpRequest& req, const std::shared_ptr<Stream>& stream) {
  auto info = parse_request_path(req.path);
  if (!info) return not_found_path(req.path);
  if (info->kind == RequestInfo::Kind::kHealth) return HttpResponse{200, "text/plain", "ok"};
  if (!cluster_exists(info->cluster))
    return status(404, "NotFound", "logical cluster \"" + info->cluster + "\" not found");
  auto ks = engine_.kinds().in_cluster(info->cluster);
  switch (info->kind) {
    case RequestInfo::Kind::kHealth:
    case RequestInfo::Kind::kRoot: {
      json paths = {"/api", "/api/v1", "/apis", "/healthz", "/openapi/v3", "/version"};
      return json_response(200, {{"paths", paths}});
    }
    case RequestInfo::Kind::kVersion: return json_response(200, version_info());
    case RequestInfo::Kind::kApiVersions: return json_response(200, api_versions(address_));
    case RequestInfo::Kind::kGroupList: return json_response(200, group_list(ks));
    case RequestInfo::Kind::kGroup: {
      json g = api_group(ks, info->group);
      return g.is_null() ? not_found_path(req.path) : json_response(200, g);
    }
    case RequestInfo::Kind::kResourceList: {
      json l = resource_list(ks, info->group, info->version);
      return l.is_null() ? not_found_path(req.path) : json_response(200, l);
    }
    case RequestInfo::Kind::kOpenApiV2:
      if (req.accept.find("protobuf") != std::string::npos)
        return HttpResponse{200, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf", openapi_v2_protobuf()};
      return json_response(200, openapi_v2_json());
    case RequestInfo::Kind::kOpenApiV3: {
      if (info->openapi_rest.empty()) return json_response(200, openapi_v3_root(ks));
      json doc = openapi_v3_group_version(ks, info->openapi_rest);
      return doc.is_null() ? not_found_path(req.path) : json_response(200, doc);
    }
    case RequestInfo::Kind::kObject: break;
  }
  Target t;
  t.info = *info;
  for (const auto* k : ks)
    if (k->group == info->group && k->version == info->version && k->plural == info->resource) t.kind = k;
  if (!t.kind) return not_found_path(req.path);
  bool namespaced = t.kind->scope == dsl::Scope::kNamespaced;
  if (!namespaced && !info->ns.empty()) return not_found_path(req.path);
  if (!info->subresource.empty() && !(info->subresource == "status" && t.kind->status_subresource))
    return not_found_path(req.path);
  return objects(req, t, stream);
}

std::optional<HttpResponse> KrmApi::objects(const HttpRequest& req, const Target& t, const std::shared_ptr<Stream>& stream) {
  const std::string& m = req.method;
  bool collection = t.info.name.empty();
  // Protobuf and CBOR are refused with 415, on which clients retry in JSON.
  if ((m == "POST" || m == "PUT") && !readable_body(req))
    return status(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml");
  if (t.info.cluster == "*" && !(m == "GET" && collection))
    return status(405, "MethodNotAllowed", "the wildcard cluster only lists and watches");
  auto watching = [&]() {
    auto it = req.query.find("watch");
    return it != req.query.end() && (it->second == "true" || it->second == "True" || it->second == "1");
  };
  if (collection) {
    if (m == "GET") return watching() ? watch(req, t, stream) : std::optional<HttpResponse>(list(req, t));
    if (m == "POST") return create(req, t);
    return status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
  }
  if (m == "GET") {
    if (watching()) return watch(req, t, stream);
    return get(t);
  }
  if (m == "PUT") {
    std::string err;
    auto body = parse_body(req, &err);
    if (!body) return status(400, "BadRequest", err);
    return update(req, t, *body);
  }
  if (m == "PATCH") return patch(req, t);
  if (m == "DELETE") return remove(req, t);
  return status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
}

HttpResponse KrmApi::get(const Target& t) {
  const json* o = engine_.get(t.key());
  if (!o) return t.not_found();
  return json_response(200, present(*o));
}

HttpResponse KrmApi::list(const HttpRequest& req, const Target& t) {
  std::string err;
  auto labels = Selector::parse_labels(req.query.count("labelSelector") ? req.query.at("labelSelector") : "", &err);
  if (!labels) return status(400, "BadRequest", err);
  auto fields = Selector::parse_fields(req.query.count("fieldSelector") ? req.query.at("fieldSelector") : "", &err);
  if (!fields) return status(400, "BadRequest", err);
  size_t limit = 0;
  if (req.query.count("limit")) {
    try {
      limit = std::stoul(req.query.at("limit"));
    } catch (...) {
      return status(400, "BadRequest", "limit must be a number");
    }
  }
  std::string start_after;
  std::string rv = std::to_string(engine_.resource_version());
  if (req.query.count("continue") && !req.query.at("continue").empty()) {
    try {
      json token = json::parse(req.query.at("continue"));
      start_after = token.at("start").get<std::string>();
      int64_t token_rv = std::stoll(token.at("rv").get<std::string>());
      if (store_ && token_rv < store_->oldest_log_rv() - 1)
        return status(410, "Expired", "the provided continue parameter is too old to display a consistent list result");
      rv = token.at("rv").get<std::string>();
    } catch (...) {
      return status(400, "BadRequest", "invalid continue token");
    }
  }
  json items = json::array();
  std::string last;
  bool more = false;
  const std::string* cluster = t.info.cluster == "*" ? nullptr : &t.info.cluster;
  const std::string* ns = cluster && !t.info.ns.empty() ? &t.info.ns : nullptr;
  std::string prefix = engine::object_prefix(t.kind->key(), cluster, ns);
  engine_.state().scan_objects(prefix, [&](const engine::ObjectEntry& e) {
    std::string fact = engine::object_fact(e.key);
    if (!start_after.empty() && fact <= start_after) return true;
    if (!t.info.ns.empty() && e.key.ns != t.info.ns) return true;
    if (!labels->matches(e.effective) || !fields->matches(e.effective)) return true;
    if (req.visible && !req.visible(e.key.cluster, e.key.name)) return true;
    if (limit && items.size() == limit) {
      more = true;
      return false;
    }
    items.push_back(present(e.effective));
    last = fact;
    return true;
  });
  json md = {{"resourceVersion", rv}};
  if (more) md["continue"] = json{{"rv", rv}, {"start", last}}.dump();
  return json_response(200, {{"kind", t.kind->name + "List"}, {"apiVersion", t.kind->api_version()}, {"metadata", md}, {"items", items}});
}

std::optional<HttpResponse> KrmApi::watch(const HttpRequest& req, const Target& t, const std::shared_ptr<Stream>& stream) {
  auto w = std::make_shared<Watcher>();
  std::string err;
  auto labels = Selector::parse_labels(req.query.count("labelSelector") ? req.query.at("labelSelector") : "", &err);
  if (!labels) return status(400, "BadRequest", err);
  std::string field_text = req.query.count("fieldSelector") ? req.query.at("fieldSelector") : "";
  if (!t.info.name.empty()) field_text += std::string(field_text.empty() ? "" : ",") + "metadata.name=" + t.info.name;
  auto fields = Selector::parse_fields(field_text, &err);
  if (!fields) return status(400, "BadRequest", err);
  w->cluster = t.info.cluster;
  w->kind = t.kind->key();
  w->ns = t.info.ns;
  w->labels = *labels;
  w->fields = *fields;
  w->stream = stream;
  w->bookmarks = req.query.count("allowWatchBookmarks") && req.query.at("allowWatchBookmarks") == "true";
  w->api_version = t.kind->api_version();
  w->kind_name = t.kind->name;
  w->visible = req.visible;
  std::string rv = req.query.count("resourceVersion") ? req.query.at("resourceVersion") : "";
  int64_t from = 0;
  if (!rv.empty() && rv != "0") {
    try {
      from = std::stoll(rv);
    } catch (...) {
      return status(400, "BadRequest", "invalid resourceVersion \"" + rv + "\"");
    }
  }
  auto event = [this](const char* type, const json& obj) { return json{{"type", type}, {"object", present(obj)}}.dump() + "\n"; };
  std::vector<std::string> initial;
  if (from == 0) {
    // Synthetic ADDED events for what exists, then changes.
    const std::string* cluster = t.info.cluster == "*" ? nullptr : &t.info.cluster;
    const std::string* ns = cluster && !t.info.ns.empty() ? &t.info.ns : nullptr;
    engine_.state().scan_objects(engine::object_prefix(t.kind->key(), cluster, ns), [&](const engine::ObjectEntry& e) {
      if (w->wants(e.effective)) initial.push_back(event("ADDED", e.effective));
      return true;
    });
  } else if (store_) {
    int64_t oldest = store_->oldest_log_rv();
    if (from < engine_.resource_version() && (oldest == 0 || from < oldest - 1)) {
      json st = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()}, {"status", "Failure"},
                 {"message", "too old resource version: " + rv + " (" + std::to_string(oldest) + ")"},
                 {"reason", "Expired"}, {"code", 410}};
      stream->send(json{{"type", "ERROR"}, {"object", st}}.dump() + "\n");
      stream->close();
      return std::nullopt;
    }
    store_->scan_log(from, [&](int64_t, const json& ev) {
      const json& obj = ev["object"];
      if (obj.value("kind", "") == t.kind->name && obj.value("apiVersion", "") == t.kind->api_version() && w->wants(obj)) initial.push_back(event(ev["type"].get<std::string>().c_str(), obj));
      return true;
    });
  }
  for (auto& line : initial) stream->send(std::move(line));
  int seconds = 1800;
  if (req.query.count("timeoutSeconds")) {
    try {
      seconds = std::max(0, std::stoi(req.query.at("timeoutSeconds")));
    } catch (...) {
    }
  }
  w->timeout = std::make_unique<boost::asio::steady_timer>(io_, std::chrono::seconds(seconds));
  std::weak_ptr<Watcher> weak = w;
  w->timeout->async_wait([weak](const boost::system::error_code& ec) {
    if (auto self = weak.lock(); self && !ec) self->stream->close();
  });
  if (w->bookmarks) {
    w->bookmark = std::make_unique<boost::asio::steady_timer>(io_);
    auto tick = std::make_shared<std::function<void()>>();
    *tick = [this, weak, tick]() {
      auto self = weak.lock();
      if (!self || self->stream->closed()) return;
      self->bookmark->expires_after(std::chrono::seconds(5));
      self->bookmark->async_wait([this, weak, tick](const boost::system::error_code& ec) {
        auto me = weak.lock();
        if (ec || !me || me->stream->closed()) return;
        json bm = {{"type", "BOOKMARK"},
                   {"object", {{"kind", me->kind_name}, {"apiVersion", me->api_version},
                               {"metadata", {{"resourceVersion", std::to_string(engine_.resource_version())}}}}}};
        me->stream->send(bm.dump() + "\n");
        (*tick)();
      });
    };
    (*tick)();
  }
  watchers_.push_back(w);
  return std::nullopt;
}

void KrmApi::publish(const engine::Result& r) {
  watchers_.remove_if([](const std::shared_ptr<Watcher>& w) { return w->stream->closed(); });
  if (watchers_.empty()) return;
  for (const auto& c : r.objects) {
    json obj = c.op == engine::ObjectChange::Kind::kDeleted ? c.before : c.after;
    if (c.op == engine::ObjectChange::Kind::kDeleted) obj["metadata"]["resourceVersion"] = std::to_string(c.resource_version);
    // Each event is rendered once, whatever the number of watchers.
    std::map<std::string, std::string> rendered;
    for (const auto& w : watchers_) {
      if (w->kind != c.key.kind) continue;
      bool now = w->wants(obj);
      bool before = c.op == engine::ObjectChange::Kind::kUpdated && w->wants(c.before);
      const char* type = nullptr;
      if (c.op == engine::ObjectChange::Kind::kCreated && now) type = "ADDED";
      else if (c.op == engine::ObjectChange::Kind::kDeleted && now) type = "DELETED";
      else if (c.op == engine::ObjectChange::Kind::kUpdated && now) type = before ? "MODIFIED" : "ADDED";
      else if (c.op == engine::ObjectChange::Kind::kUpdated && before) type = "DELETED";
      if (!type) continue;
      auto it = rendered.find(type);
      if (it == rendered.end())
        it = rendered.emplace(type, json{{"type", type}, {"object", present(type == std::string("DELETED") && c.op == engine::ObjectChange::Kind::kUpdated ? c.before : obj)}}.dump() + "\n").first;
      w->stream->send(it->second);
    }
  }
}

void KrmApi::close_watches() {
  for (const auto& w : watchers_) {
    if (w->timeout) w->timeout->cancel();
    if (w->bookmark) w->bookmark->cancel();
    w->stream->close();
  }
  watchers_.clear();
}

HttpResponse KrmApi::write(const HttpRequest& req, const Target& t, Op op, int success_code) {
  bool dry = req.query.count("dryRun") && req.query.at("dryRun") == "All";
  if (req.query.count("dryRun") && req.query.at("dryRun") != "All")
    return status(400, "BadRequest", "dryRun must be \"All\"");
  json result_object;
  engine::Result r = engine_.apply({op}, dry, [&](engine::Result&) {
    if (const json* o = engine_.get(op.type == Op::Type::kDelete ? op.key : t.key())) result_object = *o;
  });
  if (!r.ok) {
    std::string message = r.message;
    if (r.reason == "AlreadyExists") message = t.resource_group() + " \"" + t.info.name + "\" already exists";
    if (r.reason == "NotFound") return t.not_found();
    return status(code_of(r.reason), r.reason == "NotConverged" ? "Invalid" : r.reason, message, t.details());
  }
  for (const auto& w : r.warnings) std::cerr << "pmesh serve: warning: " << w << "\n";
  HttpResponse res =
      op.type == Op::Type::kDelete && result_object.is_null()
          ? json_response(200, {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()}, {"status", "Success"},
                                {"details", t.details()}})
          : json_response(success_code, present(result_object));
  if (!dry) {
    // Watchers and the writer hear of the change once it is durable.
    if (after_commit_) {
      after_commit_([this, r]() { publish(r); });
      res.after_commit = true;
    } else {
      publish(r);
    }
  }
  return res;
}

HttpResponse KrmApi::create(const HttpRequest& req, const Target& t) {
  std::string err;
  auto body = parse_body(req, &err);
  if (!body) return status(400, "BadRequest", err);
  json& o = *body;
  if (!o.is_object()) return status(400, "BadRequest", "the body must be an object");
  if (o.value("kind", t.kind->name) != t.kind->name || o.value("apiVersion", t.kind->api_version()) != t.kind->api_version())
    return status(400, "BadRequest", "the API version in the data (" + o.value("apiVersion", "") + ") does not match the expected API version (" + t.kind->api_version() + ")");
  o["kind"] = t.kind->name;
  o["apiVersion"] = t.kind->api_version();
  if (!o.contains("metadata") || !o["metadata"].is_object()) o["metadata"] = json::object();
  json& md = o["metadata"];
  if (!md.contains("name") || md["name"] == "") {
    if (md.contains("generateName") && md["generateName"].is_string())
      md["name"] = md["generateName"].get<std::string>() + random_suffix();
    else
      return status(422, "Invalid", t.kind->name + " is invalid: metadata.name: Required value: name or generateName is required");
  }
  std::string body_ns = md.value("namespace", "");
  if (t.kind->scope == dsl::Scope::kNamespaced) {
    if (!body_ns.empty() && !t.info.ns.empty() && body_ns != t.info.ns)
      return status(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
    std::string ns = t.info.ns.empty() ? body_ns : t.info.ns;
    if (ns.empty()) return status(400, "BadRequest", "a namespace is required for " + t.resource_group());
    md["namespace"] = ns;
  } else {
    md.erase("namespace");
  }
  md["cluster"] = t.info.cluster;
  if (md.contains("annotations") && md["annotations"].is_object()) md["annotations"].erase("kcp.io/cluster");
  Target named = t;
  named.info.name = md["name"].get<std::string>();
  named.info.ns = md.value("namespace", "");
  return write(req, named, Op::create(o), 201);
}

HttpResponse KrmApi::update(const HttpRequest& req, const Target& t, json body) {
  const json* cur = engine_.get(t.key());
  if (!cur) return t.not_found();
  if (!body.is_object()) return status(400, "BadRequest", "the body must be an object");
  json& md = body["metadata"];
  if (!md.is_object()) return status(400, "BadRequest", "metadata must be an object");
  if (md.value("name", t.info.name) != t.info.name)
    return status(400, "BadRequest", "the name of the object (" + md.value("name", "") + ") does not match the name on the URL (" + t.info.name + ")");
  std::string rv = md.value("resourceVersion", "");
  if (rv.empty())
    return status(422, "Invalid", t.kind->name + " \"" + t.info.name + "\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update", t.details());
  if (rv != (*cur)["metadata"].value("resourceVersion", ""))
    return status(409, "Conflict",
                  "Operation cannot be fulfilled on " + t.resource_group() + " \"" + t.info.name +
                      "\": the object has been modified; please apply your changes to the latest version and try again",
                  t.details());
  json next;
  if (t.kind->status_subresource && t.info.subresource == "status") {
    next = *cur;
    next["status"] = body.value("status", json::object());
  } else if (t.kind->status_subresource) {
    next = body;
    if (cur->contains("status")) next["status"] = (*cur)["status"];
    else next.erase("status");
  } else {
    next = body;
  }
  next["kind"] = t.kind->name;
  next["apiVersion"] = t.kind->api_version();
  next["metadata"]["name"] = t.info.name;
  next["metadata"]["cluster"] = t.info.cluster;
  if (!t.info.ns.empty()) next["metadata"]["namespace"] = t.info.ns;
  if (next["metadata"].contains("annotations") && next["metadata"]["annotations"].is_object())
    next["metadata"]["annotations"].erase("kcp.io/cluster");
  next["metadata"].erase("managedFields");
  return write(req, t, Op::update(next), 200);
}

HttpResponse KrmApi::patch(const HttpRequest& req, const Target& t) {
  std::string type = req.content_type.substr(0, req.content_type.find(';'));
  bool apply = type == "application/apply-patch+yaml";
  if (type != "application/merge-patch+json" && type != "application/json-patch+json" &&
      type != "application/strategic-merge-patch+json" && !apply)
    return status(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json");
  const json* cur = engine_.get(t.key());
  std::string err;
  HttpRequest as_body = req;
  if (apply) as_body.content_type = "application/yaml";
  auto p = parse_body(as_body, &err);
  if (!p) return status(400, "BadRequest", err);
  if (apply && (!req.query.count("fieldManager") || req.query.at("fieldManager").empty()))
    return status(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch");
  if (!cur) {
    if (!apply) return t.not_found();
    // Server-side apply creates what does not exist.
    HttpRequest create_req = req;
    create_req.body = p->dump();
    create_req.content_type = "application/json";
    Target named = t;
    return create(create_req, named);
  }
  json current = *cur;
  json next;
  try {
    if (type == "application/json-patch+json") next = current.patch(*p);
    else {
      next = current;
      next.merge_patch(*p);
    }
  } catch (const std::exception& e) {
    return status(422, "Invalid", std::string("the patch cannot be applied: ") + e.what());
  }
  // A patch is an update of the current version (no resourceVersion precondition unless it sets one).
  if (!next.contains("metadata") || !next["metadata"].is_object()) return status(422, "Invalid", "metadata must be an object");
  std::string want_rv = p->is_object() && p->contains("metadata") && (*p)["metadata"].is_object() ? (*p)["metadata"].value("resourceVersion", "") : "";
  next["metadata"]["resourceVersion"] = want_rv.empty() ? current["metadata"]["resourceVersion"] : json(want_rv);
  return update(req, t, next);
}

HttpResponse KrmApi::remove(const HttpRequest& req, const Target& t) {
  const json* cur = engine_.get(t.key());
  if (!cur) return t.not_found();
  if (!req.body.empty()) {
    std::string err;
    auto opts = parse_body(req, &err);
    if (!opts) return status(400, "BadRequest", err);
    if (opts->is_object() && opts->contains("preconditions")) {
      const json& pre = (*opts)["preconditions"];
      if (pre.contains("uid") && pre["uid"] != (*cur)["metadata"]["uid"])
        return status(409, "Conflict", "Precondition failed: UID in precondition: " + pre["uid"].dump() + ", UID in object meta: " + (*cur)["metadata"]["uid"].dump(), t.details());
      if (pre.contains("resourceVersion") && pre["resourceVersion"] != (*cur)["metadata"]["resourceVersion"])
        return status(409, "Conflict", "Precondition failed: ResourceVersion in precondition: " + pre["resourceVersion"].dump(), t.details());
    }
    if (opts->is_object() && opts->contains("dryRun") && (*opts)["dryRun"].is_array() && !(*opts)["dryRun"].empty()) {
      HttpRequest dry = req;
      dry.query["dryRun"] = "All";
      return write(dry, t, Op::remove(t.key()), 200);
    }
  }
  return write(req, t, Op::remove(t.key()), 200);
}

}  // namespace pmesh::server
