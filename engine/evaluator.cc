#include "engine/evaluator.h"

#include <algorithm>
#include <cmath>

#include "dsl/object_model.h"
#include "engine/expression_values.h"

namespace pmesh::engine {

using dsl::BodyItemKind;
using dsl::StepOp;

std::vector<RuleRuntime> make_runtimes(const dsl::CompiledProgram& compiled) {
  std::vector<RuleRuntime> out(compiled.rules.size());
  dsl::Binder binder(*compiled.program);
  for (size_t i = 0; i < compiled.rules.size(); ++i) {
    RuleRuntime& rt = out[i];
    rt.index = static_cast<int>(i);
    rt.info = &compiled.rules[i];
    rt.plan = &compiled.plans[i];
    rt.bound = binder.bind(*rt.info, *rt.plan);
    for (const auto& item : rt.info->rule->body.items)
      if ((item.kind == BodyItemKind::kObject && !item.object.optional) || item.kind == BodyItemKind::kTuple) {
        rt.positives.push_back(&item);
        int slot = -1;
        if (item.kind == BodyItemKind::kObject)
          for (size_t v = 0; v < rt.info->vars.size(); ++v)
            if (rt.info->vars[v]->pattern == &item.object) slot = static_cast<int>(v);
        rt.positive_slots.push_back(slot);
      }
    rt.stratum = compiled.graph->stratum_of(rt.info->rule);
    rt.recursive = compiled.graph->strata()[static_cast<size_t>(rt.stratum)].recursive;
    const auto& heads = rt.info->rule->heads;
    rt.set_paths.resize(heads.size());
    rt.field_paths.resize(heads.size());
    for (size_t h = 0; h < heads.size(); ++h) {
      if (heads[h].kind == dsl::HeadKind::kSet)
        if (auto p = plain_path(heads[h].path, true)) rt.set_paths[h] = intern_path(std::move(*p));
      if (heads[h].kind == dsl::HeadKind::kDeriveObject)
        for (const auto& f : heads[h].fields) {
          auto p = plain_path(f.path, false);
          rt.field_paths[h].push_back(p ? intern_path(std::move(*p)) : nullptr);
        }
    }
  }
  return out;
}

void append_path_field(JsonPath& out, const std::string& field, bool may_be_shorthand) {
  if (may_be_shorthand && dsl::is_shorthand(field)) out.push_back(PathElem{"metadata", false, "", nullptr});
  out.push_back(PathElem{field, false, "", nullptr});
}

std::optional<JsonPath> plain_path(const dsl::Path& path, bool set_head) {
  JsonPath out;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i].is_key()) return std::nullopt;
    append_path_field(out, path[i].field, i == 0 && set_head);
  }
  return out;
}

Evaluator::Evaluator(const State& state, std::function<const Json*(std::string_view)> old)
    : state_(state), old_(std::move(old)) {}

namespace {

const FactKey* fixed_fact(const FixedFacts* fixed, const dsl::BodyItem* item) {
  if (!fixed) return nullptr;
  for (const auto& [pinned, fact] : *fixed)
    if (pinned == item) return fact;
  return nullptr;
}

}  // namespace

bool Evaluator::checks_ok(const std::vector<dsl::BoundCheck>& checks, const RuleRuntime& rt, Bindings& b) const {
  for (const auto& [x, y] : checks) {
    Json tu, tv;
    const Json* u = ref(*x.value, rt, b, nullptr, tu);
    const Json* v = ref(*y.value, rt, b, nullptr, tv);
    // A tuple's argument is text: a value is compared with it as it would
    // be written into the tuple (as tuple_ok does).
    if (x.from_tuple || y.from_tuple ? !same_text(*u, *v) : *u != *v) return false;
  }
  return true;
}

bool Evaluator::bind_trigger(const dsl::BoundPlan& plan, const RuleRuntime& rt, Bindings& b, const FactKey& fact,
                             const Json* object, const TupleView* tuple) const {
  if (!plan.trigger.relation) {
    for (int v : plan.seeded) {
      Slot& s = b.slots[static_cast<size_t>(v)];
      s.ptr = object;
      s.fact = &fact;
      s.bound = true;
    }
  } else {
    // A tuple's parts are read once for all the plans it wakes.
    TupleView parsed;
    if (!tuple) tuple = &(parsed = view_tuple_fact(fact.str()));
    b.trigger_args = tuple->args;
    NewlyBound newly;
    if (!tuple_ok(plan.trigger, rt, b, *tuple, newly, true)) return false;
  }
  try {
    return checks_ok(plan.trigger_checks, rt, b);
  } catch (const EvalError&) {
    return false;
  }
}

bool Evaluator::trigger_kind_ok(const dsl::BoundPlan& plan, const RuleRuntime& rt, Bindings& b) const {
  const Slot& s = b.slots[static_cast<size_t>(plan.seeded.at(0))];
  try {
    return parse_object_fact(*s.fact).kind == kind_key(plan.trigger, rt, b);
  } catch (const EvalError&) {
    return false;
  }
}

std::string Evaluator::kind_key(const dsl::BoundPattern& p, const RuleRuntime& rt, Bindings& b) const {
  return kind_key(*p.group, *p.resource, p.item->object.kind.span, rt, b);
}

std::string Evaluator::kind_key(const dsl::BoundExpr& group, const dsl::BoundExpr& resource, const dsl::Span& span,
                                const RuleRuntime& rt, Bindings& b) const {
  Json g = eval_bound(group, rt, b, nullptr), r = eval_bound(resource, rt, b, nullptr);
  if (!g.is_string() || !r.is_string() || g.get<std::string>().empty() || r.get<std::string>().empty())
    throw EvalError("resource(group, resource) needs two non-empty strings, not " + g.dump() + " and " + r.dump(),
                    span);
  return r.get<std::string>() + "." + g.get<std::string>();
}

bool Evaluator::object_ok(const dsl::BoundStep& s, const RuleRuntime& rt, Bindings& b, const ObjectEntry& e,
                          std::span<const Json* const> keys) const {
  static const Json kNoNamespace = "";
  using dsl::PrimaryField;
  const ObjectKeyView id = e.key();
  // A kind the plan names is compared before any key: it costs no lookup.
  // (One known at run time is computed after them, as it may fail.)
  if (s.pattern.kind && id.kind != *s.pattern.kind) return false;
  for (size_t i = 0; i < s.keys.size(); ++i) {
    const dsl::BoundKey& k = s.keys[i];
    // The primary key's fields are read from the object's key, which its
    // metadata holds as it is (build_effective writes them from it last):
    // no walk of its JSON. A namespace it has not is its metadata's absence,
    // which the walk below tells from "".
    if (k.primary == PrimaryField::kCluster || k.primary == PrimaryField::kName ||
        (k.primary == PrimaryField::kNamespace && !id.ns.empty())) {
      std::string_view have = k.primary == PrimaryField::kCluster ? id.cluster
                              : k.primary == PrimaryField::kName  ? id.name
                                                                  : id.ns;
      const Json& want = *keys[i];
      if (k.value.from_tuple ? !is_text(want, have) : !(want.is_string() && want.get_ref<const std::string&>() == have))
        return false;
      continue;
    }
    const Json* v = find_fields(*e.effective, k.fields);
    if (k.namespace_key && (!v || v->is_null())) v = &kNoNamespace;
    if (k.value.from_tuple) {
      // A tuple's argument is the text of the value it was written from.
      if (!same_text(v ? *v : kNullJson, *keys[i])) return false;
    } else if (v ? *v != *keys[i] : !keys[i]->is_null()) {
      return false;
    }
  }
  return s.pattern.kind || id.kind == kind_key(s.pattern, rt, b);
}

bool Evaluator::tuple_ok(const dsl::BoundPattern& t, const RuleRuntime& rt, Bindings& b, const TupleView& fact,
                         NewlyBound& newly_bound, bool trigger) const {
  using Arg = dsl::BoundTupleArg::Kind;
  const auto& [rel, args] = fact;
  if (rel != *t.relation || args.size() != t.args.size()) return false;
  for (size_t i = 0; i < args.size(); ++i) {
    const dsl::BoundTupleArg& a = t.args[i];
    switch (a.kind) {
      case Arg::kAny: continue;
      case Arg::kDeferred:
        if (b.tuple_values.size() <= static_cast<size_t>(a.value)) b.tuple_values.resize(static_cast<size_t>(a.value) + 1);
        b.tuple_values[static_cast<size_t>(a.value)] = std::string(args[i]);
        continue;
      case Arg::kVar: {
        Slot& s = b.slots[static_cast<size_t>(a.slot)];
        if (!s.bound) {
          // Into the string the slot holds when it has one (a scan rebinds
          // it for each candidate): no allocation once it is large enough.
          if (s.owned.is_string()) s.owned.get_ref<std::string&>().assign(args[i]);
          else s.owned = std::string(args[i]);
          s.ptr = nullptr;
          s.bound = true;
          newly_bound.push_back(a.slot);
          continue;
        }
        const Json& have = s.get();
        if (!have.is_string() || have.get_ref<const std::string&>() != args[i]) return false;
        continue;
      }
      case Arg::kExpr: break;
    }
    Json tmp;
    if (trigger) {
      // Arguments that read variables the plan binds later are its keys and
      // checks (Operand::trigger_arg): they are compared here only when
      // what they read is bound (a throw would cost more than the check).
      if (!all_bound(*a.expr, b)) continue;
      try {
        if (!is_text(*ref(*a.expr, rt, b, nullptr, tmp), args[i])) return false;
      } catch (const EvalError&) {
      }
      continue;
    }
    if (!is_text(*ref(*a.expr, rt, b, nullptr, tmp), args[i])) return false;
  }
  return true;
}

void Evaluator::step_keys(const dsl::BoundStep& s, const RuleRuntime& rt, Bindings& b, StepKeys& out) const {
  out.tmps.resize(s.keys.size());  // before any pointer into it is taken
  for (size_t k = 0; k < s.keys.size(); ++k) out.refs.push_back(ref(*s.keys[k].value.value, rt, b, nullptr, out.tmps[k]));
}

void Evaluator::run(const dsl::BoundPlan& plan, const RuleRuntime& rt, Bindings& b,
                    const FixedFacts* fixed,
                    EmitFn emit) const {
  deepest_step = 0;
  step(plan, 0, rt, b, fixed, emit);
}

bool Evaluator::step(const dsl::BoundPlan& plan, size_t i, const RuleRuntime& rt, Bindings& b,
                     const FixedFacts* fixed,
                     EmitFn emit) const {
  deepest_step = std::max(deepest_step, i);
  const dsl::Plan& src = *plan.src;
  if (i == src.trigger_kind_check && !trigger_kind_ok(plan, rt, b)) return true;
  if (i == plan.steps.size() || (b.discovering && i == src.found_at)) return emit(b);
  const dsl::BoundStep& s = plan.steps[i];
  auto next = [&]() {
    if (!b.discovering) return step(plan, i + 1, rt, b, fixed, emit);
    try {
      return step(plan, i + 1, rt, b, fixed, emit);
    } catch (const EvalError&) {
      return true;
    }
  };
  switch (s.op) {
    case StepOp::kLet: {
      Slot& slot = b.slots[static_cast<size_t>(s.slot)];
      Json v = eval_bound(*s.expr, rt, b, nullptr);
      if (s.each) {
        if (v.is_null()) return true;
        if (!v.is_array())
          throw EvalError("`for " + s.src->binds->name + " in` needs a list, not " + v.dump(), s.expr->src->span);
        bool go = true;
        for (auto& x : v) {
          slot.owned = std::move(x);
          slot.ptr = nullptr;
          slot.bound = true;
          go = checks_ok(s.checks, rt, b) ? next() : true;
          slot.bound = false;
          if (!go) break;
        }
        return go;
      }
      slot.owned = std::move(v);
      slot.ptr = nullptr;
      slot.bound = true;
      bool go = checks_ok(s.checks, rt, b) ? next() : true;
      slot.bound = false;
      return go;
    }
    case StepOp::kFilter:
      if (!to_bool(*s.expr->src, eval_bound(*s.expr, rt, b, nullptr)) || !checks_ok(s.checks, rt, b)) return true;
      return next();
    case StepOp::kNot: {
      bool found = false;
      run(*s.sub, rt, b, nullptr, [&](Bindings&) {
        found = true;
        return false;
      });
      deepest_step = std::max(deepest_step, i);
      if (found || !checks_ok(s.checks, rt, b)) return true;
      return next();
    }
    case StepOp::kScan:
    case StepOp::kLookup:
    case StepOp::kOptional: {
      StepKeys values;
      step_keys(s, rt, b, values);
      std::span<const Json* const> keys = values.all();
      Slot& slot = b.slots[static_cast<size_t>(s.slot)];
      bool go = true, any = false;
      auto visit = [&](const FactKey& fact, const ObjectEntry& e) {
        ++rt.stats.candidates;
        if (!object_ok(s, rt, b, e, keys)) return true;
        slot.ptr = &*e.effective;
        slot.fact = &fact;
        slot.bound = true;
        if (!checks_ok(s.checks, rt, b)) {
          slot.bound = false;
          return true;
        }
        any = true;
        go = next();
        slot.bound = false;
        // An optional pattern binds the first match only.
        return go && s.op != StepOp::kOptional;
      };
      const dsl::BodyItem* item = s.pattern.item;
      // The kind's name where the rules name it; one known at run time is
      // computed here, so that failing to compute it fails the step
      // whichever way the step looks objects up.
      std::string run_time_kind;
      if (!s.pattern.kind) run_time_kind = kind_key(s.pattern, rt, b);
      const std::string& kind = s.pattern.kind ? *s.pattern.kind : run_time_kind;
      if (const FactKey* f = fixed_fact(fixed, item)) {
        if (const ObjectEntry* e = state_.object(*f); e && !e->effective.is_null()) visit(*f, *e);
      } else if (s.src->index >= 0) {
        state_.lookup_index(rt.state_index(s.src->index), State::index_key(keys), visit);
      } else {
        // The primary key: a prefix of (cluster, namespace, name).
        using dsl::PrimaryField;
        std::string cluster, ns, name;
        bool has_cluster = false, has_ns = false, has_name = false, ok = true;
        // Other keys (of a run-time kind, which has no secondary indexes)
        // are checked on each candidate by object_ok.
        for (size_t k = 0; k < s.keys.size(); ++k) {
          PrimaryField field = s.keys[k].primary;
          // A namespace that is null: the objects without one (a run-time
          // kind's plan does not know its scope).
          if (field == PrimaryField::kNamespace && keys[k]->is_null()) has_ns = true;
          else if (field != PrimaryField::kNone && !keys[k]->is_string()) ok = false;
          else if (field == PrimaryField::kCluster) cluster = keys[k]->get<std::string>(), has_cluster = true;
          else if (field == PrimaryField::kNamespace) ns = keys[k]->get<std::string>(), has_ns = true;
          else if (field == PrimaryField::kName) name = keys[k]->get<std::string>(), has_name = true;
        }
        if (ok) {
          // A run-time kind's scope is not known to the plan, so its keys
          // need not be a prefix: without the namespace, its objects of that
          // name in every namespace are candidates.
          if (has_cluster && has_name && (has_ns || s.pattern.kind)) {
            auto [key, e] = state_.find_object(object_fact({kind, cluster, ns, name}));
            if (e && !e->effective.is_null()) visit(*key, *e);
          } else {
            state_.scan_objects(object_prefix(kind, has_cluster ? &cluster : nullptr, has_ns ? &ns : nullptr), visit);
          }
        }
      }
      if (s.op == StepOp::kOptional && !any && go) {
        slot.owned = nullptr;
        slot.ptr = nullptr;
        slot.fact = nullptr;
        slot.bound = true;
        if (checks_ok(s.checks, rt, b)) go = next();
        slot.bound = false;
      }
      return go;
    }
    case StepOp::kTupleScan:
    case StepOp::kTupleLookup: {
      bool go = true;
      const dsl::BodyItem* item = s.pattern.item;
      auto visit = [&](const FactKey& fact) {
        ++rt.stats.candidates;
        NewlyBound newly;
        if (tuple_ok(s.pattern, rt, b, view_tuple_fact(fact.str()), newly) && checks_ok(s.checks, rt, b)) {
          if (b.discovering) b.found_tuples.emplace_back(item, &fact);
          go = next();
          if (b.discovering) b.found_tuples.pop_back();
        }
        for (int n : newly) b.slots[static_cast<size_t>(n)].bound = false;
        return go;
      };
      if (const FactKey* f = fixed_fact(fixed, item)) {
        if (const TupleEntry* t = state_.tuple(*f); t && t->exists()) visit(*f);
      } else if (s.src->index >= 0) {
        // An index key holds each value as a tuple's argument does (a
        // string's text, anything else as JSON).
        StepKeys values;
        step_keys(s, rt, b, values);
        state_.lookup_tuples(rt.state_index(s.src->index), State::index_key(values.all()), visit);
      } else if (s.keys.size() == s.pattern.args.size()) {
        std::vector<std::string> args;
        for (const auto& k : s.keys) {
          Json tmp;
          args.push_back(as_text(*ref(*k.value.value, rt, b, nullptr, tmp)));
        }
        auto [key, t] = state_.find_tuple(tuple_fact(*s.pattern.relation, args));
        if (t && t->exists()) visit(*key);
      } else {
        state_.scan_tuples(*s.pattern.relation, visit);
      }
      return go;
    }
  }
  return true;
}

}  // namespace pmesh::engine
