// How the evaluator reads values: as conditions, as text, and how it
// reports an expression that cannot be evaluated. Internal to the
// evaluator (evaluator.cc, expressions.cc).
#pragma once

#include <string>

#include "engine/evaluator.h"

namespace pmesh::engine {

[[noreturn]] inline void fail(const dsl::Expr& e, const std::string& msg) { throw EvalError(msg, e.span); }

// A value as a tuple's argument holds it: strings as they are, the rest as JSON text.
inline std::string as_text(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }
// Whether as_text(v) == text, without copying a string.
inline bool is_text(const Json& v, std::string_view text) {
  return v.is_string() ? v.get_ref<const std::string&>() == text : v.dump() == text;
}
// Whether as_text(u) == as_text(v), likewise.
inline bool same_text(const Json& u, const Json& v) {
  if (u.is_string() && v.is_string()) return u.get_ref<const std::string&>() == v.get_ref<const std::string&>();
  return as_text(u) == as_text(v);
}

// A condition: null is false; anything but a boolean is an error.
inline bool to_bool(const dsl::Expr& e, const Json& v) {
  if (v.is_null()) return false;
  if (!v.is_boolean()) fail(e, std::string("expected a boolean, found ") + v.type_name() + " " + v.dump());
  return v.get<bool>();
}

}  // namespace pmesh::engine
