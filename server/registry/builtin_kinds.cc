#include "server/registry/builtin_kinds.h"

#include <cstring>

#include "engine/json_path.h"
#include "server/registry/object_meta.h"
#include "server/registry/rbac_kinds.h"
#include "stdlib/kube_validation.h"
#include "stdlib/text.h"

namespace pmesh::server {

namespace {

constexpr size_t kMaxSecretSize = 1024 * 1024;  // kube's MaxSecretSize, for ConfigMaps too


// The decoded size of a base64 value, or nullopt when it is not base64.
std::optional<size_t> base64_size(const std::string& s) {
  auto bytes = base64_decode(s);
  return bytes ? std::optional<size_t>(bytes->size()) : std::nullopt;
}

// Go decodes []byte from base64; what is not base64 is a 400.
std::optional<ApiError> want_bytes_map(const Json& o, const char* key, const std::string& type) {
  if (auto e = want_string_map(o, key, type + "." + key, "[]uint8")) return e;
  if (!o.contains(key) || !o[key].is_object()) return std::nullopt;
  for (const auto& [k, v] : o[key].items())
    if (v.is_string() && !base64_size(v.get<std::string>()))
      return ApiError::bad_request("illegal base64 data at input byte 0 in " + type + "." + key + "[" + k + "]");
  return std::nullopt;
}

std::optional<ApiError> want_bool(const Json& o, const char* key, const std::string& type) {
  if (!o.contains(key) || o[key].is_null() || o[key].is_boolean()) return std::nullopt;
  return ApiError::type_mismatch(o[key], type + "." + key, "bool");
}

bool immutable(const Json& o) { return engine::true_field(o, "immutable"); }

Json field_or_null(const Json& o, const char* key) { return o.is_object() && o.contains(key) ? o[key] : Json(); }

void validate_keys(const Json& o, const char* section, FieldErrors& errs, size_t* total, bool bytes) {
  if (!o.contains(section) || !o[section].is_object()) return;
  for (const auto& [k, v] : o[section].items()) {
    for (const auto& p : config_key_problems(k)) errs.push_back(FieldError::invalid(std::string(section) + "[" + k + "]", k, p));
    if (v.is_string()) *total += bytes ? base64_size(v.get<std::string>()).value_or(0) : v.get_ref<const std::string&>().size();
  }
}

void immutable_fields(const Json& object, const Json& old, const std::vector<const char*>& sections, FieldErrors& errs) {
  if (!immutable(old)) return;
  if (!immutable(object)) errs.push_back(FieldError::forbidden("immutable", "field is immutable when `immutable` is set"));
  for (const char* s : sections)
    if (field_or_null(object, s) != field_or_null(old, s))
      errs.push_back(FieldError::forbidden(s, "field is immutable when `immutable` is set"));
}

// kube's SetDefaults_Secret: no type, or "" (as kubectl 1.32+ sends), is Opaque.
std::string secret_type(const Json& secret) {
  std::string t = engine::string_field(secret, "type");
  return t.empty() ? "Opaque" : t;
}

}  // namespace

bool builtin_kind(const dsl::KindDecl& kind) { return (kind.group.empty() && !kind.runtime) || rbac_kind(kind); }

std::vector<std::string> config_key_problems(const std::string& key) {
  std::vector<std::string> out;
  if (key.size() > 253) out.push_back("must be no more than 253 characters");
  bool ok = !key.empty();
  for (char c : key) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_');
  if (!ok)
    out.push_back("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
                  "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')");
  if (key == ".") out.push_back("must not be '.'");
  else if (key == "..") out.push_back("must not be '..'");
  else if (key.rfind("..", 0) == 0) out.push_back("must not start with '..'");
  return out;
}

std::optional<ApiError> decode_builtin(const dsl::KindDecl& kind, Json& o, std::vector<std::string>* dropped) {
  if (!builtin_kind(kind) || !o.is_object()) return std::nullopt;
  const std::string& k = kind.name;
  if (rbac_kind(kind)) {
    if (auto e = decode_rbac(kind, o)) return e;
  } else if (k == "ConfigMap") {
    if (auto e = want_string_map(o, "data", "ConfigMap.data")) return e;
    if (auto e = want_bytes_map(o, "binaryData", "ConfigMap")) return e;
    if (auto e = want_bool(o, "immutable", "ConfigMap")) return e;
  } else if (k == "Secret") {
    if (auto e = want_bytes_map(o, "data", "Secret")) return e;
    if (auto e = want_string_map(o, "stringData", "Secret.stringData")) return e;
    if (auto e = want_bool(o, "immutable", "Secret")) return e;
    if (o.contains("type") && !o["type"].is_null() && !o["type"].is_string()) return ApiError::type_mismatch(o["type"], "Secret.type", "v1.SecretType");
    // stringData is write-only: it lands in data.
    if (o.contains("stringData") && o["stringData"].is_object()) {
      for (const auto& [key, v] : o["stringData"].items())
        if (v.is_string()) o["data"][key] = base64_encode(v.get<std::string>());
    }
    o.erase("stringData");
  } else if (k == "Namespace") {
    if (o.contains("spec") && !o["spec"].is_null()) {
      if (!o["spec"].is_object()) return ApiError::type_mismatch(o["spec"], "Namespace.spec", "v1.NamespaceSpec");
      Json f = o["spec"].contains("finalizers") ? o["spec"]["finalizers"] : Json();
      if (!f.is_null() && !f.is_array()) return ApiError::type_mismatch(f, "Namespace.spec.finalizers", "[]v1.FinalizerName");
      if (f.is_array())
        for (const auto& x : f)
          if (!x.is_string()) return ApiError::type_mismatch(x, "Namespace.spec.finalizers", "v1.FinalizerName");
    }
    if (o.contains("status") && !o["status"].is_null() && !o["status"].is_object())
      return ApiError::type_mismatch(o["status"], "Namespace.status", "v1.NamespaceStatus");
  }
  // What the type has no field for is dropped, as Go's decoder drops it.
  std::vector<std::string> unknown;
  for (const auto& [key, v] : o.items()) {
    (void)v;
    if (key != "apiVersion" && key != "kind" && key != "metadata" && !kind.has_section(key)) unknown.push_back(key);
  }
  for (const auto& key : unknown) {
    o.erase(key);
    if (dropped) dropped->push_back(key);
  }
  return std::nullopt;
}

void default_every_write(const dsl::KindDecl& kind, Json& o) {
  if (!builtin_kind(kind) || !o.is_object()) return;
  default_rbac(kind, o);
  // kube's namespace strategy keeps this label set to the name, on every write.
  if (kind.name == "Namespace") o["metadata"]["labels"]["kubernetes.io/metadata.name"] = engine::string_field(o["metadata"], "name");
  if (kind.name == "Secret") o["type"] = secret_type(o);
}

void default_builtin(const dsl::KindDecl& kind, Json& o) {
  default_every_write(kind, o);
  if (!builtin_kind(kind) || kind.name != "Namespace") return;
  // kube's namespace strategy: Active, the `kubernetes` finalizer, and the
  // name label (NamespaceDefaultLabelName).
  if (!o.contains("spec") || !o["spec"].is_object()) o["spec"] = Json::object();
  if (!o["spec"].contains("finalizers")) o["spec"]["finalizers"] = Json::array({"kubernetes"});
  o["status"] = {{"phase", "Active"}};
  o["metadata"]["labels"]["kubernetes.io/metadata.name"] = engine::string_field(o["metadata"], "name");
}

namespace {

// Go's encoding/json error for text that is not JSON, where its wording is
// simple to match: a first character that cannot begin a value. Past that,
// Go names the exact state it was in; this says so in its own words.
std::string json_syntax_problem(const std::string& text) {
  size_t i = text.find_first_not_of(" \t\r\n");
  if (i == std::string::npos) return "unexpected end of JSON input";
  unsigned char c = static_cast<unsigned char>(text[i]);
  if (!std::strchr("{[\"-0123456789tfn", c) && c >= 0x20 && c < 0x7f && c != '\'')
    return std::string("invalid character '") + static_cast<char>(c) + "' looking for beginning of value";
  return "the docker config is not valid JSON";
}

// kube's ValidateSecret: what each well-known type requires of the data
// (values are base64 here, as stored).
void validate_secret_type(const Json& o, FieldErrors& errs) {
  static const Json kNoData = Json::object();
  const Json& data = o.contains("data") && o["data"].is_object() ? o["data"] : kNoData;
  auto has = [&](const char* key) { return data.contains(key); };
  auto key = [](const char* k) { return std::string("data[") + k + "]"; };
  // A docker config must be a JSON object (Go unmarshals it into a map).
  auto json_object = [&](const char* k) {
    if (!has(k)) {
      errs.push_back(FieldError::required(key(k)));
      return;
    }
    const Json& v = data[k];
    auto bytes = v.is_string() ? base64_decode(v.get<std::string>()) : std::nullopt;
    if (!bytes) return;  // decode_builtin refused it already
    Json parsed = Json::parse(*bytes, nullptr, false);
    std::string problem;
    if (parsed.is_discarded()) problem = json_syntax_problem(*bytes);
    else if (!parsed.is_object() && !parsed.is_null())
      problem = std::string("json: cannot unmarshal ") + go_json_type(parsed) + " into Go value of type map[string]interface {}";
    if (!problem.empty()) errs.push_back(FieldError::invalid(key(k), "<secret contents redacted>", problem));
  };
  const std::string type = engine::string_field(o, "type");
  if (type == "kubernetes.io/service-account-token") {
    const Json& md = o.contains("metadata") ? o["metadata"] : kNoData;
    if (engine::string_field(md.contains("annotations") ? md["annotations"] : kNoData, "kubernetes.io/service-account.name").empty())
      errs.push_back(FieldError::required("metadata.annotations[kubernetes.io/service-account.name]"));
  } else if (type == "kubernetes.io/dockercfg") {
    json_object(".dockercfg");
  } else if (type == "kubernetes.io/dockerconfigjson") {
    json_object(".dockerconfigjson");
  } else if (type == "kubernetes.io/basic-auth") {
    // Either may be empty, but one must be there.
    if (!has("username") && !has("password")) {
      errs.push_back(FieldError::required(key("username")));
      errs.push_back(FieldError::required(key("password")));
    }
  } else if (type == "kubernetes.io/ssh-auth") {
    if (!has("ssh-privatekey") || engine::string_field(data, "ssh-privatekey").empty())
      errs.push_back(FieldError::required(key("ssh-privatekey")));
  } else if (type == "kubernetes.io/tls") {
    for (const char* k : {"tls.crt", "tls.key"})
      if (!has(k)) errs.push_back(FieldError::required(key(k)));
  }
}

}  // namespace

FieldErrors validate_builtin(const dsl::KindDecl& kind, const Json& o, const Json& old) {
  FieldErrors errs;
  if (!builtin_kind(kind)) return errs;
  if (rbac_kind(kind)) return validate_rbac(kind, o, old);
  const std::string& k = kind.name;
  if (k == "ConfigMap") {
    size_t total = 0;
    validate_keys(o, "data", errs, &total, false);
    validate_keys(o, "binaryData", errs, &total, true);
    if (o.contains("data") && o["data"].is_object() && o.contains("binaryData") && o["binaryData"].is_object())
      for (const auto& [key, v] : o["data"].items())
        if (o["binaryData"].contains(key))
          errs.push_back(FieldError::invalid("data[" + key + "]", key, "duplicate of key present in binaryData"));
    if (total > kMaxSecretSize) errs.push_back(FieldError::too_long("", kMaxSecretSize));
    if (!old.is_null()) immutable_fields(o, old, {"data", "binaryData"}, errs);
  } else if (k == "Secret") {
    // ValidateSecretUpdate: what may not change first, then ValidateSecret.
    if (!old.is_null()) {
      // (A Secret stored before types were defaulted has none: it was Opaque.)
      std::string type = secret_type(o);
      if (secret_type(old) != type) errs.push_back(FieldError::invalid("type", type, "field is immutable"));
      immutable_fields(o, old, {"data"}, errs);
    }
    size_t total = 0;
    validate_keys(o, "data", errs, &total, true);
    if (total > kMaxSecretSize) errs.push_back(FieldError::too_long("data", kMaxSecretSize));
    validate_secret_type(o, errs);
  } else if (k == "Namespace") {
    if (o.contains("spec") && o["spec"].is_object() && o["spec"].contains("finalizers") && o["spec"]["finalizers"].is_array())
      for (const auto& f : o["spec"]["finalizers"]) {
        if (!f.is_string()) continue;  // decode_builtin refused it already
        std::string name = f.get<std::string>();
        for (const auto& p : qualified_name_problems(name)) errs.push_back(FieldError::invalid("spec.finalizers", name, p));
        if (name.find('/') == std::string::npos && name != "kubernetes")
          errs.push_back(FieldError::invalid("spec.finalizers", name, "name is neither a standard finalizer name nor is it fully qualified"));
      }
  }
  return errs;
}

}  // namespace pmesh::server
