#include "fga/dispatch_graph.h"

#include <vector>

namespace pmesh::fga {

namespace {

using Kind = Rewrite::Kind;

// The relations one rewrite of `t` dispatches to.
void dispatches(const Model& m, const TypeDef& t, const RelationDef& def, const Rewrite& rw, std::set<std::string>* out) {
  switch (rw.kind) {
    case Kind::kThis:
      for (const auto& tr : def.directly_related)
        if (!tr.relation.empty()) out->insert(relation_ref(tr.type, tr.relation));
      return;
    case Kind::kComputed:
      out->insert(relation_ref(t.name, rw.relation));
      return;
    case Kind::kTupleToUserset:
      if (const RelationDef* ts = t.find(rw.tupleset))
        for (const auto& tr : ts->directly_related)
          if (tr.relation.empty() && !tr.wildcard && m.find(tr.type, rw.relation)) out->insert(relation_ref(tr.type, rw.relation));
      return;
    default:
      for (const auto& c : rw.children) dispatches(m, t, def, c, out);
  }
}

}  // namespace

bool DispatchGraph::reachable(const std::string& type, const std::string& relation, const Subject& user) const {
  auto it = subjects.find(relation_ref(type, relation));
  return it != subjects.end() && it->second.count(user.relation.empty() ? user.type : relation_ref(user.type, user.relation));
}

DispatchGraph dispatch_graph(const Model& m, int limit) {
  std::map<std::string, std::set<std::string>> edges;
  std::map<std::string, std::set<std::string>> direct;  // what `this` admits, before following usersets
  for (const auto& t : m.types)
    for (const auto& r : t.relations) {
      dispatches(m, t, r, r.rewrite, &edges[relation_ref(t.name, r.name)]);
      for (const auto& tr : r.directly_related) direct[relation_ref(t.name, r.name)].insert(tr.relation.empty() ? tr.type : relation_ref(tr.type, tr.relation));
    }

  DispatchGraph g;
  // Subjects: what a relation admits directly, and what every relation it
  // dispatches to can hold; a fixpoint, since dispatches recurse. A relation
  // holds its own usersets too: OpenFGA allows `group:g#lead` in
  // `group:g#lead` (IsSelfDefining), so every relation that dispatches to
  // group#lead can hold group#lead's usersets.
  for (const auto& [n, d] : direct) g.subjects[n] = d;
  for (const auto& [n, out] : edges) g.subjects[n].insert(n);
  for (bool changed = true; changed;) {
    changed = false;
    for (const auto& [n, out] : edges)
      for (const auto& to : out) {
        auto& mine = g.subjects[n];
        for (const auto& s : g.subjects[to]) changed |= mine.insert(s).second;
      }
  }

  // Height: the longest chain of dispatches below a relation; a cycle, or a
  // relation above one, has none (-1 below).
  enum { kNew, kOnPath, kDone };
  std::map<std::string, int> state, height;
  auto visit = [&](auto&& self, const std::string& n) -> int {
    if (state[n] == kOnPath) return -1;
    if (state[n] == kDone) return height[n];
    state[n] = kOnPath;
    int h = 0;
    for (const auto& to : edges[n]) {
      int c = self(self, to);
      if (c < 0 || c + 1 >= limit) {
        h = -1;
        break;
      }
      h = std::max(h, c + 1);
    }
    state[n] = kDone;
    return height[n] = h;
  };
  for (const auto& [n, out] : edges) {
    (void)out;
    if (visit(visit, n) < 0) g.unbounded.insert(n);
  }
  return g;
}

}  // namespace pmesh::fga
