// The Engine methods that recompute from scratch: verify() and rebuild(),
// and provenance.
#include "engine/engine.h"

#include <algorithm>

#include "dsl/object_model.h"
#include "engine/object_parts.h"
#include "stdlib/builtins.h"

namespace pmesh::engine {

using dsl::BodyItemKind;
using dsl::HeadKind;

namespace {

// The SHA-1 of `head` and every module's name and text.
std::string rules_digest(std::string head, const dsl::CompiledProgram& program) {
  for (const auto& m : program.program->modules()) head += m->name + "\n" + m->file->text + "\n";
  return call_builtin(*find_builtin("sha1"), {head}).get<std::string>();
}

}  // namespace

std::string Engine::fingerprint() const {
  // Stored matches are keyed as MatchKey makes keys: a new key format
  // is a new fingerprint, and a store made with the old one is rebuilt.
  if (fingerprint_.empty()) fingerprint_ = rules_digest("match keys: sha256/128\n", *program_);
  return fingerprint_;
}

std::string Engine::rule_set_fingerprint(const dsl::CompiledProgram& program) const {
  // A set's stored state is read by the program's rules' keys too.
  return rules_digest(fingerprint() + "\n", program);
}

Result Engine::rebuild() {
  // Forget every match and every derived part, keep what users own, and
  // let the rules run again from it.
  std::vector<Op> ops;
  ++epoch_;
  size_t mark = state_.undo_mark();
  std::vector<MatchKey> keys;
  for (int rule = 0; rule < state_.match_rules(); ++rule)
    for (auto& k : state_.match_keys_of(rule)) keys.push_back(std::move(k));
  for (const auto& k : keys) state_.erase_match(k);
  std::vector<std::pair<std::string, ObjectEntry>> objects(state_.objects().begin(), state_.objects().end());
  for (auto& [f, e] : objects) {
    if (e.has_base() && e.user_owned) {
      Json o = *e.base;
      const dsl::KindDecl* d = e.decl ? e.decl : decl_of(e.key());
      // The version it was stored in: a store written before its kind's
      // storage version changed holds the old one, which the restore
      // converts (Engine::stored_form).
      const Json* stored_as = find_fields(*e.effective, {"apiVersion"});
      o["apiVersion"] = stored_as && stored_as->is_string() ? *stored_as : Json(d->api_version());
      o["kind"] = d->name;
      e.key().name_in(o["metadata"]);
      if (!e.deleting().empty()) o["metadata"]["deletionTimestamp"] = std::string(e.deleting());
      ops.push_back(Op::restore(o, false));
    }
  }
  std::vector<std::pair<std::string, TupleEntry>> tuples;
  for (const auto* e : state_.tuples_in_order()) tuples.emplace_back(e->first.str(), e->second);
  for (auto& [f, t] : tuples) {
    if (!t.base()) continue;
    auto [rel, args] = parse_tuple_fact(f);
    ops.push_back(Op::add_tuple(rel, args));
  }
  // Start from an empty state so that derived objects are derived afresh,
  // keeping the identities (uid, creation time) of those that stay.
  std::unique_ptr<Engine> previous = std::make_unique<Engine>(program_, options_);
  for (const auto& [f, e] : objects) previous->state_.put_object(f, e);
  for (const auto& [f, e] : objects) state_.erase_object(f);
  for (const auto& [f, t] : tuples) state_.put_tuple(f, TupleEntry{});
  history_ = previous.get();
  Result r = apply(ops);
  history_ = nullptr;
  if (!r.ok) state_.undo_to(mark);
  return r;
}

// ---- Verification and provenance -------------------------------------------------

namespace {

Json normalized(Json o) {
  if (o.is_null()) return o;
  o["metadata"].erase("resourceVersion");
  o["metadata"].erase("generation");
  if (Json* c = o.contains("status") && o["status"].is_object() && o["status"].contains("conditions")
                    ? &o["status"]["conditions"]
                    : nullptr;
      c && c->is_array())
    for (auto& x : *c)
      if (x.is_object()) x.erase("lastTransitionTime");
  return o;
}

}  // namespace

std::string Engine::verify() const {
  Options opts = options_;
  std::string when = txn_.now.empty() ? options_.clock() : txn_.now;
  opts.clock = [when]() { return when; };
  Engine fresh(program_, opts);
  std::vector<std::pair<int, std::string>> sets;
  for (const auto& [id, set] : rule_sets_) sets.push_back({set.first_rule, id});
  std::sort(sets.begin(), sets.end());
  for (const auto& [first, id] : sets) fresh.install_rule_set(id, rule_sets_.at(id).program);
  fresh.history_ = this;
  fresh.kinds_ = kinds_;
  fresh.rv_ = rv_;
  // First what users own (objects and tuples), then what they wrote on
  // derived objects, which exist only once the rules have run.
  std::vector<Op> owned, overlays;
  for (const auto& [fact, e] : state_.objects()) {
    if (e.effective.is_null()) continue;
    bool held = e.derived.empty() && !e.user_owned;  // lost its support; finalizers hold it
    if (!(e.has_base() && e.user_owned) && !held && !e.has_base()) continue;
    Json o = e.has_base() ? *e.base : Json::object();
    if (held) deep_merge(o, *e.effective);
    o["apiVersion"] = (*e.effective)["apiVersion"];
    o["kind"] = (*e.effective)["kind"];
    e.key().name_in(o["metadata"]);
    if (!e.deleting().empty()) o["metadata"]["deletionTimestamp"] = std::string(e.deleting());
    bool overlay = !e.user_owned && !held;
    Op op = Op::restore(o, overlay, e.editable_seen);
    op.key = e.key().owned();
    (overlay ? overlays : owned).push_back(std::move(op));
  }
  for (const auto* e : state_.tuples_in_order())
    if (e->second.base()) {
      auto [rel, args] = parse_tuple_fact(e->first.str());
      owned.push_back(Op::add_tuple(rel, args));
    }
  std::vector<std::string> warnings;
  for (const auto* ops : {&owned, &overlays}) {
    Result r = fresh.apply(*ops);
    if (!r.ok) return "recomputation failed: " + r.reason + ": " + r.message;
    warnings.insert(warnings.end(), r.warnings.begin(), r.warnings.end());
  }
  std::string out;
  auto objects = [](const State& s) {
    std::map<std::string, Json> m;
    for (const auto& [f, e] : s.objects())
      if (!e.effective.is_null()) m[std::string(f.str())] = normalized(*e.effective);
    return m;
  };
  auto mine = objects(state_), theirs = objects(fresh.state_);
  for (const auto& [f, o] : mine) {
    auto it = theirs.find(f);
    if (it == theirs.end()) out += "only in the incremental state: " + describe_fact(f) + "\n";
    else if (it->second != o)
      out += "differs: " + describe_fact(f) + "\n  incremental: " + o.dump() + "\n  recomputed:  " + it->second.dump() + "\n";
  }
  for (const auto& [f, o] : theirs)
    if (!mine.count(f)) out += "missing from the incremental state: " + describe_fact(f) + "\n";
  for (const auto* e : state_.tuples_in_order())
    if (e->second.exists() && !fresh.state_.tuple(e->first))
      out += "only in the incremental state: " + describe_fact(e->first.str()) + "\n";
  for (const auto* e : fresh.state_.tuples_in_order())
    if (e->second.exists() && !state_.tuple(e->first))
      out += "missing from the incremental state: " + describe_fact(e->first.str()) + "\n";
  // A search reads an object's name, cluster and namespace from its key
  // (Evaluator::object_ok), and rules read them from its metadata: the
  // two must agree.
  for (const auto& [f, e] : state_.objects()) {
    if (e.effective.is_null()) continue;
    const ObjectKeyView id = e.key();
    const Json* md = find_fields(*e.effective, {"metadata"});
    auto is = [&](const char* field, std::string_view want) {
      const Json* v = md && md->is_object() ? find_fields(*md, {field}) : nullptr;
      return v && v->is_string() && v->get_ref<const std::string&>() == want;
    };
    if (!is("name", id.name) || !is("cluster", id.cluster) || (!id.ns.empty() && !is("namespace", id.ns)))
      out += "metadata names it otherwise: " + describe_fact(f.str()) + ": " + (md ? md->dump() : "none") + "\n";
  }
  // What went wrong while recomputing explains most differences.
  if (!out.empty())
    for (const auto& w : warnings) out += "recomputation warning: " + w + "\n";
  return out;
}

std::string Engine::explain(std::string_view fact) const {
  std::string out;
  std::set<std::string> seen;
  std::function<void(std::string_view, int)> walk = [&](std::string_view f, int depth) {
    std::string pad(static_cast<size_t>(depth) * 2, ' ');
    out += pad + describe_fact(f);
    if (!seen.emplace(f).second) {
      out += " (see above)\n";
      return;
    }
    std::vector<std::pair<std::string, MatchKey>> why;  // (what, match)
    if (is_object_fact(f)) {
      const ObjectEntry* e = state_.object(f);
      if (!e || e->effective.is_null()) {
        out += ": does not exist\n";
        return;
      }
      out += e->user_owned ? ": written by a user\n" : e->has_base() ? ": with fields written by a user\n" : "\n";
      for (const auto& [mk, part] : e->derived) why.emplace_back("derived", mk);
      for (const auto& [mk, parts] : e->fields)
        for (const auto& p : parts) why.emplace_back(std::string(p.add() ? "adds to " : p.order() ? "orders " : "sets ") + to_string(*p.path()), mk);
    } else {
      const TupleEntry* t = state_.tuple(f);
      if (!t || !t->exists()) {
        out += ": does not hold\n";
        return;
      }
      out += t->base() ? ": given by a user\n" : "\n";
      for (const auto& mk : t->supports) why.emplace_back("derived", mk);
    }
    for (const auto& [what, mk] : why) {
      const Match* m = state_.match(mk);
      if (!m) continue;
      const auto& r = *rules_[static_cast<size_t>(m->rule())].info->rule;
      auto lc = r.name_span.file->position(r.name_span.begin);
      out += pad + "  " + what + " by rule " + r.name + " (" + r.name_span.file->path + ":" + std::to_string(lc.line) +
             ") from:\n";
      for (const auto& p : m->positives()) walk(p, depth + 2);
    }
  };
  walk(fact, 0);
  return out;
}

std::string Engine::explain_absent(const ObjectKey& key) const {
  std::string out = key.to_string() + " does not exist.\n";
  bool any = false;
  for (const auto& rt : rules_) {
    for (const auto& h : rt.info->rule->heads) {
      if (h.kind != HeadKind::kDeriveObject || h.object_kind.name != key.kind) continue;
      any = true;
      Bindings b;
      b.slots.resize(rt.info->vars.size());
      size_t matches = 0;
      try {
        evaluator_->run(rt.bound->full(), rt, b, nullptr, [&](Bindings&) {
          ++matches;
          return true;
        });
      } catch (const EvalError& e) {
        out += "  rule " + rt.info->rule->name + ": evaluation error: " + e.what() + "\n";
        continue;
      }
      if (matches > 0) {
        out += "  rule " + rt.info->rule->name + " matches " + std::to_string(matches) +
               " time(s), but none derives this name\n";
        continue;
      }
      size_t step = evaluator_->deepest_step;
      const auto& steps = rt.plan->full.steps;
      std::string what = step < steps.size() ? steps[step].item->span.file->text.substr(
                                                   steps[step].item->span.begin,
                                                   steps[step].item->span.end - steps[step].item->span.begin)
                                             : "its heads";
      out += "  rule " + rt.info->rule->name + ": `" + what + "` found nothing\n";
    }
  }
  if (!any) out += "  no rule derives a " + key.kind + "\n";
  return out;
}

}  // namespace pmesh::engine
