// The planner: lowers each checked rule into plans for the engine.
//
// A Plan is an ordered list of steps that finds the matches of a rule body:
// scan or look up objects and tuples, compute lets, filter, test negations
// and optional matches. A rule gets a full plan (every match, from nothing:
// what `verify` recomputes) and one delta plan per pattern, at any depth,
// that starts from one changed fact of that pattern and joins the rest
// through indexes. Equalities between a pattern's fields and values already
// bound (from `in`, `namespace`, `named`, `labels` and `where a == b`) become
// lookup keys; the indexes the lookups need are collected, so the engine
// builds exactly those. A lookup on cluster, namespace and name, or a prefix
// of them, uses the store's primary key.
//
// Thread safety: immutable after construction.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dsl/analysis/rule_info.h"
#include "dsl/diagnostics.h"
#include "dsl/program.h"

namespace pmesh {
struct Builtin;
}

namespace pmesh::dsl {

// A value a step computes from bindings: an expression, or a path of a
// bound variable (what the other side of a pattern clause names).
struct Operand {
  const Expr* expr = nullptr;
  const VarInfo* var = nullptr;
  std::string path;  // dotted canonical path of `var`; empty for the variable itself
  // A builtin applied to `inner`: how the planner inverts `x == child(a, b)`
  // into `a == parent(x)` and `b == base(x)`.
  std::string fn;
  const Builtin* builtin = nullptr;        // fn's, resolved by the planner
  std::shared_ptr<Operand> inner, inner2;  // inner2: the second argument (child)
  // Argument `trigger_arg` of the tuple that triggered a delta plan: how
  // `for r(x.cluster, y)` started from a tuple finds `x` by its cluster.
  // With `tuple_value` >= 0, of the tuple a step found instead: the
  // argument that step left to be a key of a later pattern (Step::deferred).
  int trigger_arg = -1;
  int tuple_value = -1;        // Bindings::tuple_values[tuple_value]
  std::string value_label;     // `relation[position]`, for describe()
  // A side of an object pattern's namespace clause: there no namespace is
  // "" as well as null (kube's empty namespace), so a cluster-scoped object
  // is found by a namespace a tuple holds as "".
  bool namespace_key = false;
  // Whether the value is read from a tuple (the trigger, or one a step
  // found), perhaps through parent() or base(): text, as narrow as a variable.
  bool from_tuple() const {
    return trigger_arg >= 0 || tuple_value >= 0 || (inner && inner->from_tuple()) || (inner2 && inner2->from_tuple());
  }
  std::string to_string() const;
};

enum class StepOp {
  kScan,         // every object of a kind (in a cluster, when only that is known)
  kLookup,       // objects of a kind through an index
  kTupleScan,    // every tuple of a relation
  kTupleLookup,  // tuples of a relation with some arguments known
  kLet,          // bind a variable to a value
  kFilter,       // keep the match where a condition holds
  kNot,          // keep the match where a sub-body has no match
  kOptional,     // bind an optional match, or null
};

struct Plan;

struct IndexSpec {
  bool relation = false;
  std::string name;               // kind (or "*") or relation
  std::vector<std::string> keys;  // canonical paths, or argument positions of a relation
  bool operator<(const IndexSpec& o) const {
    return std::tie(relation, name, keys) < std::tie(o.relation, o.name, o.keys);
  }
  bool operator==(const IndexSpec& o) const {
    return relation == o.relation && name == o.name && keys == o.keys;
  }
  std::string to_string() const;
};

struct KeyBinding {
  std::string key;  // canonical path, or argument position
  Operand value;
};

struct Step {
  StepOp op = StepOp::kFilter;
  const BodyItem* item = nullptr;
  const VarInfo* binds = nullptr;  // the variable this step binds, if any
  std::vector<KeyBinding> keys;    // kLookup, kTupleLookup, kOptional
  int index = -1;                  // into CompiledRules::indexes; -1: primary key or scan
  // A top-level positive pattern of a full plan: the engine evaluates a
  // match with these pinned to its facts, so the step looks nothing up
  // and keeps no index (a run without a match, `pmesh explain`, checks
  // its keys on each candidate of a scan).
  bool pinned = false;
  // A lookup that finds one fact at most: of an object by its whole name
  // (cluster, namespace unless cluster-scoped, name), whatever index it goes
  // through; of a tuple by every argument, or by its relation's declared
  // key. A let may be computed after such a step (sink_lets) without being
  // computed once per fact it finds.
  bool at_most_one = false;
  // Clause equalities that were not lookup keys, checked once both sides are bound.
  std::vector<std::pair<Operand, Operand>> checks;
  std::shared_ptr<Plan> sub;  // kNot: the negated body's plan
  // kTupleLookup: arguments that are paths of an object not bound yet
  // (`for r(ns.cluster, a)` with `a` known): the step keeps the found
  // tuple's argument at `position` in Bindings::tuple_values[value], and
  // that object is then looked up by it and checked against it.
  struct Deferred {
    int position = 0;
    int value = 0;
  };
  std::vector<Deferred> deferred;
};

struct Plan {
  const BodyItem* trigger = nullptr;  // the pattern whose change starts this plan; null: full
  bool reevaluate = false;  // trigger under not/aggregate: the plan finds outer bindings to re-evaluate
  std::vector<const VarInfo*> seeded;  // bound before the first step (the trigger's variables)
  std::vector<std::pair<Operand, Operand>> trigger_checks;
  std::vector<Step> steps;
  // A trigger of a kind known only at run time (`resource(g, r)` with g or r
  // bound by later steps) is checked to be of that kind before this step
  // (steps.size(): before the match is made); none when there is no such
  // trigger. Without it a change of one kind would run on as another kind's
  // binding (and its errors would stop the search for the right one).
  size_t trigger_kind_check = kNoKindCheck;
  static constexpr size_t kNoKindCheck = static_cast<size_t>(-1);
  // A delta plan's search has found a match once it reaches this step:
  // what follows only binds values (a `let`, an `opt` pattern) and rejects
  // nothing, so the search does not compute them; the match's evaluation
  // (the full plan) does, and reports what fails there. None (the whole
  // plan) for a full plan and a sub-plan.
  size_t found_at = kWholePlan;
  static constexpr size_t kWholePlan = static_cast<size_t>(-1);
};

struct RulePlan {
  const RuleInfo* info = nullptr;
  int tuple_values = 0;  // how many Step::deferred values its plans keep
  Plan full;
  std::vector<Plan> deltas;
  // Plans of the bodies of aggregates, with every enclosing variable bound.
  std::map<const Body*, std::shared_ptr<Plan>> subplans;
};

class Planner {
 public:
  // `program`: where the relations the rules read are declared (their keys
  // make a lookup one tuple at most); none, for rules planned alone.
  explicit Planner(DiagnosticSink& diags, const Program* program = nullptr) : diags_(diags), program_(program) {}

  RulePlan plan(const RuleInfo& info);
  const std::vector<IndexSpec>& indexes() const { return indexes_; }

 private:
  // An equality that may become a lookup key, and what one body's planning
  // works on (both in dsl/plan_body.cc, which plans a body step by step).
  struct Eq;
  struct State;
  Plan plan_body(const RuleInfo& info, const std::vector<const Body*>& bodies,
                 std::vector<const VarInfo*> bound, const BodyItem* trigger);
  int index_for(IndexSpec spec);

  int tuple_values_ = 0;  // of the rule being planned
  DiagnosticSink& diags_;
  const Program* program_ = nullptr;
  std::vector<IndexSpec> indexes_;
};

// Marks the steps of full plans that a match pins (Step::pinned), takes
// their indexes away, and keeps of `indexes` those a plan still looks
// things up by, renumbering the steps': every index is kept up to date on
// every write, and one that only a pinned step named (tuples by a
// relation's name, objects by a name every workspace has) put each write
// into a bucket of every such fact.
void unindex_pinned_steps(std::vector<RulePlan>& plans, std::vector<IndexSpec>& indexes);

// A readable listing of a rule's plans, for `pmesh plan` and golden tests.
std::string describe(const RulePlan& plan, const std::vector<IndexSpec>& indexes);

}  // namespace pmesh::dsl
