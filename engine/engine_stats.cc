#include "engine/engine.h"

namespace pmesh::engine {

void Engine::count_transaction(const Result& r, bool dry_run, std::chrono::steady_clock::duration took) {
  if (dry_run) {
    ++txn_stats_.dry_runs;
    return;
  }
  if (r.ok) {
    ++txn_stats_.committed;
    txn_stats_.facts_changed += r.objects.size() + r.tuples.size();
  } else {
    ++txn_stats_.refused;
  }
  txn_stats_.latency.observe(std::chrono::duration<double>(took).count());
}

void Engine::for_each_rule_stats(
    const std::function<void(const std::string& rule, bool in_rule_set, const RuleStats&)>& fn) const {
  for (size_t i = 0; i < rules_.size(); ++i) {
    const RuleRuntime& rt = rules_[i];
    if (rt.plan && rt.info) fn(rt.info->rule->name, i >= base_rules_, rt.stats);
  }
}

std::map<std::string, RuleStats> Engine::costs_by_rule() const {
  std::map<std::string, RuleStats> out;
  for_each_rule_stats([&](const std::string& rule, bool in_rule_set, const RuleStats& s) {
    out[in_rule_set ? kRuleSetsLabel : rule] += s;
  });
  return out;
}

}  // namespace pmesh::engine
