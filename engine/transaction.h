// What one transaction of the engine (Engine::apply) works on, from its
// first operation to its commit or rollback: the matches waiting to be
// evaluated, the committed versions of what it touched, and its
// bookkeeping of loops, refusals, deletions and kinds. Each transaction
// starts from a fresh one, and nothing of it outlives the transaction.
//
// Thread safety: the engine's thread only.
#pragma once

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "engine/state.h"

namespace pmesh::engine {

struct Transaction {
  // A match to evaluate: a rule and the facts its positive patterns matched,
  // in stratum order.
  struct Pending {
    int stratum;
    int rule;
    std::vector<FactKey> positives;
    bool operator<(const Pending& o) const {
      return std::tie(stratum, rule, positives) < std::tie(o.stratum, o.rule, o.positives);
    }
  };

  std::string now;  // its time stamp ("2026-01-01T00:00:00Z")
  std::set<Pending> pending;
  std::map<std::string, SharedJson> before;  // objects: committed effective (null: absent)
  // Tuples: committed existence, in key order (by the interned key: a
  // tuple's change copies a pointer, not its text).
  std::map<FactKey, bool, FactKeyOrder> tuple_before;
  std::unordered_map<FactKey, std::set<int>, FactKeyTextHash, FactKeyTextEq> changed_by;  // fact -> rules that changed it
  std::unordered_map<MatchKey, int, MatchKeyHash> evaluations;  // match -> evaluations (a loop at the limit)
  std::map<int, std::set<std::string>> suspects;    // rule -> matches that kept changing
  std::vector<std::string> warnings;                // evaluation errors that dropped a match
  // Restored terminating objects whose finalizers come from rules: they are
  // looked at again once the rules have run.
  bool restoring = false;
  std::set<std::string> deferred;
  // Clusters where an object that binds kinds changed (all: a schema did).
  std::set<std::string> kinds_touched;
  bool kinds_touched_all = false;
  // Logical clusters whose LogicalCluster went: their objects are deleted
  // once the rules are at rest.
  std::set<std::string> doomed_clusters;
  // Objects that `delete` heads delete once the rules are at rest.
  std::set<std::string> doomed_objects;
  // Matches of `refuse` heads that this transaction made: match -> "rule: message".
  std::map<MatchKey, std::string> refusals;
};

}  // namespace pmesh::engine
