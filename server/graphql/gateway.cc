#include "server/graphql/gateway.h"

#include <boost/asio/post.hpp>

#include <algorithm>

#include "engine/documents.h"
#include "engine/json_path.h"
#include "engine/state.h"
#include "server/api/body.h"
#include "server/api/request_info.h"
#include "server/api/status.h"
#include "server/graphql/executor.h"
#include "server/graphql/kube_schema.h"
#include "server/graphql/parser.h"
#include "server/http/content_encoding.h"

namespace pmesh::server {
namespace {

using graphql::Call;
using graphql::CallResult;
using graphql::Execution;
using graphql::FieldOp;
using graphql::OrderedJson;
using Done = std::function<void(const HttpResponse&)>;

constexpr size_t kMaxCachedSchemas = 64;

struct Params {
  std::string query, operation_name;
  Json variables;
};

// Arguments as the calls read them: a null (which any nullable argument
// may be) or absent one is no value. (Strings: engine::string_field,
// booleans: engine::true_field.)
int64_t int_arg(const Json& args, const char* key) {
  auto it = args.is_object() ? args.find(key) : args.end();
  return args.is_object() && it != args.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}
Json object_arg(const Json& args, const char* key) {
  auto it = args.is_object() ? args.find(key) : args.end();
  return args.is_object() && it != args.end() && it->is_object() ? *it : Json::object();
}

HttpResponse graphql_error(int code, const std::string& message) {
  return {code, "application/json", encode_json(Json{{"errors", Json::array({{{"message", message}}})}}), {}, nullptr};
}

HttpResponse json_answer(const OrderedJson& body) { return {200, "application/json", body.dump(-1, ' ', false, Json::error_handler_t::replace), {}, nullptr}; }

// One request's fields, from a JSON body or the URL.
std::optional<Params> params_of(const Json& j, std::string* why) {
  if (!j.is_object()) {
    *why = "request body must be a JSON object (or an array of them)";
    return std::nullopt;
  }
  Params p;
  auto q = j.find("query");
  if (q == j.end() || !q->is_string() || q->get_ref<const std::string&>().empty()) {
    *why = "Must provide query string.";
    return std::nullopt;
  }
  p.query = q->get<std::string>();
  if (auto o = j.find("operationName"); o != j.end() && o->is_string()) p.operation_name = o->get<std::string>();
  if (auto v = j.find("variables"); v != j.end()) {
    if (v->is_string() && !v->get_ref<const std::string&>().empty()) {
      auto parsed = parse_json(v->get<std::string>());
      if (!parsed) {
        *why = "Variables are invalid JSON.";
        return std::nullopt;
      }
      p.variables = *parsed;
    } else if (!v->is_string()) {
      p.variables = *v;
    }
  }
  return p;
}

// Hands `res` to `done` once it is ready (a write waits for its commit).
void deliver(std::optional<HttpResponse> res, const Done& done) {
  if (!res) return done(HttpResponse{500, "application/json", R"({"message":"no response"})", {}, nullptr});
  if (res->later) {
    auto later = std::move(res->later);
    later([done](std::optional<HttpResponse> r) { deliver(std::move(r), done); });
    return;
  }
  done(*res);
}

HttpRequest krm_request(const std::string& method, const std::string& path, std::map<std::string, std::string> query,
                        const Json* body = nullptr, const std::string& content_type = "application/json") {
  HttpRequest r;
  r.method = method;
  r.path = path;
  r.target = path + " (graphql)";
  r.query = std::move(query);
  r.accept = "application/json";
  if (body) {
    r.body = body->dump(-1, ' ', false, Json::error_handler_t::replace);
    r.content_type = content_type;
  }
  return r;
}

// The KRM API's answer as a field's result: the object, or the Status's message.
CallResult result_of(const HttpResponse& res) {
  std::string error;
  auto body = parse_json(res.body, &error);
  if (res.status >= 400 || !body) {
    std::string message = body && body->is_object() ? engine::string_field(*body, "message") : std::string();
    return {nullptr, message.empty() ? "the server answered " + std::to_string(res.status) : message, true};
  }
  return {*body, "", false};
}

CallResult failure(std::string message) { return {nullptr, std::move(message), true}; }

std::string collection_path(const std::string& ws, const graphql::Resource& r, const std::string& ns) {
  return "/clusters/" + ws + (r.group.empty() ? "/api/" + r.version : "/apis/" + r.group + "/" + r.version) +
         (ns.empty() ? "" : "/namespaces/" + ns) + "/" + r.plural;
}

// The gateway's sortBy: strings, numbers and booleans in order; anything
// else (or a missing field) leaves the pair as it was.
void sort_items(Json& items, const std::string& by) {
  std::stable_sort(items.begin(), items.end(), [&](const Json& a, const Json& b) {
    const Json* x = engine::find_at(a, by);
    const Json* y = engine::find_at(b, by);
    if (!x || !y || x->type() != y->type()) return false;
    if (x->is_string() || x->is_number() || x->is_boolean()) return *x < *y;
    return false;
  });
}

// One operation's calls, made one after another through the KRM API on the
// engine's thread; what their answers become (parsing, sorting, YAML) and
// the response are made off it, so that a query of large lists does not
// hold up writes.
class Runner : public std::enable_shared_from_this<Runner> {
 public:
  // What a call's answer becomes, run off the engine's thread.
  using Finish = std::function<CallResult()>;

  Runner(std::shared_ptr<Execution> exec, std::string ws, GraphqlGateway::Serve serve, GraphqlGateway::Offload offload,
         size_t max_bytes, std::function<void(OrderedJson)> done)
      : exec_(std::move(exec)), ws_(std::move(ws)), serve_(std::move(serve)), offload_(std::move(offload)),
        max_bytes_(max_bytes), done_(std::move(done)) {}

  void start() {
    try {
      calls_ = &exec_->calls();
    } catch (const std::exception&) {
      calls_ = &kNoCalls;  // the response says what failed
    }
    next();
  }

 private:
  void next() {
    if (at_ == calls_->size()) return finish();
    if (bytes_ > max_bytes_) {
      // What the calls so far answered is all one operation may hold.
      finishers_.push_back([max = max_bytes_] {
        return failure("the operation's results pass " + std::to_string(max) + " bytes; ask for less");
      });
      ++at_;
      return next();
    }
    auto self = shared_from_this();
    auto done = [self](Finish f) {
      self->finishers_.push_back(std::move(f));
      ++self->at_;
      self->next();
    };
    // Nothing a request sends may take the server down: what throws fails
    // its field (this runs in callbacks no handler's barrier covers).
    try {
      perform((*calls_)[at_], done);
    } catch (const std::exception& e) {
      done(failed(std::string("internal error: ") + e.what()));
    }
  }

  void finish() {
    auto self = shared_from_this();
    auto out = std::make_shared<OrderedJson>();
    offload_([self, out]() {
      try {
        for (size_t i = 0; i < self->calls_->size(); ++i) self->exec_->set_result((*self->calls_)[i].path, self->finishers_[i]());
        self->finishers_.clear();
        *out = self->exec_->respond();
      } catch (const std::exception& e) {
        *out = {{"errors", OrderedJson::array({{{"message", std::string("internal error: ") + e.what()}}})}};
      }
    }, [self, out]() { self->done_(std::move(*out)); });
  }

  void send(HttpRequest req, const Done& done) {
    deliver(serve_(req, nullptr), [this, done](const HttpResponse& res) {
      bytes_ += res.body.size();
      done(res);
    });
  }

  static Finish failed(std::string message) {
    return [message = std::move(message)] { return failure(message); };
  }
  static Finish answer(HttpResponse res) {
    return [res = std::move(res)] { return result_of(res); };
  }

  void perform(const Call& c, std::function<void(Finish)> done) {
    const Json& a = c.args;
    std::string ns = engine::string_field(a, "namespace");
    std::string name = engine::string_field(a, "name");
    std::map<std::string, std::string> dry;
    if (engine::true_field(a, "dryRun")) dry["dryRun"] = "All";
    if (c.op == FieldOp::kApplyYaml) return apply_yaml(engine::string_field(a, "yaml"), dry, done);
    const graphql::Resource& r = *c.resource;
    for (const std::string* v : {&ns, &name}) {
      if (v->empty()) continue;
      std::string problem = path_segment_problem(*v);
      if (!problem.empty()) return done(failed("invalid name \"" + *v + "\": " + problem));
    }
    bool needs_name = c.op == FieldOp::kGet || c.op == FieldOp::kGetYaml || c.op == FieldOp::kUpdate || c.op == FieldOp::kDelete;
    if (needs_name && name.empty()) return done(failed("empty value for argument: name"));
    bool needs_ns = r.namespaced && (needs_name || c.op == FieldOp::kCreate);
    if (needs_ns && ns.empty()) return done(failed("missing required argument: namespace"));
    std::string base = collection_path(ws_, r, r.namespaced ? ns : "");
    switch (c.op) {
      case FieldOp::kList: {
        std::map<std::string, std::string> q;
        if (!engine::string_field(a, "labelselector").empty()) q["labelSelector"] = engine::string_field(a, "labelselector");
        if (int64_t limit = int_arg(a, "limit"); limit > 0) q["limit"] = std::to_string(limit);
        if (!engine::string_field(a, "continue").empty()) q["continue"] = engine::string_field(a, "continue");
        std::string sort_by = engine::string_field(a, "sortBy");
        return send(krm_request("GET", base, q), [done, sort_by](const HttpResponse& res) {
          done([res, sort_by]() -> CallResult {
            CallResult got = result_of(res);
            if (got.failed) return failure("unable to list objects: " + got.error);
            Json items = got.value.is_object() && got.value.contains("items") ? std::move(got.value["items"]) : Json::array();
            if (!sort_by.empty() && !items.empty()) {
              if (!engine::find_at(items[0], sort_by)) return failure("specified sortBy field does not exist");
              sort_items(items, sort_by);
            }
            const Json meta = got.value.is_object() && got.value.contains("metadata") ? got.value["metadata"] : Json::object();
            Json remaining = meta.contains("remainingItemCount") ? meta["remainingItemCount"] : Json();
            return {{{"resourceVersion", engine::string_field(meta, "resourceVersion")},
                     {"items", std::move(items)},
                     {"continue", engine::string_field(meta, "continue")},
                     {"remainingItemCount", remaining}},
                    "",
                    false};
          });
        });
      }
      case FieldOp::kGet:
      case FieldOp::kGetYaml: {
        bool yaml = c.op == FieldOp::kGetYaml;
        return send(krm_request("GET", base + "/" + name, {}), [done, yaml](const HttpResponse& res) {
          done([res, yaml] {
            CallResult got = result_of(res);
            if (!got.failed && yaml) got.value = engine::to_yaml(got.value);
            return got;
          });
        });
      }
      case FieldOp::kCreate: {
        Json object = object_arg(a, "object");
        object["apiVersion"] = r.group.empty() ? r.version : r.group + "/" + r.version;
        object["kind"] = r.kind;
        if (r.namespaced) object["metadata"]["namespace"] = ns;
        if (!object.contains("metadata") || engine::string_field(object["metadata"], "name").empty())
          return done(failed("object metadata.name is required"));
        return send(krm_request("POST", base, dry, &object), [done](const HttpResponse& res) { done(answer(res)); });
      }
      case FieldOp::kUpdate: {
        Json patch = object_arg(a, "object");
        return send(krm_request("PATCH", base + "/" + name, dry, &patch, "application/merge-patch+json"),
                    [done](const HttpResponse& res) { done(answer(res)); });
      }
      case FieldOp::kDelete:
        return send(krm_request("DELETE", base + "/" + name, dry), [done](const HttpResponse& res) {
          done([res] {
            CallResult got = result_of(res);
            if (!got.failed) got.value = true;
            return got;
          });
        });
      default: return done(failed("not a query or mutation field"));
    }
  }

  // applyYaml: create, or update what exists, as the gateway's
  // controllerutil.CreateOrUpdate.
  void apply_yaml(const std::string& text, const std::map<std::string, std::string>& dry, std::function<void(Finish)> done) {
    std::vector<engine::Document> docs;
    std::string error;
    if (!engine::parse_documents(text, "yaml", &docs, &error)) return done(failed("invalid YAML: " + error));
    if (docs.size() != 1) return done(failed("multi-document YAML is not supported; provide a single document"));
    Json object = docs[0].object;
    std::string api_version = engine::string_field(object, "apiVersion"), kind = engine::string_field(object, "kind");
    if (api_version.empty()) return done(failed("apiVersion is required and must be a string"));
    if (kind.empty()) return done(failed("kind is required and must be a string"));
    if (!object.contains("metadata") || !object["metadata"].is_object()) return done(failed("metadata is required"));
    std::string name = engine::string_field(object["metadata"], "name"), ns = engine::string_field(object["metadata"], "namespace");
    if (name.empty()) return done(failed("metadata.name is required and must be a string"));
    std::string group, version = api_version;
    if (size_t slash = api_version.find('/'); slash != std::string::npos) {
      group = api_version.substr(0, slash);
      version = api_version.substr(slash + 1);
    }
    const graphql::Resource* k = nullptr;
    for (const auto& x : exec_->schema().resources)
      if (x.group == group && x.version == version && x.kind == kind) k = &x;
    std::string what = kind + "/" + name;
    if (!k) return done(failed("failed to apply resource " + what + ": no matches for kind \"" + kind + "\" in version \"" + api_version + "\""));
    for (const std::string* v : {&ns, &name})
      if (!v->empty() && !path_segment_problem(*v).empty())
        return done(failed("failed to apply resource " + what + ": invalid name \"" + *v + "\": " + path_segment_problem(*v)));
    bool namespaced = k->namespaced;
    if (namespaced && ns.empty()) ns = "default";
    std::string base = collection_path(ws_, *k, namespaced ? ns : "");
    auto self = shared_from_this();
    send(krm_request("GET", base + "/" + name, {}), [self, base, name, object, dry, done, what](const HttpResponse& got) mutable {
      auto finish = [done, what](const HttpResponse& res) {
        done([res, what] {
          CallResult r = result_of(res);
          if (r.failed) r.error = "failed to apply resource " + what + ": " + r.error;
          return r;
        });
      };
      if (got.status == 404) return self->send(krm_request("POST", base, dry, &object), finish);
      CallResult existing = result_of(got);
      if (existing.failed) return finish(got);
      const Json& md = existing.value["metadata"];
      object["metadata"]["resourceVersion"] = engine::string_field(md, "resourceVersion");
      object["metadata"]["uid"] = engine::string_field(md, "uid");
      self->send(krm_request("PUT", base + "/" + name, dry, &object), finish);
    });
  }

  std::shared_ptr<Execution> exec_;
  std::string ws_;
  GraphqlGateway::Serve serve_;
  GraphqlGateway::Offload offload_;
  size_t max_bytes_;
  std::function<void(OrderedJson)> done_;
  inline static const std::vector<Call> kNoCalls;
  const std::vector<Call>* calls_ = &kNoCalls;  // the execution's
  std::vector<Finish> finishers_;  // one per call done
  size_t at_ = 0;
  size_t bytes_ = 0;  // of the answers so far
};

std::string sse_frame(const OrderedJson& payload) {
  return "event: next\ndata: " + payload.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n";
}

// A watch's stream turned into a subscription's events: each watch event a
// result of the operation, framed as a server-sent event.
class SubscriptionStream : public Stream {
 public:
  SubscriptionStream(std::shared_ptr<Stream> out, std::shared_ptr<Execution> exec, Call call)
      : out_(std::move(out)), exec_(std::move(exec)), call_(std::move(call)),
        all_(engine::true_field(call_.args, "subscribeToAll")) {}

  void send(std::string chunk) override {
    buffer_ += chunk;
    for (size_t nl; (nl = buffer_.find('\n')) != std::string::npos;) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      if (line.empty()) continue;
      try {
        event(line);
      } catch (const std::exception& e) {
        return fail(std::string("internal error: ") + e.what());
      }
    }
  }
  void close() override {
    if (out_->closed()) return;
    out_->send("event: complete\n\n");
    out_->close();
  }
  bool closed() const override { return out_->closed(); }

  // The error of a watch that did not start, as the subscription's one result.
  void fail(const std::string& message) {
    exec_->set_result(call_.path, {nullptr, message, true});
    out_->send(sse_frame(exec_->respond()));
    close();
  }

 private:
  void event(const std::string& line) {
    auto e = parse_json(line);
    if (!e || !e->is_object()) return;
    std::string type = e->value("type", "");
    const Json& object = e->value("object", Json::object());
    if (type == "BOOKMARK") return;
    if (type == "ERROR") return fail(engine::string_field(object, "message"));
    const Json meta = object.is_object() && object.contains("metadata") ? object["metadata"] : Json::object();
    std::string key = engine::string_field(meta, "namespace") + "/" + engine::string_field(meta, "name");
    if (type == "MODIFIED" && !all_) {
      auto old = previous_.find(key);
      bool changed = old == previous_.end();
      for (size_t i = 0; !changed && i < call_.watched.size(); ++i) {
        const Json* a = engine::find_at(old->second, call_.watched[i]);
        const Json* b = engine::find_at(object, call_.watched[i]);
        changed = (a == nullptr) != (b == nullptr) || (a && *a != *b);
      }
      previous_[key] = object;
      if (!changed) return;
    } else if (type == "DELETED") {
      previous_.erase(key);
    } else {
      previous_[key] = object;
    }
    exec_->set_result(call_.path, {Json{{"type", type}, {"object", object}}, "", false});
    out_->send(sse_frame(exec_->respond()));
  }

  std::shared_ptr<Stream> out_;
  std::shared_ptr<Execution> exec_;
  Call call_;
  bool all_ = false;
  std::string buffer_;
  std::map<std::string, Json> previous_;
};

// The requests of one HTTP request, run one after another.
class Batch : public std::enable_shared_from_this<Batch> {
 public:
  Batch(std::vector<std::shared_ptr<Execution>> runs, std::vector<OrderedJson> answers, std::string ws,
        GraphqlGateway::Serve serve, GraphqlGateway::Offload offload, size_t max_bytes, bool batched, bool gzip,
        Respond respond)
      : runs_(std::move(runs)), answers_(std::move(answers)), ws_(std::move(ws)), serve_(std::move(serve)),
        offload_(std::move(offload)), max_bytes_(max_bytes), batched_(batched), gzip_(gzip), respond_(std::move(respond)) {}

  void step(size_t i) {
    while (i < runs_.size() && !runs_[i]) ++i;
    auto self = shared_from_this();
    if (i == runs_.size()) {
      // The answer's text, megabytes for a large list, made (and compressed)
      // on a worker: not on the engine's thread.
      auto res = std::make_shared<HttpResponse>();
      return offload_([self, res]() {
        try {
          *res = json_answer(self->batched_ ? OrderedJson(self->answers_) : self->answers_[0]);
          gzip_if_large(*res, self->gzip_);
        } catch (const std::exception& e) {
          *res = graphql_error(500, std::string("internal error: ") + e.what());
        }
      }, [self, res]() { self->respond_(std::move(*res)); });
    }
    std::make_shared<Runner>(runs_[i], ws_, serve_, offload_, max_bytes_, [self, i](OrderedJson out) {
      self->answers_[i] = std::move(out);
      self->step(i + 1);
    })->start();
  }

 private:
  std::vector<std::shared_ptr<Execution>> runs_;
  std::vector<OrderedJson> answers_;
  std::string ws_;
  GraphqlGateway::Serve serve_;
  GraphqlGateway::Offload offload_;
  size_t max_bytes_;
  bool batched_;
  bool gzip_;  // the client accepts a gzipped answer
  Respond respond_;
};

}  // namespace

GraphqlGateway::GraphqlGateway(boost::asio::io_context& io, graphql::Limits limits) : io_(io), limits_(limits) {}

GraphqlGateway::~GraphqlGateway() { workers_.join(); }

GraphqlGateway::Offload GraphqlGateway::offload() {
  return [this](std::function<void()> work, std::function<void()> then) {
    workers_.post([this, work = std::move(work), then = std::move(then)]() mutable {
      work();
      boost::asio::post(io_, std::move(then));
    });
  };
}

std::optional<std::string> GraphqlGateway::workspace_of(const std::string& path) {
  // `/api/clusters/<ws>/graphql`, and `/api/clusters/<ws>` as the gateway's
  // newer releases route it. Neither is a path of the KRM API.
  const std::string prefix = "/api/clusters/", suffix = "/graphql";
  if (path.size() <= prefix.size() || path.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  std::string rest = path.substr(prefix.size());
  if (rest.size() > suffix.size() && rest.compare(rest.size() - suffix.size(), suffix.size(), suffix) == 0)
    rest.resize(rest.size() - suffix.size());
  if (rest.empty() || rest.find('/') != std::string::npos) return std::nullopt;
  return rest;
}

std::shared_ptr<const graphql::Schema> GraphqlGateway::schema_for(const std::vector<const dsl::KindDecl*>& kinds) {
  std::string key = graphql::kube_schema_key(kinds);
  auto it = schemas_.find(key);
  if (it != schemas_.end()) return it->second;
  if (schemas_.size() >= kMaxCachedSchemas) schemas_.clear();
  return schemas_[key] = graphql::kube_schema(kinds);
}

std::optional<HttpResponse> GraphqlGateway::handle(const HttpRequest& http, const std::string& workspace,
                                                   const std::vector<const dsl::KindDecl*>& kinds, Serve serve,
                                                   const std::shared_ptr<Stream>& stream) {
  // The requests: one (an object, or the URL's) or a batch (an array).
  std::vector<Params> batch;
  bool batched = false;
  std::string why;
  if (http.method == "GET") {
    Json j = Json::object();
    for (const char* k : {"query", "operationName", "variables"})
      if (http.query.count(k)) j[k] = http.query.at(k);
    auto p = params_of(j, &why);
    if (!p) return graphql_error(400, why);
    batch.push_back(*p);
  } else if (http.method == "POST") {
    if (media_type(http.content_type) == "application/graphql") {
      batch.push_back({http.body, "", nullptr});
    } else {
      auto body = parse_json(http.body, &why);
      if (!body) return graphql_error(400, "Error parsing JSON request body");
      batched = body->is_array();
      for (const auto& one : batched ? *body : Json::array({*body})) {
        auto p = params_of(one, &why);
        if (!p) return graphql_error(400, why);
        batch.push_back(*p);
      }
    }
  } else {
    HttpResponse res = graphql_error(405, "GraphQL only supports GET and POST requests.");
    res.headers.push_back({"Allow", "GET, POST"});
    return res;
  }
  if (limits_.max_batch > 0 && batch.size() > static_cast<size_t>(limits_.max_batch))
    return graphql_error(400, "batch size " + std::to_string(batch.size()) + " exceeds maximum allowed batch size of " +
                                  std::to_string(limits_.max_batch));

  // Parsed, within the limits and valid, before anything runs.
  auto schema = schema_for(kinds);
  std::vector<std::shared_ptr<Execution>> runs;
  std::vector<OrderedJson> early(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    graphql::Error error;
    auto doc = graphql::parse_document(batch[i].query, &error);
    if (!doc) {
      early[i] = {{"errors", OrderedJson::array({graphql::error_json(error)})}};
      runs.push_back(nullptr);
      continue;
    }
    std::string over = graphql::check_limits(*doc, limits_);
    if (!over.empty()) return graphql_error(400, over);
    auto errors = graphql::validate(*schema, *doc);
    if (!errors.empty()) {
      OrderedJson list = OrderedJson::array();
      for (const auto& e : errors) list.push_back(graphql::error_json(e));
      early[i] = {{"errors", list}};
      runs.push_back(nullptr);
      continue;
    }
    auto exec = std::make_shared<Execution>(schema, std::make_shared<const graphql::Document>(std::move(*doc)),
                                            batch[i].operation_name, batch[i].variables);
    if (!exec->ok()) {
      OrderedJson list = OrderedJson::array();
      for (const auto& e : exec->errors()) list.push_back(graphql::error_json(e));
      early[i] = {{"errors", list}};
      runs.push_back(nullptr);
      continue;
    }
    if (size_t n = exec->calls().size(); limits_.max_calls > 0 && n > static_cast<size_t>(limits_.max_calls))
      return graphql_error(400, "the operation calls the Kubernetes API " + std::to_string(n) +
                                    " times; at most " + std::to_string(limits_.max_calls) + " are allowed");
    runs.push_back(exec);
  }

  bool sse = http.accept.find("text/event-stream") != std::string::npos;
  if (sse && stream && !batched) {
    stream->set_content_type("text/event-stream");
    auto exec = runs[0];
    if (!exec) {
      stream->send(sse_frame(early[0]));
      stream->send("event: complete\n\n");
      stream->close();
      return std::nullopt;
    }
    if (exec->type() == graphql::OperationType::kSubscription) {
      const std::vector<Call>& calls = exec->calls();
      if (calls.size() != 1) {  // the field was skipped: nothing to watch
        stream->send(sse_frame(exec->respond()));
        stream->send("event: complete\n\n");
        stream->close();
        return std::nullopt;
      }
      const Call& c = calls[0];
      auto sub = std::make_shared<SubscriptionStream>(stream, exec, c);
      std::string ns = engine::string_field(c.args, "namespace"), name = engine::string_field(c.args, "name");
      for (const std::string* v : {&ns, &name})
        if (!v->empty() && !path_segment_problem(*v).empty()) {
          sub->fail("invalid name \"" + *v + "\": " + path_segment_problem(*v));
          return std::nullopt;
        }
      if (c.op == FieldOp::kSubscribeOne && c.resource->namespaced && ns.empty()) {
        sub->fail("missing required argument: namespace");
        return std::nullopt;
      }
      std::map<std::string, std::string> q = {{"watch", "true"}};
      if (!engine::string_field(c.args, "labelselector").empty()) q["labelSelector"] = engine::string_field(c.args, "labelselector");
      if (!engine::string_field(c.args, "resourceVersion").empty()) q["resourceVersion"] = engine::string_field(c.args, "resourceVersion");
      if (c.op == FieldOp::kSubscribeOne) q["fieldSelector"] = "metadata.name=" + name;
      auto res = serve(krm_request("GET", collection_path(workspace, *c.resource, c.resource->namespaced ? ns : ""), q), sub);
      if (res) deliver(std::move(res), [sub](const HttpResponse& r) { sub->fail(result_of(r).error); });
      return std::nullopt;
    }
    // A query or mutation over SSE: its one result, then the end.
    auto runner = std::make_shared<Runner>(exec, workspace, serve, offload(), limits_.max_result_bytes, [stream](OrderedJson out) {
      stream->send(sse_frame(out));
      stream->send("event: complete\n\n");
      stream->close();
    });
    runner->start();
    return std::nullopt;
  }

  // Queries and mutations: each request in turn, then one answer.
  for (const auto& exec : runs) {
    if (!exec) continue;
    if (exec->type() == graphql::OperationType::kSubscription)
      return graphql_error(400, "subscriptions are served as server-sent events (Accept: text/event-stream)");
    // What a link could make a browser do: nothing but read.
    if (exec->type() == graphql::OperationType::kMutation && http.method == "GET") {
      HttpResponse res = graphql_error(405, "Can only perform a mutation operation from a POST request.");
      res.headers.push_back({"Allow", "POST"});
      return res;
    }
  }
  HttpResponse later;
  later.later = [runs, early, workspace, serve, offload = offload(), max = limits_.max_result_bytes, batched,
                 gzip = http.accepts_gzip](Respond respond) {
    std::make_shared<Batch>(runs, early, workspace, serve, offload, max, batched, gzip, std::move(respond))->step(0);
  };
  return later;
}

}  // namespace pmesh::server
