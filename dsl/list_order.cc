#include "dsl/list_order.h"

#include <cctype>

namespace pmesh::dsl {

std::optional<ListOrder> list_order(const nlohmann::json& value) {
  ListOrder o;
  if (value.is_array()) {
    if (value.empty()) return std::nullopt;
    for (const auto& f : value) {
      if (!f.is_string()) return std::nullopt;
      o.fields.push_back(f.get<std::string>());
    }
    return o;
  }
  if (!value.is_string()) return std::nullopt;
  const std::string& t = value.get_ref<const std::string&>();
  auto name_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  o.templated = true;
  o.literals.emplace_back();
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] != '$') {
      o.literals.back() += t[i];
    } else if (i + 1 < t.size() && t[i + 1] == '$') {
      o.literals.back() += '$';
      ++i;
    } else {
      size_t j = i + 1;
      while (j < t.size() && name_char(t[j])) ++j;
      if (j == i + 1) return std::nullopt;  // a "$" that names no field
      o.fields.push_back(t.substr(i + 1, j - i - 1));
      o.literals.emplace_back();
      i = j - 1;
    }
  }
  if (o.fields.empty()) return std::nullopt;
  return o;
}

}  // namespace pmesh::dsl
