// The builtin functions of the rules language.
//
// A Builtin is a pure function of JSON values: the same arguments give the
// same result, byte for byte (there is no clock and no randomness here; that
// is what makes evaluation deterministic). The compiler checks calls against
// each builtin's arity; the engine calls `fn`.
//
// Thread safety: the registry is immutable; every builtin is reentrant.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <stdexcept>
#include <string>
#include <cstddef>
#include <string_view>
#include <vector>

namespace pmesh {

using Json = nlohmann::json;

// Thrown by a builtin on arguments of the wrong type or value; the engine
// reports it against the call in the rule.
struct BuiltinError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The arguments of a call: views of values that live elsewhere (the
// caller's bindings, the objects of the state), so that a call copies
// nothing. REQUIRES: what they point at outlives the call.
class BuiltinArgs {
 public:
  BuiltinArgs(const Json* const* args, size_t n) : args_(args), n_(n) {}
  const Json& operator[](size_t i) const { return *args_[i]; }
  size_t size() const { return n_; }

 private:
  const Json* const* args_;
  size_t n_;
};

using BuiltinFn = Json (*)(const BuiltinArgs& args);

struct Builtin {
  std::string_view name;
  int min_args;
  int max_args;
  std::string_view signature;  // e.g. "split(s, sep) -> list"
  std::string_view doc;
  BuiltinFn fn;
};

// The string argument `i` of a call of `fn`, or BuiltinError saying what it
// is instead (for builtins defined outside builtins.cc).
const std::string& builtin_string(const BuiltinArgs& args, size_t i, const char* fn);

// The builtin named `name`, or nullptr.
const Builtin* find_builtin(std::string_view name);

// `pluck(select(list, field, value), picked)` in one pass that copies only
// the picked values, where the composition copied every object it kept (a
// condition list's rollup, five conditions, to read their types). The
// binder calls it for that composition when both fields are literal
// strings, so that its only errors are select's, with select's messages.
// Not a name rules can call. Arguments: (list, field, value, picked).
const Builtin& pluck_selected();

// Calls `b` with values at hand (outside the evaluator, which passes views).
Json call_builtin(const Builtin& b, const std::vector<Json>& args);

// All builtins, sorted by name.
const std::vector<Builtin>& all_builtins();

// metav1.LabelSelector semantics (what `selector_matches` computes):
// matchLabels and every matchExpression (In, NotIn, Exists, DoesNotExist);
// an empty selector selects everything. Throws BuiltinError for a selector
// that is not an object or an unknown operator.
bool label_selector_matches(const Json& selector, const Json& labels);

// Special forms are called like functions but are not values: the compiler
// and the engine treat them themselves. `old(x)` reads x as it was committed
// before the current transaction.
bool is_special_form(std::string_view name);

}  // namespace pmesh
