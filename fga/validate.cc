#include "fga/validate.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

namespace pmesh::fga {

namespace {

using Kind = Rewrite::Kind;

[[noreturn]] void bad(const std::string& message) { throw FgaError("invalid_authorization_model", message); }

[[noreturn]] void bad_relation(const std::string& type, const std::string& rel, const std::string& cause) {
  bad("the definition of relation '" + rel + "' in object type '" + type + "' is invalid: " + cause);
}

bool contains_this(const Rewrite& r) {
  if (r.kind == Kind::kThis) return true;
  return std::any_of(r.children.begin(), r.children.end(), contains_this);
}

void tuplesets_of(const Rewrite& r, std::set<std::string>* out) {
  if (r.kind == Kind::kTupleToUserset) out->insert(r.tupleset);
  for (const auto& c : r.children) tuplesets_of(c, out);
}

class Validator {
 public:
  explicit Validator(const Model& m) : m_(m) {
    for (const auto& t : m.types)
      for (const auto& r : t.relations) tuplesets_of(r.rewrite, &tuplesets_[t.name]);
  }

  void run() {
    if (m_.schema_version != "1.1" && m_.schema_version != "1.2") bad("invalid schema version");
    std::set<std::string> seen;
    for (const auto& t : m_.types)
      if (!seen.insert(t.name).second) bad("an authorization model cannot contain duplicate types");
    // OpenFGA's request validation (`^[^:#@\s]{1,254}$` for a type, 50 for
    // a relation), and beyond OpenFGA no control characters, which tuples
    // cannot carry.
    auto name_ok = [](const std::string& s, size_t max) {
      return !s.empty() && s.size() <= max && std::none_of(s.begin(), s.end(), [](char c) {
        return c == ':' || c == '#' || c == '@' || std::isspace(static_cast<unsigned char>(c)) ||
               static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
      });
    };
    for (const auto& t : m_.types) {
      if (t.name.empty()) bad("the type name of a type definition cannot be an empty string");
      if (t.name == "self" || t.name == "this") bad("the definition of type '" + t.name + "' is invalid");
      if (!name_ok(t.name, 254)) bad("invalid type name '" + t.name + "'");
      for (const auto& r : t.relations) {
        if (r.name.empty()) bad("type '" + t.name + "' defines a relation with an empty string for a name");
        if (r.name == "self" || r.name == "this") bad_relation(t.name, r.name, "self and this are reserved keywords");
        if (!name_ok(r.name, 50)) bad("invalid relation name '" + r.name + "' in type '" + t.name + "'");
      }
    }
    if (!m_.conditions.empty()) bad("conditions are not supported: pmesh evaluates no CEL");
    std::vector<const TypeDef*> types;
    for (const auto& t : m_.types) types.push_back(&t);
    std::sort(types.begin(), types.end(), [](const TypeDef* a, const TypeDef* b) { return a->name < b->name; });
    for (const TypeDef* t : types)
      for (const auto& r : t->relations) relation(*t, r);  // relations are kept sorted
  }

 private:
  void relation(const TypeDef& t, const RelationDef& r) {
    rewrite_valid(t.name, r.name, r.rewrite);
    restrictions(t.name, r);
    std::map<std::string, std::set<std::string>> visited;
    auto [entry, loop] = entrypoints(t.name, r.name, r.rewrite, visited);
    if (!entry) bad_relation(t.name, r.name, loop ? "potential loop" : "no entrypoints defined");
    std::set<std::string> seen;
    if (cycle(t.name, r.name, r.rewrite, seen)) bad_relation(t.name, r.name, "an authorization model cannot contain a cycle");
  }

  void rewrite_valid(const std::string& type, const std::string& rel, const Rewrite& rw) {
    switch (rw.kind) {
      case Kind::kThis:
        return;
      case Kind::kComputed:
        if (rw.relation == rel) bad_relation(type, rel, "invalid userset rewrite definition");
        if (!m_.find(type, rw.relation)) bad("'" + relation_ref(type, rw.relation) + "' relation is undefined");
        return;
      case Kind::kTupleToUserset: {
        const RelationDef* ts = m_.find(type, rw.tupleset);
        if (!ts) bad("'" + relation_ref(type, rw.tupleset) + "' relation is undefined");
        if (ts->rewrite.kind != Kind::kThis)
          bad("the '" + relation_ref(type, rw.tupleset) + "' relation is referenced in at least one tupleset and thus must be a direct relation");
        std::string listed;
        for (const auto& tr : ts->directly_related) {
          if (m_.find(tr.type, rw.relation)) return;
          listed += (listed.empty() ? "" : " ") + tr.to_string();
        }
        bad("undefined relation: " + rw.relation + " does not appear as a relation in any of the directly related user types [" + listed + "]");
      }
      default:
        for (const auto& c : rw.children) rewrite_valid(type, rel, c);
    }
  }

  void restrictions(const std::string& type, const RelationDef& r) {
    bool assignable = contains_this(r.rewrite);
    if (assignable && r.directly_related.empty())
      bad("the assignable relation '" + r.name + "' in object type '" + type + "' must contain at least one relation type");
    if (!assignable && !r.directly_related.empty())
      bad("the non-assignable relation '" + r.name + "' in object type '" + type + "' should not contain a relation type");
    bool tupleset = tuplesets_[type].count(r.name) > 0;
    for (const auto& tr : r.directly_related) {
      std::string what = tr.relation.empty() ? tr.type : relation_ref(tr.type, tr.relation);
      auto invalid = [&] { bad("the relation type '" + what + "' on '" + r.name + "' in object type '" + type + "' is not valid"); };
      if (!m_.find(tr.type)) invalid();
      if (tr.wildcard || !tr.relation.empty()) {
        if (tupleset) invalid();
        if (!tr.relation.empty() && !m_.find(tr.type, tr.relation)) invalid();
      }
      if (!tr.condition.empty()) bad("condition " + tr.condition + " is undefined for relation " + r.name);
    }
  }

  // A relation reached from another that is not defined (OpenFGA finds it
  // while looking for entrypoints, before it validates that relation).
  [[noreturn]] static void undefined(const std::string& type, const std::string& rel) {
    bad("undefined type definition for '" + type + "#" + rel + "'");
  }

  // OpenFGA's hasEntrypoints: (has an entrypoint, found only a loop).
  std::pair<bool, bool> entrypoints(const std::string& type, const std::string& rel, const Rewrite& rw,
                                    std::map<std::string, std::set<std::string>> visited) {
    visited[type].insert(rel);
    const RelationDef* def = m_.find(type, rel);
    if (!def) undefined(type, rel);
    switch (rw.kind) {
      case Kind::kThis:
        for (const auto& tr : def->directly_related) {
          if (tr.relation.empty()) return {true, false};
          if (visited[tr.type].count(tr.relation)) continue;
          const RelationDef* target = m_.find(tr.type, tr.relation);
          if (target && entrypoints(tr.type, tr.relation, target->rewrite, visited).first) return {true, false};
        }
        return {false, false};
      case Kind::kComputed: {
        const RelationDef* target = m_.find(type, rw.relation);
        if (!target) undefined(type, rw.relation);
        if (visited[type].count(rw.relation)) return {false, true};
        return entrypoints(type, rw.relation, target->rewrite, visited);
      }
      case Kind::kTupleToUserset: {
        const RelationDef* ts = m_.find(type, rw.tupleset);
        if (!ts) undefined(type, rw.tupleset);
        for (const auto& tr : ts->directly_related) {
          const RelationDef* target = m_.find(tr.type, rw.relation);
          if (!target || visited[tr.type].count(rw.relation)) continue;
          if (entrypoints(tr.type, rw.relation, target->rewrite, visited).first) return {true, false};
        }
        return {false, false};
      }
      case Kind::kUnion: {
        bool loop = false;
        for (const auto& c : rw.children) {
          auto [e, l] = entrypoints(type, rel, c, visited);
          if (e) return {true, false};
          loop = loop || l;
        }
        return {false, loop};
      }
      case Kind::kIntersection:
        for (const auto& c : rw.children) {
          auto [e, l] = entrypoints(type, rel, c, visited);
          if (!e) return {false, l};
        }
        return {true, false};
      case Kind::kDifference:
        for (const auto& c : rw.children) {
          auto [e, l] = entrypoints(type, rel, c, visited);
          if (!e) return {false, l};
        }
        return {true, false};
    }
    return {false, false};
  }

  // OpenFGA's hasCycle: a relation that reaches itself through computed
  // usersets alone (direct relations and tuple-to-usersets break a cycle).
  bool cycle(const std::string& type, const std::string& rel, const Rewrite& rw, std::set<std::string> visited) {
    visited.insert(relation_ref(type, rel));
    switch (rw.kind) {
      case Kind::kThis:
      case Kind::kTupleToUserset:
        return false;
      case Kind::kComputed: {
        if (visited.count(relation_ref(type, rw.relation))) return true;
        const RelationDef* target = m_.find(type, rw.relation);
        return target && cycle(type, rw.relation, target->rewrite, visited);
      }
      default:
        for (const auto& c : rw.children)
          if (cycle(type, rel, c, visited)) return true;
        return false;
    }
  }

  const Model& m_;
  std::map<std::string, std::set<std::string>> tuplesets_;
};

}  // namespace

void validate(const Model& m) { Validator(m).run(); }

}  // namespace pmesh::fga
