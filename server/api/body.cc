#include "server/api/body.h"

#include <algorithm>
#include <cctype>

#include "engine/documents.h"
#include "engine/failpoint.h"
#include "server/api/protobuf_body.h"
#include "stdlib/text.h"

namespace pmesh::server {

namespace {

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

}  // namespace

std::string media_type(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  t.erase(std::remove_if(t.begin(), t.end(), [](unsigned char c) { return std::isspace(c); }), t.end());
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  return t;
}

BodyFormat body_format(const std::string& content_type) {
  std::string t = media_type(content_type);
  if (t.empty() || t == "application/json") return BodyFormat::kJson;
  if (t == "application/yaml" || t == "text/yaml" || t == "application/x-yaml") return BodyFormat::kYaml;
  if (t == "application/vnd.kubernetes.protobuf") return BodyFormat::kProtobuf;
  return BodyFormat::kUnsupported;
}

std::optional<Json> parse_json(std::string_view text, std::string* error) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    if (error) *error = e.what();
    return std::nullopt;
  }
}

void coerce_strings(Json& v) {
  if (v.is_string()) {
    auto& s = v.get_ref<std::string&>();
    if (!valid_utf8(s)) s = coerce_utf8(s);
  } else if (v.is_array()) {
    for (auto& e : v) coerce_strings(e);
  } else if (v.is_object()) {
    bool bad_key = false;
    for (auto& [k, e] : v.items()) {
      coerce_strings(e);
      bad_key |= !valid_utf8(k);
    }
    if (bad_key) {
      Json fixed = Json::object();
      for (auto& [k, e] : v.items()) fixed[coerce_utf8(k)] = std::move(e);
      v = std::move(fixed);
    }
  }
}

std::optional<Json> decode_body(const std::string& body, BodyFormat format, ApiError* error) {
  if (failpoint::hit("decode")) {
    *error = ApiError::internal("failpoint: decode");
    return std::nullopt;
  }
  if (format == BodyFormat::kProtobuf) {
    std::string err;
    auto o = decode_protobuf_object(body, &err);
    if (!o) {
      *error = ApiError::bad_request(err);
      return std::nullopt;
    }
    coerce_strings(*o);
    return o;
  }
  if (format == BodyFormat::kYaml) {
    std::vector<engine::Document> docs;
    std::string err;
    if (!engine::parse_documents(body, "body", &docs, &err)) {
      // "body:1:2: message" -> "yaml: line 1: message", as go-yaml words it.
      std::string msg = err.substr(err.find(": ") == std::string::npos ? 0 : err.find(": ") + 2);
      *error = ApiError::bad_request("error converting YAML to JSON: yaml: " + msg);
      return std::nullopt;
    }
    if (docs.size() != 1) {
      *error = ApiError::bad_request(docs.empty() ? "the body holds no object" : "the body must hold exactly one object");
      return std::nullopt;
    }
    return std::move(docs[0].object);
  }
  if (nesting(body) > kMaxBodyDepth) {
    *error = ApiError::bad_request("the object is nested deeper than " + std::to_string(kMaxBodyDepth) + " levels");
    return std::nullopt;
  }
  std::string why;
  auto j = parse_json(valid_utf8(body) ? body : coerce_utf8(body), &why);
  if (!j) {
    *error = ApiError::bad_request("couldn't parse the body as JSON: " + why);
    return std::nullopt;
  }
  return j;
}

}  // namespace pmesh::server
