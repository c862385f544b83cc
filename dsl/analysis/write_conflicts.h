// WriteConflicts: two rules that write the same field of the same kind must
// say which one wins.
//
// A rule is the field manager of what it sets, as in server-side apply. When
// two rules can set overlapping fields (one path a prefix of the other, a
// key computed at run time matching any key) of the same kind, each needs a
// `priority`, and the priorities must differ. Adding elements with `+=`
// (finalizers, say) never conflicts with another `+=`; two derives of one
// kind write different objects, or collide at run time.
//
// REQUIRES: AccessAnalysis has filled every RuleInfo.
// Thread safety: one instance per thread.
#pragma once

#include <vector>

#include "dsl/analysis/rule_info.h"
#include "dsl/diagnostics.h"

namespace pmesh::dsl {

class WriteConflicts {
 public:
  explicit WriteConflicts(DiagnosticSink& diags) : diags_(diags) {}
  void check(const std::vector<RuleInfo>& rules);

 private:
  DiagnosticSink& diags_;
};

}  // namespace pmesh::dsl
