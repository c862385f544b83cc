#include "dsl/analysis/write_conflicts.h"

#include <map>
#include <set>

namespace pmesh::dsl {
namespace {

bool overlaps(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    if (a[i] != b[i] && a[i] != "*" && b[i] != "*") return false;
  return true;
}

std::string show(const std::vector<std::string>& p) {
  std::string out;
  for (const auto& s : p) out += (out.empty() ? "" : ".") + s;
  return out;
}

}  // namespace

void WriteConflicts::check(const std::vector<RuleInfo>& rules) {
  struct W {
    const RuleInfo* rule;
    const FieldWrite* write;
  };
  std::map<std::string, std::vector<W>> by_kind;
  for (const auto& r : rules)
    for (const auto& w : r.field_writes) by_kind[w.kind].push_back({&r, &w});
  std::set<std::pair<const Rule*, const Rule*>> reported;
  for (const auto& [kind, ws] : by_kind) {
    for (size_t i = 0; i < ws.size(); ++i) {
      for (size_t j = i + 1; j < ws.size(); ++j) {
        const W& a = ws[i];
        const W& b = ws[j];
        if (a.rule == b.rule) continue;
        if (a.write->derive && b.write->derive) continue;
        if (a.write->add && b.write->add) continue;
        // An order sorts whatever the list holds; two orders of one list are
        // decided by priority when they apply (a tie of different fields is
        // the engine's Conflict).
        if (a.write->order || b.write->order) continue;
        if (!overlaps(a.write->path, b.write->path)) continue;
        const auto& pa = a.rule->rule->priority;
        const auto& pb = b.rule->rule->priority;
        if (pa && pb && *pa != *pb) continue;
        if (!reported.insert({a.rule->rule, b.rule->rule}).second) continue;
        Span other = a.write->span;
        LineCol lc = other.file->position(other.begin);
        std::string why = pa && pb ? "both have priority " + std::to_string(*pa)
                                   : "declare which wins with `rule NAME priority N`";
        diags_.error(b.write->span,
                     "rules `" + a.rule->rule->name + "` and `" + b.rule->rule->name + "` both set `" +
                         show(b.write->path) + "` of " + kind + "; " + why,
                     {"`" + a.rule->rule->name + "` sets `" + show(a.write->path) + "` at " + other.file->path +
                      ":" + std::to_string(lc.line) + ":" + std::to_string(lc.column)});
      }
    }
  }
}

}  // namespace pmesh::dsl
