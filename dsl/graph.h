// The dependency graph of a program and its strata.
//
// Nodes are rules and the data they read and write: (kind, section) pairs
// such as Account.spec and Account.status, and relations. An edge runs from
// data to each rule that reads it (marked negated when the read is under
// `not`, in an aggregate, or through `opt`) and from each rule to the data it
// writes. Strongly connected components that hold rules are the strata,
// numbered in topological order: a stratum is evaluated to its fixpoint
// before any stratum above it. A negated edge inside a component makes the
// program unstratifiable; the constructor reports it with the cycle of rules.
// A late rule's writes are shown but make no edge the strata follow: the
// rules that read what it sets run again after it, as after a controller's
// write.
//
// Thread safety: immutable after construction.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dsl/analysis/rule_info.h"
#include "dsl/diagnostics.h"

namespace pmesh::dsl {

struct Stratum {
  int index = 0;
  std::vector<const RuleInfo*> rules;  // in program order
  bool recursive = false;              // its rules depend on each other or themselves
};

class DependencyGraph {
 public:
  DependencyGraph(const std::vector<RuleInfo>& rules, DiagnosticSink& diags);
  ~DependencyGraph();
  DependencyGraph(const DependencyGraph&) = delete;
  DependencyGraph& operator=(const DependencyGraph&) = delete;

  const std::vector<Stratum>& strata() const;
  // REQUIRES: `rule` is one of the rules the graph was built from.
  int stratum_of(const Rule* rule) const;
  // The stratum whose cycle a data node is part of, or -1: where a fact of
  // that node that loses a derivation must be re-derived.
  int recursive_stratum_of(const DataNode& node) const;

  size_t node_count() const;
  size_t edge_count() const;

  // Graphviz DOT; renders with `dot -Tsvg`.
  std::string to_dot() const;
  // {"nodes": [...], "edges": [...], "strata": [...]}
  std::string to_json() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pmesh::dsl
