#include "server/api/request.h"

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "server/registry/builtin_kinds.h"

namespace pmesh::server {

namespace {

const char* kMeta = "meta.k8s.io";

std::string strconv_error(const char* fn, const std::string& s) {
  return std::string("strconv.") + fn + ": parsing \"" + s + "\": invalid syntax";
}

std::string query(const HttpRequest& http, const char* key) {
  auto it = http.query.find(key);
  return it == http.query.end() ? std::string() : it->second;
}

bool has(const HttpRequest& http, const char* key) { return http.query.count(key) > 0; }

// kube's ValidateDryRun: every value must be "All".
std::optional<FieldError> dry_run_error(const std::vector<std::string>& values) {
  for (const auto& v : values)
    if (v != "All") return FieldError::not_supported("dryRun", Json(values), {"All"});
  return std::nullopt;
}

// A read's resourceVersion, which the cacher parses as a number (ParseUint).
std::optional<ApiError> decode_resource_version(const HttpRequest& http, std::string* rv) {
  *rv = query(http, "resourceVersion");
  if (!rv->empty() && !parse_resource_version(*rv))
    return ApiError::bad_request("resourceVersion: Invalid value: \"" + *rv + "\": " + strconv_error("ParseUint", *rv));
  return std::nullopt;
}

std::optional<ApiError> decode_list_options(const HttpRequest& http, bool watch, const dsl::KindDecl& kind,
                                            ListOptions* o) {
  std::string err;
  auto labels = Selector::parse_labels(query(http, "labelSelector"), &err);
  if (!labels) return ApiError::bad_request(err);
  o->labels = *labels;
  // A custom resource's version selects its own fields (each CRD version
  // has its selectableFields); a built-in kind's are its storage kind's,
  // whichever version is served.
  const auto& field_labels = kind.runtime ? kind.field_labels : kind.stored().field_labels;
  auto fields = Selector::parse_fields(query(http, "fieldSelector"), field_labels, &err);
  if (!fields) return ApiError::bad_request(err);
  o->fields = *fields;
  if (auto e = decode_resource_version(http, &o->resource_version)) return e;
  o->resource_version_match = query(http, "resourceVersionMatch");
  if (has(http, "limit")) {
    auto n = parse_int(query(http, "limit"));
    if (!n) return ApiError::bad_request(strconv_error("ParseInt", query(http, "limit")));
    o->limit = std::max<int64_t>(0, *n);
  }
  o->continue_token = query(http, "continue");
  if (has(http, "timeoutSeconds")) {
    auto n = parse_int(query(http, "timeoutSeconds"));
    if (!n) return ApiError::bad_request(strconv_error("ParseInt", query(http, "timeoutSeconds")));
    o->timeout_seconds = std::max<int64_t>(0, *n);
  }
  std::optional<bool> bookmarks;
  for (auto [key, out] : {std::pair{"allowWatchBookmarks", &bookmarks}, std::pair{"sendInitialEvents", &o->send_initial_events}}) {
    if (!has(http, key)) continue;
    auto b = parse_bool(query(http, key));
    if (!b) return ApiError::bad_request(strconv_error("ParseBool", query(http, key)));
    *out = *b;
  }
  o->allow_bookmarks = bookmarks.value_or(false);
  // kube's ValidateListOptions, whose watch and list rules differ: a watch
  // takes resourceVersionMatch only with sendInitialEvents (client-go's
  // WatchList sends it with no resourceVersion), a list only with a version.
  FieldErrors errs;
  const std::string& match = o->resource_version_match;
  const bool initial_events = o->send_initial_events.has_value();
  if (watch) {
    if (initial_events && match != "NotOlderThan")
      errs.push_back(FieldError::forbidden("resourceVersionMatch", "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"));
    if (!match.empty()) {
      if (!initial_events)
        errs.push_back(FieldError::forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"));
      if (match != "NotOlderThan") errs.push_back(FieldError::not_supported("resourceVersionMatch", match, {"NotOlderThan"}));
      if (!o->continue_token.empty())
        errs.push_back(FieldError::forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"));
    }
  } else {
    if (!match.empty()) {
      if (o->resource_version.empty())
        errs.push_back(FieldError::forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided"));
      if (!o->continue_token.empty())
        errs.push_back(FieldError::forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"));
      if (match != "NotOlderThan" && match != "Exact")
        errs.push_back(FieldError::not_supported("resourceVersionMatch", match, {"Exact", "NotOlderThan", ""}));
      if (match == "Exact" && o->resource_version == "0")
        errs.push_back(FieldError::forbidden("resourceVersionMatch", "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""));
    }
    if (initial_events) errs.push_back(FieldError::forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"));
  }
  if (!errs.empty()) return ApiError::invalid(kMeta, "ListOptions", "", errs);
  return std::nullopt;
}

std::optional<ApiError> decode_write_options(const HttpRequest& http, const std::string& kind, bool apply, WriteOptions* o) {
  FieldErrors errs;
  if (has(http, "dryRun")) {
    if (auto e = dry_run_error({query(http, "dryRun")})) return ApiError::invalid(kMeta, kind, "", {*e});
    o->dry_run = true;
  }
  o->field_manager = query(http, "fieldManager");
  o->field_validation = query(http, "fieldValidation");
  if (o->field_manager.size() > 128) errs.push_back(FieldError::too_long("fieldManager", 128));
  for (unsigned char c : o->field_manager)
    if (c < 0x20 || c == 0x7f) {
      errs.push_back(FieldError::invalid("fieldManager", o->field_manager, "invalid characters"));
      break;
    }
  const std::string& v = o->field_validation;
  if (!v.empty() && v != "Ignore" && v != "Warn" && v != "Strict")
    errs.push_back(FieldError::not_supported("fieldValidation", v, {"Ignore", "Strict", "Warn"}));
  if (has(http, "force")) {
    auto b = parse_bool(query(http, "force"));
    if (!b) return ApiError::bad_request(strconv_error("ParseBool", query(http, "force")));
    o->force = *b;
    if (!apply) errs.push_back(FieldError::forbidden("force", "may not be specified for non-apply patch"));
  }
  if (apply && o->field_manager.empty()) errs.push_back(FieldError::required("fieldManager", "is required for apply patch"));
  if (!errs.empty()) return ApiError::invalid(kMeta, kind, "", errs);
  return std::nullopt;
}

std::optional<ApiError> decode_delete_options(const HttpRequest& http, DeleteOptions* o) {
  std::vector<std::string> dry;
  if (has(http, "dryRun")) dry.push_back(query(http, "dryRun"));
  std::optional<bool> orphan;
  if (has(http, "gracePeriodSeconds")) {
    auto n = parse_int(query(http, "gracePeriodSeconds"));
    if (!n) return ApiError::bad_request(strconv_error("ParseInt", query(http, "gracePeriodSeconds")));
    o->grace_period_seconds = *n;
  }
  o->propagation_policy = query(http, "propagationPolicy");
  bool has_policy = has(http, "propagationPolicy");
  if (has(http, "orphanDependents")) {
    auto b = parse_bool(query(http, "orphanDependents"));
    if (!b) return ApiError::bad_request(strconv_error("ParseBool", query(http, "orphanDependents")));
    orphan = *b;
  }
  std::string body = http.body;
  if (body.find_first_not_of(" \t\r\n") != std::string::npos) {
    BodyFormat f = body_format(http.content_type);
    if (f == BodyFormat::kUnsupported || f == BodyFormat::kProtobuf) f = BodyFormat::kJson;
    ApiError error;
    auto j = decode_body(body, f, &error);
    if (!j) return error;
    if (!j->is_object()) return ApiError::type_mismatch(*j, "DeleteOptions", "v1.DeleteOptions");
    for (const auto& [k, v] : j->items()) {
      if (v.is_null()) continue;
      if (k == "dryRun") {
        if (!v.is_array()) return ApiError::type_mismatch(v, "DeleteOptions.dryRun", "[]string");
        dry.clear();
        for (const auto& x : v) {
          if (!x.is_string()) return ApiError::type_mismatch(x, "DeleteOptions.dryRun", "string");
          dry.push_back(x.get<std::string>());
        }
      } else if (k == "propagationPolicy") {
        if (!v.is_string()) return ApiError::type_mismatch(v, "DeleteOptions.propagationPolicy", "v1.DeletionPropagation");
        o->propagation_policy = v.get<std::string>();
        has_policy = true;
      } else if (k == "gracePeriodSeconds") {
        if (!v.is_number_integer()) return ApiError::type_mismatch(v, "DeleteOptions.gracePeriodSeconds", "int64");
        o->grace_period_seconds = v.get<int64_t>();
      } else if (k == "orphanDependents") {
        if (!v.is_boolean()) return ApiError::type_mismatch(v, "DeleteOptions.orphanDependents", "bool");
        orphan = v.get<bool>();
      } else if (k == "preconditions") {
        if (!v.is_object()) return ApiError::type_mismatch(v, "DeleteOptions.preconditions", "v1.Preconditions");
        for (const auto& [pk, pv] : v.items()) {
          if (pv.is_null() || (pk != "uid" && pk != "resourceVersion")) continue;
          if (!pv.is_string()) return ApiError::type_mismatch(pv, "DeleteOptions.preconditions." + pk, "string");
          (pk == "uid" ? o->precondition_uid : o->precondition_resource_version) = pv.get<std::string>();
        }
      } else if ((k == "kind" || k == "apiVersion") && !v.is_string()) {
        return ApiError::type_mismatch(v, "DeleteOptions." + k, "string");
      }
    }
  }
  // kube's ValidateDeleteOptions.
  FieldErrors errs;
  if (orphan && has_policy)
    errs.push_back(FieldError::invalid("propagationPolicy", o->propagation_policy, "orphanDependents and deletionPropagation cannot be both set"));
  const std::string& p = o->propagation_policy;
  if (has_policy && p != "Foreground" && p != "Background" && p != "Orphan")
    errs.push_back(FieldError::not_supported("propagationPolicy", p, {"Foreground", "Background", "Orphan", "nil"}));
  if (auto e = dry_run_error(dry)) errs.push_back(*e);
  if (!errs.empty()) return ApiError::invalid(kMeta, "DeleteOptions", "", errs);
  o->dry_run = !dry.empty();
  return std::nullopt;
}

std::vector<std::string> body_types(const dsl::KindDecl& k) {
  if (builtin_kind(k)) return {"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"};
  return {"application/json", "application/yaml"};
}

}  // namespace

const char* verb_name(Verb v) {
  switch (v) {
    case Verb::kGet: return "get";
    case Verb::kList: return "list";
    case Verb::kWatch: return "watch";
    case Verb::kCreate: return "create";
    case Verb::kUpdate: return "update";
    case Verb::kPatch: return "patch";
    case Verb::kDelete: return "delete";
    case Verb::kDeleteCollection: return "deletecollection";
    case Verb::kOther: return "";
  }
  return "";
}

std::optional<bool> parse_bool(const std::string& s) {
  if (s == "1" || s == "t" || s == "T" || s == "true" || s == "TRUE" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "false" || s == "FALSE" || s == "False") return false;
  return std::nullopt;
}

void ApiRequest::set_visible_by_key(VisibleByKey by_key) {
  visible_by_key = std::move(by_key);
  visible = [by_key = visible_by_key](const Json& object) {
    const Json& md = object["metadata"];
    return by_key(engine::string_field(md, "cluster"), engine::string_field(md, "namespace"), engine::string_field(md, "name"));
  };
}

std::optional<int64_t> parse_int(const std::string& s) {
  if (s.empty() || s.find_first_of(" \t\n") != std::string::npos) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || !end || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(v);
}

std::optional<int64_t> parse_resource_version(const std::string& s) {
  if (s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return parse_int(s);
}

std::optional<Verb> verb_of(const HttpRequest& http, const RequestInfo& info, ApiError* error) {
  bool collection = info.name.empty();
  const std::string& m = http.method;
  if (m == "GET" || m == "HEAD") {
    bool watch = false;
    if (has(http, "watch")) {
      auto b = parse_bool(query(http, "watch"));
      if (!b) {
        *error = ApiError::bad_request(strconv_error("ParseBool", query(http, "watch")));
        return std::nullopt;
      }
      watch = *b;
    }
    return watch ? Verb::kWatch : collection ? Verb::kList : Verb::kGet;
  }
  // A POST to an object's subresource creates in it (serviceaccounts/token).
  if (m == "POST") return collection || !info.subresource.empty() ? Verb::kCreate : Verb::kOther;
  if (m == "PUT") return collection ? Verb::kOther : Verb::kUpdate;
  if (m == "PATCH") return collection ? Verb::kOther : Verb::kPatch;
  if (m == "DELETE") return collection ? Verb::kDeleteCollection : Verb::kDelete;
  return Verb::kOther;
}

namespace {

// TableOptions, for a request whose Accept header asks for a Table.
std::optional<ApiError> decode_table_options(const HttpRequest& http, std::optional<TableOptions>* out) {
  std::optional<ApiError> error;
  auto version = table_version(http.accept, &error);
  if (error) return error;
  if (!version) return std::nullopt;
  TableOptions t;
  t.version = *version;
  std::string include = query(http, "includeObject");
  if (!include.empty() && include != "None" && include != "Metadata" && include != "Object")
    return ApiError::bad_request("unrecognized includeObject value: \"" + include + "\"");
  if (!include.empty()) t.include_object = include;
  *out = t;
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> decode_object_request(const HttpRequest& http, ApiRequest* out) {
  const dsl::KindDecl& kind = *out->kind;
  switch (out->verb) {
    case Verb::kList:
    case Verb::kWatch:
      out->accepts_gzip = http.accepts_gzip;  // used by lists: watch streams go uncompressed, as kube's
      if (auto e = decode_table_options(http, &out->table)) return e;
      return decode_list_options(http, out->verb == Verb::kWatch, kind, &out->list);
    case Verb::kGet:
      // GetOptions: a version the object must not be older than.
      if (auto e = decode_resource_version(http, &out->list.resource_version)) return e;
      return decode_table_options(http, &out->table);
    case Verb::kDelete:
      return decode_delete_options(http, &out->del);
    case Verb::kCreate:
    case Verb::kUpdate: {
      out->format = body_format(http.content_type);
      if (out->format == BodyFormat::kUnsupported || (out->format == BodyFormat::kProtobuf && !builtin_kind(kind)))
        return ApiError::unsupported_media_type(media_type(http.content_type), body_types(kind));
      if (auto e = decode_write_options(http, out->verb == Verb::kCreate ? "CreateOptions" : "UpdateOptions", false, &out->write))
        return e;
      ApiError error;
      out->body = decode_body(http.body, out->format, &error);
      if (!out->body) return error;
      return std::nullopt;
    }
    case Verb::kPatch: {
      std::string t = media_type(http.content_type);
      if (t == "application/json-patch+json") out->patch_type = PatchType::kJson;
      else if (t == "application/merge-patch+json") out->patch_type = PatchType::kMerge;
      else if (t == "application/apply-patch+yaml") out->patch_type = PatchType::kApply;
      else if (t == "application/strategic-merge-patch+json" && builtin_kind(kind)) out->patch_type = PatchType::kStrategicMerge;
      else {
        std::vector<std::string> accepted = {"application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"};
        if (builtin_kind(kind)) accepted.insert(accepted.begin() + 2, "application/strategic-merge-patch+json");
        return ApiError::unsupported_media_type(t, accepted);
      }
      if (auto e = decode_write_options(http, "PatchOptions", out->patch_type == PatchType::kApply, &out->write)) return e;
      ApiError error;
      out->body = decode_body(http.body, out->patch_type == PatchType::kApply ? BodyFormat::kYaml : BodyFormat::kJson, &error);
      if (!out->body) return error;
      return std::nullopt;
    }
    case Verb::kDeleteCollection:
      // Each delete's options, and which objects as a list takes them.
      if (auto e = decode_delete_options(http, &out->del)) return e;
      return decode_list_options(http, false, kind, &out->list);
    case Verb::kOther:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace pmesh::server
