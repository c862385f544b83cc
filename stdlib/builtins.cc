#include "stdlib/builtins.h"

#include "stdlib/digest.h"
#include "stdlib/go_regexp.h"
#include "stdlib/go_template.h"
#include "stdlib/kube_validation.h"
#include "stdlib/syncagent.h"
#include "stdlib/text.h"

#include <openssl/evp.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>

namespace pmesh {
namespace {

using Args = BuiltinArgs;

const std::string& str(const Args& a, size_t i, const char* fn) { return builtin_string(a, i, fn); }

const Json& list(const Args& a, size_t i, const char* fn) {
  if (!a[i].is_array())
    throw BuiltinError(std::string(fn) + ": argument " + std::to_string(i + 1) + " must be a list, not " +
                       a[i].type_name());
  return a[i];
}

const Json& object(const Args& a, size_t i, const char* fn) {
  if (!a[i].is_object())
    throw BuiltinError(std::string(fn) + ": argument " + std::to_string(i + 1) + " must be an object, not " +
                       a[i].type_name());
  return a[i];
}

int64_t integer(const Args& a, size_t i, const char* fn) {
  if (!a[i].is_number_integer())
    throw BuiltinError(std::string(fn) + ": argument " + std::to_string(i + 1) + " must be an integer");
  return a[i].get<int64_t>();
}

std::string shorten(std::string h, const Args& a, const char* fn) {
  int64_t n = a.size() > 1 ? integer(a, 1, fn) : 20;
  if (n < 1) throw BuiltinError(std::string(fn) + ": length must be positive");
  if (static_cast<size_t>(n) < h.size()) h.resize(static_cast<size_t>(n));
  return h;
}

// Divides the big-endian number `num` by `base` in place; returns the remainder.
unsigned divide(std::vector<unsigned char>& num, unsigned base) {
  unsigned rem = 0;
  for (auto& b : num) {
    unsigned cur = rem * 256 + b;
    b = static_cast<unsigned char>(cur / base);
    rem = cur % base;
  }
  return rem;
}

// kcp-style identifiers: lower-case base36 of a SHA-256, `n` characters.
std::string base36_hash(const std::string& s, size_t n) {
  std::string digest = sha256(s);
  static const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::vector<unsigned char> num(digest.begin(), digest.end());
  std::string r;
  while (r.size() < n) r += digits[divide(num, 36)];
  return r;
}

// SHA-224 of `s` as Go's big.Int.Text(62) writes the digest read as a
// big-endian number: most significant digit first, 0-9a-zA-Z, no leading
// zeros (kcp's default APIBinding names hash their parts so).
Json b_sha224_base62(const Args& a) {
  const std::string& s = str(a, 0, "sha224_base62");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), digest, &n, EVP_sha224(), nullptr);
  static const char* digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::vector<unsigned char> num(digest, digest + n);
  std::string r;
  auto zero = [&] { return std::all_of(num.begin(), num.end(), [](unsigned char b) { return b == 0; }); };
  while (!zero()) r += digits[divide(num, 62)];
  std::reverse(r.begin(), r.end());
  return r.empty() ? std::string("0") : r;
}

Json b_lower(const Args& a) {
  std::string s = str(a, 0, "lower");
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}
Json b_upper(const Args& a) {
  std::string s = str(a, 0, "upper");
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}
Json b_trim(const Args& a) {
  const std::string& s = str(a, 0, "trim");
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}
Json b_split(const Args& a) {
  const std::string& s = str(a, 0, "split");
  const std::string& sep = str(a, 1, "split");
  if (sep.empty()) throw BuiltinError("split: separator must not be empty");
  Json out = Json::array();
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p - start));
    if (p == std::string::npos) break;
    start = p + sep.size();
  }
  return out;
}
Json b_join(const Args& a) {
  const Json& l = list(a, 0, "join");
  const std::string& sep = str(a, 1, "join");
  std::string out;
  for (size_t i = 0; i < l.size(); ++i) {
    if (!l[i].is_string()) throw BuiltinError("join: list elements must be strings");
    if (i) out += sep;
    out += l[i].get_ref<const std::string&>();
  }
  return out;
}
Json b_replace(const Args& a) {
  std::string s = str(a, 0, "replace");
  const std::string& from = str(a, 1, "replace");
  const std::string& to = str(a, 2, "replace");
  if (from.empty()) return s;
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  return s;
}
Json b_regex_replace(const Args& a) {
  try {
    return go_regexp_replace_all(str(a, 0, "regex_replace"), str(a, 1, "regex_replace"), str(a, 2, "regex_replace"));
  } catch (const GoRegexpError& e) {
    throw BuiltinError(std::string("regex_replace: ") + e.what());
  }
}
Json b_starts_with(const Args& a) { return str(a, 0, "starts_with").rfind(str(a, 1, "starts_with"), 0) == 0; }
Json b_ends_with(const Args& a) {
  const std::string& s = str(a, 0, "ends_with");
  const std::string& x = str(a, 1, "ends_with");
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}
Json b_contains(const Args& a) {
  if (a[0].is_string()) return a[0].get_ref<const std::string&>().find(str(a, 1, "contains")) != std::string::npos;
  if (a[0].is_array()) return std::find(a[0].begin(), a[0].end(), a[1]) != a[0].end();
  if (a[0].is_object()) return a[1].is_string() && a[0].contains(a[1].get_ref<const std::string&>());
  throw BuiltinError("contains: argument 1 must be a string, list or object");
}
Json b_substr(const Args& a) {
  const std::string& s = str(a, 0, "substr");
  int64_t start = integer(a, 1, "substr");
  if (start < 0 || static_cast<size_t>(start) > s.size()) return std::string();
  if (a.size() > 2) return s.substr(static_cast<size_t>(start), static_cast<size_t>(std::max<int64_t>(0, integer(a, 2, "substr"))));
  return s.substr(static_cast<size_t>(start));
}
Json b_len(const Args& a) {
  if (a[0].is_string()) return a[0].get_ref<const std::string&>().size();
  if (a[0].is_array() || a[0].is_object()) return a[0].size();
  if (a[0].is_null()) return 0;
  throw BuiltinError("len: argument must be a string, list or object");
}
Json b_str(const Args& a) { return a[0].is_string() ? a[0] : Json(a[0].dump()); }
Json b_int(const Args& a) {
  if (a[0].is_number_integer()) return a[0];
  if (a[0].is_number_float()) return static_cast<int64_t>(a[0].get<double>());
  if (a[0].is_string()) {
    try {
      size_t used = 0;
      int64_t v = std::stoll(a[0].get_ref<const std::string&>(), &used);
      if (used == a[0].get_ref<const std::string&>().size()) return v;
    } catch (...) {
    }
  }
  throw BuiltinError("int: cannot convert " + a[0].dump() + " to an integer");
}
Json b_append(const Args& a) {
  Json l = list(a, 0, "append");
  l.push_back(a[1]);
  return l;
}
Json b_concat(const Args& a) {
  Json out = Json::array();
  for (size_t i = 0; i < a.size(); ++i)
    for (const auto& x : list(a, i, "concat")) out.push_back(x);
  return out;
}
Json b_enumerate(const Args& a) {
  Json out = Json::array();
  int64_t i = 0;
  for (const auto& x : list(a, 0, "enumerate")) out.push_back({{"index", i++}, {"value", x}});
  return out;
}
Json b_flatten(const Args& a) {
  Json out = Json::array();
  for (const auto& x : list(a, 0, "flatten")) {
    if (x.is_array()) for (const auto& y : x) out.push_back(y);
    else out.push_back(x);
  }
  return out;
}
Json b_unique(const Args& a) {
  Json out = Json::array();
  for (const auto& x : list(a, 0, "unique"))
    if (std::find(out.begin(), out.end(), x) == out.end()) out.push_back(x);
  return out;
}
Json b_sort(const Args& a) {
  Json out = list(a, 0, "sort");
  std::sort(out.begin(), out.end());
  return out;
}
Json b_keys(const Args& a) {
  Json out = Json::array();
  for (const auto& [k, v] : object(a, 0, "keys").items()) out.push_back(k);
  return out;
}
Json b_values(const Args& a) {
  Json out = Json::array();
  for (const auto& [k, v] : object(a, 0, "values").items()) out.push_back(v);
  return out;
}
Json b_merge(const Args& a) {
  Json out = Json::object();
  for (size_t i = 0; i < a.size(); ++i)
    for (const auto& [k, v] : object(a, i, "merge").items()) out[k] = v;
  return out;
}
// `tpl` rendered with `data`, the Go template subset of go_template.h.
Json b_go_template(const Args& a) {
  const std::string& tpl = str(a, 0, "go_template");
  if (!a[1].is_object()) throw BuiltinError("go_template: the data must be an object");
  try {
    return render_go_template(tpl, a[1]);
  } catch (const TemplateError& e) {
    throw BuiltinError(std::string("go_template: ") + e.what());
  }
}

Json b_without(const Args& a) {
  Json out = object(a, 0, "without");
  for (const auto& k : list(a, 1, "without"))
    if (k.is_string()) out.erase(k.get<std::string>());
  return out;
}
Json b_without_prefix(const Args& a) {
  Json out = object(a, 0, "without_prefix");
  const std::string& prefix = str(a, 1, "without_prefix");
  for (auto it = out.begin(); it != out.end();) it = it.key().rfind(prefix, 0) == 0 ? out.erase(it) : std::next(it);
  return out;
}
Json b_get(const Args& a) {
  const Json& def = a.size() > 2 ? a[2] : Json();
  if (a[0].is_object() && a[1].is_string()) {
    auto it = a[0].find(a[1].get_ref<const std::string&>());
    return it == a[0].end() ? def : *it;
  }
  if (a[0].is_array() && a[1].is_number_integer()) {
    int64_t i = a[1].get<int64_t>();
    return i >= 0 && static_cast<size_t>(i) < a[0].size() ? a[0][static_cast<size_t>(i)] : def;
  }
  return def;
}
Json b_min(const Args& a) {
  const Json& l = list(a, 0, "min");
  return l.empty() ? Json() : *std::min_element(l.begin(), l.end());
}
Json b_max(const Args& a) {
  const Json& l = list(a, 0, "max");
  return l.empty() ? Json() : *std::max_element(l.begin(), l.end());
}
Json b_sha1(const Args& a) { return hex_digest(EVP_sha1(), str(a, 0, "sha1")); }
Json b_sha256(const Args& a) { return hex_digest(EVP_sha256(), str(a, 0, "sha256")); }
Json b_sha3(const Args& a) { return hex_digest(EVP_sha3_256(), str(a, 0, "sha3")); }
Json b_sha1short(const Args& a) { return shorten(hex_digest(EVP_sha1(), str(a, 0, "sha1short")), a, "sha1short"); }
Json b_sha3short(const Args& a) { return shorten(hex_digest(EVP_sha3_256(), str(a, 0, "sha3short")), a, "sha3short"); }
// A ULID-shaped id (26 characters of Crockford's base32, the first at most
// '7') from SHA-256(s): an id OpenFGA's clients accept, the same for the
// same input.
Json b_ulid_of(const Args& a) {
  const std::string out = sha256(str(a, 0, "ulid_of"));
  static const char* alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  std::string r;
  size_t bit = 0;
  auto take = [&](int n) {
    unsigned v = 0;
    for (int i = 0; i < n; ++i, ++bit) v = (v << 1) | ((static_cast<unsigned char>(out[bit / 8]) >> (7 - bit % 8)) & 1);
    return v;
  };
  r += alphabet[take(3)];
  while (r.size() < 26) r += alphabet[take(5)];
  return r;
}
Json b_hash36(const Args& a) {
  int64_t n = a.size() > 1 ? integer(a, 1, "hash36") : 16;
  if (n < 1 || n > 50) throw BuiltinError("hash36: length must be 1 to 50");
  return base36_hash(str(a, 0, "hash36"), static_cast<size_t>(n));
}
Json b_parent(const Args& a) {
  const std::string& p = str(a, 0, "parent");
  size_t c = p.rfind(':');
  return c == std::string::npos ? Json() : Json(p.substr(0, c));
}
Json b_base(const Args& a) {
  const std::string& p = str(a, 0, "base");
  size_t c = p.rfind(':');
  return c == std::string::npos ? p : p.substr(c + 1);
}
Json b_child(const Args& a) { return str(a, 0, "child") + ":" + str(a, 1, "child"); }
Json b_depth(const Args& a) { return split(str(a, 0, "depth"), ':').size() - 1; }
Json b_path_segments(const Args& a) {
  Json out = Json::array();
  for (auto& s : split(str(a, 0, "path_segments"), ':')) out.push_back(s);
  return out;
}
Json b_ancestors(const Args& a) {
  // "root:orgs:acme" -> ["root", "root:orgs"]
  auto parts = split(str(a, 0, "ancestors"), ':');
  Json out = Json::array();
  std::string cur;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    cur += (i ? ":" : "") + parts[i];
    out.push_back(cur);
  }
  return out;
}
Json b_is_dns1123_label(const Args& a) {
  return a[0].is_string() && dns1123_label_problems(a[0].get_ref<const std::string&>()).empty();
}
Json b_is_dns1123_subdomain(const Args& a) {
  return a[0].is_string() && dns1123_subdomain_problems(a[0].get_ref<const std::string&>()).empty();
}
Json b_matches(const Args& a) {
  const std::string& re = str(a, 1, "matches");
  try {
    return std::regex_match(str(a, 0, "matches"), std::regex(re));
  } catch (const std::regex_error& e) {
    throw BuiltinError("matches: invalid regular expression `" + re + "`");
  }
}
// A null selector selects nothing (the builtin's own rule).
Json b_selector_matches(const Args& a) {
  if (a[0].is_null()) return false;
  return label_selector_matches(a[0], a[1]);
}
Json b_find(const Args& a) {
  const std::string& field = str(a, 1, "find");
  for (const auto& x : list(a, 0, "find")) {
    auto it = x.is_object() ? x.find(field) : x.end();
    if (x.is_object() && it != x.end() && *it == a[2]) return x;
  }
  return Json();
}
Json b_select(const Args& a) {
  const std::string& field = str(a, 1, "select");
  Json out = Json::array();
  for (const auto& x : list(a, 0, "select")) {
    auto it = x.is_object() ? x.find(field) : x.end();
    if (x.is_object() && it != x.end() && *it == a[2]) out.push_back(x);
  }
  return out;
}
Json b_pluck(const Args& a) {
  const std::string& field = str(a, 1, "pluck");
  Json out = Json::array();
  for (const auto& x : list(a, 0, "pluck"))
    if (x.is_object() && x.contains(field)) out.push_back(x[field]);
  return out;
}
Json b_pluck_selected(const Args& a) {
  // Checked in the order the two calls check them.
  const std::string& field = str(a, 1, "select");
  const Json& from = list(a, 0, "select");
  const std::string& picked = str(a, 3, "pluck");
  Json out = Json::array();
  for (const auto& x : from) {
    if (!x.is_object()) continue;
    if (auto it = x.find(field); it == x.end() || !(*it == a[2])) continue;
    if (auto it = x.find(picked); it != x.end()) out.push_back(*it);
  }
  return out;
}
Json b_intersect(const Args& a) {
  const Json& other = list(a, 1, "intersect");
  Json out = Json::array();
  for (const auto& x : list(a, 0, "intersect"))
    if (std::find(other.begin(), other.end(), x) != other.end()) out.push_back(x);
  return out;
}
Json b_difference(const Args& a) {
  const Json& other = list(a, 1, "difference");
  Json out = Json::array();
  for (const auto& x : list(a, 0, "difference"))
    if (std::find(other.begin(), other.end(), x) == other.end()) out.push_back(x);
  return out;
}
Json b_type(const Args& a) { return std::string(a[0].type_name()); }

// A string as Go's encoding/json writes it: HTML-safe (<, >, & as \u003c,
// \u003e, \u0026), U+2028 and U+2029 escaped, short escapes only for
// quote, backslash, \n, \r and \t, other control characters as \u00xx.
std::string go_json_string(const std::string& s) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') out += '\\', out += static_cast<char>(c);
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == '<' || c == '>' || c == '&') out += "\\u00", out += hex[c >> 4], out += hex[c & 15];
    else if (c == 0xe2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
             (static_cast<unsigned char>(s[i + 2]) == 0xa8 || static_cast<unsigned char>(s[i + 2]) == 0xa9))
      out += static_cast<unsigned char>(s[i + 2]) == 0xa8 ? "\\u2028" : "\\u2029", i += 2;
    else out += static_cast<char>(c);
  }
  return out + "\"";
}

std::string go_json_strings(const Json& list) {
  if (list.is_null()) return "null";
  std::string out = "[";
  for (const auto& x : list) {
    if (!x.is_string()) throw BuiltinError("kube_user_info: groups and extra values must be strings");
    out += (out.size() > 1 ? "," : "") + go_json_string(x.get<std::string>());
  }
  return out + "]";
}

// authenticationv1.UserInfo as Go's json.Marshal writes it (kcp's workspace
// owner annotation): its fields in the struct's order, each left out when
// empty, extra's keys sorted.
Json b_kube_user_info(const Args& a) {
  const Json& u = object(a, 0, "kube_user_info");
  std::string out;
  auto field = [&](const char* key, const std::string& value) { out += (out.empty() ? "{\"" : ",\"") + std::string(key) + "\":" + value; };
  for (const char* k : {"username", "uid"})
    if (u.contains(k) && u[k].is_string() && !u[k].get_ref<const std::string&>().empty()) field(k, go_json_string(u[k].get<std::string>()));
  if (u.contains("groups") && u["groups"].is_array() && !u["groups"].empty()) field("groups", go_json_strings(u["groups"]));
  if (u.contains("extra") && u["extra"].is_object() && !u["extra"].empty()) {
    std::string extra;
    for (const auto& [k, v] : u["extra"].items()) {
      if (!v.is_array() && !v.is_null()) throw BuiltinError("kube_user_info: extra values must be lists of strings");
      extra += (extra.empty() ? "{" : ",") + go_json_string(k) + ":" + go_json_strings(v);
    }
    field("extra", extra + "}");
  }
  return out.empty() ? std::string("{}") : out + "}";
}

// Keep sorted by name: find_builtin searches by bisection.
const std::vector<Builtin> kBuiltins = {
    {"ancestors", 1, 1, "ancestors(path) -> list", "The workspace paths above `path`, root first.", b_ancestors},
    {"append", 2, 2, "append(list, x) -> list", "`list` with `x` added at the end.", b_append},
    {"base", 1, 1, "base(path) -> string", "The last segment of a workspace path: base(\"root:orgs:acme\") is \"acme\".", b_base},
    {"child", 2, 2, "child(path, name) -> string", "The path of `name` below `path`: child(\"root:orgs\", \"acme\") is \"root:orgs:acme\".", b_child},
    {"concat", 1, 8, "concat(list, ...) -> list", "The lists joined in order.", b_concat},
    {"contains", 2, 2, "contains(s|list|object, x) -> bool", "Substring, element or key membership.", b_contains},
    {"depth", 1, 1, "depth(path) -> int", "How far below root a workspace path is: depth(\"root\") is 0.", b_depth},
    {"difference", 2, 2, "difference(a, b) -> list", "The elements of `a` that are not in `b`, in `a`'s order.", b_difference},
    {"ends_with", 2, 2, "ends_with(s, suffix) -> bool", "Whether `s` ends with `suffix`.", b_ends_with},
    {"enumerate", 1, 1, "enumerate(list) -> list", "Each element with its place: [{index: 0, value: x}, ...].", b_enumerate},
    {"find", 3, 3, "find(list, field, value) -> object", "The first object in `list` whose `field` equals `value`, or null.", b_find},
    {"flatten", 1, 1, "flatten(list) -> list", "One level of nested lists spliced into the list.", b_flatten},
    {"get", 2, 3, "get(object|list, key, default?) -> any", "The entry at `key`, or `default` (null).", b_get},
    {"gjson", 2, 2, "gjson(object, path) -> string", "What the api-syncagent's reference `path` (a gjson path: keys by dots, indexes) finds in `object`, as text; null when it finds nothing.", syncagent_gjson},
    {"go_template", 2, 2, "go_template(template, data) -> string", "`template` rendered with `data` (an object), in the Go template subset the api-syncagent's templates use (stdlib/go_template.h).", b_go_template},
    {"hash36", 1, 2, "hash36(s, n?) -> string", "`n` (16) base36 characters of SHA-256(s), as kcp's generated cluster names.", b_hash36},
    {"int", 1, 1, "int(x) -> int", "`x` as an integer.", b_int},
    {"intersect", 2, 2, "intersect(a, b) -> list", "The elements of `a` that are also in `b`, in `a`'s order.", b_intersect},
    {"is_dns1123_label", 1, 1, "is_dns1123_label(s) -> bool", "Whether `s` is a valid DNS-1123 label (Kubernetes names of most kinds).", b_is_dns1123_label},
    {"is_dns1123_subdomain", 1, 1, "is_dns1123_subdomain(s) -> bool", "Whether `s` is a valid DNS-1123 subdomain.", b_is_dns1123_subdomain},
    {"join", 2, 2, "join(list, sep) -> string", "The strings of `list` joined by `sep`.", b_join},
    {"keys", 1, 1, "keys(object) -> list", "The keys of an object, sorted.", b_keys},
    {"kube_user_info", 1, 1, "kube_user_info(user) -> string", "A user ({username, uid, groups, extra}) as Go's encoding/json writes kube's authentication/v1 UserInfo: kcp's workspace owner annotation.", b_kube_user_info},
    {"len", 1, 1, "len(s|list|object) -> int", "Length in bytes, elements or entries; len(null) is 0.", b_len},
    {"lower", 1, 1, "lower(s) -> string", "`s` in lower case (ASCII).", b_lower},
    {"matches", 2, 2, "matches(s, regex) -> bool", "Whether all of `s` matches the ECMAScript regular expression.", b_matches},
    {"max", 1, 1, "max(list) -> any", "The largest element, or null.", b_max},
    {"merge", 1, 8, "merge(object, ...) -> object", "The objects merged left to right (later keys win).", b_merge},
    {"min", 1, 1, "min(list) -> any", "The smallest element, or null.", b_min},
    {"parent", 1, 1, "parent(path) -> string", "The workspace path above `path`, or null for root.", b_parent},
    {"path_segments", 1, 1, "path_segments(path) -> list", "The segments of a workspace path.", b_path_segments},
    {"pluck", 2, 2, "pluck(list, field) -> list", "The `field` of every object in `list` that has it.", b_pluck},
    {"regex_replace", 3, 3, "regex_replace(s, pattern, replacement) -> string", "Go's regexp.ReplaceAllString: every match of the RE2 `pattern` in `s` replaced by `replacement`, with $1, ${1}, $name and ${name} expanded (linear time: patterns may come from tenants).", b_regex_replace},
    {"replace", 3, 3, "replace(s, old, new) -> string", "`s` with every `old` replaced by `new`.", b_replace},
    {"select", 3, 3, "select(list, field, value) -> list", "The objects in `list` whose `field` equals `value`.", b_select},
    {"selector_matches", 2, 2, "selector_matches(selector, labels) -> bool",
     "Whether a metav1.LabelSelector (matchLabels, matchExpressions) selects an object with `labels`; a null selector selects nothing.",
     b_selector_matches},
    {"sha1", 1, 1, "sha1(s) -> string", "SHA-1 of `s`, lower-case hex.", b_sha1},
    {"sha1short", 1, 2, "sha1short(s, n?) -> string", "The first `n` (20) hex characters of SHA-1(s).", b_sha1short},
    {"sha224_base62", 1, 1, "sha224_base62(s) -> string", "SHA-224 of `s` as a base-62 number (Go's big.Int.Text(62)): kcp's default APIBinding names.", b_sha224_base62},
    {"sha256", 1, 1, "sha256(s) -> string", "SHA-256 of `s`, lower-case hex.", b_sha256},
    {"sha3", 1, 1, "sha3(s) -> string", "SHA3-256 of `s`, lower-case hex.", b_sha3},
    {"sha3short", 1, 2, "sha3short(s, n?) -> string", "The first `n` (20) hex characters of SHA3-256(s).", b_sha3short},
    {"sort", 1, 1, "sort(list) -> list", "The elements in ascending order.", b_sort},
    {"split", 2, 2, "split(s, sep) -> list", "`s` cut at every `sep`.", b_split},
    {"starts_with", 2, 2, "starts_with(s, prefix) -> bool", "Whether `s` starts with `prefix`.", b_starts_with},
    {"str", 1, 1, "str(x) -> string", "`x` as a string (JSON text for non-strings).", b_str},
    {"substr", 2, 3, "substr(s, start, n?) -> string", "`n` bytes of `s` from `start` (to the end).", b_substr},
    {"syncagent_mutate", 3, 3, "syncagent_mutate(object, mutations, other) -> object", "The api-syncagent's mutations (a PublishedResource's `mutation.spec` or `mutation.status` list: delete, regex, template) applied in order to `object`; `other` is the templates' RemoteObject.", syncagent_mutate},
    {"syncagent_mutations_error", 1, 1, "syncagent_mutations_error(mutations) -> string", "What is wrong with a PublishedResource's mutation list whatever object it meets (no mechanism, a bad path, a regex that does not compile), or \"\".", syncagent_mutations_error},
    {"syncagent_name", 5, 5, "syncagent_name(pattern, cluster_name, cluster_path, object, which) -> string", "The api-syncagent's namespace or name (`which`) for the copy of `object`: a PublishedResource's `spec.naming` pattern (a Go template, or the deprecated $placeholders; the agent's default when empty).", syncagent_name},
    {"syncagent_schema", 2, 2, "syncagent_schema(crd, published_resource) -> object", "The APIResourceSchema spec the api-syncagent publishes for a CustomResourceDefinition as a PublishedResource selects its versions and projects it (ProjectCRD, then kcp's CRDToAPIResourceSchema); null when it cannot.", syncagent_schema},
    {"syncagent_schema_error", 2, 2, "syncagent_schema_error(crd, published_resource) -> string", "Why syncagent_schema cannot project the CRD (the agent's message), or \"\".", syncagent_schema_error},
    {"syncagent_selector", 2, 2, "syncagent_selector(selector, context) -> object", "A related resource's label selector with the Go templates in its matchLabels' keys and values rendered with `context`, as the api-syncagent renders them (an empty key dropped).", syncagent_selector},
    {"trim", 1, 1, "trim(s) -> string", "`s` without leading and trailing white space.", b_trim},
    {"type", 1, 1, "type(x) -> string", "null, boolean, number, string, array or object.", b_type},
    {"ulid_of", 1, 1, "ulid_of(s) -> string", "A ULID-shaped id from SHA-256(s), as OpenFGA's store and model ids look.", b_ulid_of},
    {"unique", 1, 1, "unique(list) -> list", "The elements without repeats, first occurrence kept.", b_unique},
    {"upper", 1, 1, "upper(s) -> string", "`s` in upper case (ASCII).", b_upper},
    {"values", 1, 1, "values(object) -> list", "The values of an object, in key order.", b_values},
    {"without", 2, 2, "without(object, keys) -> object", "`object` without the entries whose keys are listed.", b_without},
    {"without_prefix", 2, 2, "without_prefix(object, prefix) -> object", "`object` without the entries whose keys start with `prefix`.", b_without_prefix},
};

}  // namespace

const std::string& builtin_string(const BuiltinArgs& a, size_t i, const char* fn) {
  if (!a[i].is_string())
    throw BuiltinError(std::string(fn) + ": argument " + std::to_string(i + 1) + " must be a string, not " +
                       a[i].type_name());
  return a[i].get_ref<const std::string&>();
}

const Builtin& pluck_selected() {
  static const Builtin fused{"pluck", 4, 4, "pluck(select(list, field, value), picked) -> list",
                             "The `picked` field of every object in `list` whose `field` equals `value`.", b_pluck_selected};
  return fused;
}

const Builtin* find_builtin(std::string_view name) {
  auto it = std::lower_bound(kBuiltins.begin(), kBuiltins.end(), name,
                             [](const Builtin& b, std::string_view n) { return b.name < n; });
  return it != kBuiltins.end() && it->name == name ? &*it : nullptr;
}

Json call_builtin(const Builtin& b, const std::vector<Json>& args) {
  std::vector<const Json*> views;
  views.reserve(args.size());
  for (const auto& a : args) views.push_back(&a);
  return b.fn(BuiltinArgs(views.data(), views.size()));
}

const std::vector<Builtin>& all_builtins() { return kBuiltins; }

bool is_special_form(std::string_view name) { return name == "old"; }

bool label_selector_matches(const Json& sel, const Json& object_labels) {
  if (!sel.is_object()) throw BuiltinError("selector_matches: the selector must be an object, not " + sel.dump());
  static const Json kNone = Json::object();
  const Json& labels = object_labels.is_object() ? object_labels : kNone;
  auto label = [&](const std::string& k) -> const Json* { auto it = labels.find(k); return it == labels.end() ? nullptr : &*it; };
  if (sel.contains("matchLabels") && sel["matchLabels"].is_object())
    for (const auto& [k, v] : sel["matchLabels"].items())
      if (const Json* l = label(k); !l || *l != v) return false;
  if (sel.contains("matchExpressions") && sel["matchExpressions"].is_array())
    for (const auto& e : sel["matchExpressions"]) {
      std::string key = e.is_object() ? e.value("key", "") : "", op = e.is_object() ? e.value("operator", "") : "";
      const Json* l = label(key);
      bool in = false;
      if (l && e.contains("values") && e["values"].is_array())
        for (const auto& v : e["values"]) in = in || v == *l;
      if (op == "In" && !in) return false;
      if (op == "NotIn" && in) return false;
      if (op == "Exists" && !l) return false;
      if (op == "DoesNotExist" && l) return false;
      if (op != "In" && op != "NotIn" && op != "Exists" && op != "DoesNotExist")
        throw BuiltinError("selector_matches: \"" + op + "\" is not a valid label selector operator");
    }
  return true;
}

}  // namespace pmesh
