// Kubernetes' JSONPath (k8s.io/client-go/util/jsonpath), the subset that
// printer columns use: what a CRD's additionalPrinterColumns and kubectl's
// `-o jsonpath` templates write.
//
// A template is text with `{...}` expressions; a bare path (".spec.type",
// as a CRD column gives it) is one expression. An expression is an optional
// `$` or `@`, then steps: `.field` (a backslash escapes a dot), `.*`,
// `['key']` / `["key"]` (unions: `['a','b']`), `[n]` (negative counts from
// the end), `[*]`, and filters `[?(@.path)]` / `[?(@.path op literal)]` with
// ==, !=, <, <=, >, >= against a quoted string, a number, true or false.
// Not supported (a parse error, never a silent miss): `..`, slices, `range`.
// Missing fields find nothing, as columns evaluate with allowMissingKeys.
//
// Thread safety: a parsed JsonPath is immutable; evaluation is pure.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pmesh {

class KubeJsonPath {
 public:
  // Parses `text`; nullopt with `*error` set when it is not in the subset.
  static std::optional<KubeJsonPath> parse(const std::string& text, std::string* error);

  // Each expression's results, in template order (text pieces are not
  // results). REQUIRES: `root` outlives the pointers.
  std::vector<std::vector<const nlohmann::json*>> find(const nlohmann::json& root) const;
  // The template printed as kubectl prints it: text as written, each
  // expression's results separated by a space (strings as they are,
  // other values as JSON). nullopt when no expression found anything.
  std::optional<std::string> print(const nlohmann::json& root) const;
  // Whether the template is one expression and nothing else.
  bool single_expression() const;

  struct Step;
  struct Piece;

 private:
  std::shared_ptr<const std::vector<Piece>> pieces_;
};

// A value as kube's JSONPath prints it.
std::string print_json_value(const nlohmann::json& v);

}  // namespace pmesh
