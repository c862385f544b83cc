// Label and field selectors, as Kubernetes parses them.
//
// Labels: `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`,
// comma-separated, all of which must hold. Fields: `metadata.name` and
// `metadata.namespace` with `=`, `==`, `!=`.
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
  // nullopt and `error` set on a syntax error.
  static std::optional<Selector> parse_labels(const std::string& text, std::string* error);
  static std::optional<Selector> parse_fields(const std::string& text, std::string* error);

  bool matches(const nlohmann::json& object) const;
  bool empty() const { return reqs_.empty(); }

 private:
  enum class Op { kExists, kNotExists, kEq, kNotEq, kIn, kNotIn };
  struct Requirement {
    std::string key;
    Op op;
    std::set<std::string> values;
  };
  bool fields_ = false;
  std::vector<Requirement> reqs_;
};

}  // namespace pmesh::server
