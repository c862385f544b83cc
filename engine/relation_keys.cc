// Relations with a declared key (`relation r(a, b) key(a)`): at most one
// tuple for each value of the key. The planner trusts it (a lookup by the
// key finds one tuple), so a transaction that would make two hold is refused.
#include "engine/engine.h"

namespace pmesh::engine {

void Engine::check_relation_keys() {
  const auto& relations = program_->program->relations();
  std::set<std::string> checked;  // relation + key values, each once
  // The tuples are in key order, so a relation's are together: its
  // declaration is looked up once for them, and the tuples of relations
  // without a key (most) are passed over without reading the state (a
  // transaction that derives a million tuples read each one's entry here).
  std::string_view last;  // a view of a key tuple_before holds
  bool looked = false;
  const dsl::RelationDecl* decl = nullptr;
  for (const auto& [fact, existed] : txn_.tuple_before) {
    if (existed) continue;
    TupleView v = view_tuple_fact(fact.str());
    if (!looked || v.relation != last) {
      auto it = relations.find(std::string(v.relation));
      decl = it == relations.end() ? nullptr : it->second;
      last = v.relation;
      looked = true;
    }
    if (!decl || decl->key == 0 || v.args.size() != decl->params.size()) continue;
    const TupleEntry* t = state_.tuple(fact);
    if (!t || !t->exists()) continue;
    const std::string relation(v.relation);
    std::vector<std::string> key(v.args.begin(), v.args.begin() + static_cast<long>(decl->key));
    if (!checked.insert(tuple_fact(relation, key)).second) continue;
    std::vector<FactKey> holding;
    state_.scan_tuples_with(relation, key, [&](const FactKey& f) {
      if (const TupleEntry* e = state_.tuple(f); e && e->exists()) holding.push_back(f);
      return holding.size() < 2;
    });
    if (holding.size() < 2) continue;
    std::set<std::string> rules;
    for (const auto& f : holding)
      for (int r : txn_.changed_by.of(f)) rules.insert(rules_[static_cast<size_t>(r)].info->rule->name);
    std::string names, values;
    for (size_t i = 0; i < key.size(); ++i) {
      names += (i ? ", " : "") + decl->params[i];
      values += (i ? ", " : "") + decl->params[i] + " = " + key[i];
    }
    // The other tuple is not shown: it may come from another tenant's data.
    throw TxnError{"Conflict",
                   "relation " + relation + " holds one tuple for each " + names + ", and would hold two for " + values,
                   std::vector<std::string>(rules.begin(), rules.end())};
  }
}

}  // namespace pmesh::engine
