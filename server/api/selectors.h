// Label and field selectors, parsed as Kubernetes parses them
// (k8s.io/apimachinery/pkg/labels and /fields).
//
// Labels: `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`,
// `k>n`, `k<n`, comma-separated, all of which must hold; keys must be
// qualified names and values label values, as kube validates them. Fields:
// `metadata.name` and `metadata.namespace` with `=`, `==`, `!=` (a value may
// escape `,`, `=` and `\` with a backslash).
//
// Thread safety: immutable after parsing.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace pmesh::server {

class Selector {
 public:
  // nullopt and `error` set on a syntax error or an invalid key or value.
  static std::optional<Selector> parse_labels(const std::string& text, std::string* error);
  // `labels`: the fields the kind's selectors may name (KindDecl::field_labels;
  // empty: metadata.name and metadata.namespace).
  static std::optional<Selector> parse_fields(const std::string& text, const std::vector<std::string>& labels,
                                              std::string* error);

  bool matches(const nlohmann::json& object) const;
  bool empty() const { return reqs_.empty(); }
  // `name=value` for `metadata.name`, to narrow a watch to one object.
  void require_field(const std::string& key, const std::string& value);

 private:
  enum class Op { kExists, kNotExists, kEq, kNotEq, kIn, kNotIn, kGt, kLt };
  struct Requirement {
    std::string key;
    Op op;
    std::set<std::string> values;
    std::vector<std::string> path;  // a field selector's key, split at '.'
  };
  bool fields_ = false;
  std::vector<Requirement> reqs_;
};

}  // namespace pmesh::server
