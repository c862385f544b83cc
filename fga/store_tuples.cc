#include "fga/store_tuples.h"

namespace pmesh::fga {

bool admits(const std::vector<TypeRestriction>& restrictions, const Subject& s) {
  for (const auto& tr : restrictions)
    if (tr.type == s.type && tr.wildcard == s.wildcard() && tr.relation == s.relation) return true;
  return false;
}

bool admits(const RelationDef& def, const Subject& s) { return admits(def.directly_related, s); }

std::vector<std::string> direct_users(const engine::Engine& e, const ModelView& m, const RelationDef& def,
                                      const std::string& object, const std::string& rel) {
  std::vector<std::string> out;
  e.state().scan_tuples_with(kTupleRelation, {m.store, object, rel}, [&](const engine::FactKey& fact) {
    const engine::TupleEntry* t = e.state().tuple(fact);
    std::string user = engine::parse_tuple_fact(fact).second.back();
    Subject s;
    if (t && t->exists() && parse_subject(user, &s) && admits(def, s)) out.push_back(user);
    return true;
  });
  return out;
}

bool holds(const engine::Engine& e, const LoweredRelation& r, const std::string& store, const std::string& object,
           const Subject& u, const std::string& user) {
  for (const RelationPart& p : r.parts) {
    // A view's tuples are the store's own, those it admits (lower.h).
    auto has = [&](const std::string& subject) {
      std::vector<std::string> args = p.key(store, object);
      args.push_back(subject);
      return e.has_tuple(p.relation(), args);
    };
    if ((!p.view() || admits(p.admitted, u)) && has(user)) return true;
    if (!u.relation.empty() || u.wildcard() || !p.wild.count(u.type)) continue;
    if (has(u.type + ":*") && !(p.cofinite && e.has_tuple(p.except(), {store, object, user}))) return true;
  }
  return false;
}

}  // namespace pmesh::fga
