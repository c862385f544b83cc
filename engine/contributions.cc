// What a rule's heads contribute for one binding of its body: the objects it
// derives (each `editable` field as a field part of its own), the fields it
// sets, the tuples it derives, what it refuses or deletes; and the paths
// they write, resolved against the target's kind.
#include "engine/engine.h"

#include <algorithm>

#include "dsl/object_model.h"
#include "stdlib/kube_validation.h"

namespace pmesh::engine {

using dsl::HeadKind;

std::optional<std::vector<Contribution>> Engine::contributions(const RuleRuntime& rt, Bindings& b) {
  std::vector<Contribution> out;
  const auto& heads = rt.info->rule->heads;
  for (size_t hi = 0; hi < heads.size(); ++hi) {
    const dsl::Head& h = heads[hi];
    const dsl::BoundHead& bh = rt.bound->head(hi);
    using Kind = Contribution::Kind;
    switch (h.kind) {
      case HeadKind::kDeriveObject: {
        // `null_is_none`: a namespace that is null is none (a derive of a
        // kind whose scope only the run time knows, `resource(g, r)`, names
        // one or not).
        auto text = [&](const dsl::BoundExpr* e, const char* what, bool null_is_none = false) {
          if (!e) return std::string();
          Json v = evaluator_->eval(*e, rt, b);
          if (null_is_none && v.is_null()) return std::string();
          if (!v.is_string() || v.get<std::string>().empty())
            throw EvalError(std::string("derive: `") + what + "` must be a non-empty string, not " + v.dump(),
                            e->src->span);
          return v.get<std::string>();
        };
        ObjectKey k{"", text(bh.cluster, "in"), text(bh.ns, "namespace", true), text(bh.name, "named")};
        const dsl::KindDecl* d = kinds_.declared(h.object_kind.name);
        if (h.object_kind.dynamic()) {
          std::string key = evaluator_->kind_key(*bh.group, *bh.resource, h.object_kind.span, rt, b);
          d = kinds_.by_key(k.cluster, key);
          if (!d) throw EvalError("derive: " + key + " is not served in " + k.cluster, h.object_kind.span);
        }
        if (d->scope == dsl::Scope::kCluster && !k.ns.empty())
          throw EvalError("derive: " + d->key() + " is cluster-scoped; it has no namespace", h.ns->span);
        if (d->scope == dsl::Scope::kNamespaced && k.ns.empty())
          throw EvalError("derive: " + d->key() + " is namespaced; its namespace is null",
                          h.ns ? h.ns->span : h.span);
        k.kind = d->key();
        if (!dns1123_subdomain_problems(k.name).empty())
          throw EvalError("derive: invalid name \"" + k.name + "\"", h.name->span);
        const FactKey target(object_fact(k));
        Json fields = Json::object();
        for (size_t fi = 0; fi < h.fields.size(); ++fi) {
          const auto& f = h.fields[fi];
          const SharedPath& plain = rt.field_paths[hi][fi];
          JsonPath keyed;
          if (!plain) keyed = resolve_path(d, f.path, bh.field_paths[fi], rt, b, false);
          const JsonPath& path = plain ? *plain : keyed;
          Json v = evaluator_->eval(*bh.fields[fi], rt, b);
          if (!f.editable) {
            set_at(fields, path, std::move(v));
            continue;
          }
          // An editable field is set as `set` sets one, but yields to what
          // users write (Engine::settle_editable).
          out.emplace_back(Kind::kField, target, values_.share(std::move(v)),
                           plain ? plain : intern_path(std::move(keyed)), rt.info->rule->priority.value_or(0),
                           Contribution::kEditable);
        }
        out.emplace_back(Kind::kObject, target, values_.share(std::move(fields)));
        break;
      }
      case HeadKind::kDelete: {
        const dsl::VarInfo* v = rt.info->set_targets.at(&h);
        const Slot& s = b.slots[static_cast<size_t>(rt.slot(v))];
        out.emplace_back(Kind::kDelete, s.fact ? *s.fact : FactKey());
        break;
      }
      case HeadKind::kRefuse: {
        // A message, or a field error (stdlib/validation.rules): as it is;
        // Engine::throw_refusals reads it.
        out.emplace_back(Kind::kRefuse, FactKey(), evaluator_->eval(*bh.value, rt, b));
        break;
      }
      case HeadKind::kDeriveTuple: {
        std::vector<std::string> args;
        for (const dsl::BoundExpr* a : bh.args) {
          Json v = evaluator_->eval(*a, rt, b);
          args.push_back(v.is_string() ? v.get<std::string>() : v.dump());
        }
        out.emplace_back(Kind::kTuple, FactKey(tuple_fact(h.tuple.relation, args)));
        break;
      }
      case HeadKind::kSet: {
        const dsl::VarInfo* v = rt.info->set_targets.at(&h);
        const Slot& s = b.slots[static_cast<size_t>(rt.slot(v))];
        SharedPath path =
            rt.set_paths[hi] ? rt.set_paths[hi] : intern_path(resolve_path(v->decl, h.path, bh.path, rt, b, true));
        SharedJson value = values_.share(evaluator_->eval(*bh.value, rt, b));
        const bool order = h.op == dsl::SetOp::kOrder;
        if (order && !dsl::list_order(*value))
          throw EvalError(std::string(dsl::kListOrderExpected) + ", not " + value->dump(), h.value->span);
        out.emplace_back(Kind::kField, s.fact ? *s.fact : FactKey(), std::move(value), std::move(path),
                         rt.info->rule->priority.value_or(0),
                         static_cast<uint8_t>((h.op == dsl::SetOp::kAdd ? Contribution::kAdd : 0) |
                                              (order ? Contribution::kOrder : 0)));
        break;
      }
    }
  }
  return out;
}

JsonPath Engine::resolve_path(const dsl::KindDecl* decl, const dsl::Path& path, const dsl::BoundHead::PathKeys& keys,
                              const RuleRuntime& rt, Bindings& b, bool set_head) {
  JsonPath out;
  std::vector<std::string> fields;
  for (size_t i = 0; i < path.size(); ++i) {
    const dsl::PathSeg& s = path[i];
    if (!s.is_key()) {
      size_t at = out.size();
      append_path_field(out, s.field, i == 0 && set_head);
      for (; at < out.size(); ++at) fields.push_back(out[at].field);
      continue;
    }
    Json key = evaluator_->eval(*keys[i], rt, b);
    std::string dotted;
    for (const auto& f : fields) dotted += (dotted.empty() ? "" : ".") + f;
    auto lk = decl ? decl->list_keys.find(dotted) : decltype(decl->list_keys.end()){};
    if (key.is_object()) {
      // The entry of a list keyed by several fields (kcp keys an export's
      // resources by name and group): the one whose fields have these values.
      if (key.empty()) throw EvalError("a list entry's key needs at least one field", s.span);
      out.push_back(PathElem{"", true, "", key});
    } else if (decl && lk != decl->list_keys.end()) {
      out.push_back(PathElem{"", true, lk->second, key});
    } else if (!fields.empty() && fields.back() == "conditions") {
      out.push_back(PathElem{"", true, "type", key});
    } else {
      if (!key.is_string()) throw EvalError("a map key must be a string, not " + key.dump(), s.span);
      out.push_back(PathElem{key.get<std::string>(), false, "", nullptr});
      fields.push_back(key.get<std::string>());
    }
  }
  return out;
}

}  // namespace pmesh::engine
