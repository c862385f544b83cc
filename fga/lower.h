// A validated model lowered to a module of the rules language.
//
// Tuples are one base relation for every store, `fga_tuple(store, object,
// rel, user)`. A model's module is loaded for the stores whose model it is:
// `fga_loaded(store, module)` says which, and the module's rules read the
// tuples of those stores only (`for fga_tuple(st, o, "viewer", s)` joined
// with `fga_loaded(st, "fga_01H...")`). Every relation `T#R` of the model
// becomes a relation `N(store, object, subject)` derived from them, so one
// compiled module serves every store that has the model (each
// organization's store has Platform Mesh's) and the engine keeps it
// materialized as tuples come and go: `check` is a lookup. A subject is
// what OpenFGA puts in a tuple's user: `user:anne`, a userset
// `group:eng#member` (with everything the userset holds expanded beside it),
// or a wildcard marker `user:*`. What a tuple gives directly (`[user]`) is
// not copied: readers read the tuples themselves (RelationPart's views).
//
// Wildcards make a set infinite; exclusion can then make it cofinite: in
// `define viewer: [user:*] but not blocked` everybody but the blocked are
// viewers. A relation that can be cofinite also gets `N__x(store, object, subject)`:
// the subjects its wildcard does not cover. So, for a concrete `U:id`:
//
//   U:id in T#R  <=>  N(st, o, "U:id")  or  (N(st, o, "U:*") and not N__x(st, o, "U:id"))
//
// and OpenFGA's answers for wildcards under intersection and exclusion
// follow. Which relations can hold which wildcards, and which can be
// cofinite, is known from the model alone (a fixpoint over its rewrites), so
// only what is needed is generated.
//
// Tuples that the model does not admit (their type restriction was dropped
// by a newer model, or never was) stay in the base relation and count for
// nothing, as in OpenFGA. Recursion (parents of parents, nested groups) is
// recursion among the generated relations, within one store. Where OpenFGA's model allows a
// relation to exclude something that depends on itself (exclusion inside a
// cycle), the rules are not stratifiable and compiling them fails; the
// model is refused (docs/openfga.md).
//
// Thread safety: pure function.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fga/dispatch_graph.h"
#include "fga/model.h"
#include "stdlib/keyed_hash.h"

namespace pmesh::fga {

// The base relation every store's tuples are in.
inline constexpr const char* kTupleRelation = "fga_tuple";
// What names every relation whose first argument is a store: the base
// relation, the stdlib's others (stdlib/fga.rules) and each model's own
// (its lower() prefix starts with it).
inline constexpr std::string_view kStoreRelationPrefix = "fga_";
inline bool is_store_relation(std::string_view relation) { return relation.starts_with(kStoreRelationPrefix); }

// What resolution.cc keeps between questions to a model: heights of nodes
// (how far a walk from them can go), valid while the engine's state stays
// as it was (Engine::epoch).
struct ResolutionCache {
  std::mutex mu;
  const void* engine = nullptr;
  uint64_t epoch = 0;
  int limit = 0;
  size_t size = 0;  // heights kept, all stores
  // store -> "object#relation" -> height; tenants name objects: keyed.
  using Heights = std::unordered_map<std::string, int, KeyedTextHash, std::equal_to<>>;
  std::unordered_map<std::string, Heights, KeyedTextHash, std::equal_to<>> heights;
};

// A part of a relation as the engine holds it. Either a materialized
// relation: subjects, the wildcards among them and, when it can be
// cofinite, `<name>__x` (the subjects its wildcard leaves out). Or a view
// (`rel` set): the store's own tuples of the relation, in kTupleRelation,
// whose users the type restrictions `admitted` admit. A relation's directly
// written tuples are such a view rather than copied into a relation of
// their own: they are the tuples as written.
struct RelationPart {
  std::string name;            // a view's names no relation
  std::set<std::string> wild;  // types U whose `U:*` it may hold
  bool cofinite = false;       // has `<name>__x`
  std::string rel;             // a view: kTupleRelation's tuples of this relation
  std::vector<TypeRestriction> admitted;  // a view: the users it admits
  bool view() const { return !rel.empty(); }
  std::string except() const { return name + "__x"; }
  // The relation its tuples are in, and their first arguments on
  // `store`'s `object` (a subject follows).
  std::string relation() const { return view() ? kTupleRelation : name; }
  std::vector<std::string> key(const std::string& store, const std::string& object) const {
    return view() ? std::vector<std::string>{store, object, rel} : std::vector<std::string>{store, object};
  }
};

// T#R as the engine holds it: the union of its parts. A relation's
// directly written tuples (`[user, user:*, group#member]`) are a view of
// the store's tuples, unless a tuple-to-userset reads the relation
// (`parent` of `owner from parent`): then they are copied by type, so that
// a parent tuple wakes the rules of its object's type only. A union that
// names other relations of its object (`define member: [role#assignee] or
// owner`) does not copy them: its parts are its own relation (what its
// other sources give; absent when there are none) and theirs. Readers ask
// every part, as OpenFGA's check evaluates a union's branches.
struct LoweredRelation {
  std::string name;                // the relation holding T#R's own subjects (if it has any: see parts)
  std::set<std::string> wild;      // types U whose `U:*` a part may hold
  bool cofinite = false;           // one part, with `<name>__x`
  std::vector<RelationPart> parts;
};

// Which stores a model's module is loaded for: (store, module).
inline constexpr const char* kLoadedRelation = "fga_loaded";

struct LoweredModel {
  std::string module;  // the module's name, its rules' prefix and its key in kLoadedRelation
  std::string rules;   // the module's text
  std::map<std::string, LoweredRelation> relations;  // "type#relation" ->
  DispatchGraph graph;  // where OpenFGA's resolution would go (its depth limit)
  std::shared_ptr<ResolutionCache> resolution_cache = std::make_shared<ResolutionCache>();
  const LoweredRelation* find(const std::string& type, const std::string& relation) const;
  // The arguments of kLoadedRelation's fact that loads the module for `store`.
  std::vector<std::string> loaded(const std::string& store) const { return {store, module}; }
};

// A model as the engine runs it for one store.
struct ModelView {
  const Model& model;
  const LoweredModel& lowered;
  std::string store;
  // The arguments of the store's tuple (object, relation, user) in kTupleRelation.
  std::vector<std::string> tuple(const std::string& object, const std::string& relation, const std::string& user) const {
    return {store, object, relation, user};
  }
};

// `prefix` keeps the names of one model's rules apart from another's and
// from the platform's: an identifier such as "fga_" or "fga_01H..._"
// (starting with kStoreRelationPrefix where a server runs the model).
// REQUIRES: validate(m) passed.
LoweredModel lower(const Model& m, const std::string& prefix);

}  // namespace pmesh::fga
