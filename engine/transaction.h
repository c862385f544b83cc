// What one transaction of the engine (Engine::apply) works on, from its
// first operation to its commit or rollback: the matches waiting to be
// evaluated, the committed versions of what it touched, and its
// bookkeeping of loops, refusals, deletions and kinds. Each transaction
// starts from a fresh one, and nothing of it outlives the transaction.
//
// Thread safety: the engine's thread only.
#pragma once

#include <algorithm>
#include <climits>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "engine/state.h"

namespace pmesh::engine {

// Which rules changed each fact in one transaction: a log appended to as
// contributions apply (a transaction that derives a million tuples makes a
// million entries, which a map of sets made a million nodes and sets of),
// sorted once when it is first read.
class ChangedBy {
 public:
  void add(const FactKey& fact, int rule) {
    log_.emplace_back(fact, rule);
    sorted_ = false;
    if (marked_) since_mark_.push_back(fact);
  }
  // From now on, notes which facts are changed (since_mark): what an
  // earlier reading of `of` may no longer tell.
  void mark() {
    marked_ = true;
    since_mark_.clear();
  }
  // The facts changed since mark(), in key order, each once.
  std::vector<FactKey> since_mark() const {
    std::vector<FactKey> out = since_mark_;
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }
  // The rules that changed `fact`, in number order, each once (none for a
  // fact no rule changed).
  std::vector<int> of(const FactKey& fact) const {
    if (!sorted_) {
      std::sort(log_.begin(), log_.end(), Before());
      log_.erase(std::unique(log_.begin(), log_.end()), log_.end());
      sorted_ = true;
    }
    std::vector<int> out;
    for (auto it = std::lower_bound(log_.begin(), log_.end(), std::pair<FactKey, int>(fact, INT_MIN), Before());
         it != log_.end() && it->first == fact; ++it)
      out.push_back(it->second);
    return out;
  }

 private:
  // By the key's identity, then the rule: the order groups each fact's
  // entries and is never shown. By the keys' hashes or text, each
  // comparison read both keys' entries, a cache miss each in a log of a
  // million: the commit of a transaction that derived a million tuples
  // spent a sixth of its time here (docs/performance.md).
  struct Before {
    bool operator()(const std::pair<FactKey, int>& a, const std::pair<FactKey, int>& b) const {
      if (a.first == b.first) return a.second < b.second;
      return std::less<const void*>()(a.first.identity(), b.first.identity());
    }
  };
  // Sorting on the first read changes the order, not what is held.
  mutable std::vector<std::pair<FactKey, int>> log_;
  mutable bool sorted_ = true;
  bool marked_ = false;
  std::vector<FactKey> since_mark_;
};

// What a change of an object touched: the sections (as
// Engine::changed_sections names them; "*" when the object came or went),
// and of a top-level section that is an object before and after, the fields
// of it that changed (a section absent from `members` changed as a whole).
struct ChangedParts {
  std::set<std::string> sections;
  std::map<std::string, std::set<std::string>> members;
  // Adds what `o` touched: a section changed as a whole in either stays so.
  void add(const ChangedParts& o) {
    for (const auto& s : o.sections) {
      bool known = !sections.insert(s).second;
      auto mine = members.find(s);
      auto theirs = o.members.find(s);
      if (theirs == o.members.end()) {
        if (mine != members.end()) members.erase(mine);
      } else if (!known) {
        members[s] = theirs->second;
      } else if (mine != members.end()) {
        mine->second.insert(theirs->second.begin(), theirs->second.end());
      }
    }
  }
};

// What a `refuse` head refused with (a message, or a field error:
// stdlib/validation.rules), and its rule's name.
struct Refusal {
  std::string rule;
  Json value;
};

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
  std::map<FactKey, SharedJson, FactKeyOrder> before;  // objects: committed effective (null: absent)
  // Tuples: committed existence, in key order (by the interned key: a
  // tuple's change copies a pointer, not its text).
  std::map<FactKey, bool, FactKeyOrder> tuple_before;
  ChangedBy changed_by;  // fact -> rules that changed it
  absl::flat_hash_map<MatchKey, int, MatchKeyHash> evaluations;  // match -> evaluations (a loop at the limit)
  std::map<int, std::set<FactKey, FactKeyOrder>> suspects;    // rule -> matches that kept changing
  std::vector<std::string> warnings;                // evaluation errors that dropped a match
  // Restored terminating objects whose finalizers come from rules: they are
  // looked at again once the rules have run.
  bool restoring = false;
  std::set<FactKey, FactKeyOrder> deferred;
  // Clusters where an object that binds kinds changed (all: a schema did).
  std::set<std::string> kinds_touched;
  bool kinds_touched_all = false;
  // Logical clusters whose LogicalCluster went: their objects are deleted
  // once the rules are at rest.
  std::set<std::string> doomed_clusters;
  // Objects that `delete` heads delete once the rules are at rest.
  std::set<FactKey, FactKeyOrder> doomed_objects;
  // Matches of `refuse` heads that this transaction made.
  std::map<MatchKey, Refusal> refusals;
  // Objects whose rules disagreed on a value while the rules ran (each
  // took one of the values meanwhile): a disagreement is a Conflict only if
  // it is still there once the rules are at rest (a count the rules have
  // not all seen change yet is none). `at_rest` while that is checked.
  std::set<FactKey, FactKeyOrder> conflicted;
  bool at_rest = false;
  // Objects whose parts a rule changed, their effective form not
  // recomputed yet (Engine::settle_objects), by kind, with what that may
  // change of objects of the kind. `settle_later` while a rule of the
  // fixpoint is evaluated.
  struct Unsettled {
    std::set<FactKey, FactKeyOrder> objects;
    ChangedParts parts;
  };
  std::map<std::string, Unsettled> unsettled;
  bool settle_later = false;
  // Tuples of log relations the operations added or removed: with
  // persistence, written with the commit whether or not memory held them,
  // and dropped from memory once committed (Engine::scan_log).
  std::vector<FactKey> logged;
};

}  // namespace pmesh::engine
