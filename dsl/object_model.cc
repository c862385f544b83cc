#include "dsl/object_model.h"

#include <algorithm>

namespace pmesh::dsl {
namespace {

const std::vector<std::string> kMetadataParts = {"labels", "annotations", "finalizers", "ownerReferences"};

bool is_metadata_part(const std::string& s) {
  return std::find(kMetadataParts.begin(), kMetadataParts.end(), s) != kMetadataParts.end();
}

}  // namespace

const std::vector<std::string>& shorthand_names() {
  static const std::vector<std::string> names = {
      "name",   "namespace",       "cluster",           "uid",       "labels",
      "annotations", "finalizers", "ownerReferences",   "generation", "resourceVersion",
      "creationTimestamp", "deletionTimestamp"};
  return names;
}

bool is_shorthand(std::string_view name) {
  const auto& sh = shorthand_names();
  return std::find(sh.begin(), sh.end(), name) != sh.end();
}

std::optional<std::vector<std::string>> canonical_path(const KindDecl* kind,
                                                       const std::vector<std::string>& segments) {
  if (segments.empty()) return segments;
  const std::string& first = segments[0];
  if (is_shorthand(first)) {
    std::vector<std::string> out = {"metadata"};
    out.insert(out.end(), segments.begin(), segments.end());
    return out;
  }
  if (first == "metadata" || first == "kind" || first == "apiVersion") return segments;
  if (kind == nullptr || kind->has_section(first)) return segments;
  return std::nullopt;
}

std::string section_of(const std::vector<std::string>& path) {
  if (path[0] == "metadata" && path.size() > 1 && is_metadata_part(path[1])) return "metadata." + path[1];
  if (path[0] == "metadata" || path[0] == "kind" || path[0] == "apiVersion") return "metadata";
  return path[0];
}

namespace {

std::string dotted(const std::vector<std::string>& path) {
  std::string s;
  for (const auto& p : path) s += (s.empty() ? "" : ".") + p;
  return s;
}

bool at_or_below(const std::string& path, const std::string& field) {
  return path == field || (path.size() > field.size() && path.compare(0, field.size(), field) == 0 &&
                           path[field.size()] == '.');
}

}  // namespace

std::string section_of(const KindDecl* kind, const std::vector<std::string>& path) {
  if (kind) {
    std::string p = dotted(path);
    for (const auto& f : kind->system_fields)
      if (at_or_below(p, f)) return f;
  }
  return section_of(path);
}

std::vector<std::string> system_fields_under(const KindDecl* kind, const std::vector<std::string>& path) {
  std::vector<std::string> out;
  if (!kind) return out;
  std::string p = dotted(path);
  for (const auto& f : kind->system_fields)
    if (at_or_below(f, p) && f != p) out.push_back(f);
  return out;
}

std::vector<std::string> all_sections(const KindDecl* kind) {
  std::vector<std::string> out = {"metadata"};
  for (const auto& p : kMetadataParts) out.push_back("metadata." + p);
  if (kind) {
    out.insert(out.end(), kind->sections.begin(), kind->sections.end());
    out.insert(out.end(), kind->system_fields.begin(), kind->system_fields.end());
  } else {
    out.push_back("spec");
    out.push_back("status");
  }
  return out;
}

bool writable_by_non_owner(const std::string& section) {
  return section == "status" || (section.rfind("metadata.", 0) == 0);
}

bool rest_is_one_field(std::string_view dotted_prefix) {
  return dotted_prefix == "metadata.labels" || dotted_prefix == "metadata.annotations";
}

std::vector<std::string> dotted_fields(std::string_view dotted) {
  std::vector<std::string> out;
  if (dotted.empty()) return out;
  size_t start = 0;
  for (size_t dot; (dot = dotted.find('.', start)) != std::string_view::npos;) {
    out.emplace_back(dotted.substr(start, dot - start));
    start = dot + 1;
    if (rest_is_one_field(dotted.substr(0, dot))) break;
  }
  out.emplace_back(dotted.substr(start));
  return out;
}

}  // namespace pmesh::dsl
