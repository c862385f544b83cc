// What a `set x.path ordered by VALUE` head sorts a list by, read from its
// value: a list of field names compared one after the other (the
// api-syncagent sorts its export's claims by group, then resource), or a
// template of them, "$resource/$group/$identityHash", whose text is
// compared (kcp sorts claims by such a key; "$a.$b" differs from comparing
// a, then b, where one value is a prefix of another). The compiler reads a
// literal value with it, the engine a computed one.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pmesh::dsl {

struct ListOrder {
  std::vector<std::string> fields;
  std::vector<std::string> literals;  // a template's text around its fields: one more than fields
  bool templated = false;
};

// The order `value` names: a non-empty list of field names, or a template
// with at least one `$field` (`$$` is a "$"); nothing for any other value.
std::optional<ListOrder> list_order(const nlohmann::json& value);

// What a value that names no order is told.
inline constexpr const char* kListOrderExpected =
    "`ordered by` takes a list of field names, [\"group\", \"resource\"], or a template of them, \"$resource/$group\"";

}  // namespace pmesh::dsl
