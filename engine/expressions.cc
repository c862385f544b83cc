// The evaluator's expressions: bound expressions (dsl/bound_expr.h) over
// the bindings of a match. Values are read where they live whenever an
// operator only looks at them (comparisons, field reads, the arguments of
// calls); a copy is made only for what an expression returns.
#include <algorithm>
#include <array>
#include <stdexcept>

#include "engine/evaluator.h"
#include "engine/expression_values.h"
#include "stdlib/builtins.h"

namespace pmesh::engine {

using dsl::BoundExpr;
using dsl::BoundOp;

namespace {

// An entry of a list by key: conditions by `type`, other lists by `name`.
const Json* list_entry(const Json& list, const Json& key) {
  // Keyed by several fields: the entry that has all of them, as a rule's
  // path names it.
  if (key.is_object()) return find_at(list, JsonPath{PathElem{"", true, "", key}});
  for (const char* field : {"type", "name"})
    for (const auto& x : list)
      if (x.is_object() && x.contains(field) && x[field] == key) return &x;
  return nullptr;
}

int compare(const dsl::Expr& e, const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) {
    double x = a.get<double>(), y = b.get<double>();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) return a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
  fail(e, std::string("cannot order ") + a.type_name() + " and " + b.type_name());
}

// A kFieldPath's field expression that reads its key `i`, for an error's
// span: the shorthand's inserted metadata is its field's.
const dsl::Expr& field_expr(const BoundExpr& e, size_t i) {
  size_t fields = e.keys.size() - (e.shorthand ? 1 : 0);
  size_t field = e.shorthand ? (i == 0 ? 0 : i - 1) : i;
  const dsl::Expr* x = e.src;
  for (size_t d = fields - 1; d > field; --d) x = x->args[0].get();
  return *x;
}

// What a shorthand (x.name) reads on `base`: an object of the model (one
// with a kind and a metadata) has its metadata read, whatever fields of its
// own it carries beside them; any other value, itself.
const Json& shorthand_base(const Json& base) {
  auto md = base.find("metadata");
  return md != base.end() && md->is_object() && base.contains("kind") ? *md : base;
}

// What a reference found, as a value: moved out of the temporary it was
// computed into, or copied from where it lives.
Json take(const Json* r, Json& tmp) { return r == &tmp ? std::move(tmp) : *r; }

}  // namespace

bool Evaluator::all_bound(const BoundExpr& e, const Bindings& b) const {
  if (e.op == BoundOp::kAggregate) return false;
  if ((e.op == BoundOp::kSlot || e.op == BoundOp::kOld || e.op == BoundOp::kPath || e.op == BoundOp::kFieldPath) &&
      !b.slots[static_cast<size_t>(e.index)].bound)
    return false;
  for (const BoundExpr* a : e.args)
    if (a && !all_bound(*a, b)) return false;
  return true;
}

const Json* Evaluator::ref(const BoundExpr& e, const RuleRuntime& rt, Bindings& b, const Frame* frame,
                           Json& tmp) const {
  switch (e.op) {
    case BoundOp::kConst: return &e.value;
    case BoundOp::kParam: return frame->args[e.index];
    case BoundOp::kSlot: {
      const Slot& s = b.slots[static_cast<size_t>(e.index)];
      if (!s.bound) fail(*e.src, "variable " + e.src->text + " is not bound yet");
      return &s.get();
    }
    case BoundOp::kField: {
      Json t;
      const Json* base = ref(*e.args[0], rt, b, frame, t);
      if (!base || base->is_null()) return &kNullJson;
      if (!base->is_object()) fail(*e.src, "cannot read field `" + e.text + "` of " + base->type_name() + " " + base->dump());
      // Shorthands on objects: x.name is x.metadata.name.
      const Json& from = e.shorthand ? shorthand_base(*base) : *base;
      auto it = from.find(e.text);
      const Json* found = it == from.end() ? nullptr : &*it;
      if (!found) return &kNullJson;
      if (base == &t) {
        tmp = *found;
        return &tmp;
      }
      return found;
    }
    case BoundOp::kFieldPath: {
      const Slot& s = b.slots[static_cast<size_t>(e.index)];
      if (!s.bound) {
        const dsl::Expr& var = *field_expr(e, 0).args[0];
        fail(var, "variable " + var.text + " is not bound yet");
      }
      const Json* cur = &s.get();
      for (size_t i = 0; i < e.keys.size(); ++i) {
        if (cur->is_null()) return &kNullJson;
        if (!cur->is_object()) {
          const dsl::Expr& f = field_expr(e, i);
          fail(f, "cannot read field `" + f.text + "` of " + cur->type_name() + " " + cur->dump());
        }
        const Json& from = e.shorthand_keys >> i & 1 ? shorthand_base(*cur) : *cur;
        auto it = from.find(e.keys[i]);
        if (it == from.end()) return &kNullJson;
        cur = &*it;
      }
      return cur;
    }
    case BoundOp::kIndex: {
      Json t, kt;
      const Json* base = ref(*e.args[0], rt, b, frame, t);
      const Json& key = *ref(*e.args[1], rt, b, frame, kt);
      const Json* found = nullptr;
      if (!base || base->is_null()) return &kNullJson;
      if (base->is_object() && key.is_string()) {
        auto it = base->find(key.get_ref<const std::string&>());
        found = it == base->end() ? nullptr : &*it;
      } else if (base->is_array() && key.is_number_integer()) {
        int64_t i = key.get<int64_t>();
        found = i >= 0 && static_cast<size_t>(i) < base->size() ? &(*base)[static_cast<size_t>(i)] : nullptr;
      } else if (base->is_array() && (key.is_string() || key.is_object())) {
        found = list_entry(*base, key);
      } else {
        fail(*e.src, std::string("cannot index ") + base->type_name() + " with " + key.type_name());
      }
      if (!found) return &kNullJson;
      if (base == &t) {
        tmp = *found;
        return &tmp;
      }
      return found;
    }
    case BoundOp::kPath: {
      const Json* v = find_fields(b.slots[static_cast<size_t>(e.index)].get(), e.keys);
      return v ? v : &kNullJson;
    }
    case BoundOp::kTriggerArg:
      tmp = std::string(b.trigger_args.at(static_cast<size_t>(e.index)));
      return &tmp;
    case BoundOp::kTupleValue:
      tmp = b.tuple_values.at(static_cast<size_t>(e.index));
      return &tmp;
    case BoundOp::kKeyBuiltin: {
      // A builtin of one or two operands, which must be strings (else null).
      std::array<Json, 2> vals;
      std::array<const Json*, 2> args{};
      bool strings = true;
      for (size_t i = 0; i < e.args.size(); ++i) {
        args[i] = ref(*e.args[i], rt, b, frame, vals[i]);
        strings = strings && args[i]->is_string();
      }
      tmp = strings ? e.builtin->fn(BuiltinArgs(args.data(), e.args.size())) : Json();
      return &tmp;
    }
    case BoundOp::kNamespaceKey: {
      // A namespace clause's null is the objects without one.
      const Json* v = ref(*e.args[0], rt, b, frame, tmp);
      if (!v->is_null()) return v;
      tmp = "";
      return &tmp;
    }
    // A choice answers where the value it chooses lives: `conds ?? []`
    // passes the conditions on, not a copy of them.
    case BoundOp::kCoalesce: {
      Json t;
      const Json* l = ref(*e.args[0], rt, b, frame, t);
      if (l->is_null()) return ref(*e.args[1], rt, b, frame, tmp);
      if (l != &t) return l;
      tmp = std::move(t);
      return &tmp;
    }
    case BoundOp::kCond: {
      Json t;
      bool c = to_bool(*e.args[0]->src, *ref(*e.args[0], rt, b, frame, t));
      return ref(*e.args[c ? 1 : 2], rt, b, frame, tmp);
    }
    default:
      tmp = eval_bound(e, rt, b, frame);
      return &tmp;
  }
}

Json Evaluator::call(const BoundExpr& e, const RuleRuntime& rt, Bindings& b, const Frame* frame) const {
  // The arguments are read where they live: a function or builtin given
  // an object gets the object in the state, not a copy of it.
  // As many temporaries as arguments (most calls have one to three): each
  // is made and destroyed with the call.
  size_t n = e.args.size();
  boost::container::small_vector<Json, 4> tmps(n);
  boost::container::small_vector<const Json*, 4> ptrs(n);
  for (size_t i = 0; i < n; ++i) ptrs[i] = ref(*e.args[i], rt, b, frame, tmps[i]);
  if (e.function) {
    Frame inner{ptrs.data()};
    return eval_bound(*e.function->body, rt, b, &inner);
  }
  try {
    return e.builtin->fn(BuiltinArgs(ptrs.data(), n));
  } catch (const BuiltinError& err) {
    fail(*e.src, err.what());
  }
}

Json Evaluator::eval_bound(const BoundExpr& e, const RuleRuntime& rt, Bindings& b, const Frame* frame) const {
  switch (e.op) {
    case BoundOp::kConst: return e.value;
    case BoundOp::kSlot:
    case BoundOp::kParam:
    case BoundOp::kField:
    case BoundOp::kFieldPath:
    case BoundOp::kIndex:
    case BoundOp::kPath:
    case BoundOp::kTriggerArg:
    case BoundOp::kTupleValue:
    case BoundOp::kKeyBuiltin:
    case BoundOp::kNamespaceKey: {
      Json tmp;
      return take(ref(e, rt, b, frame, tmp), tmp);
    }
    default: break;
  }
  // Every other node has the expression it was bound from.
  const dsl::Expr& src = *e.src;
  switch (e.op) {
    case BoundOp::kInterp: {
      std::string out;
      for (const BoundExpr* p : e.args) {
        Json tmp;
        const Json* v = ref(*p, rt, b, frame, tmp);
        if (v->is_string()) out += v->get_ref<const std::string&>();
        else out += v->dump();
      }
      return out;
    }
    case BoundOp::kList: {
      Json out = Json::array();
      for (const BoundExpr* a : e.args) out.push_back(eval_bound(*a, rt, b, frame));
      return out;
    }
    case BoundOp::kObject: {
      Json out = Json::object();
      for (size_t i = 0; i < e.args.size(); ++i) out[e.keys[i]] = eval_bound(*e.args[i], rt, b, frame);
      return out;
    }
    case BoundOp::kNot: {
      Json tmp;
      return !to_bool(src, *ref(*e.args[0], rt, b, frame, tmp));
    }
    case BoundOp::kNeg: {
      Json tmp;
      const Json& v = *ref(*e.args[0], rt, b, frame, tmp);
      if (v.is_number_integer()) return -v.get<int64_t>();
      if (v.is_number()) return -v.get<double>();
      fail(src, std::string("cannot negate ") + v.type_name());
    }
    case BoundOp::kCond: {
      Json tmp;
      return to_bool(*e.args[0]->src, *ref(*e.args[0], rt, b, frame, tmp)) ? eval_bound(*e.args[1], rt, b, frame)
                                                                           : eval_bound(*e.args[2], rt, b, frame);
    }
    case BoundOp::kAnd:
    case BoundOp::kOr: {
      Json tmp;
      bool l = to_bool(src, *ref(*e.args[0], rt, b, frame, tmp));
      if (l == (e.op == BoundOp::kOr)) return l;
      Json tmp2;
      return to_bool(src, *ref(*e.args[1], rt, b, frame, tmp2));
    }
    case BoundOp::kCoalesce: {
      Json tmp;
      const Json* l = ref(*e.args[0], rt, b, frame, tmp);
      return l->is_null() ? eval_bound(*e.args[1], rt, b, frame) : take(l, tmp);
    }
    case BoundOp::kFunction:
    case BoundOp::kBuiltin: return call(e, rt, b, frame);
    case BoundOp::kOld: {
      const FactKey* f = b.slots[static_cast<size_t>(e.index)].fact;
      const Json* o = f ? old_(*f) : nullptr;
      return o ? *o : Json();
    }
    case BoundOp::kAggregate: return aggregate(e, rt, b);
    case BoundOp::kError: fail(src, e.text);
    default: break;
  }
  // The binary operators that read both sides.
  Json lt, rtmp;
  const Json& l = *ref(*e.args[0], rt, b, frame, lt);
  const Json& r = *ref(*e.args[1], rt, b, frame, rtmp);
  switch (e.op) {
    case BoundOp::kEq: return l == r;
    case BoundOp::kNe: return l != r;
    case BoundOp::kLt: return compare(src, l, r) < 0;
    case BoundOp::kLe: return compare(src, l, r) <= 0;
    case BoundOp::kGt: return compare(src, l, r) > 0;
    case BoundOp::kGe: return compare(src, l, r) >= 0;
    case BoundOp::kIn:
    case BoundOp::kNotIn: {
      bool in = false;
      if (r.is_array()) in = std::find(r.begin(), r.end(), l) != r.end();
      else if (r.is_object()) in = l.is_string() && r.contains(l.get_ref<const std::string&>());
      else if (r.is_string() && l.is_string()) in = r.get_ref<const std::string&>().find(l.get_ref<const std::string&>()) != std::string::npos;
      else if (!r.is_null()) fail(src, std::string("`in` needs a list, object or string, not ") + r.type_name());
      return e.op == BoundOp::kIn ? in : !in;
    }
    default: break;
  }
  if (e.op == BoundOp::kAdd) {
    if (l.is_string() && r.is_string()) return l.get_ref<const std::string&>() + r.get_ref<const std::string&>();
    if (l.is_array() && r.is_array()) {
      Json out = take(&l, lt);
      for (const auto& x : r) out.push_back(x);
      return out;
    }
    if (l.is_object() && r.is_object()) {
      Json out = take(&l, lt);
      for (const auto& [k, v] : r.items()) out[k] = v;
      return out;
    }
  }
  if (l.is_number() && r.is_number()) {
    bool ints = l.is_number_integer() && r.is_number_integer();
    switch (e.op) {
      case BoundOp::kAdd: return ints ? Json(l.get<int64_t>() + r.get<int64_t>()) : Json(l.get<double>() + r.get<double>());
      case BoundOp::kSub: return ints ? Json(l.get<int64_t>() - r.get<int64_t>()) : Json(l.get<double>() - r.get<double>());
      case BoundOp::kMul: return ints ? Json(l.get<int64_t>() * r.get<int64_t>()) : Json(l.get<double>() * r.get<double>());
      case BoundOp::kDiv:
      case BoundOp::kMod:
        if (r.get<double>() == 0) fail(src, "division by zero");
        if (e.op == BoundOp::kMod) {
          if (!ints) fail(src, "% needs integers");
          return l.get<int64_t>() % r.get<int64_t>();
        }
        return ints ? Json(l.get<int64_t>() / r.get<int64_t>()) : Json(l.get<double>() / r.get<double>());
      default: break;
    }
  }
  fail(src, "cannot apply `" + e.text + "` to " + l.type_name() + " and " + r.type_name());
}

Json Evaluator::aggregate(const BoundExpr& e, const RuleRuntime& rt, Bindings& b) const {
  const dsl::Expr& src = *e.src;
  // The binder links every aggregate of a rule to its body's plan: a
  // missing one is a bug of the binder, not a failed match.
  if (!e.plan) throw std::logic_error("aggregate of rule " + rt.info->rule->name + " has no plan");
  const dsl::BoundPlan& plan = *e.plan;
  const BoundExpr* of = e.args.empty() ? nullptr : e.args[0];  // none for count and any
  int64_t count = 0;
  bool all = true;
  Json collected = Json::array();
  run(plan, rt, b, nullptr, [&](Bindings& inner) {
    ++count;
    if (src.agg == dsl::AggKind::kAll) {
      Json tmp;
      if (!to_bool(*of->src, *ref(*of, rt, inner, nullptr, tmp))) {
        all = false;
        return false;
      }
    } else if (src.agg == dsl::AggKind::kCollect) {
      collected.push_back(eval_bound(*of, rt, inner, nullptr));
    } else if (src.agg == dsl::AggKind::kAny) {
      return false;
    }
    return true;
  });
  switch (src.agg) {
    case dsl::AggKind::kCount: return count;
    case dsl::AggKind::kAny: return count > 0;
    case dsl::AggKind::kAll: return all;
    case dsl::AggKind::kCollect:
      std::sort(collected.begin(), collected.end());
      return collected;
  }
  return nullptr;
}

}  // namespace pmesh::engine
