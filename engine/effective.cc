// The Engine methods that compose effective objects and apply users' writes.
#include "engine/engine.h"
#include "engine/schema_validation.h"

#include <algorithm>

#include "dsl/object_model.h"
#include "engine/object_parts.h"
#include "stdlib/builtins.h"

namespace pmesh::engine {

namespace {

// The winning part of each editable field (highest priority; a tie of
// different values is the conflict build_effective reports).
std::map<JsonPath, const FieldPart*> editable_fields(const ObjectEntry& e) {
  std::map<JsonPath, const FieldPart*> out;
  for (const auto& [mk, parts] : e.fields)
    for (const auto& p : parts)
      if (p.editable()) {
        auto [it, first] = out.try_emplace(*p.path(), &p);
        if (!first && p.priority() > it->second->priority()) it->second = &p;
      }
  return out;
}

// Whether two values, either of which may be absent (null pointers), are
// the same.
bool same(const Json* a, const Json* b) { return a == b || (a && b && *a == *b); }

const Json* member(const Json* v, const std::string& key) {
  if (!v || !v->is_object()) return nullptr;
  auto it = v->find(key);
  return it == v->end() ? nullptr : &*it;
}

// The schema of what is at `path` in an object of `schema`, or null.
const Json* schema_at(const Json& schema, const JsonPath& path) {
  const Json* node = &schema;
  for (const auto& e : path) {
    const Json* props = member(node, "properties");
    if (e.list_key) node = member(node, "items");
    else if (const Json* p = member(props, e.field)) node = p;
    else node = member(node, "additionalProperties");
    if (!node) return nullptr;
  }
  return node;
}

// The fields that identify an element of the list at `path` of `d`'s
// objects, as kube's merges identify them: the schema's
// x-kubernetes-list-map-keys (kcp keys a claim by group and resource), else
// the kind's listKeys field; none for a list that is not keyed.
std::vector<std::string> element_keys(const dsl::KindDecl& d, const JsonPath& path) {
  std::vector<std::string> keys;
  if (const Json* s = d.schema ? schema_at(*d.schema, path) : nullptr)
    if (const Json* k = member(s, "x-kubernetes-list-map-keys"); k && k->is_array())
      for (const auto& f : *k)
        if (f.is_string()) keys.push_back(f.get<std::string>());
  if (keys.empty())
    if (auto lk = d.list_keys.find(to_string(path)); lk != d.list_keys.end()) keys.push_back(lk->second);
  return keys;
}

// `element` as the server defaults it in the list at `path` of `d`'s
// objects: how a user's write-back holds what a rule added there.
Json defaulted_element(const dsl::KindDecl* d, const JsonPath& path, const Json& element) {
  if (!d || !d->schema_defaults) return element;
  Json probe = Json::object();
  set_at(probe, path, Json::array({element}));
  apply_schema_defaults(*d->schema_defaults, probe);
  const Json* list = find_at(probe, path);
  return list && list->is_array() && list->size() == 1 ? (*list)[0] : element;
}

// Drops from `mine` (what a user wrote at an editable field) each leaf whose
// rules' value (`now`) is no longer the one the user saw (`seen`): the
// three-way merge's "the source changed this field since". Returns whether
// nothing of `mine` is left.
bool drop_stale(Json& mine, const Json* now, const Json* seen) {
  if (mine.is_object() && !mine.empty() && (!now || now->is_object()) && (!seen || seen->is_object())) {
    for (auto it = mine.begin(); it != mine.end();) {
      if (drop_stale(*it, member(now, it.key()), member(seen, it.key()))) it = mine.erase(it);
      else ++it;
    }
    return mine.empty();
  }
  return !same(now, seen);
}

// Takes out of `seen` (the rules' value a user saw at an editable field)
// each leaf the user removed (absent from `mine`) whose rules' value (`now`)
// changed since: the removal held while the source did not change that
// field, and the rules' value is back for good. Returns whether `seen`
// changed.
bool forget_stale_removals(Json& seen, const Json& mine, const Json* now) {
  if (!seen.is_object() || !mine.is_object()) return false;
  bool changed = false;
  for (auto it = seen.begin(); it != seen.end();) {
    auto m = mine.find(it.key());
    if (m == mine.end()) {
      if (!same(member(now, it.key()), &*it)) {
        it = seen.erase(it);
        changed = true;
        continue;
      }
    } else {
      changed |= forget_stale_removals(*it, *m, member(now, it.key()));
    }
    ++it;
  }
  return changed;
}

// Fills in under `into` what `over` has and `into` lacks: the rules' value
// of an editable field around what a user wrote there; not what the user
// removed (in `seen`, what they saw, and not in what they wrote), which
// settle_editable keeps in `seen` only while the rules' value is the same.
void fill_missing(Json& into, const Json& over, const Json* seen) {
  if (!into.is_object() || !over.is_object()) return;
  for (const auto& [k, v] : over.items()) {
    auto it = into.find(k);
    if (it == into.end()) {
      if (!same(member(seen, k), &v)) into[k] = v;
    } else {
      fill_missing(*it, v, member(seen, k));
    }
  }
}
}  // namespace

// What a user wrote at an editable field stays only while the rules' value
// there is the one they saw when they wrote it; a leaf the rules changed
// since is the rules' again, and stays theirs (a later change back to the
// value the user saw does not bring the user's value back). This is the
// api-syncagent's three-way merge, with `editable_seen` as its last known
// state.
void Engine::settle_editable(ObjectEntry& e) const {
  if (!e.has_base()) return;
  auto editable = editable_fields(e);
  if (editable.empty()) return;
  std::optional<Json> base, seen_all;
  for (const auto& [path, part] : editable) {
    const std::string key = path_key(path);
    const Json* now = &*part->value();
    const Json* seen = e.editable_seen ? member(e.editable_seen.get(), key) : nullptr;
    std::optional<Json> kept;
    if (const Json* mine = find_at(base ? *base : *e.base, path)) {
      kept = *mine;
      bool gone = drop_stale(*kept, now, seen);
      if (gone || *kept != *mine) {
        if (!base) base = *e.base;
        if (gone) remove_at(*base, path);
        else set_at(*base, path, *kept);
      }
      if (gone) kept.reset();
    }
    if (!seen) continue;
    // What the user left out of what they wrote (all of the field, or
    // leaves of it), having seen the rules' value, stays out until that
    // value changes; an edit the rules' change undid (above) is theirs
    // again for good.
    // (Leaf by leaf where it is an object: all of it gone is every leaf
    // left out.)
    static const Json kNone = Json::object();
    const Json& left = kept ? *kept : kNone;
    Json s = *seen;
    bool whole = !s.is_object() || !left.is_object();
    bool forget = whole ? !same(seen, now) : forget_stale_removals(s, left, now);
    if (!forget) continue;
    if (!seen_all) seen_all = *e.editable_seen;
    if (whole) seen_all->erase(key);
    else (*seen_all)[key] = std::move(s);
  }
  if (base) e.base = std::move(*base);
  if (seen_all) e.editable_seen = std::make_shared<const Json>(std::move(*seen_all));
}

using dsl::BodyItemKind;
using dsl::HeadKind;

// ---- Effective objects ---------------------------------------------------------

Json Engine::build_effective(const FactKey& fact, const ObjectEntry& e, const Json& prev) {
  // Rules that disagree while they run may agree once all have seen the
  // same state: until then the object takes one of the values, and the
  // disagreement is looked at again at rest (check_conflicts).
  auto disagree = [&](TxnError conflict) {
    if (txn_.at_rest) throw conflict;
    txn_.conflicted.insert(fact);
  };
  // An object recomputed is hot: what it reads of a base or part held as
  // CBOR is kept until it goes cold again (cold_objects.cc).
  Json eff = e.has_base() ? *e.base : Json::object();
  std::string conflict;
  std::string first_rule;
  for (const auto& [mk, part] : e.derived) {
    std::string before = conflict;
    merge_checked(eff, *part, "", &conflict);
    int rule = mk.rule();
    if (first_rule.empty()) first_rule = rules_[static_cast<size_t>(rule)].info->rule->name;
    if (before.empty() && !conflict.empty())
      disagree(TxnError{"Conflict",
                        "rules derive " + e.key().to_string() + " with different values of " + conflict,
                        {first_rule, rules_[static_cast<size_t>(rule)].info->rule->name}});
  }
  // Set fields: by path, the highest priority wins; `+=` adds every element.
  // Each kind of part in path order (a field before those under it), the
  // parts of one path together, by pointer: grouping copies no path (and
  // paths are interned, so equal ones are mostly one pointer).
  using Parts = std::vector<const FieldPart*>;
  Parts by_path, editable, orders, adds;
  for (const auto& [mk, parts] : e.fields)
    for (const auto& p : parts) (p.add() ? adds : p.order() ? orders : p.editable() ? editable : by_path).push_back(&p);
  for (Parts* kind : {&by_path, &editable, &orders})
    std::stable_sort(kind->begin(), kind->end(), [](const FieldPart* a, const FieldPart* b) {
      return a->path() != b->path() && *a->path() < *b->path();
    });
  // Calls fn(path, winner) for each path of `parts` (sorted as above).
  auto for_each_winner = [&](const Parts& parts, const auto& fn) {
    for (size_t i = 0; i < parts.size();) {
      size_t end = i + 1;
      while (end < parts.size() && (parts[end]->path() == parts[i]->path() || *parts[end]->path() == *parts[i]->path())) ++end;
      const FieldPart* win = parts[i];
      for (size_t j = i; j < end; ++j)
        if (parts[j]->priority() > win->priority()) win = parts[j];
      for (size_t j = i; j < end; ++j)
        if (parts[j] != win && parts[j]->priority() == win->priority() && parts[j]->value() != win->value()) {
          disagree(TxnError{"Conflict",
                            "rules set " + to_string(*win->path()) + " of " + e.key().to_string() + " to different values",
                            {rules_[static_cast<size_t>(win->rule())].info->rule->name,
                             rules_[static_cast<size_t>(parts[j]->rule())].info->rule->name}});
          break;
        }
      fn(*win->path(), *win);
      i = end;
    }
  };
  // (A large value a reopen read back is held as its bytes: read for the
  // copy, not kept.)
  for_each_winner(by_path, [&](const JsonPath& path, const FieldPart& win) {
    win.value().visit([&](const Json& v) { set_at(eff, path, v); });
  });
  std::sort(adds.begin(), adds.end(), [](const FieldPart* a, const FieldPart* b) {
    return std::tie(*a->path(), a->value()) < std::tie(*b->path(), b->value());
  });
  const dsl::KindDecl* d = e.decl ? e.decl : decl_of(e.key());
  for (const auto* p : adds) {
    // Into a keyed list, an element whose key is there (the user's, or an
    // earlier one's) is not added: the list holds one entry per key. The
    // element defaulted first, as the user's are: a key field left to its
    // default is that default.
    add_at(eff, *p->path(), defaulted_element(d, *p->path(), *p->value()), element_keys(*d, *p->path()));
  }
  // Editable fields: what a user wrote there (as settle_editable left it),
  // the rules' value around it.
  for_each_winner(editable, [&](const JsonPath& path, const FieldPart& win) {
    const Json& rules = *win.value();
    if (rules.is_null()) return;
    const Json* seen = e.editable_seen ? member(e.editable_seen.get(), path_key(path)) : nullptr;
    if (Json* mine = find_at(eff, path)) {
      fill_missing(*mine, rules, seen);
    } else if (!e.has_base() || !seen) {
      set_at(eff, path, rules);
    } else if (rules.is_object() && seen->is_object()) {
      // The user wrote none of it: what they did not remove.
      Json left = Json::object();
      fill_missing(left, rules, seen);
      if (!left.empty()) set_at(eff, path, std::move(left));
    } else if (!same(seen, &rules)) {
      set_at(eff, path, rules);
    }
  });
  // The kind's defaults, as kube-apiserver defaults what a controller
  // writes: a reader sees what it would see there, and a user's write-back
  // (defaulted by the server) of a field a rule sets compares equal to the
  // rule's value even when the rule left a defaulted field out.
  if (d->schema_defaults) apply_schema_defaults(*d->schema_defaults, eff);
  // Orders last: they sort what everyone wrote into the list, defaulted
  // (a claim that leaves `group` out sorts as "", as kube stores it).
  for_each_winner(orders, [&](const JsonPath& path, const FieldPart& win) {
    if (auto order = dsl::list_order(*win.value())) order_at(eff, path, *order);
  });

  eff["apiVersion"] = d->api_version();
  eff["kind"] = d->name;
  Json& md = eff["metadata"];
  if (!md.is_object()) md = Json::object();
  e.key().name_in(md);
  set_string(md["uid"], e.uid());
  set_string(md["creationTimestamp"], e.created());
  md["generation"] = e.generation;
  if (e.resource_version) md["resourceVersion"] = std::to_string(e.resource_version);
  // (Each member looked up once: this runs for every recomputed object.)
  for (const char* k : {"labels", "annotations"})
    if (auto it = md.find(k); it != md.end() && it->is_object() && it->empty()) md.erase(it);
  for (const char* k : {"finalizers", "ownerReferences"})
    if (auto it = md.find(k); it != md.end() && it->is_array() && it->empty()) md.erase(it);
  // Conditions keep their lastTransitionTime until their status changes.
  Json* conds = nullptr;
  if (auto status = eff.find("status"); status != eff.end() && status->is_object())
    if (auto c = status->find("conditions"); c != status->end()) conds = &*c;
  if (conds && conds->is_array()) {
    static const std::vector<std::string> kConditions = {"status", "conditions"};
    const Json* old = find_fields(prev, kConditions);
    // A member, or null: compared where it lives (value() copied it).
    auto field = [](const Json& o, const char* k) -> const Json& {
      auto it = o.find(k);
      return it == o.end() ? kNullJson : *it;
    };
    for (auto& c : *conds) {
      if (!c.is_object() || c.contains("lastTransitionTime")) continue;
      const Json* kept = nullptr;
      if (old && old->is_array())
        for (const auto& o : *old)
          if (o.is_object() && field(o, "type") == field(c, "type") && field(o, "status") == field(c, "status"))
            if (auto l = o.find("lastTransitionTime"); l != o.end()) kept = &*l;
      c["lastTransitionTime"] = kept ? kept->get<std::string>() : txn_.now;
    }
  }
  return eff;
}

void Engine::check_conflicts() {
  txn_.at_rest = true;
  for (const auto& fact : txn_.conflicted)
    if (const ObjectEntry* e = state_.object(fact); e && !e->effective.is_null()) build_effective(fact, *e, *e->effective);
  txn_.at_rest = false;
  txn_.conflicted.clear();
}

void Engine::recompute_object(const FactKey& fact, ObjectEntry e) {
  note_before(fact);
  settle_editable(e);
  const ObjectEntry* cur = state_.object(fact);
  // The current version: shared, so it outlives its entry's replacement.
  const SharedJson prev_shared = cur ? cur->effective : SharedJson();
  const Json& prev = *prev_shared;
  bool supported = (e.has_base() && e.user_owned) || !e.derived.empty();
  Json eff;
  if (supported || !prev.is_null()) {
    if (prev.is_null()) {
      e.set_uid(make_uid(fact));
      e.set_created(txn_.now);
      if (history_)
        if (const ObjectEntry* h = history_->state_.object(fact)) e.set_created(h->created());
    }
    // generation: one more than committed when anything but metadata and status changed.
    const Json& was = *txn_.before[fact];
    Json draft = build_effective(fact, e, prev);
    int64_t committed_gen = was.is_null() ? 0 : find_fields(was, {"metadata", "generation"})->get<int64_t>();
    bool spec_changed = was.is_null() || !equal_except(was, draft, {"metadata", "status"});
    int64_t gen = was.is_null() ? 1 : committed_gen + (spec_changed ? 1 : 0);
    // A recomputation keeps the generations it recomputes (rules read them).
    if (history_)
      if (const ObjectEntry* h = history_->state_.object(fact); h && !h->effective.is_null()) gen = h->generation;
    if (gen != e.generation) {
      e.generation = gen;
      draft["metadata"]["generation"] = gen;
    }
    eff = std::move(draft);
    if (!supported && e.deleting().empty()) {
      // A derived object that lost its support keeps its last derived fields
      // while finalizers hold it.
      Json frozen = e.has_base() ? e.base.copy() : Json::object();
      if (cur)
        for (const auto& [mk, part] : cur->derived) part.visit([&](const Json& f) { deep_merge(frozen, f); });
      e.base = std::move(frozen);
      e.set_deleting(txn_.now);
      eff = build_effective(fact, e, prev);
      eff["metadata"]["generation"] = e.generation;
    }
    if (!e.deleting().empty()) {
      eff["metadata"]["deletionTimestamp"] = std::string(e.deleting());
      if (finalizers_of(eff).empty() && (txn_.restoring || txn_.deferred.count(fact))) {
        txn_.deferred.insert(fact);
      } else if (finalizers_of(eff).empty()) {
        // Gone: no finalizer holds it any more.
        eff = nullptr;
        e.base = SharedJson();
        e.user_owned = false;
        e.set_stamps("", e.created(), "");
        e.generation = 0;
        e.resource_version = 0;
      }
    }
  }
  bool changed = eff != prev;
  const Json* now = &kNullJson;
  if (eff.is_null() && e.derived.empty() && e.fields.empty() && !e.has_base()) {
    if (cur) state_.erase_object(fact);
  } else {
    e.effective = std::move(eff);
    state_.put_object(fact, std::move(e));
    now = &*state_.object(fact)->effective;
  }
  if (changed) fact_changed(fact, prev, *now);
  // A derived object removed while still supported (its finalizers let go
  // of an old incarnation) comes back as a new object.
  if (now->is_null() && !prev.is_null()) {
    const ObjectEntry* again = state_.object(fact);
    if (again && !again->derived.empty()) recompute_object(fact, *again);
  }
}

// A rule's change of an object's parts makes a new effective form, and
// the rules that read what changed search and run again. Several rules in
// a row often set parts of one object (an account's conditions), and the
// rules between them read other parts: each change is kept unsettled until
// a rule that reads what it may change runs (run_to_fixpoint), and the
// object is then recomputed once. What it may change is what the rule's
// heads write (object_writes_), known before it runs; so only changes of an
// object that exists and stays wait, not its coming or going (which every
// reader of the kind sees), nor objects of kinds that change what the
// engine serves (the next heads may derive them).
bool Engine::settle_later(int rule, const FactKey& fact, ObjectEntry& e) {
  if (!txn_.settle_later || txn_.restoring) return false;
  const auto& writes = object_writes_[static_cast<size_t>(rule)];
  const std::string kind(e.key().kind);
  auto w = writes.find(kind);
  // A run-time kind's objects are read by `resource(g, r)` patterns too.
  if (w == writes.end() || Kinds::binds_kinds(kind) || kind.find('.') != std::string::npos) return false;
  // `e` is the current entry with its parts changed: its effective form
  // and deletion are the object's as it is.
  bool supported = (e.has_base() && e.user_owned) || !e.derived.empty();
  if (e.effective.is_null() || !e.deleting().empty() || !supported) return false;
  Transaction::Unsettled& u = txn_.unsettled[kind];
  u.parts.add(w->second);
  // A field the kind's system fields are under changes them too.
  if (e.decl)
    for (const auto& f : e.decl->system_fields)
      for (const auto& s : w->second.sections)
        if (f.starts_with(s + ".")) u.parts.sections.insert(f);
  state_.put_object(fact, std::move(e));
  u.objects.insert(fact);
  return true;
}

bool Engine::settle_objects(int rule) {
  bool settled = false;
  for (auto it = txn_.unsettled.begin(); it != txn_.unsettled.end();) {
    if (rule >= 0) {
      const auto& reads = object_reads_[static_cast<size_t>(rule)];
      auto r = reads.find(it->first);
      if (r == reads.end() || !r->second.reads(it->second.parts)) {
        ++it;
        continue;
      }
    }
    // Out of the map first: what the recomputations wake only queues work.
    std::set<FactKey, FactKeyOrder> objects = std::move(it->second.objects);
    it = txn_.unsettled.erase(it);
    for (const FactKey& fact : objects)
      if (const ObjectEntry* e = state_.object(fact)) recompute_object(fact, *e);
    settled = true;
  }
  return settled;
}

// ---- Schemas of what rules derive ---------------------------------------------------

namespace {

// The form of `path` kube's field errors use ("status.conditions[2]"),
// resolving keyed list entries to their index in `doc`.
std::string field_path(const Json& doc, const JsonPath& path) {
  std::string out;
  const Json* cur = &doc;
  for (const auto& e : path) {
    if (e.list_key) {
      const Json* entry = cur ? find_at(*cur, JsonPath{e}) : nullptr;
      size_t i = 0;
      while (entry && &(*cur)[i] != entry) ++i;
      if (!entry) return out;
      out += "[" + std::to_string(i) + "]";
      cur = &(*cur)[i];
    } else {
      out += (out.empty() ? "" : ".") + e.field;
      cur = cur && cur->is_object() && cur->contains(e.field) ? &(*cur)[e.field] : nullptr;
    }
  }
  return out;
}

// The paths of the leaves of what a derive sets.
void leaf_paths(const Json& v, const std::string& at, std::vector<std::string>* out) {
  if (v.is_object() && !v.empty()) {
    for (auto it = v.begin(); it != v.end(); ++it)
      if (!at.empty() || it.key() != "metadata") leaf_paths(*it, at.empty() ? it.key() : at + "." + it.key(), out);
  } else if (!at.empty()) {
    out->push_back(at);
  }
}

bool under(const std::string& field, const std::string& prefix) {
  return field.compare(0, prefix.size(), prefix) == 0 &&
         (field.size() == prefix.size() || field[prefix.size()] == '.' || field[prefix.size()] == '[');
}

}  // namespace

void Engine::check_derived_schemas() {
  for (const auto& [fact, before] : txn_.before) {
    const ObjectEntry* e = state_.object(fact);
    // Users' own objects are checked where they are written; what did not
    // change, down to a top-level section, is as valid as it was.
    if (!e || e->effective.is_null() || (e->derived.empty() && e->fields.empty()) || e->effective == before) continue;
    const dsl::KindDecl* d = e->decl ? e->decl : decl_of(e->key());
    if (!d || !d->schema) continue;
    FieldErrors all = validate_changes_against_schema(d->schema, *before, *e->effective);
    if (all.empty()) continue;
    // Each rule answers for the fields it contributes; the rules that derive
    // an object, for the rest of it. What users wrote is checked where they
    // write it.
    std::vector<std::pair<std::string, std::string>> owned;  // path, rule
    std::set<std::string> deriving;
    auto rule_name = [&](int rule) { return rules_[static_cast<size_t>(rule)].info->rule->name; };
    for (const auto& [mk, parts] : e->fields)
      for (const auto& p : parts) owned.emplace_back(field_path(*e->effective, *p.path()), rule_name(p.rule()));
    for (const auto& [mk, part] : e->derived) {
      std::vector<std::string> leaves;
      part.visit([&](const Json& f) { leaf_paths(f, "", &leaves); });
      for (auto& l : leaves) owned.emplace_back(std::move(l), rule_name(mk.rule()));
      deriving.insert(rule_name(mk.rule()));
    }
    // What the user wrote, as the server stored it: a problem it has alone
    // is the user's (checked where they wrote it); one it has not, the
    // rules made by adding to it (a duplicate key, a list past maxItems).
    std::optional<FieldErrors> users;
    auto users_own = [&](const FieldError& f) {
      if (!e->has_base()) return false;
      if (!users) {
        Json alone = e->base.copy();
        if (d->schema_defaults) apply_schema_defaults(*d->schema_defaults, alone);
        users = validate_against_schema(d->schema, alone);
      }
      return std::any_of(users->begin(), users->end(), [&](const FieldError& u) { return u.message() == f.message(); });
    };
    std::set<std::string> names;
    std::string problems;
    for (const auto& f : all) {
      if (e->user_owned && users_own(f)) continue;
      std::set<std::string> by;
      for (const auto& [path, rule] : owned)
        if (!path.empty() && under(f.field, path)) by.insert(rule);
      if (by.empty() && !e->user_owned) by = deriving;
      if (by.empty() && e->user_owned) {
        // The rules that wrote into the field the problem is of (or into
        // the list whose entry it is), else all that wrote the object.
        std::string list = !f.field.empty() && f.field.back() == ']' ? f.field.substr(0, f.field.rfind('[')) : f.field;
        for (const auto& [path, rule] : owned)
          if (!path.empty() && (under(path, f.field) || under(path, list))) by.insert(rule);
        if (by.empty())
          for (const auto& [path, rule] : owned) by.insert(rule);
      }
      if (by.empty()) continue;
      names.insert(by.begin(), by.end());
      problems += (problems.empty() ? "" : ", ") + f.message();
    }
    if (names.empty()) continue;
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    throw TxnError{"DerivedInvalid",
                   e->key().to_string() + " as rule" + (names.size() > 1 ? "s " : " ") + list + " derive" +
                       (names.size() > 1 ? "" : "s") + " it is invalid: " + problems,
                   std::vector<std::string>(names.begin(), names.end())};
  }
}

// ---- User operations -------------------------------------------------------------

void Engine::user_op(const Op& op) {
  auto owned_by = [&](const ObjectEntry& e, const JsonPath& path) {
    for (const auto& [mk, parts] : e.fields)
      for (const auto& p : parts)
        if (*p.path() == path && !p.order()) return rules_[static_cast<size_t>(p.rule())].info->rule->name;
    for (const auto& [mk, part] : e.derived) {
      (void)part;
      return rules_[static_cast<size_t>(mk.rule())].info->rule->name;
    }
    return std::string();
  };
  switch (op.type) {
    case Op::Type::kCreate:
    case Op::Type::kUpdate:
    case Op::Type::kRestore: {
      std::string error;
      // A restore may name the key it had: an object stays under the kind
      // it was stored as, even when its cluster now serves that kind's
      // name under another resource (a binding's schema changed).
      auto key = op.type == Op::Type::kRestore && !op.key.kind.empty() ? std::optional<ObjectKey>(op.key)
                                                                        : key_of(op.object, "", &error);
      if (!key) throw TxnError{"Invalid", error, {}};
      std::string fact = object_fact(*key);
      ObjectEntry e = state_.object_copy(fact);
      e.decl = decl_of(*key);
      if (!e.decl && op.type == Op::Type::kRestore) {
        const Json* api = find_fields(op.object, {"apiVersion"});
        e.decl = kinds_.ever_bound(key->kind, api && api->is_string() ? api->get<std::string>() : "");
        if (!e.decl) throw TxnError{"Invalid", "unknown kind " + key->kind + " of " + key->to_string(), {}};
      }
      bool exists = !e.effective.is_null();
      if (op.type == Op::Type::kCreate && exists)
        throw TxnError{"AlreadyExists", key->to_string() + " already exists", {}};
      if (op.type == Op::Type::kUpdate && !exists) throw TxnError{"NotFound", key->to_string() + " not found", {}};
      Json base = op.object;
      base.erase("apiVersion");
      base.erase("kind");
      if (base.contains("metadata") && base["metadata"].is_object())
        for (const char* k : {"uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
                              "cluster", "managedFields", "selfLink", "name", "namespace"})
          base["metadata"].erase(k);
      // Fields a rule owns: the same value or nothing is fine, another value is refused.
      std::vector<JsonPath> owned;
      for (const auto& [mk, parts] : e.fields)
        for (const auto& p : parts)
          if (!p.editable() && !p.order()) owned.push_back(*p.path());
      for (const auto& [mk, part] : e.derived) {
        JsonPath prefix;
        part.visit([&](const Json& fields) { leaf_paths(fields, prefix, owned); });
      }
      for (const auto& path : owned) {
        const Json* mine = find_at(base, path);
        if (!mine) continue;
        const Json* theirs = find_at(*e.effective, path);
        bool add = false;
        for (const auto& [mk, parts] : e.fields)
          for (const auto& p : parts) add |= p.add() && *p.path() == path;
        if (!add && theirs && *mine != *theirs && op.type != Op::Type::kRestore)
          throw TxnError{"Conflict",
                         "field " + to_string(path) + " of " + key->to_string() + " is managed by rule " +
                             owned_by(e, path) + "; it cannot be set to another value",
                         {owned_by(e, path)}};
        if (!add) {
          remove_at(base, path);
        } else if (Json* list = find_at(base, path); list && list->is_array()) {
          // Elements rules add are theirs: a write that echoes them back (a
          // read-modify-write of the whole object) does not adopt them.
          // Compared as the server defaulted the user's (build_effective
          // defaults the rules').
          for (const auto& [mk, parts] : e.fields)
            for (const auto& p : parts)
              if (p.add() && *p.path() == path) {
                Json added = defaulted_element(e.decl, path, *p.value());
                list->erase(std::remove(list->begin(), list->end(), added), list->end());
              }
          if (list->empty()) remove_at(base, path);
        }
      }
      e.base = std::move(base);
      // What the user saw of the editable fields: their values stay until
      // the rules' values change (settle_editable).
      if (op.type == Op::Type::kRestore) {
        e.editable_seen = op.editable_seen;
      } else {
        Json seen = Json::object();
        for (const auto& [path, part] : editable_fields(e)) seen[path_key(path)] = *part->value();
        e.editable_seen = seen.empty() ? nullptr : std::make_shared<const Json>(std::move(seen));
      }
      if (op.type == Op::Type::kCreate) e.user_owned = true;
      if (op.type == Op::Type::kRestore) e.user_owned = !op.overlay;
      if (op.type == Op::Type::kRestore) {
        const Json* del = find_fields(op.object, {"metadata", "deletionTimestamp"});
        if (del && del->is_string()) e.set_deleting(del->get<std::string>());
      }
      recompute_object(FactKey(fact), std::move(e));
      break;
    }
    case Op::Type::kDelete: {
      std::string fact = object_fact(op.key);
      const ObjectEntry* cur = state_.object(fact);
      if (!cur || cur->effective.is_null()) throw TxnError{"NotFound", op.key.to_string() + " not found", {}};
      ObjectEntry e = *cur;
      if (!e.derived.empty()) {
        std::string rule = owned_by(e, {});
        throw TxnError{"Conflict",
                       op.key.to_string() + " is derived by rule " + rule +
                           "; it goes when what it is derived from goes",
                       {rule}};
      }
      if (!finalizers_of(*e.effective).empty()) {
        if (e.deleting().empty()) e.set_deleting(txn_.now);
      } else {
        e.base = SharedJson();
        e.user_owned = false;
      }
      recompute_object(FactKey(fact), std::move(e));
      break;
    }
    case Op::Type::kAddTuple:
    case Op::Type::kRemoveTuple: {
      std::string fact = tuple_fact(op.relation, op.args);
      const TupleEntry* cur = state_.tuple(fact);
      TupleEntry e = cur ? *cur : TupleEntry{};
      bool existed = e.exists();
      if (!txn_.tuple_before.count(fact)) txn_.tuple_before.emplace(FactKey(fact), existed);
      e.set_base(op.type == Op::Type::kAddTuple);
      state_.put_tuple(fact, e);
      note_logged(op.relation, FactKey(fact));
      if (existed != e.exists()) tuple_changed(FactKey(fact));
      break;
    }
  }
}

}  // namespace pmesh::engine
