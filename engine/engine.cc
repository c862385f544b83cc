#include "engine/engine.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <functional>

#include <openssl/evp.h>

#include "engine/conversion.h"
#include "engine/failpoint.h"
#include "engine/object_parts.h"
#include "stdlib/digest.h"
#include "stdlib/text.h"

namespace pmesh::engine {

using dsl::BodyItemKind;

namespace {

std::string wall_clock() { return rfc3339_utc(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())); }

}  // namespace
Engine::Engine(std::shared_ptr<const dsl::CompiledProgram> program, Options options)
    : program_(std::move(program)), options_(std::move(options)), state_(program_->indexes), kinds_(*program_->program) {
  if (!options_.clock) options_.clock = wall_clock;
  rules_ = make_runtimes(*program_);
  base_rules_ = rules_.size();
  next_stratum_ = static_cast<int>(program_->graph->strata().size());
  for (const auto& rt : rules_) register_readers(rt);
  evaluator_ = std::make_unique<Evaluator>(state_, [this](std::string_view fact) { return committed(fact); });
  for (const auto& [name, decl] : program_->program->relations())
    if (decl->log) log_relations_.push_back(name);
}

Op Engine::stored_form(const Op& op) const {
  const Json* md = find_fields(op.object, {"metadata"});
  const dsl::KindDecl* served = kinds_.served_version(md ? string_field(*md, "cluster") : "", string_field(op.object, "apiVersion"),
                                                      string_field(op.object, "kind"));
  if (!served) return op;
  Op out = op;
  try {
    out.object = to_storage(*served, op.object);
  } catch (const ConversionError& e) {
    throw TxnError{"BadRequest", e.what(), {}};
  }
  return out;
}

std::optional<ObjectKey> Engine::key_of(const Json& o, const std::string& default_cluster, std::string* error) const {
  auto str = [&](const Json* v) { return v && v->is_string() ? v->get<std::string>() : std::string(); };
  if (!o.is_object()) {
    *error = "an object must be a JSON object";
    return std::nullopt;
  }
  std::string api = str(find_fields(o, {"apiVersion"})), kind = str(find_fields(o, {"kind"}));
  ObjectKey k;
  k.cluster = str(find_fields(o, {"metadata", "cluster"}));
  if (k.cluster.empty()) k.cluster = default_cluster;
  const dsl::KindDecl* d = kinds_.by_api(k.cluster, api, kind);
  if (!d) {
    *error = kind.empty() ? "the object has no kind" : "unknown kind " + kind + " in " + (api.empty() ? "\"\"" : api);
    if (!kind.empty() && !k.cluster.empty()) *error += " (not served in " + k.cluster + ")";
    return std::nullopt;
  }
  k.kind = d->key();
  k.ns = str(find_fields(o, {"metadata", "namespace"}));
  k.name = str(find_fields(o, {"metadata", "name"}));
  if (d->scope == dsl::Scope::kCluster && !k.ns.empty()) {
    *error = kind + " is cluster-scoped; it has no namespace";
    return std::nullopt;
  }
  if (d->scope == dsl::Scope::kNamespaced && k.ns.empty()) {
    *error = kind + " " + k.name + " needs a namespace";
    return std::nullopt;
  }
  // A DNS subdomain, or what the kind's names may be (RBAC's: path segments).
  Problems bad = k.name.empty() ? Problems{"a name is required"}
                                : object_name_problems(k.name, d->names == NameValidation::kPathSegment ? d->names
                                                                                                        : NameValidation::kDNS1123Subdomain, false);
  if (!bad.empty()) {
    *error = "invalid name \"" + k.name + "\": " + bad[0];
    return std::nullopt;
  }
  if (k.cluster.empty()) {
    *error = "the object names no logical cluster";
    return std::nullopt;
  }
  return k;
}

const Json* Engine::get(const ObjectKey& key) const {
  const ObjectEntry* e = state_.object(object_fact(key));
  return e && !e->effective.is_null() ? &*e->effective : nullptr;
}

std::vector<std::string> Engine::owners(const ObjectKey& key) const {
  std::set<std::string> names;
  if (const ObjectEntry* e = state_.object(object_fact(key))) {
    for (const auto& [mk, part] : e->derived)
      names.insert(rules_[static_cast<size_t>(mk.rule())].info->rule->name);
    for (const auto& [mk, parts] : e->fields)
      for (const auto& p : parts) names.insert(rules_[static_cast<size_t>(p.rule())].info->rule->name);
  }
  return std::vector<std::string>(names.begin(), names.end());
}

bool Engine::has_tuple(const std::string& relation, const std::vector<std::string>& args) const {
  const TupleEntry* t = state_.tuple(tuple_fact(relation, args));
  return t && t->exists();
}

const Json* Engine::committed(std::string_view fact) const {
  if (history_) return history_->get(parse_object_fact(fact));
  auto it = txn_.before.find(fact);
  if (it != txn_.before.end()) return it->second->is_null() ? nullptr : &*it->second;
  const ObjectEntry* e = state_.object(fact);
  return e && !e->effective.is_null() ? &*e->effective : nullptr;
}

std::string Engine::make_uid(std::string_view fact) const {
  if (history_) {
    const ObjectEntry* e = history_->state_.object(fact);
    if (e && !e->uid().empty()) return std::string(e->uid());
  }
  // Deterministic: the same identity created in the same transaction gets
  // the same uid, whatever the order of the inputs.
  std::string in(fact);
  in += '@';
  in += std::to_string(rv_ + 1);
  std::string h = hex_digest(EVP_sha1(), in);
  // 8-4-4-4-12, as a UUID is written.
  for (size_t at : {20, 16, 12, 8}) h.insert(at, 1, '-');
  h.resize(36);
  return h;
}

void Engine::note_before(const FactKey& fact) {
  if (txn_.before.count(fact)) return;
  const ObjectEntry* e = state_.object(fact);
  txn_.before[fact] = e ? e->effective : SharedJson();
}

// ---- Change propagation ------------------------------------------------------------

void Engine::fact_changed(const FactKey& fact, const Json& before, const Json& after) {
  bool object = is_object_fact(fact);
  ObjectKey key;
  // The readers_ key: an object's kind, or "rel:" and the tuple's relation
  // (made in a buffer the engine keeps: a relation's name is past the
  // short-string size, and a string was allocated for every tuple change).
  std::string& reader_key = object ? key.kind : reader_key_;
  ChangedParts change;
  boost::container::small_vector<const Reader*, 16> readers;
  TupleView tuple;  // a tuple's parts, read once for every plan it wakes
  if (object) {
    key = parse_object_fact(fact);
    change = changed_sections(before, after);
    if (const dsl::KindDecl* d = decl_of(key))
      for (const auto& f : d->system_fields) {
        // An absent field reads as null.
        const Json *x = find_at(before, f), *y = find_at(after, f);
        if ((x ? *x : kNullJson) != (y ? *y : kNullJson)) change.sections.insert(f);
      }
    if (key.kind == "LogicalCluster" && key.name == "cluster" && after.is_null() && !before.is_null())
      txn_.doomed_clusters.insert(key.cluster);
    if (Kinds::binds_kinds(reader_key)) {
      // Objects of newly bound kinds may follow in this transaction.
      // An APIBinding or CustomResourceDefinition changes what its own cluster
      // serves; a schema, whatever binds it.
      bool schema = reader_key == "APIResourceSchema";
      kinds_.refresh(state_, true, schema ? nullptr : &key.cluster);
      if (schema) txn_.kinds_touched_all = true;
      else txn_.kinds_touched.insert(key.cluster);
    }
  } else {
    tuple = view_tuple_fact(fact.str());
    const auto& [rel, args] = tuple;
    reader_key = "rel:";
    reader_key += rel;
    // Rules whose pattern names an argument (`fga_tuple(st, o, "owner", u)`,
    // a store's rules over the tuples of all stores) wait under their own
    // key: a tuple wakes those that name its own arguments.
    if (auto positions = keyed_args_.find(reader_key); positions != keyed_args_.end())
      for (size_t i : positions->second)
        if (i < args.size())
          if (auto it = readers_.find(arg_reader_key(reader_key, i, args[i])); it != readers_.end())
            for (const Reader& r : it->second) readers.push_back(&r);
  }
  if (auto it = readers_.find(reader_key); it != readers_.end())
    for (const Reader& r : it->second) readers.push_back(&r);
  // `resource(g, r)` patterns see every object of a run-time kind.
  if (object && reader_key.find('.') != std::string::npos)
    if (auto it = readers_.find("*"); it != readers_.end())
      for (const Reader& r : it->second) readers.push_back(&r);
  if (readers.empty()) return;
  const bool every_part = object && change.sections.count("*");
  // The matches that read the fact, looked up once for all its readers (a
  // search only queues what it finds, so the list stays as it is).
  const auto* using_fact = state_.matches_using(fact);
  ChargeRun searches(&charging_);
  for (const Reader* rp : readers) {
    const Reader& r = *rp;
    if (object && !every_part && !r.reads(change)) continue;
    const RuleRuntime& rt = rules_[static_cast<size_t>(r.rule)];
    // A key names its rule: the matches of other rules are passed over
    // without a lookup (a fact every account reads has as many).
    if (using_fact)
      for (const MatchKey* mk : *using_fact)
        if (mk->rule() == r.rule)
          if (const Match* m = state_.match(*mk))
            txn_.pending.insert({rt.stratum, r.rule, {m->positives().begin(), m->positives().end()}});
    for (const dsl::BoundPlan* bound : r.plans) {
      const dsl::Plan* plan = bound->src;
      if (object) {
        // What a positive pattern matched in the object's old version is a
        // match that exists (queued above from matches_using) or one still
        // pending: looking for it again finds nothing new. A trigger under
        // `not`, an aggregate or an optional pattern is not a positive of
        // the matches it changes, so its old version is looked at too.
        bool positive = !plan->reevaluate &&
                        std::find(rt.positives.begin(), rt.positives.end(), plan->trigger) != rt.positives.end();
        if (!before.is_null() && !positive) discover(rt, *bound, fact, &before);
        if (!after.is_null()) discover(rt, *bound, fact, &after);
      } else {
        discover(rt, *bound, fact, nullptr, &tuple);
      }
    }
    searches.charge(&rt.stats.nanoseconds);
  }
}

// The parts of an object that a rule can read separately: metadata's
// writable parts, metadata itself, and each top-level section, with the
// fields of a section that changed when it is an object on both sides.
ChangedParts Engine::changed_sections(const Json& a, const Json& b) {
  ChangedParts out;
  if (a.is_null() || b.is_null() || !a.is_object() || !b.is_object()) {
    out.sections.insert("*");
    return out;
  }
  // An absent member reads as null; nothing is copied.
  auto member = [](const Json& o, const std::string& k) {
    auto it = o.find(k);
    return it == o.end() ? &kNullJson : &*it;
  };
  auto differ = [&](const Json& x, const Json& y, const std::function<void(const std::string&)>& fn) {
    for (const auto& [k, v] : x.items())
      if (*member(y, k) != v) fn(k);
    for (const auto& [k, v] : y.items())
      if (!x.contains(k) && !v.is_null()) fn(k);
  };
  // A metadata (or section) that is not an object has no parts.
  static const Json kEmpty = Json::object();
  differ(a, b, [&](const std::string& k) {
    const Json* x = member(a, k);
    const Json* y = member(b, k);
    if (k != "metadata") {
      out.sections.insert(k);
      if (x->is_object() && y->is_object()) {
        auto& fields = out.members[k];
        differ(*x, *y, [&](const std::string& m) { fields.insert(m); });
      }
      return;
    }
    differ(x->is_object() ? *x : kEmpty, y->is_object() ? *y : kEmpty, [&](const std::string& m) {
      if (m == "resourceVersion") return;
      bool part = m == "labels" || m == "annotations" || m == "finalizers" || m == "ownerReferences";
      out.sections.insert(part ? "metadata." + m : "metadata");
    });
  });
  return out;
}

std::string Engine::arg_reader_key(const std::string& relation_key, size_t position, std::string_view arg) {
  std::string key = relation_key;
  key += kArgSep;
  key += std::to_string(position);
  key += kArgSep;
  key += arg;
  return key;
}

bool Engine::Reader::reads(const ChangedParts& c) const {
  for (const auto& s : c.sections) {
    if (!sections.count(s)) continue;
    auto mine = members.find(s);
    auto changed = c.members.find(s);
    if (mine == members.end() || changed == c.members.end()) return true;
    for (const auto& m : changed->second)
      if (mine->second.count(m)) return true;
  }
  return false;
}

void Engine::tuple_changed(const FactKey& fact) { fact_changed(fact, Json(), Json()); }

void Engine::discover(const RuleRuntime& rt, const dsl::BoundPlan& plan, const FactKey& fact, const Json* object,
                      const TupleView* tuple) {
  // A search never starts another (it only queues what it finds), so one
  // set of bindings serves them all; its caller charges its time.
  Bindings& b = discover_bindings_;
  b.reset(rt.info->vars.size());
  b.discovering = true;
  try {
    if (!evaluator_->bind_trigger(plan, rt, b, fact, object, tuple)) return;
    evaluator_->run(plan, rt, b, nullptr, [&](Bindings& found) {
      std::vector<FactKey> positives;
      positives.reserve(rt.positives.size());
      for (size_t p = 0; p < rt.positives.size(); ++p) {
        const dsl::BodyItem* item = rt.positives[p];
        if (item == plan.src->trigger) {
          positives.emplace_back(fact);
        } else if (item->kind == BodyItemKind::kObject) {
          if (rt.positive_slots[p] < 0) return true;
          const Slot& s = found.slots[static_cast<size_t>(rt.positive_slots[p])];
          if (!s.bound || !s.fact) return true;
          positives.emplace_back(*s.fact);
        } else {
          // A tuple: the one its step matched.
          auto t = std::find_if(found.found_tuples.begin(), found.found_tuples.end(),
                                [&](const auto& x) { return x.first == item; });
          if (t == found.found_tuples.end()) return true;
          positives.emplace_back(*t->second);
        }
      }
      txn_.pending.insert({rt.stratum, rt.index, std::move(positives)});
      return true;
    });
  } catch (const EvalError&) {
    // A match that cannot be evaluated is found by evaluate(), which reports it.
  }
}

void Engine::throw_refusals(const std::vector<Refusal>& refusals, const std::string& name) {
  FieldErrors fields;
  std::vector<std::string> field_rules, denying;
  std::string fields_text, denial;
  for (const Refusal& r : refusals) {
    if (auto f = FieldError::from_value(r.value)) {
      fields_text += (fields_text.empty() ? "" : "; ") + f->message();
      fields.push_back(std::move(*f));
      field_rules.push_back(r.rule);
    } else {
      denial += (denial.empty() ? "" : "; ") + (r.value.is_string() ? r.value.get<std::string>() : r.value.dump());
      denying.push_back(r.rule);
    }
  }
  if (!fields.empty()) throw TxnError{"FieldInvalid", fields_text, field_rules, name, std::move(fields)};
  throw TxnError{"Invalid", denial, denying, name};
}

void Engine::apply_contributions(int rule, const MatchKey& key, std::span<const Contribution> before,
                                 std::span<const Contribution> after) {
  std::set<FactKey> targets;
  bool refuses = false;
  for (const auto& c : before)
    if (c.kind() != Contribution::Kind::kRefuse && c.kind() != Contribution::Kind::kDelete) targets.insert(c.target);
  for (const auto& c : after) {
    if (c.kind() == Contribution::Kind::kDelete) {
      txn_.doomed_objects.insert(c.target);
    } else if (c.kind() == Contribution::Kind::kRefuse) {
      refuses = true;
      txn_.refusals[key] = {rules_[static_cast<size_t>(rule)].info->rule->name, *c.value()};
    } else {
      targets.insert(c.target);
    }
  }
  if (!refuses) txn_.refusals.erase(key);
  for (const auto& t : targets) {
    txn_.changed_by.add(t, rule);
    if (is_object_fact(t)) {
      ObjectEntry e = state_.object_copy(t);
      if (!e.decl) e.decl = decl_of(e.key());
      bool had_support = e.derived.count(key) > 0;
      e.derived.erase(key);
      e.fields.erase(key);
      for (const auto& c : after) {
        if (c.target != t) continue;
        if (c.kind() == Contribution::Kind::kObject) {
          // One derive of this match into the object (the usual case): the
          // part is the contribution's value itself. Several: merged.
          auto [part, first] = e.derived.try_emplace(key, c.value());
          if (!first) {
            Json merged = *part->second;
            deep_merge(merged, *c.value());
            part->second = std::move(merged);
          }
        } else {
          e.fields[key].push_back(FieldPart::of(c, rule));
        }
      }
      bool lost = had_support && !e.derived.count(key) && !e.derived.empty();
      if (!settle_later(rule, t, e)) recompute_object(t, std::move(e));
      if (lost) lost_support(t);
    } else {
      const TupleEntry* cur = state_.tuple(t);
      bool existed = cur && cur->exists();
      txn_.tuple_before.try_emplace(t, existed);
      bool keep = false;
      for (const auto& c : after) keep |= c.target == t;
      bool had = state_.support_tuple(t, key, keep);
      const TupleEntry* now = state_.tuple(t);
      bool exists = now && now->exists();
      if (had && !keep && exists) lost_support(t);
      if (existed != exists) tuple_changed(t);
    }
  }
}

// A fact that loses one derivation but keeps others may be kept only by a
// cycle; if its data is part of a recursive stratum, that stratum re-checks it.
void Engine::lost_support(const FactKey& fact) {
  dsl::DataNode node = is_object_fact(fact) ? dsl::DataNode{parse_object_fact(fact).kind, "metadata"}
                                            : dsl::DataNode{"", std::string(view_tuple_fact(fact).relation)};
  int s = recursive_stratum_of(node);
  if (s >= 0) txn_.suspects[s].insert(fact);
}

void Engine::evaluate(int rule, std::vector<FactKey> positives) {
  const RuleRuntime& rt = rules_[static_cast<size_t>(rule)];
  SelfTimeCharge timed(&rt.stats.nanoseconds, &charging_);
  ++rt.stats.evaluations;
  MatchKey key(rule, positives);
  if (failpoint::hit("evaluate")) throw std::runtime_error("failpoint: evaluate");
  if (++txn_.evaluations[key] > options_.max_evaluations_per_match) {
    std::set<std::string> looping;
    for (const auto& [k, n] : txn_.evaluations)
      if (n > options_.max_evaluations_per_match / 2)
        looping.insert(rules_[static_cast<size_t>(k.rule())].info->rule->name);
    std::string names;
    for (const auto& n : looping) names += (names.empty() ? "" : ", ") + n;
    throw TxnError{"NotConverged",
                   "the rules do not converge: " + names + " keep changing what they read (stopped after " +
                       std::to_string(options_.max_evaluations_per_match) + " evaluations of one match)",
                   std::vector<std::string>(looping.begin(), looping.end())};
  }
  FixedFacts fixed;
  fixed.reserve(rt.positives.size());
  for (size_t i = 0; i < rt.positives.size(); ++i) fixed.emplace_back(rt.positives[i], &positives[i]);
  Bindings& b = evaluate_bindings_;
  b.reset(rt.info->vars.size());
  std::optional<std::vector<Contribution>> found;
  try {
    // One assignment of the positive patterns; `for x in list` can make it
    // several bindings, whose contributions add up.
    evaluator_->run(rt.bound->full(), rt, b, &fixed, [&](Bindings& m) {
      auto c = contributions(rt, m);
      if (!found) found.emplace();
      for (auto& x : *c)
        if (std::find(found->begin(), found->end(), x) == found->end()) found->push_back(std::move(x));
      return true;
    });
  } catch (const EvalError& e) {
    found.reset();
    std::string where;
    if (e.span.file) {
      auto lc = e.span.file->position(e.span.begin);
      where = e.span.file->path + ":" + std::to_string(lc.line) + ":" + std::to_string(lc.column) + ": ";
    }
    std::string inputs;
    for (const auto& p : positives) inputs += (inputs.empty() ? "" : ", ") + describe_fact(p);
    txn_.warnings.push_back(where + "rule " + rt.info->rule->name + " on " + inputs + ": " + e.what());
  }
  const Match* old = state_.match(key);
  if (!found && !old) return;
  if (found && old && std::ranges::equal(old->contributions(), *found)) return;
  if (!old) ++rt.stats.matches_made;
  if (!found) ++rt.stats.matches_dropped;
  // Neither version is copied: the replaced match lives on in the undo log
  // (a copy only while undoing), the new one is read where it is stored.
  std::vector<Contribution> before_copy;
  bool in_place = state_.recording();
  if (old && !in_place) before_copy.assign(old->contributions().begin(), old->contributions().end());
  const Match* replaced = found ? state_.put_match(key, Match{rule, std::move(positives), std::move(*found)}) : state_.erase_match(key);
  std::span<const Contribution> before = !old ? std::span<const Contribution>() : in_place ? replaced->contributions() : before_copy;
  std::span<const Contribution> after = found ? state_.match(key)->contributions() : std::span<const Contribution>();
  apply_contributions(rule, key, before, after);
}

void Engine::run_to_fixpoint() {
  // Lowest stratum first; a stratum's suspects are re-derived once its own
  // work is done, before anything above it runs.
  while (true) {
    int suspect = -1;
    for (const auto& [s, facts] : txn_.suspects)
      if (!facts.empty()) {
        suspect = s;
        break;
      }
    bool have_pending = !txn_.pending.empty();
    if (suspect >= 0 && (!have_pending || txn_.pending.begin()->stratum > suspect)) {
      settle_objects();
      rederive(suspect);
      continue;
    }
    // Objects that rules changed are recomputed (and what reads them woken)
    // before a rule that reads what they may have changed, and before the
    // rules are at rest: a rule that reads none of it sees the same either way.
    if (!txn_.unsettled.empty() && settle_objects(have_pending ? txn_.pending.begin()->rule : -1)) continue;
    if (!have_pending && !txn_.doomed_objects.empty()) {
      FactKey fact = *txn_.doomed_objects.begin();
      txn_.doomed_objects.erase(txn_.doomed_objects.begin());
      const ObjectEntry* e = state_.object(fact);
      if (e && !e->effective.is_null() && e->user_owned && e->derived.empty() && e->deleting().empty())
        user_op(Op::remove(e->key().owned()));
      continue;
    }
    if (!have_pending && !txn_.doomed_clusters.empty()) {
      std::string cluster = *txn_.doomed_clusters.begin();
      txn_.doomed_clusters.erase(txn_.doomed_clusters.begin());
      // Only a cluster still gone at rest: one that another rule's support
      // brought back in this transaction keeps what is in it.
      if (!get({"LogicalCluster", cluster, "", "cluster"})) delete_cluster_contents(cluster);
      continue;
    }
    if (!have_pending) break;
    Transaction::Pending p = std::move(txn_.pending.extract(txn_.pending.begin()).value());
    txn_.settle_later = true;
    evaluate(p.rule, std::move(p.positives));
    txn_.settle_later = false;
  }
}

// As kcp does when a logical cluster goes: every object users made in it is
// deleted (through finalizers, like any delete), and every tuple stored
// about it. Derived objects go when their support does; the rules that
// derive into a cluster read whether it still exists.
void Engine::delete_cluster_contents(const std::string& cluster) {
  std::vector<ObjectKey> doomed;
  for (const dsl::KindDecl* d : kinds_.in_cluster(cluster)) {
    if (d->storage) continue;  // another served version: its objects are its storage version's
    state_.scan_objects(object_prefix(d->key(), &cluster), [&](const FactKey&, const ObjectEntry& e) {
      if (e.user_owned && e.derived.empty() && e.deleting().empty()) doomed.push_back(e.key().owned());
      return true;
    });
  }
  for (const auto& k : doomed) user_op(Op::remove(k));
  // And the tuples stored about it, keyed by its path first (an external
  // initializer's `initialized`): a cluster made again at the path starts
  // afresh.
  std::vector<std::pair<std::string, std::vector<std::string>>> stored;
  for (const auto& [relation, decl] : program_->program->relations())
    state_.scan_tuples_with(relation, {cluster}, [&](const FactKey& fact) {
      if (const TupleEntry* t = state_.tuple(fact); t && t->base()) stored.push_back(parse_tuple_fact(fact));
      return true;
    });
  for (auto& [relation, args] : stored) user_op(Op::remove_tuple(relation, args));
}

// Delete-and-rederive over the support graph of one recursive stratum:
// the suspects and everything derived from them in the stratum are kept
// only if a derivation reaches them from facts outside that set.
void Engine::rederive(int stratum) {
  std::set<FactKey, FactKeyOrder> region = std::move(txn_.suspects[stratum]);
  txn_.suspects[stratum].clear();
  std::vector<FactKey> work(region.begin(), region.end());
  auto supports = [&](const FactKey& f) {
    std::vector<MatchKey> out;
    if (is_object_fact(f)) {
      if (const ObjectEntry* e = state_.object(f))
        for (const auto& [mk, part] : e->derived) out.push_back(mk);
    } else if (const TupleEntry* t = state_.tuple(f)) {
      out.assign(t->supports.begin(), t->supports.end());
    }
    return out;
  };
  while (!work.empty()) {
    FactKey f = work.back();
    work.pop_back();
    if (const auto* ms = state_.matches_using(f))
      for (const MatchKey* mk : *ms) {
        const Match* m = state_.match(*mk);
        if (!m || rules_[static_cast<size_t>(m->rule())].stratum != stratum) continue;
        for (const auto& c : m->contributions())
          if (c.kind() != Contribution::Kind::kField && region.insert(c.target).second) work.push_back(c.target);
      }
  }
  // Alive: a fact with a derivation whose inputs are all outside the region
  // or alive themselves. A worklist makes this linear in the region's edges.
  std::set<FactKey, FactKeyOrder> alive;
  std::vector<FactKey> queue;
  auto grounded = [&](const Match& m) {
    return std::ranges::all_of(m.positives(),
                       [&](const FactKey& p) { return !region.count(p) || alive.count(p); });
  };
  auto mark = [&](const FactKey& f) {
    if (alive.insert(f).second) queue.push_back(f);
  };
  for (const auto& f : region) {
    if (!is_object_fact(f)) {
      if (const TupleEntry* t = state_.tuple(f); t && t->base()) mark(f);
    } else if (const ObjectEntry* e = state_.object(f); e && e->has_base() && e->user_owned) {
      mark(f);
    }
    if (alive.count(f)) continue;
    for (const auto& mk : supports(f))
      if (const Match* m = state_.match(mk); m && grounded(*m)) {
        mark(f);
        break;
      }
  }
  while (!queue.empty()) {
    FactKey f = queue.back();
    queue.pop_back();
    const auto* ms = state_.matches_using(f);
    if (!ms) continue;
    for (const MatchKey* mk : *ms) {
      const Match* m = state_.match(*mk);
      if (!m || !grounded(*m)) continue;
      for (const auto& c : m->contributions())
        if (c.kind() != Contribution::Kind::kField && region.count(c.target)) mark(c.target);
    }
  }
  // The rest lose every derivation that goes through the dead facts.
  std::set<MatchKey> dead_matches;
  for (const auto& f : region)
    if (!alive.count(f))
      for (const auto& mk : supports(f)) dead_matches.insert(mk);
  for (const auto& mk : dead_matches) {
    const Match* m = state_.match(mk);
    if (!m) continue;
    Match copy = *m;
    state_.erase_match(mk);
    apply_contributions(copy.rule(), mk, copy.contributions(), {});
    txn_.pending.insert({stratum, copy.rule(), {copy.positives().begin(), copy.positives().end()}});
  }
}

// ---- Transactions -------------------------------------------------------------------

const std::vector<std::string>& TupleChange::rule_names() const {
  static const std::vector<std::string> kNone;
  return rules ? *rules : kNone;
}

Result Engine::collect_changes(std::vector<TupleChange>* tuples) {
  Result r;
  std::vector<FactKey> changed;
  for (const auto& [fact, before] : txn_.before) {
    const ObjectEntry* e = state_.object(fact);
    if (!(e ? e->effective == before : before->is_null())) changed.push_back(fact);
  }
  int64_t rv = rv_;
  for (const auto& fact : changed) {
    const SharedJson& before = txn_.before[fact];
    const ObjectEntry* cur = state_.object(fact);
    ObjectChange c;
    c.key = parse_object_fact(fact);
    c.before = before;
    c.resource_version = ++rv;
    if (cur && !cur->effective.is_null()) {
      state_.set_resource_version(fact, rv);
      c.after = cur->effective;
    }
    c.op = before->is_null() ? ObjectChange::Kind::kCreated
           : c.after->is_null() ? ObjectChange::Kind::kDeleted
                                : ObjectChange::Kind::kUpdated;
    for (int rule : txn_.changed_by.of(FactKey(fact))) c.rules.push_back(rules_[static_cast<size_t>(rule)].info->rule->name);
    r.objects.push_back(std::move(c));
  }
  r.tuples = tuples ? std::move(*tuples) : tuple_changes();
  r.resource_version = rv;
  return r;
}

std::vector<TupleChange> Engine::tuple_changes(std::vector<FactKey>* facts, EarlierTuples* earlier) const {
  std::vector<TupleChange> out;
  // Each list of rules' names once: most changes come from one rule.
  std::map<std::vector<int>, std::shared_ptr<const std::vector<std::string>>> named;
  std::vector<FactKey> touched;
  if (earlier) touched = txn_.changed_by.since_mark();
  size_t e = 0;
  for (const auto& [fact, existed] : txn_.tuple_before) {
    const TupleEntry* t = state_.tuple(fact);
    bool now = t && t->exists();
    if (now == existed) continue;
    if (facts) facts->push_back(fact);
    if (earlier) {
      // Both lists are in key order. An earlier entry is this change (it
      // too differed from `existed`) unless a rule changed the tuple since.
      while (e < earlier->facts.size() && earlier->facts[e] < fact) ++e;
      if (e < earlier->facts.size() && earlier->facts[e] == fact &&
          !std::binary_search(touched.begin(), touched.end(), fact)) {
        out.push_back(std::move(earlier->changes[e]));
        continue;
      }
    }
    std::vector<int> rules = txn_.changed_by.of(fact);
    std::shared_ptr<const std::vector<std::string>> names;
    if (!rules.empty()) {
      auto& shared = named[rules];
      if (!shared) {
        auto list = std::make_shared<std::vector<std::string>>();
        for (int rule : rules) list->push_back(rules_[static_cast<size_t>(rule)].info->rule->name);
        shared = std::move(list);
      }
      names = shared;
    }
    out.push_back(TupleChange{now, fact, std::move(names)});
  }
  return out;
}

namespace {

// Whether every string and key in `v` is UTF-8: what a transaction writes
// must encode, or the commit and every reader after it would fail. `where`
// gets the path of the first that is not.
// (The containers are walked directly: nlohmann's items() made a proxy per
// member, and this walk is of every changed object's whole form.)
bool encodable(const Json& v, std::string* where) {
  if (v.is_string()) return valid_utf8(v.get_ref<const std::string&>());
  if (v.is_array()) {
    const auto& elements = v.get_ref<const Json::array_t&>();
    for (size_t i = 0; i < elements.size(); ++i)
      if (!encodable(elements[i], where)) return *where = "[" + std::to_string(i) + "]" + *where, false;
    return true;
  }
  if (v.is_object())
    for (const auto& [k, e] : v.get_ref<const Json::object_t&>())
      if (!valid_utf8(k) || !encodable(e, where))
        return *where = "." + (valid_utf8(k) ? k : coerce_utf8(k)) + *where, false;
  return true;
}

}  // namespace

void Engine::check_encodable(const Result& r, const CommittedForms& forms) const {
  if (failpoint::hit("encode")) throw TxnError{"InternalError", "failpoint: encode", {}};
  for (const auto& c : r.objects) {
    std::string where;
    if (!c.after->is_null() && !forms.find(c.after) && !encodable(*c.after, &where))
      throw TxnError{"InternalError",
                     c.key.to_string() + " would hold a string that is not UTF-8" +
                         (where.empty() ? "" : " (at " + where.substr(1) + ")"),
                     c.rules};
  }
  for (const auto& t : r.tuples) {
    const TupleView v = t.view();
    for (std::string_view a : v.args)
      if (!valid_utf8(a))
        throw TxnError{"InternalError", "a " + std::string(v.relation) + " tuple would hold an argument that is not UTF-8",
                       t.rule_names()};
  }
}

Result Engine::apply(const std::vector<Op>& ops, bool dry_run, const std::function<void(Result&)>& inspect) {
  return transact(ops, dry_run, inspect, nullptr);
}

Result Engine::transact(const std::vector<Op>& ops, bool dry_run, const std::function<void(Result&)>& inspect,
                        const std::function<void()>& seed) {
  ++epoch_;
  auto started = std::chrono::steady_clock::now();
  size_t mark = state_.undo_mark();
  txn_ = Transaction{};
  txn_.now = options_.clock();
  // What it changes is tracked for the commit that stores it, and for the
  // parked rule-set states a change makes stale; without either, nothing
  // would read it.
  state_.set_dirty_tracking(persistence_ || !parked_.empty());
  Result r;
  CommittedForms forms;
  auto fail = [&](std::string reason, std::string message, std::vector<std::string> rules, std::string name = {},
                  FieldErrors fields = {}) {
    txn_.restoring = false;
    txn_.deferred.clear();
    state_.undo_to(mark);
    r = Result{};
    r.ok = false;
    r.reason = std::move(reason);
    r.message = std::move(message);
    r.rules = std::move(rules);
    r.name = std::move(name);
    r.field_errors = std::move(fields);
  };
  // Whatever fails, at any stage up to and including the commit, undoes
  // the whole transaction: memory is as it was, and nothing was written.
  try {
    for (const auto& written : ops) {
      // A restore too: a store written before a kind's storage version
      // changed holds its objects in the version they were written in.
      bool object = written.type == Op::Type::kCreate || written.type == Op::Type::kUpdate ||
                    (written.type == Op::Type::kRestore && !written.overlay);
      const Op& op = object ? stored_form(written) : written;
      txn_.restoring = op.type == Op::Type::kRestore;
      if (!history_ && (op.type == Op::Type::kCreate || op.type == Op::Type::kUpdate || op.type == Op::Type::kDelete))
        user_op(admit(op));
      else
        user_op(op);
    }
    txn_.restoring = false;
    if (seed) seed();
    run_to_fixpoint();
    if (!txn_.deferred.empty()) {
      std::set<FactKey, FactKeyOrder> again = std::move(txn_.deferred);
      txn_.deferred.clear();
      for (const auto& f : again)
        if (const ObjectEntry* e = state_.object(f)) recompute_object(f, *e);
      run_to_fixpoint();
    }
    // The tuple changes the hook sees are the commit's unless it adds more
    // (a seed of a rule set changes 100,000s: taken once).
    std::optional<std::vector<TupleChange>> tuples;
    if (before_commit_ && !dry_run && !history_) {
      EarlierTuples earlier;
      earlier.changes = tuple_changes(&earlier.facts);
      txn_.changed_by.mark();
      std::vector<Op> more = before_commit_(earlier.changes);
      for (const auto& op : more) user_op(op);
      if (!more.empty()) run_to_fixpoint();
      tuples = more.empty() ? std::move(earlier.changes) : tuple_changes(nullptr, &earlier);
    }
    check_conflicts();
    if (!history_) check_relation_keys();
    // What the transaction newly makes hold that a rule refuses, it may not
    // commit (recomputations keep what was already there).
    if (!txn_.refusals.empty() && !history_) {
      std::vector<Refusal> refusals;
      for (const auto& [k, refusal] : txn_.refusals) refusals.push_back(refusal);
      throw_refusals(refusals, {});
    }
    r = collect_changes(tuples ? &*tuples : nullptr);
    if (!dry_run && (persistence_ || options_.cold_after_transactions)) forms = encode_committed(r);
    check_encodable(r, forms);
    if (!history_) check_derived_schemas();
    r.warnings = std::move(txn_.warnings);
    if (inspect) inspect(r);
    std::string storage_error;
    State::Dirty dirty = state_.take_dirty();
    store_logged(dirty);
    // Parked rule-set states are valid only for the state they were stored
    // with: a change makes them stale, and they go in the same batch.
    bool stale = !parked_.empty() && !dry_run && (!dirty.objects.empty() || !dirty.tuples.empty());
    RuleSetChanges sets = take_rule_set_changes(dirty);
    if (stale)
      for (const auto& [id, _] : parked_) sets.dropped.push_back(id);
    if (!dry_run && persistence_ && !persistence_->commit(state_, dirty, sets, r, forms, &storage_error))
      throw TxnError{"InternalError", "the transaction could not be stored: " + storage_error, {}};
    if (!dry_run) {
      drop_stored_.clear();
      if (stale) parked_.clear();
    }
  } catch (const TxnError& e) {
    fail(e.reason, e.message, e.rules, e.name, e.fields);
  } catch (const std::exception& e) {
    fail("InternalError", std::string("the transaction failed: ") + e.what(), {});
  }
  if (r.warnings.empty()) r.warnings = std::move(txn_.warnings);
  txn_.warnings.clear();
  if (!r.ok || dry_run) {
    state_.undo_to(mark);
    if (r.ok) r.resource_version = rv_;
  } else {
    rv_ = r.resource_version;
    state_.forget_undo();
    drop_logged();
  }
  if (txn_.kinds_touched_all) kinds_.refresh(state_);
  else
    for (const auto& c : txn_.kinds_touched) kinds_.refresh(state_, false, &c);
  state_.take_dirty();
  // Nothing of the transaction stays but its time stamp (verify() reads it).
  std::string now = std::move(txn_.now);
  txn_ = Transaction{};
  txn_.now = std::move(now);
  ++epoch_;
  count_transaction(r, dry_run, std::chrono::steady_clock::now() - started);
  if (r.ok && !dry_run && commit_listener_) commit_listener_(r);
  if (r.ok && !dry_run) hold_cold_objects(r, forms);
  return r;
}

}  // namespace pmesh::engine
