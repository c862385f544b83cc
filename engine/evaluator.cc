#include "engine/evaluator.h"

#include <algorithm>
#include <cmath>

#include "dsl/object_model.h"
#include "stdlib/builtins.h"

namespace pmesh::engine {

using dsl::BodyItemKind;
using dsl::Expr;
using dsl::ExprKind;
using dsl::StepOp;

std::vector<RuleRuntime> make_runtimes(const dsl::CompiledProgram& compiled) {
  std::vector<RuleRuntime> out(compiled.rules.size());
  for (size_t i = 0; i < compiled.rules.size(); ++i) {
    RuleRuntime& rt = out[i];
    rt.index = static_cast<int>(i);
    rt.info = &compiled.rules[i];
    rt.plan = &compiled.plans[i];
    for (size_t v = 0; v < rt.info->vars.size(); ++v) rt.slot_of[rt.info->vars[v].get()] = static_cast<int>(v);
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
  }
  return out;
}

Evaluator::Evaluator(const State& state, const dsl::Program& program,
                     std::function<const Json*(const std::string&)> old)
    : state_(state), program_(program), old_(std::move(old)) {
  for (const auto& m : program.modules())
    for (const auto& f : m->functions) function_module_[&f] = m.get();
}

void Evaluator::add_functions(const dsl::Program& program) {
  for (const auto& m : program.modules())
    for (const auto& f : m->functions) function_module_[&f] = m.get();
  // A new program's expressions may sit where a removed one's were.
  calls_.clear();
}

namespace {

[[noreturn]] void fail(const Expr& e, const std::string& msg) { throw EvalError(msg, e.span); }

const std::string* fixed_fact(const FixedFacts* fixed, const dsl::BodyItem* item) {
  if (!fixed) return nullptr;
  for (const auto& [pinned, fact] : *fixed)
    if (pinned == item) return fact;
  return nullptr;
}

std::string as_text(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// An entry of a list by key: conditions by `type`, other lists by `name`.
const Json* list_entry(const Json& list, const Json& key) {
  for (const char* field : {"type", "name"})
    for (const auto& x : list)
      if (x.is_object() && x.contains(field) && x[field] == key) return &x;
  return nullptr;
}

int compare(const Expr& e, const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) {
    double x = a.get<double>(), y = b.get<double>();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) return a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
  fail(e, std::string("cannot order ") + a.type_name() + " and " + b.type_name());
}

bool to_bool(const Expr& e, const Json& v) {
  if (v.is_null()) return false;
  if (!v.is_boolean()) fail(e, std::string("expected a boolean, found ") + v.type_name() + " " + v.dump());
  return v.get<bool>();
}

// Whether every variable `e` reads is bound in `b` (an aggregate, whose
// body binds its own, counts as not: the caller then leaves it for later).
bool all_bound(const Expr& e, const RuleRuntime& rt, const Bindings& b) {
  if (e.kind == ExprKind::kAggregate) return false;
  if (e.kind == ExprKind::kVar) {
    const dsl::VarInfo* v = rt.info->var_of(e);
    auto slot = v ? rt.slot_of.find(v) : rt.slot_of.end();
    if (slot == rt.slot_of.end() || !b.slots[static_cast<size_t>(slot->second)].bound) return false;
  }
  for (const auto& a : e.args)
    if (a && !all_bound(*a, rt, b)) return false;
  return true;
}

}  // namespace

const Json* Evaluator::ref(const Expr& e, const RuleRuntime& rt, Bindings& b, const Params* params, Json& tmp) const {
  static const Json kNull;
  switch (e.kind) {
    case ExprKind::kVar: {
      if (params) {
        for (const auto& [n, v] : params->values)
          if (n == e.text) return &v;
        fail(e, "unknown parameter " + e.text);
      }
      const dsl::VarInfo* v = rt.info->var_of(e);
      if (!v) fail(e, "unbound variable " + e.text);
      const Slot& s = b.slots[static_cast<size_t>(rt.slot(v))];
      if (!s.bound) fail(e, "variable " + e.text + " is not bound yet");
      return &s.get();
    }
    case ExprKind::kField: {
      Json t;
      const Json* base = ref(*e.args[0], rt, b, params, t);
      if (!base || base->is_null()) return &kNull;
      if (!base->is_object()) fail(e, "cannot read field `" + e.text + "` of " + base->type_name() + " " + base->dump());
      // Shorthands on objects: x.name is x.metadata.name.
      auto it = base->find(e.text);
      if (it == base->end() && base->contains("metadata") && base->contains("kind")) {
        const auto& sh = dsl::shorthand_names();
        if (std::find(sh.begin(), sh.end(), e.text) != sh.end()) {
          const Json& md = (*base)["metadata"];
          auto m = md.find(e.text);
          if (m == md.end()) return &kNull;
          if (base == &t) {
            tmp = *m;
            return &tmp;
          }
          return &*m;
        }
      }
      if (it == base->end()) return &kNull;
      if (base == &t) {
        tmp = *it;
        return &tmp;
      }
      return &*it;
    }
    case ExprKind::kIndex: {
      Json t;
      const Json* base = ref(*e.args[0], rt, b, params, t);
      Json key = eval_in(*e.args[1], rt, b, params);
      const Json* found = nullptr;
      if (!base || base->is_null()) return &kNull;
      if (base->is_object() && key.is_string()) {
        auto it = base->find(key.get<std::string>());
        found = it == base->end() ? nullptr : &*it;
      } else if (base->is_array() && key.is_number_integer()) {
        int64_t i = key.get<int64_t>();
        found = i >= 0 && static_cast<size_t>(i) < base->size() ? &(*base)[static_cast<size_t>(i)] : nullptr;
      } else if (base->is_array() && key.is_string()) {
        found = list_entry(*base, key);
      } else {
        fail(e, std::string("cannot index ") + base->type_name() + " with " + key.type_name());
      }
      if (!found) return &kNull;
      if (base == &t) {
        tmp = *found;
        return &tmp;
      }
      return found;
    }
    default:
      tmp = eval_in(e, rt, b, params);
      return &tmp;
  }
}

Json Evaluator::eval(const Expr& e, const RuleRuntime& rt, Bindings& b) const { return eval_in(e, rt, b, nullptr); }

Json Evaluator::eval(const Operand& o, const RuleRuntime& rt, Bindings& b) const {
  if (o.inner && o.inner2) {
    Json v = eval(*o.inner, rt, b), w = eval(*o.inner2, rt, b);
    if (!v.is_string() || !w.is_string()) return nullptr;
    return find_builtin(o.fn)->fn({v, w});
  }
  if (o.inner) {
    Json v = eval(*o.inner, rt, b);
    const Builtin* f = find_builtin(o.fn);
    if (!v.is_string()) return nullptr;
    return f->fn({v});
  }
  if (o.expr) return eval(*o.expr, rt, b);
  if (o.trigger_arg >= 0) return Json(b.trigger_args.at(static_cast<size_t>(o.trigger_arg)));
  if (o.tuple_value >= 0) return Json(b.tuple_values.at(static_cast<size_t>(o.tuple_value)));
  const Slot& s = b.slots[static_cast<size_t>(rt.slot(o.var))];
  if (o.path.empty()) return s.get();
  return value_at(s.get(), o.path);
}

Json Evaluator::eval_in(const Expr& e, const RuleRuntime& rt, Bindings& b, const Params* params) const {
  switch (e.kind) {
    case ExprKind::kNull: return nullptr;
    case ExprKind::kBool: return e.bool_value;
    case ExprKind::kInt: return e.int_value;
    case ExprKind::kFloat: return e.float_value;
    case ExprKind::kString: return e.text;
    case ExprKind::kInterp: {
      std::string out;
      for (const auto& p : e.args) out += as_text(eval_in(*p, rt, b, params));
      return out;
    }
    case ExprKind::kVar:
    case ExprKind::kField:
    case ExprKind::kIndex: {
      Json tmp;
      const Json* r = ref(e, rt, b, params, tmp);
      return r == &tmp ? std::move(tmp) : *r;
    }
    case ExprKind::kList: {
      Json out = Json::array();
      for (const auto& a : e.args) out.push_back(eval_in(*a, rt, b, params));
      return out;
    }
    case ExprKind::kObject: {
      Json out = Json::object();
      for (size_t i = 0; i < e.args.size(); ++i) out[e.keys[i]] = eval_in(*e.args[i], rt, b, params);
      return out;
    }
    case ExprKind::kUnary: {
      Json v = eval_in(*e.args[0], rt, b, params);
      if (e.text == "not") return !to_bool(e, v);
      if (v.is_number_integer()) return -v.get<int64_t>();
      if (v.is_number()) return -v.get<double>();
      fail(e, std::string("cannot negate ") + v.type_name());
    }
    case ExprKind::kCond:
      return to_bool(*e.args[0], eval_in(*e.args[0], rt, b, params)) ? eval_in(*e.args[1], rt, b, params)
                                                                     : eval_in(*e.args[2], rt, b, params);
    case ExprKind::kBinary: {
      const std::string& op = e.text;
      if (op == "and") return to_bool(e, eval_in(*e.args[0], rt, b, params)) && to_bool(e, eval_in(*e.args[1], rt, b, params));
      if (op == "or") return to_bool(e, eval_in(*e.args[0], rt, b, params)) || to_bool(e, eval_in(*e.args[1], rt, b, params));
      Json l = eval_in(*e.args[0], rt, b, params);
      if (op == "??") return l.is_null() ? eval_in(*e.args[1], rt, b, params) : l;
      Json r = eval_in(*e.args[1], rt, b, params);
      if (op == "==") return l == r;
      if (op == "!=") return l != r;
      if (op == "<") return compare(e, l, r) < 0;
      if (op == "<=") return compare(e, l, r) <= 0;
      if (op == ">") return compare(e, l, r) > 0;
      if (op == ">=") return compare(e, l, r) >= 0;
      if (op == "in" || op == "not in") {
        bool in = false;
        if (r.is_array()) in = std::find(r.begin(), r.end(), l) != r.end();
        else if (r.is_object()) in = l.is_string() && r.contains(l.get<std::string>());
        else if (r.is_string() && l.is_string()) in = r.get_ref<const std::string&>().find(l.get<std::string>()) != std::string::npos;
        else if (!r.is_null()) fail(e, std::string("`in` needs a list, object or string, not ") + r.type_name());
        return op == "in" ? in : !in;
      }
      if (op == "+") {
        if (l.is_string() && r.is_string()) return l.get<std::string>() + r.get<std::string>();
        if (l.is_array() && r.is_array()) {
          Json out = l;
          for (const auto& x : r) out.push_back(x);
          return out;
        }
        if (l.is_object() && r.is_object()) {
          Json out = l;
          for (const auto& [k, v] : r.items()) out[k] = v;
          return out;
        }
      }
      if (l.is_number() && r.is_number()) {
        bool ints = l.is_number_integer() && r.is_number_integer();
        if (op == "+") return ints ? Json(l.get<int64_t>() + r.get<int64_t>()) : Json(l.get<double>() + r.get<double>());
        if (op == "-") return ints ? Json(l.get<int64_t>() - r.get<int64_t>()) : Json(l.get<double>() - r.get<double>());
        if (op == "*") return ints ? Json(l.get<int64_t>() * r.get<int64_t>()) : Json(l.get<double>() * r.get<double>());
        if (op == "/" || op == "%") {
          if (r.get<double>() == 0) fail(e, "division by zero");
          if (op == "%") {
            if (!ints) fail(e, "% needs integers");
            return l.get<int64_t>() % r.get<int64_t>();
          }
          return ints ? Json(l.get<int64_t>() / r.get<int64_t>()) : Json(l.get<double>() / r.get<double>());
        }
      }
      fail(e, "cannot apply `" + op + "` to " + l.type_name() + " and " + r.type_name());
    }
    case ExprKind::kCall: {
      if (e.text == "old") {
        const dsl::VarInfo* v = rt.info->var_of(*e.args[0]);
        if (!v) fail(e, "old() takes an object variable");
        const Slot& s = b.slots[static_cast<size_t>(rt.slot(v))];
        const Json* o = old_(s.fact);
        return o ? *o : Json();
      }
      std::vector<Json> args;
      args.reserve(e.args.size());
      for (const auto& a : e.args) args.push_back(eval_in(*a, rt, b, params));
      // What a call names is known once per call site: a function of the
      // module it is in (or one it imports), else a builtin.
      auto [call, fresh] = calls_.try_emplace(&e);
      if (fresh) {
        const dsl::Module& where = params ? *params->module : *rt.info->module;
        call->second.function = program_.find_function(where, e.text);
        if (call->second.function) call->second.module = function_module_.at(call->second.function);
        else call->second.builtin = find_builtin(e.text);
      }
      if (const dsl::FunctionDecl* f = call->second.function) {
        Params p;
        p.module = call->second.module;
        for (size_t i = 0; i < f->params.size(); ++i) p.values.emplace_back(f->params[i], std::move(args[i]));
        return eval_in(*f->body, rt, b, &p);
      }
      const Builtin* fn = call->second.builtin;
      if (!fn) fail(e, "unknown function " + e.text);
      try {
        return fn->fn(args);
      } catch (const BuiltinError& err) {
        fail(e, err.what());
      }
    }
    case ExprKind::kAggregate:
      if (params) fail(e, "aggregates cannot run inside functions");
      return aggregate(e, rt, b);
  }
  fail(e, "unknown expression");
}

Json Evaluator::aggregate(const Expr& e, const RuleRuntime& rt, Bindings& b) const {
  const dsl::Plan& plan = *rt.plan->subplans.at(e.body.get());
  int64_t count = 0;
  bool all = true;
  Json collected = Json::array();
  run(plan, rt, b, nullptr, [&](Bindings& inner) {
    ++count;
    if (e.agg == dsl::AggKind::kAll) {
      if (!to_bool(*e.args[0], eval(*e.args[0], rt, inner))) {
        all = false;
        return false;
      }
    } else if (e.agg == dsl::AggKind::kCollect) {
      collected.push_back(eval(*e.args[0], rt, inner));
    } else if (e.agg == dsl::AggKind::kAny) {
      return false;
    }
    return true;
  });
  switch (e.agg) {
    case dsl::AggKind::kCount: return count;
    case dsl::AggKind::kAny: return count > 0;
    case dsl::AggKind::kAll: return all;
    case dsl::AggKind::kCollect:
      std::sort(collected.begin(), collected.end());
      return collected;
  }
  return nullptr;
}

bool Evaluator::checks_ok(const std::vector<std::pair<Operand, Operand>>& checks, const RuleRuntime& rt,
                          Bindings& b) const {
  for (const auto& [x, y] : checks) {
    Json u = eval(x, rt, b), v = eval(y, rt, b);
    // A tuple's argument is text: a value is compared with it as it would
    // be written into the tuple (as tuple_ok does).
    if (x.from_tuple() || y.from_tuple() ? as_text(u) != as_text(v) : u != v) return false;
  }
  return true;
}

bool Evaluator::bind_trigger(const dsl::Plan& plan, const RuleRuntime& rt, Bindings& b, const std::string& fact,
                             const Json* object) const {
  const dsl::BodyItem* t = plan.trigger;
  if (t->kind == BodyItemKind::kObject) {
    for (const auto& v : plan.seeded) {
      Slot& s = b.slots[static_cast<size_t>(rt.slot(v))];
      s.ptr = object;
      s.fact = fact;
      s.bound = true;
    }
  } else {
    b.trigger_args = parse_tuple_fact(fact).second;
    std::vector<int> newly;
    if (!tuple_ok(t->tuple, rt, b, fact, newly, true)) return false;
  }
  try {
    return checks_ok(plan.trigger_checks, rt, b);
  } catch (const EvalError&) {
    return false;
  }
}

std::string Evaluator::kind_key(const dsl::KindRef& k, const RuleRuntime& rt, Bindings& b) const {
  Json g = eval(*k.group, rt, b), r = eval(*k.resource, rt, b);
  if (!g.is_string() || !r.is_string() || g.get<std::string>().empty() || r.get<std::string>().empty())
    throw EvalError("resource(group, resource) needs two non-empty strings, not " + g.dump() + " and " + r.dump(),
                    k.span);
  return r.get<std::string>() + "." + g.get<std::string>();
}

bool Evaluator::object_ok(const dsl::Step& s, const RuleRuntime& rt, Bindings& b, const ObjectEntry& e,
                          const std::vector<Json>& keys) const {
  for (size_t i = 0; i < s.keys.size(); ++i) {
    const Json* v = find_at(e.effective, s.keys[i].key);
    if (s.keys[i].value.from_tuple()) {
      // A tuple's argument is the text of the value it was written from.
      if (as_text(v ? *v : Json()) != as_text(keys[i])) return false;
    } else if (v ? *v != keys[i] : !keys[i].is_null()) {
      return false;
    }
  }
  if (s.item->object.kind.dynamic()) return e.key.kind == kind_key(s.item->object.kind, rt, b);
  return e.key.kind == s.item->object.kind.name;
}

bool Evaluator::tuple_ok(const dsl::TuplePattern& t, const RuleRuntime& rt, Bindings& b, const std::string& fact,
                         std::vector<int>& newly_bound, bool trigger,
                         const std::vector<dsl::Step::Deferred>* deferred) const {
  auto [rel, args] = view_tuple_fact(fact);
  if (rel != t.relation || args.size() != t.args.size()) return false;
  for (size_t i = 0; i < args.size(); ++i) {
    const Expr& a = *t.args[i];
    if (a.kind == ExprKind::kVar && a.text == "_") continue;
    if (deferred) {
      // Checked once the object it reads is bound (the step's checks).
      auto d = std::find_if(deferred->begin(), deferred->end(),
                            [&](const dsl::Step::Deferred& x) { return x.position == static_cast<int>(i); });
      if (d != deferred->end()) {
        if (b.tuple_values.size() <= static_cast<size_t>(d->value)) b.tuple_values.resize(static_cast<size_t>(d->value) + 1);
        b.tuple_values[static_cast<size_t>(d->value)] = std::string(args[i]);
        continue;
      }
    }
    if (a.kind == ExprKind::kVar) {
      const dsl::VarInfo* v = rt.info->var_of(a);
      Slot& s = b.slots[static_cast<size_t>(rt.slot(v))];
      if (!s.bound) {
        s.owned = std::string(args[i]);
        s.ptr = nullptr;
        s.bound = true;
        newly_bound.push_back(rt.slot(v));
        continue;
      }
      const Json& have = s.get();
      if (!have.is_string() || have.get_ref<const std::string&>() != args[i]) return false;
      continue;
    }
    if (trigger) {
      // Arguments that read variables the plan binds later are its keys and
      // checks (Operand::trigger_arg): they are compared here only when
      // what they read is bound (a throw would cost more than the check).
      if (!all_bound(a, rt, b)) continue;
      try {
        if (as_text(eval(a, rt, b)) != args[i]) return false;
      } catch (const EvalError&) {
      }
      continue;
    }
    if (as_text(eval(a, rt, b)) != args[i]) return false;
  }
  return true;
}

void Evaluator::run(const dsl::Plan& plan, const RuleRuntime& rt, Bindings& b,
                    const FixedFacts* fixed,
                    const std::function<bool(Bindings&)>& emit) const {
  deepest_step = 0;
  step(plan, 0, rt, b, fixed, emit);
}

bool Evaluator::step(const dsl::Plan& plan, size_t i, const RuleRuntime& rt, Bindings& b,
                     const FixedFacts* fixed,
                     const std::function<bool(Bindings&)>& emit) const {
  deepest_step = std::max(deepest_step, i);
  if (i == plan.steps.size()) return emit(b);
  const dsl::Step& s = plan.steps[i];
  auto next = [&]() { return step(plan, i + 1, rt, b, fixed, emit); };
  switch (s.op) {
    case StepOp::kLet: {
      Slot& slot = b.slots[static_cast<size_t>(rt.slot(s.binds))];
      Json v = eval(*s.item->expr, rt, b);
      if (s.item->each) {
        if (v.is_null()) return true;
        if (!v.is_array()) throw EvalError("`for " + s.binds->name + " in` needs a list, not " + v.dump(), s.item->expr->span);
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
      if (!to_bool(*s.item->expr, eval(*s.item->expr, rt, b)) || !checks_ok(s.checks, rt, b)) return true;
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
      std::vector<Json> keys;
      for (const auto& k : s.keys) keys.push_back(eval(k.value, rt, b));
      Slot& slot = b.slots[static_cast<size_t>(rt.slot(s.binds))];
      bool go = true, any = false;
      auto visit = [&](const ObjectEntry& e) {
        if (!object_ok(s, rt, b, e, keys)) return true;
        slot.ptr = &e.effective;
        slot.fact = object_fact(e.key);
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
      const std::string kind = s.item->object.kind.dynamic() ? kind_key(s.item->object.kind, rt, b)
                                                             : s.item->object.kind.name;
      if (const std::string* f = fixed_fact(fixed, s.item)) {
        if (const ObjectEntry* e = state_.object(*f); e && !e->effective.is_null()) visit(*e);
      } else if (s.index >= 0) {
        state_.lookup_index(rt.state_index(s.index), State::index_key(keys), visit);
      } else {
        // The primary key: a prefix of (cluster, namespace, name).
        std::string cluster, ns, name;
        bool has_cluster = false, has_ns = false, has_name = false, ok = true;
        // Other keys (of a run-time kind, which has no secondary indexes)
        // are checked on each candidate by object_ok.
        for (size_t k = 0; k < s.keys.size(); ++k) {
          const std::string& key = s.keys[k].key;
          bool primary = key == "metadata.cluster" || key == "metadata.namespace" || key == "metadata.name";
          if (primary && !keys[k].is_string()) ok = false;
          else if (key == "metadata.cluster") cluster = keys[k].get<std::string>(), has_cluster = true;
          else if (key == "metadata.namespace") ns = keys[k].get<std::string>(), has_ns = true;
          else if (key == "metadata.name") name = keys[k].get<std::string>(), has_name = true;
        }
        if (ok) {
          if (has_cluster && has_name) {
            if (const ObjectEntry* e = state_.object(object_fact({kind, cluster, ns, name})); e && !e->effective.is_null()) visit(*e);
          } else {
            state_.scan_objects(object_prefix(kind, has_cluster ? &cluster : nullptr, has_ns ? &ns : nullptr), visit);
          }
        }
      }
      if (s.op == StepOp::kOptional && !any && go) {
        slot.owned = nullptr;
        slot.ptr = nullptr;
        slot.fact.clear();
        slot.bound = true;
        if (checks_ok(s.checks, rt, b)) go = next();
        slot.bound = false;
      }
      return go;
    }
    case StepOp::kTupleScan:
    case StepOp::kTupleLookup: {
      bool go = true;
      auto visit = [&](const std::string& fact) {
        std::vector<int> newly;
        if (tuple_ok(s.item->tuple, rt, b, fact, newly, false, s.deferred.empty() ? nullptr : &s.deferred) &&
            checks_ok(s.checks, rt, b))
          go = next();
        for (int n : newly) b.slots[static_cast<size_t>(n)].bound = false;
        return go;
      };
      if (const std::string* f = fixed_fact(fixed, s.item)) {
        if (const TupleEntry* t = state_.tuple(*f); t && t->exists()) visit(*f);
      } else if (s.index >= 0) {
        std::vector<Json> keys;
        for (const auto& k : s.keys) {
          Json v = eval(k.value, rt, b);
          keys.push_back(v.is_string() ? v : Json(v.dump()));
        }
        state_.lookup_tuples(rt.state_index(s.index), State::index_key(keys), visit);
      } else if (s.keys.size() == s.item->tuple.args.size()) {
        std::vector<std::string> args;
        for (const auto& k : s.keys) args.push_back(as_text(eval(k.value, rt, b)));
        std::string fact = tuple_fact(s.item->tuple.relation, args);
        if (const TupleEntry* t = state_.tuple(fact); t && t->exists()) visit(fact);
      } else {
        state_.scan_tuples(s.item->tuple.relation, visit);
      }
      return go;
    }
  }
  return true;
}

}  // namespace pmesh::engine
