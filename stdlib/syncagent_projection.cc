// The api-syncagent's projection of a CRD into the APIResourceSchema it
// publishes in kcp (internal/projection's ProjectCRD, then kcp's
// CRDToAPIResourceSchema): the versions the PublishedResource selects,
// a storage version, the projected version names and API names.
#include <algorithm>
#include <set>
#include <string>

#include "stdlib/kube_validation.h"
#include "stdlib/syncagent.h"

namespace pmesh {

namespace {

const Json* member(const Json& o, const char* key) {
  if (!o.is_object()) return nullptr;
  auto it = o.find(key);
  return it == o.end() || it->is_null() ? nullptr : &*it;
}

bool flag(const Json& o, const char* key) {
  const Json* v = member(o, key);
  return v && v->is_boolean() && v->get<bool>();
}

std::string quoted_list(const std::vector<std::string>& xs) {
  std::string out = "[";
  for (size_t i = 0; i < xs.size(); ++i) out += (i ? " " : "") + xs[i];
  return out + "]";
}

}  // namespace

Json project_crd(const Json& crd, const Json& pr, std::string* error) {
  auto fail = [&](std::string message) {
    *error = std::move(message);
    return Json();
  };
  const Json* spec = member(crd, "spec");
  const Json* versions = spec ? member(*spec, "versions") : nullptr;
  if (!spec || !spec->is_object() || !versions || !versions->is_array()) return fail("CRD contains no versions");
  const Json* prspec = member(pr, "spec");
  const Json* src = prspec ? member(*prspec, "resource") : nullptr;
  std::string only = src ? field_of(*src, "version") : "";
  std::vector<std::string> selected;
  if (const Json* vs = src ? member(*src, "versions") : nullptr; vs && vs->is_array())
    for (const auto& v : *vs)
      if (v.is_string()) selected.push_back(v.get<std::string>());
  if (!only.empty() && !selected.empty())
    return fail("cannot configure both .version and .versions in as the source of a PublishedResource");

  // stripUnwantedVersions
  Json kept = Json::array();
  for (const auto& v : *versions) {
    std::string name = field_of(v, "name");
    bool keep = !only.empty() ? name == only
                : !selected.empty() ? std::find(selected.begin(), selected.end(), name) != selected.end()
                                    : true;
    if (keep && v.is_object()) kept.push_back(v);
  }
  if (kept.empty()) {
    if (!only.empty()) return fail("CRD does not contain version " + only);
    if (!selected.empty()) return fail("CRD does not contain any of versions " + quoted_list(selected));
    return fail("CRD contains no versions");
  }
  // adjustStorageVersion
  bool has_storage = false;
  int latest_served = -1;
  for (size_t i = 0; i < kept.size(); ++i) {
    has_storage |= flag(kept[i], "storage");
    if (flag(kept[i], "served")) latest_served = static_cast<int>(i);
  }
  if (latest_served < 0) return fail("no CRD version selected that is marked as served");
  if (!has_storage) kept[static_cast<size_t>(latest_served)]["storage"] = true;

  Json out_spec = *spec;
  Json names = member(*spec, "names") ? (*spec)["names"] : Json::object();
  const Json* projection = prspec ? member(*prspec, "projection") : nullptr;
  if (projection && projection->is_object()) {
    // projectCRDVersions
    std::string to = field_of(*projection, "version");
    const Json* mapping = member(*projection, "versions");
    if (!to.empty()) {
      if (kept.size() != 1)
        return fail("cannot project CRD version to a single version \"" + to + "\" because it contains " +
                    std::to_string(kept.size()) + " versions");
      kept[0]["name"] = to;
    } else if (mapping && mapping->is_object() && !mapping->empty()) {
      std::set<std::string> seen;
      for (auto& v : kept) {
        const Json* renamed = member(*mapping, field_of(v, "name").c_str());
        if (renamed && renamed->is_string() && !renamed->get<std::string>().empty()) v["name"] = *renamed;
        if (!seen.insert(field_of(v, "name")).second)
          return fail("CRD contains multiple entries for " + field_of(v, "name") + " after applying mutation rules");
      }
      // The agent sorts ascending by CompareKubeAwareVersionStrings: the
      // least stable first.
      std::stable_sort(kept.begin(), kept.end(), [](const Json& a, const Json& b) {
        return kube_version_before(field_of(b, "name"), field_of(a, "name"));
      });
    }
    // projectCRDNames
    if (std::string g = field_of(*projection, "group"); !g.empty()) out_spec["group"] = g;
    if (std::string k = field_of(*projection, "kind"); !k.empty()) {
      std::string lower = k;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      names["kind"] = k;
      names["listKind"] = k + "List";
      names["singular"] = lower;
      names["plural"] = lower + "s";
    }
    if (std::string p = field_of(*projection, "plural"); !p.empty()) names["plural"] = p;
    if (std::string s = field_of(*projection, "scope"); !s.empty()) out_spec["scope"] = s;
    if (const Json* c = member(*projection, "categories"); c && c->is_array()) names["categories"] = *c;
    if (const Json* s = member(*projection, "shortNames"); s && s->is_array()) names["shortNames"] = *s;
  }

  // CRDToAPIResourceSchema: a version's schema is its openAPIV3Schema.
  Json ars_versions = Json::array();
  for (const auto& v : kept) {
    Json a = {{"name", field_of(v, "name")}, {"served", flag(v, "served")}, {"storage", flag(v, "storage")}};
    for (const char* f : {"deprecated", "deprecationWarning", "subresources", "additionalPrinterColumns"})
      if (const Json* x = member(v, f)) a[f] = *x;
    const Json* schema = member(v, "schema");
    const Json* root = schema ? member(*schema, "openAPIV3Schema") : nullptr;
    a["schema"] = root ? *root : Json::object();
    ars_versions.push_back(std::move(a));
  }
  Json ars = {{"group", field_of(out_spec, "group")}, {"names", names}, {"scope", field_of(out_spec, "scope")},
              {"versions", std::move(ars_versions)}};
  if (ars["versions"].size() > 1) ars["conversion"] = {{"strategy", "None"}};
  return ars;
}

Json syncagent_schema(const BuiltinArgs& a) {
  std::string error;
  return project_crd(a[0], a[1], &error);
}

Json syncagent_schema_error(const BuiltinArgs& a) {
  std::string error;
  project_crd(a[0], a[1], &error);
  return error;
}

}  // namespace pmesh
