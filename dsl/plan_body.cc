// Planning one rule body (Planner::plan_body): ordering its items into the
// steps of a Plan.
//
// Planner::State holds what one body's planning works on: the items left
// to place, the variables bound so far, the equalities that may become
// lookup keys, and the plan being built. Planning is: collect the items and
// the equalities (pattern clauses, `where a == b`, `let`, a triggering
// tuple's arguments, and the workspace tree's inversions of `child`), seed
// the trigger's variables, then repeatedly place whatever can run now
// (lets, filters, negations) or else the pattern with the best access path.
#include <algorithm>
#include <functional>
#include <optional>
#include <set>

#include "dsl/object_model.h"
#include "dsl/planner.h"
#include "stdlib/builtins.h"

namespace pmesh::dsl {
namespace {

using VarSet = std::set<const VarInfo*>;

void collect_body(const RuleInfo& info, const Body& b, VarSet& vars, std::set<const Body*>& nested);

void collect_expr(const RuleInfo& info, const Expr& e, VarSet& vars, std::set<const Body*>& nested) {
  if (e.kind == ExprKind::kVar)
    if (const VarInfo* v = info.var_of(e)) vars.insert(v);
  if (e.kind == ExprKind::kAggregate) {
    nested.insert(e.body.get());
    collect_body(info, *e.body, vars, nested);
  }
  for (const auto& a : e.args) collect_expr(info, *a, vars, nested);
}

void collect_item(const RuleInfo& info, const BodyItem& item, VarSet& vars, std::set<const Body*>& nested) {
  switch (item.kind) {
    case BodyItemKind::kObject:
      for (const ExprPtr* c : {&item.object.cluster, &item.object.ns, &item.object.name})
        if (*c) collect_expr(info, **c, vars, nested);
      for (const auto& [k, v] : item.object.labels) collect_expr(info, *v, vars, nested);
      if (item.object.kind.dynamic()) {
        collect_expr(info, *item.object.kind.group, vars, nested);
        collect_expr(info, *item.object.kind.resource, vars, nested);
      }
      break;
    case BodyItemKind::kTuple:
      for (const auto& a : item.tuple.args) collect_expr(info, *a, vars, nested);
      break;
    case BodyItemKind::kLet:
    case BodyItemKind::kWhere:
      collect_expr(info, *item.expr, vars, nested);
      break;
    case BodyItemKind::kNot:
      nested.insert(item.negated.get());
      collect_body(info, *item.negated, vars, nested);
      break;
  }
}

void collect_body(const RuleInfo& info, const Body& b, VarSet& vars, std::set<const Body*>& nested) {
  for (const auto& item : b.items) collect_item(info, item, vars, nested);
}

// The variables a piece of a body needs from outside it.
VarSet free_vars(const RuleInfo& info, const std::function<void(VarSet&, std::set<const Body*>&)>& collect) {
  VarSet vars, out;
  std::set<const Body*> nested;
  collect(vars, nested);
  for (const VarInfo* v : vars)
    if (!nested.count(v->scope)) out.insert(v);
  return out;
}

VarSet expr_vars(const RuleInfo& info, const Expr& e) {
  return free_vars(info, [&](VarSet& v, std::set<const Body*>& n) { collect_expr(info, e, v, n); });
}

VarSet operand_vars(const RuleInfo& info, const Operand& o) {
  if (o.inner && o.inner2) {
    VarSet v = operand_vars(info, *o.inner);
    for (const VarInfo* x : operand_vars(info, *o.inner2)) v.insert(x);
    return v;
  }
  if (o.inner) return operand_vars(info, *o.inner);
  if (o.var) return {o.var};
  return o.expr ? expr_vars(info, *o.expr) : VarSet{};
}

// `x.spec.a` or `x["k"]` rooted at an object variable, as (variable, canonical path).
std::optional<std::pair<const VarInfo*, std::string>> pure_path(const RuleInfo& info, const Expr& e) {
  std::vector<std::string> segs;
  const Expr* cur = &e;
  while (cur->kind == ExprKind::kField || cur->kind == ExprKind::kIndex) {
    if (cur->kind == ExprKind::kField) {
      segs.push_back(cur->text);
    } else {
      if (cur->args[1]->kind != ExprKind::kString) return std::nullopt;
      segs.push_back(cur->args[1]->text);
    }
    cur = cur->args[0].get();
  }
  if (cur->kind != ExprKind::kVar) return std::nullopt;
  const VarInfo* v = info.var_of(*cur);
  if (!v) return std::nullopt;
  std::reverse(segs.begin(), segs.end());
  if (v->kind != VarInfo::Kind::kObject) {
    if (!segs.empty()) return std::nullopt;
    return std::make_pair(v, std::string());
  }
  if (segs.empty()) return std::nullopt;
  auto path = canonical_path(v->decl, segs);
  if (!path) return std::nullopt;
  std::string dotted;
  for (const auto& s : *path) dotted += (dotted.empty() ? "" : ".") + s;
  return std::make_pair(v, dotted);
}

Operand expr_operand(const Expr* e) {
  Operand o;
  o.expr = e;
  return o;
}

Operand path_operand(const VarInfo* v, const std::string& path) {
  Operand o;
  o.var = v;
  o.path = path;
  return o;
}

bool subset(const VarSet& a, const std::vector<const VarInfo*>& bound) {
  for (const VarInfo* v : a)
    if (std::find(bound.begin(), bound.end(), v) == bound.end()) return false;
  return true;
}

bool is_cluster_scoped(const VarInfo* v) { return v->decl && v->decl->scope == Scope::kCluster; }

}  // namespace

// An equality usable as a lookup key: `lhs == rhs`, where either side may be
// a pure path of a variable.
struct Planner::Eq {
  Operand a, b;
  std::optional<std::pair<const VarInfo*, std::string>> pa, pb;
  bool from_clause = false;
  bool done = false;
};

struct Planner::State {
  Planner& planner;
  const RuleInfo& info;
  const BodyItem* trigger;
  std::vector<const VarInfo*> bound;
  std::vector<const BodyItem*> pending;
  std::vector<Eq> eqs;
  Plan plan;
  // What a trigger of a run-time kind needs bound before its kind is checked.
  VarSet trigger_kind_needs;

  // ---- Collecting
  // The items to order. Re-evaluation plans join only the positive patterns
  // on the way from the rule's body to the trigger's.
  void collect_items(const std::vector<const Body*>& bodies);
  // Equalities from pattern clauses, `where a == b`, lets and a triggering
  // tuple's arguments, in that order.
  void collect_equalities(const std::vector<const Body*>& bodies);
  void push_eq(Eq eq);
  void add_inverses(const Operand& side, const Operand& other);
  void add_clause(const BodyItem* item);
  void add_where(const Expr& e);
  void add_trigger_args();
  void add_let(const BodyItem* item);
  // Binds the trigger's variables and checks what that closes.
  void seed_trigger();

  // ---- Placing
  // A let, filter or negation whose inputs are bound; false if none is.
  bool place_ready_item();
  // The index in `pending` of the pattern with the best access path; -1 if
  // none can be placed.
  int best_pattern();
  int object_score(const BodyItem* item);
  int tuple_score(const BodyItem* item);
  void place_object(const BodyItem* item);
  void place_tuple(const BodyItem* item);
  // Ends a step: the equalities it closes become its checks.
  void finish_step(Step s);

  // ---- What is known
  const VarInfo* var_of_pattern(const BodyItem* item) const;
  // Closes every clause equality whose two sides are bound: a check.
  void close_checks(std::vector<std::pair<Operand, Operand>>& out);
  void note_trigger_kind();
  std::optional<Operand> from_halves(const VarInfo* v, const std::string& path);
  std::vector<KeyBinding> object_keys(const VarInfo* q, std::vector<Eq*>* used);
  static bool primary(const VarInfo* q, const std::vector<KeyBinding>& keys);
  std::optional<Operand> determined(const VarInfo* v);
  bool pending_object(const VarInfo* v) const;
  bool deferrable(const Expr& a) const;
  bool tuple_ready(const BodyItem* item);
  // Whether a tuple pattern whose first `known_prefix` arguments are known
  // has them cover its relation's declared key: one tuple at most.
  bool by_declared_key(const BodyItem& item, size_t known_prefix) const;
};

void Planner::State::collect_items(const std::vector<const Body*>& bodies) {
  for (const Body* b : bodies)
    for (const auto& item : b->items) {
      bool pattern = item.kind == BodyItemKind::kObject || item.kind == BodyItemKind::kTuple;
      if (plan.reevaluate && (!pattern || (pattern && item.kind == BodyItemKind::kObject && item.object.optional)))
        continue;
      if (&item != trigger) pending.push_back(&item);
    }
}

const VarInfo* Planner::State::var_of_pattern(const BodyItem* item) const {
  for (const auto& v : info.vars)
    if (v->pattern == &item->object) return v.get();
  return nullptr;
}

// `v == child(a, b)` also says `a == parent(v)` and `b == base(v)`: that
// turns a walk down the workspace tree into lookups both ways.
void Planner::State::add_inverses(const Operand& side, const Operand& other) {
  if (!side.expr || side.expr->kind != ExprKind::kCall || side.expr->text != "child" || side.expr->args.size() != 2)
    return;
  const char* fns[2] = {"parent", "base"};
  for (int i = 0; i < 2; ++i) {
    Eq eq;
    eq.a = expr_operand(side.expr->args[i].get());
    eq.pa = pure_path(info, *side.expr->args[i]);
    eq.b.fn = fns[i];
    eq.b.builtin = find_builtin(fns[i]);
    eq.b.inner = std::make_shared<Operand>(other);
    if (eq.pa) eqs.push_back(std::move(eq));
  }
}

void Planner::State::push_eq(Eq eq) {
  Operand a = eq.a, b = eq.b;
  eqs.push_back(std::move(eq));
  add_inverses(a, b);
  add_inverses(b, a);
}

void Planner::State::add_clause(const BodyItem* item) {
  if (item->kind != BodyItemKind::kObject) return;
  const VarInfo* v = var_of_pattern(item);
  if (!v) return;
  auto add = [&](const Expr* e, const std::string& path) {
    if (!e) return;
    Eq eq;
    eq.a = path_operand(v, path);
    eq.pa = std::make_pair(v, path);
    eq.b = expr_operand(e);
    eq.pb = pure_path(info, *e);
    eq.from_clause = true;
    eq.a.namespace_key = eq.b.namespace_key = path == "metadata.namespace";
    push_eq(std::move(eq));
  };
  add(item->object.cluster.get(), "metadata.cluster");
  add(item->object.ns.get(), "metadata.namespace");
  add(item->object.name.get(), "metadata.name");
  for (const auto& [k, e] : item->object.labels) add(e.get(), "metadata.labels." + k);
}

void Planner::State::add_where(const Expr& e) {
  if (e.kind == ExprKind::kBinary && e.text == "and") {
    add_where(*e.args[0]);
    add_where(*e.args[1]);
  } else if (e.kind == ExprKind::kBinary && e.text == "==") {
    Eq eq;
    eq.a = expr_operand(e.args[0].get());
    eq.b = expr_operand(e.args[1].get());
    eq.pa = pure_path(info, *e.args[0]);
    eq.pb = pure_path(info, *e.args[1]);
    if (eq.pa || eq.pb) push_eq(std::move(eq));
  }
}

// A triggering tuple's arguments that are paths of objects not bound yet
// are lookup keys for those objects.
void Planner::State::add_trigger_args() {
  for (size_t i = 0; i < trigger->tuple.args.size(); ++i) {
    const Expr& a = *trigger->tuple.args[i];
    if (a.kind == ExprKind::kVar) continue;
    Eq eq;
    eq.pa = pure_path(info, a);
    bool is_child = a.kind == ExprKind::kCall && a.text == "child" && a.args.size() == 2;
    if (!eq.pa && !is_child) {
      // Any other expression that reads what the plan binds later (`for
      // r(s, replace(x, "#m", ""), u)` started from r's tuple) is checked
      // against the tuple as soon as it can be, not left to the match's
      // evaluation: otherwise every candidate would be proposed.
      VarSet needs = expr_vars(info, a);
      bool later = false;
      for (const VarInfo* v : needs) {
        bool by_trigger = subset({v}, bound);
        for (const auto& x : trigger->tuple.args)
          by_trigger |= x->kind == ExprKind::kVar && info.var_of(*x) == v;
        later |= !by_trigger;
      }
      if (!later) continue;
      eq.a = expr_operand(&a);
      eq.b.trigger_arg = static_cast<int>(i);
      eq.from_clause = true;
      eqs.push_back(std::move(eq));
      continue;
    }
    // `child(ws.cluster, ws.name)` finds ws by parent() and base() of the argument.
    eq.a = eq.pa ? path_operand(eq.pa->first, eq.pa->second) : expr_operand(&a);
    eq.b.trigger_arg = static_cast<int>(i);
    eq.from_clause = true;
    push_eq(std::move(eq));
  }
}

// `let v = x.path` says `v == x.path` too: with `v` bound first (by a
// triggering tuple), `x` is looked up by it.
void Planner::State::add_let(const BodyItem* item) {
  if (item->each) return;
  auto p = pure_path(info, *item->expr);
  if (!p || p->second.empty()) return;
  for (const auto& v : info.vars)
    if (v->let == item) {
      Eq eq;
      eq.a = path_operand(v.get(), "");
      eq.pa = std::make_pair(v.get(), std::string());
      eq.b = path_operand(p->first, p->second);
      eq.pb = p;
      push_eq(std::move(eq));
    }
}

void Planner::State::collect_equalities(const std::vector<const Body*>& bodies) {
  if (trigger) add_clause(trigger);
  if (trigger && trigger->kind == BodyItemKind::kTuple) add_trigger_args();
  for (const BodyItem* item : pending) {
    add_clause(item);
    if (item->kind == BodyItemKind::kWhere) add_where(*item->expr);
    if (item->kind == BodyItemKind::kLet) add_let(item);
  }
  // A re-evaluation joins its patterns by the bodies' `where` equalities
  // too, as lookup keys only (the match's evaluation checks them): a
  // trigger that cannot meet them cannot change that match.
  if (plan.reevaluate)
    for (const Body* b : bodies)
      for (const auto& item : b->items)
        if (item.kind == BodyItemKind::kWhere) add_where(*item.expr);
}

void Planner::State::close_checks(std::vector<std::pair<Operand, Operand>>& out) {
  for (auto& eq : eqs) {
    if (eq.done) continue;
    if (subset(operand_vars(info, eq.a), bound) && subset(operand_vars(info, eq.b), bound)) {
      eq.done = true;
      if (eq.from_clause) out.emplace_back(eq.a, eq.b);
    }
  }
}

void Planner::State::note_trigger_kind() {
  if (plan.trigger_kind_check == Plan::kNoKindCheck && !trigger_kind_needs.empty() &&
      subset(trigger_kind_needs, bound))
    plan.trigger_kind_check = plan.steps.size();
}

void Planner::State::seed_trigger() {
  if (trigger) {
    if (trigger->kind == BodyItemKind::kObject) {
      if (const VarInfo* v = var_of_pattern(trigger)) {
        bound.push_back(v);
        plan.seeded.push_back(v);
      }
    } else {
      for (const auto& a : trigger->tuple.args)
        if (a->kind == ExprKind::kVar)
          if (const VarInfo* v = info.var_of(*a); v && !subset({v}, bound)) {
            bound.push_back(v);
            plan.seeded.push_back(v);
          }
    }
    close_checks(plan.trigger_checks);
  }
  if (trigger && trigger->kind == BodyItemKind::kObject && trigger->object.kind.dynamic()) {
    trigger_kind_needs = expr_vars(info, *trigger->object.kind.group);
    for (const VarInfo* v : expr_vars(info, *trigger->object.kind.resource)) trigger_kind_needs.insert(v);
  }
  note_trigger_kind();
}

// Lookup keys for an object pattern given what is bound.
// `a == parent(E)` and `b == base(E)`, with a and b bound and E the path
// `path` of `v` (or `v` itself): then E == child(a, b). Walking up the
// workspace tree from a bound object finds its children by lookup.
std::optional<Operand> Planner::State::from_halves(const VarInfo* v, const std::string& path) {
  const Operand* half[2] = {nullptr, nullptr};
  for (auto& eq : eqs) {
    if (eq.done) continue;
    for (int side = 0; side < 2; ++side) {
      const Operand& mine = side == 0 ? eq.a : eq.b;
      const Operand& other = side == 0 ? eq.b : eq.a;
      const Expr* e = mine.expr;
      if (!e || e->kind != ExprKind::kCall || e->args.size() != 1 || (e->text != "parent" && e->text != "base"))
        continue;
      auto target = pure_path(info, *e->args[0]);
      if (!target || target->first != v || target->second != path) continue;
      VarSet ov = operand_vars(info, other);
      if (ov.count(v) || !subset(ov, bound)) continue;
      half[e->text == "parent" ? 0 : 1] = &other;
    }
  }
  if (!half[0] || !half[1]) return std::nullopt;
  Operand o;
  o.fn = "child";
  o.builtin = find_builtin("child");
  o.inner = std::make_shared<Operand>(*half[0]);
  o.inner2 = std::make_shared<Operand>(*half[1]);
  return o;
}

std::vector<KeyBinding> Planner::State::object_keys(const VarInfo* q, std::vector<Eq*>* used) {
  std::vector<KeyBinding> keys;
  for (auto& eq : eqs) {
    if (eq.done) continue;
    for (int side = 0; side < 2; ++side) {
      const auto& pure = side == 0 ? eq.pa : eq.pb;
      const Operand& other = side == 0 ? eq.b : eq.a;
      if (!pure || pure->first != q) continue;
      VarSet ov = operand_vars(info, other);
      if (ov.count(q) || !subset(ov, bound)) continue;
      bool dup = false;
      for (const auto& k : keys) dup |= k.key == pure->second;
      if (dup) continue;
      keys.push_back({pure->second, other});
      if (used) used->push_back(&eq);
      break;
    }
  }
  bool has_cluster = false;
  for (const auto& k : keys) has_cluster |= k.key == "metadata.cluster";
  if (!has_cluster)
    if (auto o = from_halves(q, "metadata.cluster")) keys.push_back({"metadata.cluster", *o});
  return keys;
}

// Whether the keys are a prefix of (cluster, namespace, name): a range of
// the primary key.
bool Planner::State::primary(const VarInfo* q, const std::vector<KeyBinding>& keys) {
  std::set<std::string> k;
  for (const auto& kb : keys) k.insert(kb.key);
  std::vector<std::string> order = {"metadata.cluster"};
  if (!is_cluster_scoped(q)) order.push_back("metadata.namespace");
  order.push_back("metadata.name");
  size_t n = 0;
  while (n < order.size() && k.count(order[n])) ++n;
  return n == k.size();
}

// What determines the unbound variable `v` from what is bound, if
// anything: an equality `v == x` (`where tpath == t.cluster`), or the pair
// `a == parent(v)`, `b == base(v)` (`for ws: Workspace in parent(p) named
// base(p)` determines p as child(ws.cluster, ws.name)). A tuple argument
// `v` is then a lookup key.
std::optional<Operand> Planner::State::determined(const VarInfo* v) {
  for (auto& eq : eqs) {
    if (eq.done) continue;
    for (int side = 0; side < 2; ++side) {
      const auto& pure = side == 0 ? eq.pa : eq.pb;
      const Operand& other = side == 0 ? eq.b : eq.a;
      if (operand_vars(info, other).count(v) || !subset(operand_vars(info, other), bound)) continue;
      if (pure && pure->first == v && pure->second.empty()) return other;
    }
  }
  return from_halves(v, "");
}

// An argument of a tuple pattern that reads an object not bound yet can
// wait for it when it is that object's path, or child() of two of its
// paths: the tuple, looked up by its other arguments, then names the
// object (`for r(ns.cluster, a)` with `a` known finds `ns` by cluster).
bool Planner::State::pending_object(const VarInfo* v) const {
  if (v->kind != VarInfo::Kind::kObject || v->optional || !v->pattern || subset({v}, bound)) return false;
  for (const BodyItem* item : pending)
    if (item->kind == BodyItemKind::kObject && &item->object == v->pattern) return true;
  return false;
}

bool Planner::State::deferrable(const Expr& a) const {
  if (a.kind == ExprKind::kCall && a.text == "child" && a.args.size() == 2) {
    auto x = pure_path(info, *a.args[0]), y = pure_path(info, *a.args[1]);
    return x && y && x->first == y->first && !x->second.empty() && pending_object(x->first);
  }
  auto p = pure_path(info, a);
  return p && !p->second.empty() && pending_object(p->first);
}

// Ready: every argument that is an expression can be computed, or can
// wait for its object as above, and at least one is known to look it up by.
bool Planner::State::tuple_ready(const BodyItem* item) {
  bool waits = false, known = false;
  for (const auto& a : item->tuple.args) {
    if (a->kind == ExprKind::kVar) {
      const VarInfo* v = info.var_of(*a);
      known |= a->text != "_" && v && (subset({v}, bound) || determined(v).has_value());
      continue;
    }
    if (subset(expr_vars(info, *a), bound)) known = true;
    else if (deferrable(*a)) waits = true;
    else return false;
  }
  return !waits || known;
}

bool Planner::State::by_declared_key(const BodyItem& item, size_t known_prefix) const {
  if (!planner.program_) return false;
  auto it = planner.program_->relations().find(item.tuple.relation);
  if (it == planner.program_->relations().end()) return false;
  const RelationDecl& decl = *it->second;
  return decl.key > 0 && decl.params.size() == item.tuple.args.size() && known_prefix >= decl.key;
}

void Planner::State::finish_step(Step s) {
  close_checks(s.checks);
  plan.steps.push_back(std::move(s));
  note_trigger_kind();
}

// Lets, filters and negations as soon as what they read is bound.
bool Planner::State::place_ready_item() {
  for (size_t i = 0; i < pending.size(); ++i) {
    const BodyItem* item = pending[i];
    VarSet needs;
    if (item->kind == BodyItemKind::kLet || item->kind == BodyItemKind::kWhere)
      needs = expr_vars(info, *item->expr);
    else if (item->kind == BodyItemKind::kNot)
      needs = free_vars(info, [&](VarSet& v, std::set<const Body*>& n) { collect_body(info, *item->negated, v, n); });
    else
      continue;
    for (auto it = needs.begin(); it != needs.end();)
      it = (*it)->scope == (item->negated ? item->negated.get() : nullptr) ? needs.erase(it) : std::next(it);
    if (!subset(needs, bound)) continue;
    Step s;
    s.item = item;
    if (item->kind == BodyItemKind::kLet) {
      s.op = StepOp::kLet;
      for (const auto& v : info.vars)
        if (v->let == item) s.binds = v.get();
      if (s.binds) bound.push_back(s.binds);
    } else if (item->kind == BodyItemKind::kWhere) {
      s.op = StepOp::kFilter;
    } else {
      s.op = StepOp::kNot;
      s.sub = std::make_shared<Plan>(planner.plan_body(info, {item->negated.get()}, bound, nullptr));
    }
    finish_step(std::move(s));
    pending.erase(pending.begin() + static_cast<long>(i));
    return true;
  }
  return false;
}

int Planner::State::object_score(const BodyItem* item) {
  const VarInfo* q = var_of_pattern(item);
  if (!q) return -1;
  if (item->object.kind.dynamic()) {
    // The kind is known only once `resource(g, r)`'s arguments are.
    VarSet needs = expr_vars(info, *item->object.kind.group);
    for (const VarInfo* v : expr_vars(info, *item->object.kind.resource)) needs.insert(v);
    if (!subset(needs, bound)) return -1;
  }
  auto keys = object_keys(q, nullptr);
  if (item->object.optional) {
    // Only once everything its clauses read is bound.
    VarSet needs = free_vars(info, [&](VarSet& v, std::set<const Body*>& n) {
      for (const ExprPtr* c : {&item->object.cluster, &item->object.ns, &item->object.name})
        if (*c) collect_expr(info, **c, v, n);
    });
    needs.erase(q);
    return subset(needs, bound) ? 0 : -1;
  }
  // A key that comes from a bound variable narrows more than a constant
  // one (`spec.type = "account"` matches a whole class).
  int from_vars = 0;
  for (const auto& k : keys) from_vars += operand_vars(info, k.value).empty() && !k.value.from_tuple() ? 0 : 1;
  int score = keys.empty() ? 1
              : primary(q, keys) && keys.size() >= (is_cluster_scoped(q) ? 2u : 3u)
                  ? 100
                  : 10 + static_cast<int>(keys.size()) + 2 * from_vars;
  // A run-time kind has no secondary indexes, and its scope is unknown:
  // keys past the cluster only filter what a scan of the cluster finds, so
  // what binds the namespace first does better.
  if (item->object.kind.dynamic() && score != 100) score = keys.empty() ? 1 : 11;
  return score;
}

int Planner::State::tuple_score(const BodyItem* item) {
  if (!tuple_ready(item)) return -1;
  // As for objects, an argument known from a variable narrows more than a
  // constant one (`fga_tuple("s", o, "viewer", u)`'s "viewer").
  int known = 0, from_vars = 0;
  size_t known_prefix = 0;  // how many first arguments are known
  for (const auto& a : item->tuple.args) {
    bool ok = false;
    if (a->kind != ExprKind::kVar) {
      VarSet needs = expr_vars(info, *a);
      ok = subset(needs, bound);
      from_vars += ok && !needs.empty() ? 1 : 0;
    } else if (const VarInfo* v = info.var_of(*a); v && (subset({v}, bound) || determined(v).has_value())) {
      ok = true;
      ++from_vars;
    }
    known += ok ? 1 : 0;
    if (ok && known_prefix == static_cast<size_t>(&a - item->tuple.args.data())) ++known_prefix;
  }
  // A relation's declared key, known, finds one tuple at most: better than
  // any lookup by arguments that many tuples share (a group and resource
  // that every consumer of an export has bound).
  bool by_key = by_declared_key(*item, known_prefix);
  return known == static_cast<int>(item->tuple.args.size()) ? 100
         : by_key                                          ? 90
         : known                                           ? 10 + known + 2 * from_vars
                                                           : 1;
}

// The pattern with the best access path; optional ones last.
int Planner::State::best_pattern() {
  int best = -1, best_score = -1;
  for (size_t i = 0; i < pending.size(); ++i) {
    const BodyItem* item = pending[i];
    int score = item->kind == BodyItemKind::kObject  ? object_score(item)
                : item->kind == BodyItemKind::kTuple ? tuple_score(item)
                                                     : -1;
    if (score > best_score) {
      best = static_cast<int>(i);
      best_score = score;
    }
  }
  return best;
}

void Planner::State::place_object(const BodyItem* item) {
  Step s;
  s.item = item;
  const VarInfo* q = var_of_pattern(item);
  std::vector<Eq*> used;
  s.keys = object_keys(q, &used);
  for (Eq* e : used) e->done = true;
  s.binds = q;
  std::string kind = q->decl ? q->decl->name : "*";
  if (item->object.optional) s.op = StepOp::kOptional;
  else s.op = s.keys.empty() ? StepOp::kScan : StepOp::kLookup;
  // By its whole name, whatever the index (one may add fields to it).
  auto keyed = [&](const char* path) {
    return std::any_of(s.keys.begin(), s.keys.end(), [&](const KeyBinding& k) { return k.key == path; });
  };
  bool no_namespace = is_cluster_scoped(q) && !item->object.kind.dynamic();
  s.at_most_one = s.op == StepOp::kLookup && keyed("metadata.cluster") && keyed("metadata.name") &&
                  (no_namespace || keyed("metadata.namespace"));
  // Run-time kinds have no secondary indexes: the keys filter a scan.
  if (!s.keys.empty() && !primary(q, s.keys) && !item->object.kind.dynamic()) {
    // The evaluator passes key values in this order; the index keeps them sorted by path.
    std::sort(s.keys.begin(), s.keys.end(), [](const KeyBinding& a, const KeyBinding& b) { return a.key < b.key; });
    IndexSpec spec{false, kind, {}};
    for (const auto& k : s.keys) spec.keys.push_back(k.key);
    s.index = planner.index_for(spec);
  }
  bound.push_back(q);
  finish_step(std::move(s));
}

void Planner::State::place_tuple(const BodyItem* item) {
  Step s;
  s.item = item;
  IndexSpec spec{true, item->tuple.relation, {}};
  for (size_t i = 0; i < item->tuple.args.size(); ++i) {
    const Expr& a = *item->tuple.args[i];
    const VarInfo* v = a.kind == ExprKind::kVar ? info.var_of(a) : nullptr;
    if (a.kind == ExprKind::kVar && a.text == "_") continue;
    if (a.kind != ExprKind::kVar && !subset(expr_vars(info, a), bound)) {
      // Waits for its object (deferrable above): kept from the tuple found.
      Step::Deferred d{static_cast<int>(i), planner.tuple_values_++};
      s.deferred.push_back(d);
      Eq eq;
      eq.pa = pure_path(info, a);
      eq.a = eq.pa ? path_operand(eq.pa->first, eq.pa->second) : expr_operand(&a);
      eq.b.tuple_value = d.value;
      eq.b.value_label = item->tuple.relation + "[" + std::to_string(i) + "]";
      eq.from_clause = true;
      push_eq(std::move(eq));
      continue;
    }
    if (a.kind != ExprKind::kVar || (v && subset({v}, bound))) {
      s.keys.push_back({std::to_string(i), expr_operand(&a)});
      spec.keys.push_back(std::to_string(i));
    } else if (auto other = v ? determined(v) : std::nullopt) {
      // Keyed by what determines it; the equalities stay to be checked.
      s.keys.push_back({std::to_string(i), *other});
      spec.keys.push_back(std::to_string(i));
      bound.push_back(v);
    } else if (v && !subset({v}, bound)) {
      bound.push_back(v);
    }
  }
  s.op = s.keys.empty() ? StepOp::kTupleScan : StepOp::kTupleLookup;
  if (!s.keys.empty() && s.keys.size() < item->tuple.args.size()) s.index = planner.index_for(spec);
  // Every argument known, or the first ones its relation declares a key.
  size_t known_prefix = 0;
  while (known_prefix < item->tuple.args.size() &&
         std::any_of(s.keys.begin(), s.keys.end(), [&](const KeyBinding& k) { return k.key == std::to_string(known_prefix); }))
    ++known_prefix;
  s.at_most_one = s.op == StepOp::kTupleLookup &&
                  (known_prefix == item->tuple.args.size() || by_declared_key(*item, known_prefix));
  finish_step(std::move(s));
}

namespace {

// Whether step `s` reads variable `v`: through its item (its expressions,
// clauses and nested bodies), its keys, its checks or its sub-plan.
bool step_reads(const RuleInfo& info, const Step& s, const VarInfo* v) {
  VarSet vars;
  std::set<const Body*> nested;
  if (s.item) collect_item(info, *s.item, vars, nested);
  for (const auto& k : s.keys)
    for (const VarInfo* x : operand_vars(info, k.value)) vars.insert(x);
  for (const auto& [a, b] : s.checks)
    for (const Operand* o : {&a, &b})
      for (const VarInfo* x : operand_vars(info, *o)) vars.insert(x);
  if (vars.count(v)) return true;
  if (s.sub)
    for (const Step& inner : s.sub->steps)
      if (step_reads(info, inner, v)) return true;
  return false;
}

// A value written out of literals: nothing to compute however often it is
// read (a call without arguments reads no variable, yet computes).
bool literal(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kNull:
    case ExprKind::kBool:
    case ExprKind::kInt:
    case ExprKind::kFloat:
    case ExprKind::kString: return true;
    case ExprKind::kList:
    case ExprKind::kObject:
      return std::all_of(e.args.begin(), e.args.end(), [](const ExprPtr& a) { return a && literal(*a); });
    default: return false;
  }
}

// Lets as late as their first reader. Items are placed as soon as their
// inputs are bound, so a let's value (an aggregate, a function call) used
// to be computed before joins and filters that then rejected the binding:
// most searches for new matches fail there, and paid for it. A let moves
// down past steps that bind one value at most for each binding (filters,
// negations, optional patterns, other lets, lookups by a whole key),
// never past a step that may find many (it would be computed for each),
// nor across the trigger's kind check. A let with checks of its own
// rejects bindings, and stays where it is.
//
// An iterating let (`for x in list`) moves the same way, and for more: it
// multiplies every step after it by its list's length, and one whose list
// needs nothing was placed first, so that each lookup after it ran once
// per element. One over a literal list (the same for every binding, and
// nothing to compute) moves past every step that does not read it, lookups
// that may find many and iterating lets that compute their list included,
// but not past another literal one (that would only swap two loops).
void sink_lets(const RuleInfo& info, Plan& plan) {
  auto plain_let = [](const Step& s) { return s.op == StepOp::kLet && !s.item->each && s.checks.empty(); };
  auto each_let = [](const Step& s) { return s.op == StepOp::kLet && s.item->each && s.checks.empty(); };
  auto literal_list = [&](const Step& s) { return s.item->expr && literal(*s.item->expr); };
  auto passable = [&](const Step& s, bool past_many) {
    switch (s.op) {
      case StepOp::kFilter:
      case StepOp::kNot:
      case StepOp::kOptional: return true;
      case StepOp::kLet: return !s.item->each || (past_many && !literal_list(s));
      case StepOp::kLookup:
      case StepOp::kTupleLookup: return s.at_most_one || past_many;
      case StepOp::kScan:
      case StepOp::kTupleScan: return past_many;
      default: return false;
    }
  };
  auto& steps = plan.steps;
  for (size_t i = steps.size(); i-- > 0;) {
    const bool each = each_let(steps[i]);
    if (!(plain_let(steps[i]) || each) || !steps[i].binds) continue;
    const bool past_many = each && literal_list(steps[i]);
    size_t limit = i < plan.trigger_kind_check ? std::min(plan.trigger_kind_check, steps.size()) : steps.size();
    size_t j = i + 1;
    while (j < limit && passable(steps[j], past_many) && !step_reads(info, steps[j], steps[i].binds)) ++j;
    // Lets that end up together stay in the order they were written.
    while (j > i + 1 && plain_let(steps[j - 1])) --j;
    if (j > i + 1) std::rotate(steps.begin() + static_cast<long>(i), steps.begin() + static_cast<long>(i) + 1,
                               steps.begin() + static_cast<long>(j));
  }
}

}  // namespace

Plan Planner::plan_body(const RuleInfo& info, const std::vector<const Body*>& bodies,
                        std::vector<const VarInfo*> bound, const BodyItem* trigger) {
  State st{*this, info, trigger, std::move(bound), {}, {}, {}, {}};
  st.plan.trigger = trigger;
  // A trigger under `not` or an aggregate, or an optional pattern: what
  // it changes is whether (and how) the outer bindings it relates to
  // match, including those a filter over it rejected while it was there
  // and accepts once it is gone. Those bindings are found and evaluated.
  st.plan.reevaluate = bodies.size() > 1 || (trigger && trigger->kind == BodyItemKind::kObject && trigger->object.optional);
  st.collect_items(bodies);
  st.collect_equalities(bodies);
  st.seed_trigger();
  size_t guard = st.pending.size() * st.pending.size() + 8;
  while (!st.pending.empty() && guard-- > 0) {
    if (st.place_ready_item()) continue;
    int best = st.best_pattern();
    if (best < 0) break;
    const BodyItem* item = st.pending[static_cast<size_t>(best)];
    st.pending.erase(st.pending.begin() + best);
    if (item->kind == BodyItemKind::kObject) st.place_object(item);
    else st.place_tuple(item);
  }
  for (const BodyItem* item : st.pending)
    diags_.error(item->span, "cannot order this item of rule `" + info.rule->name +
                                 "`: it needs variables that nothing binds first (a cycle of lets?)");
  Plan& plan = st.plan;
  sink_lets(info, plan);
  if (trigger) {
    // A plain `let` binds one value; an `opt` pattern its first object, or
    // null. Neither with checks to close can reject a match.
    auto binds_only = [](const Step& s) {
      return s.checks.empty() && ((s.op == StepOp::kLet && !s.item->each) || s.op == StepOp::kOptional);
    };
    size_t at = plan.steps.size();
    while (at > 0 && binds_only(plan.steps[at - 1])) --at;
    if (plan.trigger_kind_check != Plan::kNoKindCheck) at = std::max(at, plan.trigger_kind_check);
    plan.found_at = at;
  }
  return std::move(plan);
}

}  // namespace pmesh::dsl
