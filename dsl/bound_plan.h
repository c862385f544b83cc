// Bound plans: the planner's plans (dsl/planner.h) as the evaluator runs them.
//
// The binder lowers each plan of a rule once, when the rule is loaded, next
// to its expressions (dsl/bound_expr.h): a step holds the bound form of
// what it computes (a let's value, a filter's condition, its lookup keys and
// checks, a tuple pattern's arguments, a run-time kind's group and
// resource), the slot it binds, and its negated body's plan; an aggregate's
// expression holds its body's plan. So a search reads its step and the
// nodes the step points to, and looks nothing up by name or by expression
// (the syntax tree is read only for an error's span).
//
// What the binder does not lower stays on the planner's Step (`src`): its
// index, deferred arguments, and the pattern itself, whose address
// identifies the facts a match pins (FixedFacts) and found (found_tuples).
//
// A rule's heads are bound alongside (BoundHead), so a match's contributions
// are computed without looking an expression up either.
//
// Thread safety: immutable once bound; read by any number of threads.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "dsl/analysis/rule_info.h"
#include "dsl/bound_expr.h"
#include "dsl/planner.h"

namespace pmesh::dsl {

class Program;

// A value a step compares or looks up by (dsl::Operand), bound.
struct BoundOperand {
  const BoundExpr* value = nullptr;
  // Read from a tuple, so text: compared as a value would be written into
  // a tuple (Operand::from_tuple).
  bool from_tuple = false;
};

struct BoundCheck {
  BoundOperand x, y;
};

// Which field of the store's primary key an object lookup's key is.
enum class PrimaryField : uint8_t { kNone, kCluster, kNamespace, kName };

struct BoundKey {
  std::vector<std::string> fields;  // the candidate's field it names (object lookups), split at dots
  PrimaryField primary = PrimaryField::kNone;
  bool namespace_key = false;  // a namespace clause: a candidate without one has ""
  BoundOperand value;
};

// An argument of a tuple pattern: `_`, a variable (bound by the pattern if
// it is not yet), an expression the argument must equal as text, or one
// the step keeps for a later pattern (Step::deferred).
struct BoundTupleArg {
  enum class Kind : uint8_t { kAny, kVar, kExpr, kDeferred };
  Kind kind = Kind::kAny;
  int slot = -1;                   // kVar
  const BoundExpr* expr = nullptr;  // kExpr
  int value = -1;                  // kDeferred: Bindings::tuple_values[value]
};

// An object or tuple pattern's bound parts.
struct BoundPattern {
  const BodyItem* item = nullptr;
  const std::string* kind = nullptr;   // a kind known when the rules load
  const BoundExpr* group = nullptr;    // resource(group, resource): a kind known at run time
  const BoundExpr* resource = nullptr;
  const std::string* relation = nullptr;  // a tuple pattern's
  std::vector<BoundTupleArg> args;        // a tuple pattern's
};

struct BoundStep {
  const Step* src = nullptr;
  StepOp op = StepOp::kFilter;
  int slot = -1;                    // of the variable it binds
  bool each = false;                // kLet: `for x in`
  const BoundExpr* expr = nullptr;  // kLet: the value; kFilter: the condition
  BoundPattern pattern;             // object and tuple steps, kOptional
  std::vector<BoundKey> keys;
  std::vector<BoundCheck> checks;
  const BoundPlan* sub = nullptr;  // kNot: the negated body's plan
};

struct BoundPlan {
  const Plan* src = nullptr;
  BoundPattern trigger;           // the trigger's; empty for a full plan
  std::vector<int> seeded;        // the trigger's variables' slots
  std::vector<BoundCheck> trigger_checks;
  std::vector<BoundStep> steps;
};

// A head's expressions, bound: what the engine evaluates for each match
// (Engine::contributions, and an admission rule's heads).
struct BoundHead {
  const BoundExpr* cluster = nullptr;  // derive: `in`, `namespace`, `named`
  const BoundExpr* ns = nullptr;
  const BoundExpr* name = nullptr;
  const BoundExpr* value = nullptr;  // set, refuse
  const BoundExpr* group = nullptr;  // derive of a kind known at run time
  const BoundExpr* resource = nullptr;
  // A path's segments in order: a key's bound form, null for a field name.
  using PathKeys = std::vector<const BoundExpr*>;
  PathKeys path;                        // set
  std::vector<const BoundExpr*> fields;  // derive: each field's value
  std::vector<PathKeys> field_paths;     // derive: each field's path
  std::vector<const BoundExpr*> args;    // derive of a tuple: its arguments
};

// A rule's expressions, plans and heads, bound. Nodes live as long as the BoundRule.
class BoundRule {
 public:
  // The bound form of `e`, an expression of the rule (body, heads, paths,
  // or its plans' operands); nullptr if `e` is not one. For binding and
  // tests: the evaluator reads bound forms from steps and heads.
  const BoundExpr* find(const Expr& e) const {
    auto it = of_.find(&e);
    return it == of_.end() ? nullptr : it->second;
  }
  // The rule's full plan, and its delta plans in RulePlan::deltas' order.
  const BoundPlan& full() const { return plans_.front(); }
  const BoundPlan& delta(size_t i) const { return plans_[1 + i]; }
  size_t deltas() const { return deltas_; }
  // The rule's heads, in Rule::heads' order.
  const BoundHead& head(size_t i) const { return heads_[i]; }

 private:
  friend class Binder;
  std::deque<BoundExpr> nodes_;
  std::deque<BoundFunction> functions_;
  std::deque<BoundPlan> plans_;  // full, deltas, then sub-plans (of negations and aggregates)
  size_t deltas_ = 0;
  std::vector<BoundHead> heads_;
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
  // Where an expression is bound: in a rule (variables are slots), or in
  // the body of a function (names are its parameters).
  struct Scope {
    const RuleInfo* info = nullptr;
    const Module* module = nullptr;
    const FunctionDecl* function = nullptr;  // null in a rule
  };
  const BoundExpr* expr(BoundRule& out, const Expr& e, const Scope& scope) const;
  void field_path(BoundExpr& n, const Expr& e, const RuleInfo& info) const;
  const BoundFunction* function(BoundRule& out, const FunctionDecl& f) const;
  // In dsl/bind_plan.cc:
  void plan(BoundRule& out, const Plan& p, const Scope& scope, BoundPlan& to) const;
  const BoundPlan* sub_plan(BoundRule& out, const Plan& p, const Scope& scope) const;
  void step(BoundRule& out, const Step& s, BoundStep& to, const Scope& scope) const;
  BoundPattern pattern(BoundRule& out, const BodyItem& item, const Scope& scope,
                       const std::vector<Step::Deferred>* deferred) const;
  BoundOperand operand(BoundRule& out, const Operand& o, const Scope& scope) const;
  const BoundExpr* operand_value(BoundRule& out, const Operand& o, const Scope& scope) const;
  const BoundExpr* node(BoundRule& out, BoundExpr n) const;

  const Program& program_;
  std::unordered_map<const FunctionDecl*, const Module*> module_of_;
};

}  // namespace pmesh::dsl
