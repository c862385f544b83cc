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
// The source expression stays reachable from each node: for the spans of
// errors, and for an aggregate, whose body runs through the rule's plans.
//
// Thread safety: immutable once bound; read by any number of threads.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "dsl/analysis/rule_info.h"
#include "dsl/planner.h"

namespace pmesh {
struct Builtin;
}

namespace pmesh::dsl {

class Program;

enum class BoundOp : uint8_t {
  kConst,     // value
  kInterp,    // the text of each of args, joined
  kSlot,      // the rule's variable in slot `index`
  kParam,     // the enclosing function's parameter `index`
  kField,     // args[0].text; `shorthand`: x.name may mean x.metadata.name
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
  kAggregate, // src->agg over src->body (its plan is the rule's subplan), of args[0]
  kError,     // raises `text`
};

struct BoundFunction;

struct BoundExpr {
  BoundOp op = BoundOp::kConst;
  const Expr* src = nullptr;
  int index = -1;
  bool shorthand = false;
  nlohmann::json value;
  std::string text;  // kField: the field; kError: the message; operators: as written
  const Builtin* builtin = nullptr;
  const BoundFunction* function = nullptr;
  std::vector<const BoundExpr*> args;
  std::vector<std::string> keys;  // kObject
};

struct BoundFunction {
  const FunctionDecl* decl = nullptr;
  const BoundExpr* body = nullptr;
};

// A rule's expressions, bound. Nodes live as long as the BoundRule.
class BoundRule {
 public:
  // The bound form of `e`, an expression of the rule (body, heads, paths,
  // or its plans' operands); nullptr if `e` is not one.
  const BoundExpr* find(const Expr& e) const {
    auto it = of_.find(&e);
    return it == of_.end() ? nullptr : it->second;
  }

 private:
  friend class Binder;
  std::deque<BoundExpr> nodes_;
  std::deque<BoundFunction> functions_;
  std::unordered_map<const Expr*, const BoundExpr*> of_;
  std::unordered_map<const FunctionDecl*, const BoundFunction*> function_of_;
};

// Binds the rules of one program (functions are looked up in the modules
// each rule and function belongs to, within that program).
class Binder {
 public:
  explicit Binder(const Program& program);
  std::shared_ptr<const BoundRule> bind(const RuleInfo& info, const RulePlan& plan) const;

 private:
  struct Scope;
  const BoundExpr* expr(BoundRule& out, const Expr& e, const Scope& scope) const;
  const BoundFunction* function(BoundRule& out, const FunctionDecl& f) const;
  void plan(BoundRule& out, const Plan& p, const Scope& scope) const;
  void operand(BoundRule& out, const Operand& o, const Scope& scope) const;

  const Program& program_;
  std::unordered_map<const FunctionDecl*, const Module*> module_of_;
};

}  // namespace pmesh::dsl
