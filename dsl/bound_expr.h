// Bound expressions: what the evaluator runs instead of the syntax tree.
//
// The binder lowers every expression of a checked, planned rule once, when
// the rule is loaded: a variable becomes the slot of the rule's bindings it
// lives in, a function's parameter its position in the call's frame, a call
// the function it names (bound in turn, once per rule) or the builtin, an
// operator an enum, a literal a JSON value made once. Nothing is looked up
// by name while the rule runs. What can only fail at run time (a variable
// read before it is bound, a name nothing declares) becomes a node that
// raises the error the evaluator always raised there.
//
// The source expression stays reachable from each node, for the spans of
// errors. A plan's operands are bound here too (dsl/bound_plan.h), with
// ops of their own that have no source expression.
//
// Thread safety: immutable once bound; read by any number of threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsl/ast.h"

namespace pmesh {
struct Builtin;
}

namespace pmesh::dsl {

enum class BoundOp : uint8_t {
  kConst,     // value
  kInterp,    // the text of each of args, joined
  kSlot,      // the rule's variable in slot `index`
  kParam,     // the enclosing function's parameter `index`
  // args[0].text; `shorthand`: x.name is x.metadata.name where x is an
  // object of the model (a kind and a metadata), whatever else it holds.
  kField,
  // x.a.b of an object variable: slot `index`, then its fields `keys` in
  // turn, each read as kField reads it (bit i of `shorthand_keys`: keys[i]
  // is a shorthand); `shorthand`: keys[0] is the metadata a first field
  // that is a shorthand (x.name) names. No args: an error's span is found
  // from `src`, the outermost field.
  kFieldPath,
  kIndex,     // args[0][args[1]]
  kList,      // [args...]
  kObject,    // { keys[i]: args[i] }
  kNot,
  kNeg,
  kCond,      // args[0] ? args[1] : args[2]
  kAnd,
  kOr,
  kCoalesce,  // ??
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kIn,
  kNotIn,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kFunction,  // function(args...)
  kBuiltin,   // builtin(args...)
  kOld,       // old(x): the committed version of the object in slot `index`
  kAggregate, // src->agg over src->body (its bound plan is `plan`), of args[0]
  kError,     // raises `text`
  // A plan's operands (dsl::Operand), which have no syntax of their own
  // (`src` is null, and none of them raises an error):
  kPath,        // slot `index`, then its fields `keys` in turn; null where one is missing
  kTriggerArg,  // argument `index` of the tuple that triggered the plan, as text
  kTupleValue,  // Bindings::tuple_values[index] (Step::deferred)
  kKeyBuiltin,  // builtin(args...) where every argument is a string; else null
  kNamespaceKey,  // args[0], with null as "" (a namespace clause's side)
};

struct BoundFunction;
struct BoundPlan;

struct BoundExpr {
  BoundOp op = BoundOp::kConst;
  const Expr* src = nullptr;
  int index = -1;
  bool shorthand = false;
  uint64_t shorthand_keys = 0;  // kFieldPath
  nlohmann::json value;
  std::string text;  // kField: the field; kError: the message; operators: as written
  const Builtin* builtin = nullptr;
  const BoundFunction* function = nullptr;
  std::vector<const BoundExpr*> args;
  std::vector<std::string> keys;  // kObject; kPath, kFieldPath: the fields
  const BoundPlan* plan = nullptr;  // kAggregate: its body's plan
};

struct BoundFunction {
  const FunctionDecl* decl = nullptr;
  const BoundExpr* body = nullptr;
};

}  // namespace pmesh::dsl
