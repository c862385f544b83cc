// The Engine methods for rules that arrive and leave while it runs: which
// facts wake a rule (for the program's rules too), and rule sets added and
// removed as transactions.
#include "engine/engine.h"

#include <algorithm>

#include "dsl/object_model.h"

namespace pmesh::engine {

using dsl::BodyItemKind;

void Engine::register_readers(const RuleRuntime& rt) {
  size_t index = static_cast<size_t>(rt.index);
  if (object_reads_.size() <= index) object_reads_.resize(index + 1);
  if (object_writes_.size() <= index) object_writes_.resize(index + 1);
  object_reads_[index].clear();
  object_writes_[index].clear();
  // Admission rules run on users' writes (admission.cc), not on changes.
  if (const dsl::ObjectPattern* admitted = rt.info->rule->admitted()) {
    admission_[admitted->kind.name].push_back(rt.index);
    return;
  }
  std::map<std::string, Reader> mine;
  std::map<std::string, std::set<std::string>> whole;  // kind -> sections read as a whole
  for (const auto& a : rt.info->reads) {
    // A relation wakes the rule through the delta plan of each pattern
    // that reads it (below); an object, also by the sections and fields read.
    if (a.node.kind.empty()) continue;
    Reader& r = mine[a.node.kind];
    r.rule = rt.index;
    r.sections.insert(a.node.section);
    if (a.member.empty()) whole[a.node.kind].insert(a.node.section);
    else r.members[a.node.section].insert(a.member);
  }
  for (const auto& [kind, sections] : whole)
    for (const auto& s : sections) mine[kind].members.erase(s);
  for (size_t di = 0; di < rt.plan->deltas.size(); ++di) {
    const dsl::Plan& d = rt.plan->deltas[di];
    const dsl::BodyItem* t = d.trigger;
    std::string key;
    if (t->kind == BodyItemKind::kTuple) {
      key = "rel:" + t->tuple.relation;
      // `for fga_tuple(st, o, "owner", u)`: woken by tuples whose third
      // argument is "owner" only (by the first literal argument).
      const auto& args = t->tuple.args;
      for (size_t i = 0; i < args.size(); ++i)
        if (args[i]->kind == dsl::ExprKind::kString) {
          keyed_args_[key].insert(i);
          key = arg_reader_key(key, i, args[i]->text);
          break;
        }
    } else {
      key = t->object.kind.dynamic() ? "*" : t->object.kind.name;
    }
    Reader& r = mine[key];
    r.rule = rt.index;
    r.plans.push_back(&rt.bound->delta(di));
  }
  for (auto& [k, r] : mine) {
    if (!k.starts_with("rel:")) object_reads_[index][k] = r;
    readers_[k].push_back(std::move(r));
  }
  // What the heads set: a derive's "metadata" write is the object's
  // existence, which settle_later() rules out changing; the fields a set
  // or a derive writes, by section and field.
  std::map<std::string, ChangedParts>& writes = object_writes_[index];
  std::map<std::string, std::set<std::string>> written_whole;  // kind -> sections
  for (const auto& w : rt.info->writes)
    if (!w.node.kind.empty() && w.node.section != "metadata") writes[w.node.kind].sections.insert(w.node.section);
  for (const auto& w : rt.info->field_writes) {
    if (w.path.empty()) continue;
    ChangedParts& c = writes[w.kind];
    std::string top = dsl::section_of(w.path);
    c.sections.insert(top);
    if (top != "status" && !top.starts_with("metadata")) c.sections.insert("metadata");  // the generation
    if (w.path.size() >= 2 && w.path[0] == top && w.path[1] != "*") c.members[top].insert(w.path[1]);
    else written_whole[w.kind].insert(top);
  }
  // A section written whole somewhere is written whole (a system field's
  // section, named by `writes` alone, has no fields listed either).
  for (const auto& [kind, sections] : written_whole)
    for (const auto& s : sections) writes[kind].members.erase(s);
}

int Engine::recursive_stratum_of(const dsl::DataNode& node) const {
  if (node.kind.empty())
    if (auto it = rule_set_of_relation_.find(node.section); it != rule_set_of_relation_.end()) {
      const RuleSet& set = rule_sets_.at(it->second);
      int s = set.program->graph->recursive_stratum_of(node);
      return s < 0 ? s : s + set.first_stratum;
    }
  return program_->graph->recursive_stratum_of(node);
}

RuleSetChanges Engine::take_rule_set_changes(State::Dirty& dirty) {
  RuleSetChanges out;
  out.program_rules = static_cast<int>(program_->rules.size());
  out.dropped = drop_stored_;
  if (rule_sets_.empty()) return out;
  std::map<std::string, size_t> slot_of;
  auto slot = [&](const std::string& id) -> RuleSetChanges::Set& {
    auto [it, added] = slot_of.emplace(id, out.sets.size());
    if (added) {
      const RuleSet& set = rule_sets_.at(id);
      out.sets.push_back({id, set.fingerprint, set.first_rule, {}, {}, set.removing});
    }
    return out.sets[it->second];
  };
  for (auto it = dirty.matches.begin(); it != dirty.matches.end();) {
    int rule = it->rule();
    if (rule < 0 || static_cast<size_t>(rule) < base_rules_) {
      ++it;
      continue;
    }
    // The set whose rules start at or before this one, if it has it (every
    // OpenFGA model written is a set: there may be many).
    auto by = rule_set_by_first_rule_.upper_bound(rule);
    if (by != rule_set_by_first_rule_.begin()) {
      const std::string& id = std::prev(by)->second;
      const RuleSet& set = rule_sets_.at(id);
      if (rule < set.first_rule + set.count) slot(id).matches.push_back(*it);
    }
    it = dirty.matches.erase(it);
  }
  for (auto it = dirty.tuples.begin(); it != dirty.tuples.end();) {
    auto set = rule_set_of_relation_.find(std::string(view_tuple_fact(it->str()).relation));
    if (set == rule_set_of_relation_.end()) {
      ++it;
      continue;
    }
    slot(set->second).tuples.push_back(*it);
    it = dirty.tuples.erase(it);
  }
  return out;
}

bool Engine::restore_rule_set(const std::string& id, const RuleSet& set) {
  auto it = parked_.find(id);
  if (it == parked_.end()) return false;
  StoredRuleSet stored = std::move(it->second);
  parked_.erase(it);
  if (stored.fingerprint != set.fingerprint) {
    drop_stored_.push_back(id);
    return false;
  }
  // Room for all of it first: the tables grow once.
  State::Shape room = state_.shape();
  room.tuples += stored.tuples.size();
  for (const auto& [k, m] : stored.matches) {
    if (k.rule() < 0 || k.rule() >= set.count) continue;  // refused below
    size_t rule = static_cast<size_t>(set.first_rule + k.rule());
    if (room.matches.size() <= rule) room.matches.resize(rule + 1);
    ++room.matches[rule];
  }
  state_.reserve(room);
  state_.set_bulk(true);
  try {
    // Fetched ahead as DurableStore::load does: the same tables, filled at random places.
    constexpr size_t kAhead = State::kPrefetchAhead;
    for (size_t i = 0; i < stored.tuples.size(); ++i) {
      if (i + 2 * kAhead < stored.tuples.size()) stored.tuples[i + 2 * kAhead].first.prefetch();
      if (i + kAhead < stored.tuples.size()) state_.prefetch(stored.tuples[i + kAhead].first);
      auto& [f, t] = stored.tuples[i];
      TupleEntry e;
      e.set_base(t.base());
      for (const auto& k : t.supports) e.supports.insert(k.rebased(set.first_rule));
      state_.put_tuple(f, std::move(e));
    }
    for (size_t i = 0; i < stored.matches.size(); ++i) {
      if (i + 2 * kAhead < stored.matches.size())
        for (const auto& p : stored.matches[i + 2 * kAhead].second.positives()) p.prefetch();
      if (i + kAhead < stored.matches.size()) {
        const auto& [ahead, am] = stored.matches[i + kAhead];
        state_.prefetch(ahead.rebased(set.first_rule), am);
      }
      auto& [k, m] = stored.matches[i];
      // (The key's rule too: the match goes into its key's rule's table.)
      if (m.rule() < 0 || m.rule() >= set.count || k.rule() != m.rule())
        throw std::invalid_argument("a stored match of " + id + " names no rule of it");
      m.set_rule(m.rule() + set.first_rule);
      state_.put_match(k.rebased(set.first_rule), std::move(m));
    }
  } catch (const std::exception&) {
    // A damaged record: what was put goes again, and the set is derived.
    discard_rule_set_state(set);
    drop_stored_.push_back(id);
    return false;
  }
  state_.set_bulk(false);
  return true;
}

void Engine::discard_rule_set_state(const RuleSet& set) {
  state_.set_bulk(true);
  for (int rule = set.first_rule; rule < set.first_rule + set.count; ++rule)
    for (const auto& k : state_.match_keys_of(rule)) state_.erase_match(k);
  for (const auto& rel : set.relations) {
    std::vector<FactKey> facts;
    state_.scan_tuples(rel, [&](const FactKey& f) {
      facts.push_back(f);
      return true;
    });
    for (const auto& f : facts) state_.put_tuple(f, TupleEntry{});
  }
  state_.set_bulk(false);
}

void Engine::install_rule_set(const std::string& id, std::shared_ptr<const dsl::CompiledProgram> program) {
  RuleSet set;
  set.program = program;
  set.first_rule = static_cast<int>(rules_.size());
  set.first_stratum = next_stratum_;
  std::vector<int> index_map;
  for (const auto& spec : program->indexes) index_map.push_back(state_.add_index(spec));
  std::vector<RuleRuntime> runtimes = make_runtimes(*program);
  set.count = static_cast<int>(runtimes.size());
  for (auto& rt : runtimes) {
    rt.index += set.first_rule;
    rt.stratum += set.first_stratum;
    rt.index_map = index_map;
    for (const auto& w : rt.info->writes)
      if (w.node.kind.empty()) set.relations.push_back(w.node.section);
    rules_.push_back(std::move(rt));
  }
  set.fingerprint = rule_set_fingerprint(*program);
  next_stratum_ += static_cast<int>(program->graph->strata().size());
  for (int i = set.first_rule; i < set.first_rule + set.count; ++i) register_readers(rules_[static_cast<size_t>(i)]);
  for (const auto& r : set.relations) rule_set_of_relation_[r] = id;
  if (set.count > 0) rule_set_by_first_rule_[set.first_rule] = id;  // (one without rules has no matches)
  rule_sets_[id] = std::move(set);
}

void Engine::detach_readers(int first, int last) {
  for (auto r = readers_.begin(); r != readers_.end();) {
    auto& list = r->second;
    list.erase(std::remove_if(list.begin(), list.end(), [&](const Reader& x) { return x.rule >= first && x.rule < last; }), list.end());
    r = list.empty() ? readers_.erase(r) : std::next(r);
  }
}

void Engine::uninstall_rule_set(const std::string& id) {
  auto it = rule_sets_.find(id);
  if (it == rule_sets_.end()) return;
  const RuleSet& set = it->second;
  int first = set.first_rule, last = set.first_rule + set.count;
  detach_readers(first, last);
  for (const auto& rel : set.relations) rule_set_of_relation_.erase(rel);
  // The rules' numbers stay taken, so that no match key means two rules;
  // the last set's are given back.
  if (static_cast<size_t>(last) == rules_.size()) {
    rules_.resize(static_cast<size_t>(first));
    next_stratum_ = set.first_stratum;
  } else {
    for (int i = first; i < last; ++i) rules_[static_cast<size_t>(i)].plan = nullptr;
  }
  if (auto by = rule_set_by_first_rule_.find(first); by != rule_set_by_first_rule_.end() && by->second == id)
    rule_set_by_first_rule_.erase(by);
  rule_sets_.erase(it);
}

void Engine::seed_rule_set(const RuleSet& set) {
  for (int i = set.first_rule; i < set.first_rule + set.count; ++i) {
    const RuleRuntime& rt = rules_[static_cast<size_t>(i)];
    if (rt.positives.empty()) {
      txn_.pending.insert({rt.stratum, rt.index, {}});
      continue;
    }
    // Every match has a fact of its first positive pattern: start there.
    const dsl::BodyItem* first = rt.positives[0];
    const dsl::BoundPlan* plan = nullptr;
    for (size_t d = 0; d < rt.plan->deltas.size(); ++d)
      if (rt.plan->deltas[d].trigger == first) plan = &rt.bound->delta(d);
    if (!plan) continue;
    if (first->kind == BodyItemKind::kTuple) {
      std::vector<FactKey> facts;
      auto keep = [&](const FactKey& f) {
        if (const TupleEntry* t = state_.tuple(f); t && t->exists()) facts.push_back(f);
        return true;
      };
      const dsl::Expr* a0 = first->tuple.args.empty() ? nullptr : first->tuple.args[0].get();
      if (a0 && a0->kind == dsl::ExprKind::kString) state_.scan_tuples_with(first->tuple.relation, {a0->text}, keep);
      else state_.scan_tuples(first->tuple.relation, keep);
      SelfTimeCharge timed(&rt.stats.nanoseconds, &charging_);
      for (const auto& f : facts) discover(rt, *plan, f, nullptr);
    } else {
      std::vector<std::pair<FactKey, SharedJson>> objects;
      state_.scan_objects(object_prefix(first->object.kind.name), [&](const FactKey& fact, const ObjectEntry& e) {
        objects.push_back({fact, e.effective});
        return true;
      });
      SelfTimeCharge timed(&rt.stats.nanoseconds, &charging_);
      for (const auto& [f, o] : objects) discover(rt, *plan, f, &*o);
    }
  }
}

Result Engine::add_rule_set(const std::string& id, std::shared_ptr<const dsl::CompiledProgram> program, bool dry_run,
                            const std::function<void(Result&)>& inspect, const std::vector<Op>& ops) {
  auto refuse = [](std::string message) {
    Result r;
    r.ok = false;
    r.reason = "Invalid";
    r.message = std::move(message);
    return r;
  };
  if (rule_sets_.count(id)) return refuse("a rule set named " + id + " is already loaded");
  // What a set derives must be its own: relations that nothing else
  // derives or reads, so that its strata can sit above everything.
  for (const auto& info : program->rules) {
    if (info.rule->admitted()) return refuse("rule " + info.rule->name + ": a rule set has no admission rules");
    for (const auto& w : info.writes) {
      if (!w.node.kind.empty()) return refuse("rule " + info.rule->name + ": a rule set derives relations only, not " + w.node.kind);
      const std::string& rel = w.node.section;
      if (program_->program->relations().count(rel) || rule_set_of_relation_.count(rel))
        return refuse("rule " + info.rule->name + ": relation " + rel + " is not the set's own");
    }
  }
  for (const auto& spec : program->indexes)
    if (!spec.relation) return refuse("a rule set looks objects up by index; only relations can be");
  // The engine knows its log relations from its own program alone.
  for (const auto& [name, decl] : program->program->relations())
    if (decl->log && !program_->program->relations().count(name))
      return refuse("relation " + name + " is a log: only the engine's program declares one");
  install_rule_set(id, program);
  const RuleSet& set = rule_sets_.at(id);
  // Its state as stored, when that is still valid (before the ops, which
  // the set's rules then see as any change); a dry run derives it.
  bool restored = !dry_run && restore_rule_set(id, set);
  Result r = transact(ops, dry_run, inspect, [&] {
    if (!restored) seed_rule_set(set);
  });
  if (!r.ok && restored) {
    // Out of memory again; and off the disk, since what derives it next
    // writes only the keys it makes.
    discard_rule_set_state(set);
    drop_stored_.push_back(id);
  }
  if (!r.ok || dry_run) uninstall_rule_set(id);
  return r;
}

Result Engine::remove_rule_set(const std::string& id) {
  auto it = rule_sets_.find(id);
  if (it == rule_sets_.end()) {
    Result r;
    r.ok = false;
    r.reason = "NotFound";
    r.message = "no rule set named " + id;
    return r;
  }
  const RuleSet set = it->second;
  // Asleep first: while its facts go, none of its rules may find new
  // matches (a `not` that starts to hold). Its stored state goes with it.
  detach_readers(set.first_rule, set.first_rule + set.count);
  drop_stored_.push_back(id);
  it->second.removing = true;
  Result r = transact({}, false, nullptr, [&] {
    std::vector<MatchKey> keys;
    for (int rule = set.first_rule; rule < set.first_rule + set.count; ++rule)
      for (auto& k : state_.match_keys_of(rule)) keys.push_back(std::move(k));
    for (const auto& k : keys) {
      Match copy = *state_.match(k);
      state_.erase_match(k);
      apply_contributions(copy.rule(), k, copy.contributions(), {});
    }
  });
  if (r.ok) {
    uninstall_rule_set(id);
  } else {
    // Still there, with its stored state.
    drop_stored_.erase(std::remove(drop_stored_.begin(), drop_stored_.end(), id), drop_stored_.end());
    rule_sets_.at(id).removing = false;
    for (int i = set.first_rule; i < set.first_rule + set.count; ++i) register_readers(rules_[static_cast<size_t>(i)]);
  }
  return r;
}

}  // namespace pmesh::engine
