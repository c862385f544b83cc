// What the analyses learn about one rule: its variables, what each name in
// it refers to, and what it reads and writes at the granularity of the
// dependency graph.
//
// NameResolution fills `vars`, `refs` and `set_targets`; AccessAnalysis
// fills `reads`, `writes` and `field_writes`. The planner and the graph read
// them.
//
// Thread safety: built by one thread, read-only afterwards.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "dsl/ast.h"

namespace pmesh::dsl {

struct VarInfo {
  // kRequest: `request` in an admission rule, bound by the write it admits.
  enum class Kind { kObject, kTuple, kLet, kRequest };
  Kind kind = Kind::kLet;
  std::string name;
  Span span;
  const KindDecl* decl = nullptr;          // kObject of a declared kind
  const ObjectPattern* pattern = nullptr;  // kObject
  const BodyItem* let = nullptr;           // kLet
  const Body* scope = nullptr;             // the body that binds it
  bool optional = false;                   // bound by `opt`
  int occurrences = 0;                     // mentions besides the binding one
  int index = -1;                          // its place in RuleInfo::vars (the evaluator's slot)
};

// A data node of the dependency graph: (kind, section), or a relation.
struct DataNode {
  std::string kind;     // kind name, "*" for run-time kinds; empty for a relation
  std::string section;  // or the relation's name
  std::string label() const { return kind.empty() ? "rel:" + section : kind + "." + section; }
  bool operator<(const DataNode& o) const {
    return std::tie(kind, section) < std::tie(o.kind, o.section);
  }
  bool operator==(const DataNode& o) const { return kind == o.kind && section == o.section; }
};

struct Access {
  DataNode node;
  bool negated = false;  // under not, an aggregate, or an optional pattern
  Span span;
  // For a read of an object's top-level section (spec, status, data): the
  // field under it that the read reaches ("phase" of `ws.status.phase`), or
  // empty when it reads the section as a whole (`ws.status`, a computed
  // key, the object passed to a function). The engine wakes the rule only
  // for changes of the fields it reads; the dependency graph stays by section.
  std::string member;
};

// One field a rule writes, for the write-conflict check.
struct FieldWrite {
  std::string kind;
  std::vector<std::string> path;  // canonical; "*" for a key computed at run time
  bool add = false;               // `+=`: contributes one element
  bool derive = false;            // initialized by a derive head
  Span span;
  bool order = false;             // `ordered by`: sorts the list, whoever writes it
};

struct RuleInfo {
  const Module* module = nullptr;
  const Rule* rule = nullptr;
  std::vector<std::unique_ptr<VarInfo>> vars;
  std::unordered_map<const Expr*, const VarInfo*> refs;  // every kVar that names a variable
  std::map<const Head*, const VarInfo*> set_targets;
  std::vector<Access> reads;
  std::vector<Access> writes;
  std::vector<FieldWrite> field_writes;

  const VarInfo* var_of(const Expr& e) const {
    auto it = refs.find(&e);
    return it == refs.end() ? nullptr : it->second;
  }
};

}  // namespace pmesh::dsl
