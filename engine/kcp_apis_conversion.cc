#include "engine/kcp_apis_conversion.h"

#include "engine/conversion.h"

namespace pmesh::engine::kcp_apis {

namespace {

// kcp's annotation keys (v1alpha2/types_apiexport_conversion.go,
// types_apibinding_conversion.go).
constexpr const char* kResourceSchemas = "apis.v1alpha2.kcp.io/resource-schemas";
constexpr const char* kPermissionClaims = "apis.v1alpha2.kcp.io/permission-claims";
constexpr const char* kV1alpha1PermissionClaims = "apis.v1alpha2.kcp.io/v1alpha1-permission-claims";
constexpr const char* kAcceptableClaims = "apis.v1alpha2.kcp.io/acceptable-permission-claims";
constexpr const char* kStatusExportClaims = "apis.v1alpha2.kcp.io/status-export-permission-claims";
constexpr const char* kStatusAppliedClaims = "apis.v1alpha2.kcp.io/status-applied-permission-claims";
constexpr const char* kV1alpha1StatusExportClaims = "apis.v1alpha2.kcp.io/v1alpha1-status-export-permission-claims";
constexpr const char* kV1alpha1StatusAppliedClaims = "apis.v1alpha2.kcp.io/v1alpha1-status-applied-permission-claims";

std::string text(const Json& o, const char* key) {
  auto it = o.is_object() ? o.find(key) : o.end();
  return it != o.end() && it->is_string() ? it->get<std::string>() : "";
}

const Json& list(const Json& o, const char* key) {
  static const Json empty = Json::array();
  auto it = o.is_object() ? o.find(key) : o.end();
  return it != o.end() && it->is_array() ? *it : empty;
}

bool has_list(const Json& o, const char* key) { return !list(o, key).empty(); }

// PermissionClaim.EqualGRI: the same group, resource and identity hash.
bool same_gri(const Json& a, const Json& b) {
  return text(a, "group") == text(b, "group") && text(a, "resource") == text(b, "resource") &&
         text(a, "identityHash") == text(b, "identityHash");
}

// A claim's group, resource and identity hash alone (what both versions share).
Json gri(const Json& c) {
  Json out = Json::object();
  if (!text(c, "group").empty()) out["group"] = text(c, "group");
  out["resource"] = text(c, "resource");
  if (!text(c, "identityHash").empty()) out["identityHash"] = text(c, "identityHash");
  return out;
}

bool wildcard_verbs(const Json& c) {
  const Json& v = list(c, "verbs");
  return v.size() == 1 && v[0] == "*";
}

bool match_all(const Json& c) {
  auto s = c.find("selector");
  return s != c.end() && s->is_object() && s->value("matchAll", false) == true;
}

bool no_labels(const Json& selector) {
  return !has_list(selector, "matchExpressions") &&
         !(selector.contains("matchLabels") && selector["matchLabels"].is_object() && !selector["matchLabels"].empty());
}

Json& annotations(Json& o) {
  Json& md = o["metadata"];
  if (!md.is_object()) md = Json::object();
  Json& a = md["annotations"];
  if (!a.is_object()) a = Json::object();
  return a;
}

void annotate(Json& o, const char* key, const Json& value) { annotations(o)[key] = value.dump(); }

// Claims as Go encodes them: an empty group or identity hash left out
// (omitempty), so the annotation reads as kcp's.
void annotate_claims(Json& o, const char* key, Json claims) {
  for (auto& c : claims)
    for (const char* k : {"group", "identityHash"})
      if (c.is_object() && c.contains(k) && c[k] == "") c.erase(k);
  annotate(o, key, claims);
}

// The annotation's JSON list, taken off the object (null when absent).
Json take(Json& o, const char* key) {
  if (!o.contains("metadata") || !o["metadata"].is_object() || !o["metadata"].contains("annotations")) return nullptr;
  Json& a = o["metadata"]["annotations"];
  if (!a.is_object() || !a.contains(key)) return nullptr;
  Json value = a[key].is_string() ? Json::parse(a[key].get<std::string>(), nullptr, false) : Json();
  a.erase(key);
  if (a.empty()) o["metadata"].erase("annotations");
  if (value.is_discarded() || !value.is_array())
    throw ConversionError(std::string("failed to decode claims from JSON: annotation ") + key + " is not a JSON list");
  return value;
}

Json* field(Json& o, const char* section, const char* key) {
  if (!o.contains(section) || !o[section].is_object() || !o[section].contains(key)) return nullptr;
  return &o[section][key];
}

// ---- APIExport ------------------------------------------------------------

Json export_to_v1alpha2(Json in) {
  Json out = in;
  Json* claims = field(out, "spec", "permissionClaims");
  if (claims && claims->is_array()) {
    // all and resourceSelector went away in v1alpha2: kept for the way back.
    if (!claims->empty()) annotate_claims(out, kV1alpha1PermissionClaims, *claims);
    Json next = Json::array();
    for (const auto& c : *claims) next.push_back(gri(c));
    *claims = std::move(next);
  }
  if (Json* latest = field(out, "spec", "latestResourceSchemas")) {
    Json resources = Json::array();
    if (latest->is_array())
      for (const auto& s : *latest) {
        std::string name = s.is_string() ? s.get<std::string>() : "";
        size_t first = name.find('.'), second = first == std::string::npos ? first : name.find('.', first + 1);
        if (second == std::string::npos)
          throw ConversionError("invalid schema \"" + name + "\": must have at least 3 dot-separated segments");
        std::string group = name.substr(second + 1);
        if (group == "core") group = "";
        resources.push_back({{"group", group}, {"name", name.substr(first + 1, second - first - 1)}, {"schema", name},
                             {"storage", {{"crd", Json::object()}}}});
      }
    out["spec"].erase("latestResourceSchemas");
    out["spec"]["resources"] = std::move(resources);
  }
  if (Json extra = take(out, kResourceSchemas); !extra.is_null() && !extra.empty()) {
    Json& resources = out["spec"]["resources"];
    if (!resources.is_array()) resources = Json::array();
    for (auto& r : extra) resources.push_back(std::move(r));
  }
  Json verbs = take(out, kPermissionClaims);
  if (Json* c = field(out, "spec", "permissionClaims"); c && c->is_array())
    for (auto& claim : *c) {
      if (verbs.is_array())
        for (const auto& v : verbs)
          if (same_gri(v, claim) && v.contains("verbs")) claim["verbs"] = v["verbs"];
      if (!has_list(claim, "verbs")) claim["verbs"] = Json::array({"*"});
    }
  return out;
}

Json export_to_v1alpha1(Json in) {
  Json out = in;
  Json* resources = field(out, "spec", "resources");
  if (resources && resources->is_array()) {
    Json latest = Json::array(), other = Json::array();
    for (const auto& r : *resources) {
      bool crd = r.is_object() && r.contains("storage") && r["storage"].is_object() && r["storage"].contains("crd");
      (crd ? latest : other).push_back(crd ? Json(text(r, "schema")) : r);
    }
    if (!other.empty()) annotate(out, kResourceSchemas, other);
    out["spec"].erase("resources");
    if (!latest.empty()) out["spec"]["latestResourceSchemas"] = std::move(latest);
  }
  Json* claims = field(out, "spec", "permissionClaims");
  if (claims && claims->is_array()) {
    Json other = Json::array(), next = Json::array();
    for (const auto& c : *claims) {
      if (!wildcard_verbs(c)) other.push_back(c);
      next.push_back(gri(c));
    }
    if (!other.empty()) annotate_claims(out, kPermissionClaims, other);
    Json original = take(out, kV1alpha1PermissionClaims);
    if (original.is_array())
      for (const auto& o : original)
        for (auto& c : next)
          if (same_gri(o, c)) {
            if (o.contains("all")) c["all"] = o["all"];
            if (o.contains("resourceSelector")) c["resourceSelector"] = o["resourceSelector"];
          }
    *claims = std::move(next);
  }
  return out;
}

// ---- APIBinding -----------------------------------------------------------

// A v1alpha1 claim (PermissionClaim or AcceptablePermissionClaim) in
// v1alpha2's form: verbs and selector come from the annotations, or default.
Json binding_claim_to_v1alpha2(const Json& c, bool scoped) {
  Json out = gri(c);
  if (c.contains("state")) out["state"] = c["state"];
  if (scoped) out["selector"] = {{"matchAll", c.value("all", false)}};
  return out;
}

Json binding_claim_to_v1alpha1(const Json& c) {
  Json out = gri(c);
  if (c.contains("selector") && c["selector"].is_object() && c["selector"].value("matchAll", false)) out["all"] = true;
  if (c.contains("state")) out["state"] = c["state"];
  return out;
}

void restore_v1alpha2(Json& claims, const Json& saved, bool selector) {
  if (!saved.is_array()) return;
  for (const auto& s : saved)
    for (auto& c : claims)
      if (same_gri(s, c)) {
        if (s.contains("verbs")) c["verbs"] = s["verbs"];
        if (selector && s.contains("selector")) c["selector"] = s["selector"];
      }
}

void restore_v1alpha1(Json& claims, const Json& saved) {
  if (!saved.is_array()) return;
  for (const auto& s : saved)
    for (auto& c : claims)
      if (same_gri(s, c)) {
        c.erase("all");
        c.erase("resourceSelector");
        if (s.contains("all")) c["all"] = s["all"];
        if (s.contains("resourceSelector")) c["resourceSelector"] = s["resourceSelector"];
      }
}

void default_v1alpha2(Json& claims, bool selector) {
  for (auto& c : claims) {
    if (!has_list(c, "verbs")) c["verbs"] = Json::array({"*"});
    // v1alpha1's resourceSelector always meant every object: matchAll.
    if (selector && (!c.contains("selector") || !c["selector"].is_object() ||
                     (!c["selector"].value("matchAll", false) && no_labels(c["selector"]))))
      c["selector"] = {{"matchAll", true}};
  }
}

Json binding_to_v1alpha2(Json in) {
  Json out = in;
  // Claims with a selector (the spec's, the applied ones): a v1alpha1
  // resourceSelector is kept aside, v1alpha2's verbs and selector restored.
  auto scoped = [&](Json* claims, const char* original, const char* overhang) {
    if (!claims || !claims->is_array()) return;
    Json with_selectors = Json::array(), next = Json::array();
    for (const auto& c : *claims) {
      if (has_list(c, "resourceSelector")) with_selectors.push_back(c);
      next.push_back(binding_claim_to_v1alpha2(c, true));
    }
    if (!with_selectors.empty()) annotate_claims(out, original, with_selectors);
    restore_v1alpha2(next, take(out, overhang), true);
    default_v1alpha2(next, true);
    *claims = std::move(next);
  };
  scoped(field(out, "spec", "permissionClaims"), kV1alpha1PermissionClaims, kAcceptableClaims);
  if (Json* exported = field(out, "status", "exportPermissionClaims"); exported && exported->is_array()) {
    if (!exported->empty()) annotate_claims(out, kV1alpha1StatusExportClaims, *exported);
    Json next = Json::array();
    for (const auto& c : *exported) next.push_back(binding_claim_to_v1alpha2(c, false));
    restore_v1alpha2(next, take(out, kStatusExportClaims), false);
    default_v1alpha2(next, false);
    *exported = std::move(next);
  }
  scoped(field(out, "status", "appliedPermissionClaims"), kV1alpha1StatusAppliedClaims, kStatusAppliedClaims);
  return out;
}

Json binding_to_v1alpha1(Json in) {
  Json out = in;
  auto convert = [&](Json* claims, const char* overhang, const char* original, bool scoped) {
    if (!claims || !claims->is_array()) return;
    Json other = Json::array(), next = Json::array();
    for (const auto& c : *claims) {
      if (!wildcard_verbs(c) || (scoped && !match_all(c))) other.push_back(c);
      next.push_back(binding_claim_to_v1alpha1(c));
    }
    if (!other.empty()) annotate_claims(out, overhang, other);
    restore_v1alpha1(next, take(out, original));
    *claims = std::move(next);
  };
  convert(field(out, "spec", "permissionClaims"), kAcceptableClaims, kV1alpha1PermissionClaims, true);
  convert(field(out, "status", "exportPermissionClaims"), kStatusExportClaims, kV1alpha1StatusExportClaims, false);
  convert(field(out, "status", "appliedPermissionClaims"), kStatusAppliedClaims, kV1alpha1StatusAppliedClaims, true);
  return out;
}

}  // namespace

Json to_v1alpha2(const std::string& kind, Json v1alpha1) {
  if (!v1alpha1.is_object()) return v1alpha1;
  if (kind == "APIExport") return export_to_v1alpha2(std::move(v1alpha1));
  if (kind == "APIBinding") return binding_to_v1alpha2(std::move(v1alpha1));
  return v1alpha1;
}

Json to_v1alpha1(const std::string& kind, Json v1alpha2) {
  if (!v1alpha2.is_object()) return v1alpha2;
  if (kind == "APIExport") return export_to_v1alpha1(std::move(v1alpha2));
  if (kind == "APIBinding") return binding_to_v1alpha1(std::move(v1alpha2));
  return v1alpha2;
}

}  // namespace pmesh::engine::kcp_apis
