// The evaluator: expressions and plans over the engine's state.
//
// Bindings hold the value of every variable of a rule (objects by pointer
// into the state, other values by copy). Evaluator::eval computes an
// expression; Evaluator::run executes a plan, bound (dsl/bound_plan.h),
// calling `emit` for every match. A plan can run with some positive
// patterns fixed to given facts: that is how the engine re-evaluates one
// known match.
//
// Field access is forgiving, as JSON is: a missing field, or a field of
// null, is null. Type errors (adding a string to a number, comparing a list)
// raise EvalError, which drops the match and is reported.
//
// Plans and expressions run in their bound form (dsl/bound_plan.h), made
// when the rules are loaded: no name or expression is looked up while they
// run.
//
// Thread safety: an Evaluator reads the state; it must not run while the
// state changes (it keeps nothing of its own but `deepest_step`).
#pragma once

#include "engine/engine_stats.h"

#include <functional>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include <absl/functional/function_ref.h>

#include "dsl/bound_plan.h"
#include "dsl/compiler.h"
#include "engine/state.h"

namespace pmesh {
struct Builtin;
}

namespace pmesh::engine {

struct EvalError : std::runtime_error {
  EvalError(const std::string& msg, dsl::Span span) : std::runtime_error(msg), span(span) {}
  dsl::Span span;
};

struct Slot {
  const Json* ptr = nullptr;  // an object in the state, or a fact being changed
  Json owned;
  // Object facts: the key, the state's own (or the caller's that bound a
  // trigger), valid while the bindings are used: a match copies it.
  const FactKey* fact = nullptr;
  bool bound = false;
  const Json& get() const { return ptr ? *ptr : owned; }
};

// The slots a tuple pattern bound (a few: inline, no allocation per candidate).
using NewlyBound = boost::container::small_vector<int, 8>;

// Positive patterns pinned to facts (a handful: a linear search is the
// cheapest, and they are held inline).
using FixedFacts = boost::container::small_vector<std::pair<const dsl::BodyItem*, const FactKey*>, 6>;

struct Bindings {
  std::vector<Slot> slots;
  // Of the tuple that triggered a delta plan: views into its fact key,
  // which the caller of bind_trigger holds while the bindings are used.
  decltype(TupleView::args) trigger_args;
  std::vector<std::string> tuple_values;  // arguments tuple steps kept (dsl::Step::deferred)
  // Looking for matches to evaluate (Engine::discover), not evaluating one:
  // a binding whose expressions fail is passed over and the search goes on
  // (evaluate() meets the failure again if the binding is a match), where
  // evaluating a match stops at the first failure and reports it.
  bool discovering = false;
  // While discovering: the tuple each enclosing tuple step matched, so
  // that a match's tuple positives are known even where the pattern leaves
  // an argument unnamed (`_`) and could not be rebuilt from the variables.
  std::vector<std::pair<const dsl::BodyItem*, const FactKey*>> found_tuples;

  // Empty again, with `n` unbound slots, keeping what the vectors and the
  // slots' strings had allocated: for a caller that searches many times
  // (Engine::discover), where fresh bindings were an allocation per slot.
  void reset(size_t n) {
    slots.resize(n);
    for (Slot& s : slots) {
      s.ptr = nullptr;
      if (!s.owned.is_string()) s.owned = nullptr;  // a string's buffer is reused (tuple_ok)
      s.fact = nullptr;
      s.bound = false;
    }
    trigger_args.clear();
    tuple_values.clear();
    discovering = false;
    found_tuples.clear();
  }
};

// Called with each binding a plan finds; returns false to stop. A
// reference to the caller's callable, not a copy: a search is started for
// every fact a change wakes, and a std::function allocated for each.
using EmitFn = absl::FunctionRef<bool(Bindings&)>;

// What the engine knows about a rule at run time.
struct RuleRuntime {
  int index = 0;
  const dsl::RuleInfo* info = nullptr;
  const dsl::RulePlan* plan = nullptr;
  std::shared_ptr<const dsl::BoundRule> bound;  // its plans and expressions, as the evaluator runs them
  std::vector<const dsl::BodyItem*> positives;  // top-level, non-optional patterns, in body order
  std::vector<int> positive_slots;              // of each: its object variable's slot; -1 for a tuple
  int stratum = 0;
  bool recursive = false;
  // A variable's slot is its place among the rule's variables.
  // REQUIRES: `v` is a variable of this rule.
  int slot(const dsl::VarInfo* v) const { return v->index; }
  // A rule set added at run time numbers its indexes from 0; the state's
  // number for each (empty: the same).
  std::vector<int> index_map;
  int state_index(int i) const { return index_map.empty() || i < 0 ? i : index_map[static_cast<size_t>(i)]; }
  // The paths its heads write that name no key (most), resolved and
  // interned once rather than for every match: a `set` head's by head, a
  // derive's fields' by head and field; null where a path names a key.
  std::vector<SharedPath> set_paths;
  std::vector<std::vector<SharedPath>> field_paths;
  // What its evaluations have cost (engine_stats.h); counted where the rule runs.
  mutable RuleStats stats;
};

// REQUIRES: `compiled` has plans (it compiled without errors).
std::vector<RuleRuntime> make_runtimes(const dsl::CompiledProgram& compiled);

// Appends a field of a head's path to `out`; with `may_be_shorthand` (a
// `set` head's first field) a shorthand is put under metadata (x.labels
// is x.metadata.labels). Engine::resolve_path and plain_path share it.
void append_path_field(JsonPath& out, const std::string& field, bool may_be_shorthand);
// The path a head writes when it names no key, as any binding resolves
// it; nullopt when it names one.
std::optional<JsonPath> plain_path(const dsl::Path& path, bool set_head);

class Evaluator {
 public:
  // `old` answers old(x): the committed version of a fact, or nullptr.
  Evaluator(const State& state, std::function<const Json*(std::string_view)> old);

  // The value of `e`, one of rt.bound's expressions (a head's, BoundHead).
  Json eval(const dsl::BoundExpr& e, const RuleRuntime& rt, Bindings& b) const { return eval_bound(e, rt, b, nullptr); }

  // Runs `plan` (one of rt.bound's) from step 0 with what `b` binds.
  // `fixed` pins positive patterns to facts. `emit` returns false to stop.
  void run(const dsl::BoundPlan& plan, const RuleRuntime& rt, Bindings& b,
           const FixedFacts* fixed,
           EmitFn emit) const;

  // Binds the trigger of a delta plan to a fact (an object's JSON, or a
  // tuple, with `tuple` its parts when the caller has them already).
  // Returns false when the fact cannot match the trigger.
  // REQUIRES: `fact` outlives the use of `b` (it holds views into it);
  // `tuple`, when given, is view_tuple_fact(fact.str()).
  bool bind_trigger(const dsl::BoundPlan& plan, const RuleRuntime& rt, Bindings& b, const FactKey& fact,
                    const Json* object, const TupleView* tuple = nullptr) const;

  // The identity (`plural.group`) of the run-time kind `resource(group,
  // resource)` names, bound; an error's span is `span`.
  // REQUIRES: what `group` and `resource` read is bound.
  std::string kind_key(const dsl::BoundExpr& group, const dsl::BoundExpr& resource, const dsl::Span& span,
                       const RuleRuntime& rt, Bindings& b) const;

  // How deep the last run got: the index of the first step no candidate
  // passed, for explaining why something is absent.
  mutable size_t deepest_step = 0;

 private:
  // kind_key of a pattern's kind. REQUIRES: `p.group` (a kind known at run time).
  std::string kind_key(const dsl::BoundPattern& p, const RuleRuntime& rt, Bindings& b) const;
  // Whether a delta plan's trigger is of the kind its `resource(g, r)`
  // names, once g and r are bound (dsl::Plan::trigger_kind_check).
  bool trigger_kind_ok(const dsl::BoundPlan& plan, const RuleRuntime& rt, Bindings& b) const;
  // A step's key values, each where it is held (ref) or computed
  // into `tmps`. Filled in place by step_keys: `refs` point into `tmps`.
  struct StepKeys {
    boost::container::small_vector<Json, 4> tmps;
    boost::container::small_vector<const Json*, 4> refs;
    std::span<const Json* const> all() const { return {refs.data(), refs.size()}; }
  };
  void step_keys(const dsl::BoundStep& s, const RuleRuntime& rt, Bindings& b, StepKeys& out) const;
  // The arguments of the function being evaluated (expressions.cc).
  struct Frame {
    const Json* const* args = nullptr;
  };
  Json eval_bound(const dsl::BoundExpr& e, const RuleRuntime& rt, Bindings& b, const Frame* frame) const;
  // The value of `e` where it already lives (a variable, a field of one, a
  // literal), or else computed into `tmp`.
  const Json* ref(const dsl::BoundExpr& e, const RuleRuntime& rt, Bindings& b, const Frame* frame, Json& tmp) const;
  Json call(const dsl::BoundExpr& e, const RuleRuntime& rt, Bindings& b, const Frame* frame) const;
  Json aggregate(const dsl::BoundExpr& e, const RuleRuntime& rt, Bindings& b) const;
  // Whether every variable `e` reads is bound (an aggregate counts as not).
  bool all_bound(const dsl::BoundExpr& e, const Bindings& b) const;
  bool step(const dsl::BoundPlan& plan, size_t i, const RuleRuntime& rt, Bindings& b,
            const FixedFacts* fixed, EmitFn emit) const;
  bool object_ok(const dsl::BoundStep& s, const RuleRuntime& rt, Bindings& b, const ObjectEntry& e,
                 std::span<const Json* const> keys) const;
  // `trigger`: the tuple that triggered a delta plan, whose arguments that
  // read variables bound later are compared only once they are.
  bool tuple_ok(const dsl::BoundPattern& t, const RuleRuntime& rt, Bindings& b, const TupleView& fact,
                NewlyBound& newly_bound, bool trigger = false) const;
  bool checks_ok(const std::vector<dsl::BoundCheck>& checks, const RuleRuntime& rt, Bindings& b) const;

  const State& state_;
  std::function<const Json*(std::string_view)> old_;
};

// Whether a condition value is true (only `true` is).
inline bool truthy(const Json& v) { return v.is_boolean() && v.get<bool>(); }

}  // namespace pmesh::engine
