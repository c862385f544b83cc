// The Engine's admission: rules with `on create|update|delete x: Kind` run
// on users' writes before they are applied, as kube-apiserver's mutating and
// validating admission do. They see the object as written, `old(x)` as
// committed, the rest of the state as it is, and `request` (operation and
// userInfo). They take no part in the fixpoint and leave no matches behind,
// so a recomputation (which replays what users own, already admitted)
// never runs them.
#include "engine/engine.h"

#include "dsl/object_model.h"

namespace pmesh::engine {

namespace {

// Who writes when no one is named: the installation itself (bootstrap, the
// CLI's apply), as kube's loopback client is a system:masters member.
const Json& system_requester() {
  static const Json who = {{"username", "admin"}, {"uid", ""}, {"groups", {"system:masters", "system:authenticated"}}};
  return who;
}

const char* operation_of(Op::Type t) {
  return t == Op::Type::kCreate ? "CREATE" : t == Op::Type::kUpdate ? "UPDATE" : "DELETE";
}

bool admits(const dsl::ObjectPattern& p, Op::Type t) {
  std::string want = t == Op::Type::kCreate ? "create" : t == Op::Type::kUpdate ? "update" : "delete";
  return std::find(p.on_ops.begin(), p.on_ops.end(), want) != p.on_ops.end();
}

}  // namespace

Op Engine::admit(const Op& op) {
  if (admission_.empty()) return op;
  Op out = op;
  std::string kind, fact;
  Json& object = out.object;
  if (op.type == Op::Type::kDelete) {
    fact = object_fact(op.key);
    const ObjectEntry* e = state_.object(fact);
    if (!e || e->effective.is_null()) return op;  // user_op answers NotFound
    object = *e->effective;
    kind = op.key.kind;
  } else {
    std::string error;
    auto key = key_of(op.object, "", &error);
    if (!key) return op;  // user_op answers the error
    kind = key->kind;
    fact = object_fact(*key);
  }
  auto it = admission_.find(kind);
  if (it == admission_.end()) return op;
  const FactKey trigger(fact);
  Json request = {{"operation", operation_of(op.type)},
                  {"userInfo", op.requester.is_null() ? system_requester() : op.requester}};
  // Mutating rules first, then validating ones, as kube's admission runs.
  // Every validating rule runs: a write's field errors are all reported.
  std::vector<Refusal> refusals;
  for (bool mutating : {true, false}) {
    if (mutating && op.type == Op::Type::kDelete) continue;
    for (int index : it->second) {
      const RuleRuntime& rt = rules_[static_cast<size_t>(index)];
      const dsl::Rule& rule = *rt.info->rule;
      if (!admits(*rule.admitted(), op.type) || rt.plan->deltas.empty()) continue;
      bool has = false;
      for (const auto& h : rule.heads) has |= (h.kind == dsl::HeadKind::kSet) == mutating;
      if (!has) continue;
      Bindings b;
      b.slots.resize(rt.info->vars.size());
      for (const auto& v : rt.info->vars)
        if (v->kind == dsl::VarInfo::Kind::kRequest) {
          Slot& s = b.slots[static_cast<size_t>(rt.slot(v.get()))];
          s.owned = request;
          s.bound = true;
        }
      struct Change {
        JsonPath path;
        Json value;
        dsl::SetOp op;
      };
      std::vector<Change> changes;
      std::optional<Json> refusal;
      try {
        const dsl::BoundPlan& plan = rt.bound->delta(0);
        if (!evaluator_->bind_trigger(plan, rt, b, trigger, &object)) continue;
        evaluator_->run(plan, rt, b, nullptr, [&](Bindings& found) {
          for (size_t hi = 0; hi < rule.heads.size(); ++hi) {
            const dsl::Head& h = rule.heads[hi];
            const dsl::BoundHead& bh = rt.bound->head(hi);
            if (mutating && h.kind == dsl::HeadKind::kSet) {
              const dsl::VarInfo* v = rt.info->set_targets.at(&h);
              changes.push_back({resolve_path(v->decl, h.path, bh.path, rt, found, true),
                                 evaluator_->eval(*bh.value, rt, found), h.op});
            } else if (!mutating && h.kind == dsl::HeadKind::kRefuse) {
              refusal = evaluator_->eval(*bh.value, rt, found);
              return false;
            }
          }
          return true;
        });
      } catch (const EvalError& e) {
        // A check that cannot be evaluated fails the write (kube's
        // failurePolicy: Fail), naming the rule.
        throw TxnError{"InternalError", "admission rule " + rule.name + " failed: " + e.what(), {rule.name}};
      }
      if (refusal) refusals.push_back({rule.name, std::move(*refusal)});
      for (const auto& c : changes) {
        if (c.op == dsl::SetOp::kAdd) {
          add_at(object, c.path, c.value);
        } else if (c.op == dsl::SetOp::kOrder) {
          auto order = dsl::list_order(c.value);
          if (!order)
            throw TxnError{"InternalError",
                           "admission rule " + rule.name + " failed: " + dsl::kListOrderExpected + ", not " + c.value.dump(),
                           {rule.name}};
          order_at(object, c.path, *order);
        } else {
          set_at(object, c.path, c.value);
        }
      }
    }
  }
  if (!refusals.empty())
    throw_refusals(refusals, op.type == Op::Type::kDelete ? op.key.name : string_field(object["metadata"], "name"));
  return op.type == Op::Type::kDelete ? op : out;
}

}  // namespace pmesh::engine
