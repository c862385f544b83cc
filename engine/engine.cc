#include "engine/engine.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "dsl/object_model.h"
#include "stdlib/builtins.h"

namespace pmesh::engine {

using dsl::BodyItemKind;
using dsl::HeadKind;

namespace {

std::string wall_clock() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string match_key(int rule, const std::vector<std::string>& positives) {
  std::string k = std::to_string(rule);
  for (const auto& p : positives) k += '\x1e' + p;
  return k;
}

// The parts of an object that a rule can read separately: metadata's
// writable parts, metadata itself, and each top-level section.
std::set<std::string> changed_sections(const Json& a, const Json& b) {
  std::set<std::string> out;
  if (a.is_null() || b.is_null()) {
    out.insert("*");
    return out;
  }
  std::set<std::string> keys;
  for (const auto& [k, v] : a.items()) keys.insert(k);
  for (const auto& [k, v] : b.items()) keys.insert(k);
  for (const auto& k : keys) {
    const Json& x = a.contains(k) ? a[k] : Json();
    const Json& y = b.contains(k) ? b[k] : Json();
    if (x == y) continue;
    if (k != "metadata") {
      out.insert(k);
      continue;
    }
    std::set<std::string> mk;
    if (x.is_object()) for (const auto& [m, v] : x.items()) mk.insert(m);
    if (y.is_object()) for (const auto& [m, v] : y.items()) mk.insert(m);
    for (const auto& m : mk) {
      const Json& p = x.is_object() && x.contains(m) ? x[m] : Json();
      const Json& q = y.is_object() && y.contains(m) ? y[m] : Json();
      if (p == q || m == "resourceVersion") continue;
      bool part = m == "labels" || m == "annotations" || m == "finalizers" || m == "ownerReferences";
      out.insert(part ? "metadata." + m : "metadata");
    }
  }
  return out;
}

// Merges a derive's fields into an object; two derives that disagree on a
// value are a conflict.
void merge_checked(Json& into, const Json& over, const std::string& path, std::string* conflict) {
  if (!into.is_object() || !over.is_object()) {
    if (!into.is_null() && into != over && conflict->empty()) *conflict = path;
    into = over;
    return;
  }
  for (const auto& [k, v] : over.items()) {
    auto it = into.find(k);
    if (it == into.end()) into[k] = v;
    else merge_checked(*it, v, path.empty() ? k : path + "." + k, conflict);
  }
}

const Json& finalizers_of(const Json& obj) {
  static const Json kEmpty = Json::array();
  const Json* f = find_fields(obj, {"metadata", "finalizers"});
  return f && f->is_array() ? *f : kEmpty;
}

Json without(const Json& obj, std::initializer_list<const char*> keys) {
  Json out = obj;
  for (const char* k : keys) out.erase(k);
  return out;
}

// Every leaf path of a derive's fields: what the rule owns.
void leaf_paths(const Json& v, JsonPath& prefix, std::vector<JsonPath>& out) {
  if (!v.is_object() || v.empty()) {
    out.push_back(prefix);
    return;
  }
  for (const auto& [k, x] : v.items()) {
    PathElem e;
    e.field = k;
    prefix.push_back(e);
    leaf_paths(x, prefix, out);
    prefix.pop_back();
  }
}

}  // namespace

Engine::Engine(std::shared_ptr<const dsl::CompiledProgram> program, Options options)
    : program_(std::move(program)), options_(std::move(options)), state_(program_->indexes) {
  if (!options_.clock) options_.clock = wall_clock;
  rules_ = make_runtimes(*program_);
  for (const auto& rt : rules_) {
    std::map<std::string, Reader> mine;
    for (const auto& a : rt.info->reads) {
      std::string key = a.node.kind.empty() ? "rel:" + a.node.section : a.node.kind;
      Reader& r = mine[key];
      r.rule = rt.index;
      r.sections.insert(a.node.section);
    }
    for (const auto& d : rt.plan->deltas) {
      const dsl::BodyItem* t = d.trigger;
      std::string key = t->kind == BodyItemKind::kTuple ? "rel:" + t->tuple.relation
                        : t->object.kind.dynamic()    ? "*"
                                                      : t->object.kind.name;
      Reader& r = mine[key];
      r.rule = rt.index;
      r.plans.push_back(&d);
    }
    for (auto& [k, r] : mine) readers_[k].push_back(std::move(r));
  }
  evaluator_ = std::make_unique<Evaluator>(state_, *program_->program,
                                           [this](const std::string& fact) { return committed(fact); });
}

const dsl::KindDecl* Engine::kind_named(const std::string& name) const {
  auto it = program_->program->kinds().find(name);
  return it == program_->program->kinds().end() ? nullptr : it->second;
}

const dsl::KindDecl* Engine::kind_for(const std::string& api_version, const std::string& kind) const {
  const dsl::KindDecl* k = kind_named(kind);
  return k && k->api_version() == api_version ? k : nullptr;
}

std::optional<ObjectKey> Engine::key_of(const Json& o, const std::string& default_cluster, std::string* error) const {
  auto str = [&](const Json* v) { return v && v->is_string() ? v->get<std::string>() : std::string(); };
  if (!o.is_object()) {
    *error = "an object must be a JSON object";
    return std::nullopt;
  }
  std::string api = str(find_fields(o, {"apiVersion"})), kind = str(find_fields(o, {"kind"}));
  const dsl::KindDecl* d = kind_for(api, kind);
  if (!d) {
    *error = kind.empty() ? "the object has no kind" : "unknown kind " + kind + " in " + (api.empty() ? "\"\"" : api);
    return std::nullopt;
  }
  ObjectKey k;
  k.kind = d->name;
  k.cluster = str(find_fields(o, {"metadata", "cluster"}));
  if (k.cluster.empty()) k.cluster = default_cluster;
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
  const Builtin* valid = find_builtin("is_dns1123_subdomain");
  if (k.name.empty() || !valid->fn({k.name}).get<bool>()) {
    *error = "invalid name \"" + k.name + "\": a lowercase RFC 1123 subdomain must consist of lower case "
             "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
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
  return e && !e->effective.is_null() ? &e->effective : nullptr;
}

std::vector<std::string> Engine::owners(const ObjectKey& key) const {
  std::set<std::string> names;
  if (const ObjectEntry* e = state_.object(object_fact(key))) {
    for (const auto& [mk, part] : e->derived)
      names.insert(rules_[static_cast<size_t>(std::stoi(mk.substr(0, mk.find('\x1e'))))].info->rule->name);
    for (const auto& [mk, parts] : e->fields)
      for (const auto& p : parts) names.insert(rules_[static_cast<size_t>(p.rule)].info->rule->name);
  }
  return std::vector<std::string>(names.begin(), names.end());
}

bool Engine::has_tuple(const std::string& relation, const std::vector<std::string>& args) const {
  const TupleEntry* t = state_.tuple(tuple_fact(relation, args));
  return t && t->exists();
}

const Json* Engine::committed(const std::string& fact) const {
  if (history_) return history_->get(parse_object_fact(fact));
  auto it = before_.find(fact);
  if (it != before_.end()) return it->second.is_null() ? nullptr : &it->second;
  const ObjectEntry* e = state_.object(fact);
  return e && !e->effective.is_null() ? &e->effective : nullptr;
}

std::string Engine::now() { return now_; }

std::string Engine::make_uid(const std::string& fact) const {
  if (history_) {
    const ObjectEntry* e = history_->state_.object(fact);
    if (e && !e->uid.empty()) return e->uid;
  }
  // Deterministic: the same identity created in the same transaction gets
  // the same uid, whatever the order of the inputs.
  std::string h = find_builtin("sha1")->fn({fact + "@" + std::to_string(rv_ + 1)}).get<std::string>();
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20, 12);
}

void Engine::note_before(const std::string& fact) {
  if (before_.count(fact)) return;
  const ObjectEntry* e = state_.object(fact);
  before_[fact] = e ? e->effective : Json();
}

// ---- Effective objects ---------------------------------------------------------

Json Engine::build_effective(const std::string& fact, const ObjectEntry& e, const Json& prev) {
  Json eff = e.base ? *e.base : Json::object();
  std::string conflict;
  std::string first_rule;
  for (const auto& [mk, part] : e.derived) {
    std::string before = conflict;
    merge_checked(eff, part, "", &conflict);
    int rule = std::stoi(mk.substr(0, mk.find('\x1e')));
    if (first_rule.empty()) first_rule = rules_[static_cast<size_t>(rule)].info->rule->name;
    if (before.empty() && !conflict.empty())
      throw TxnError{"Conflict",
                     "rules derive " + e.key.to_string() + " with different values of " + conflict,
                     {first_rule, rules_[static_cast<size_t>(rule)].info->rule->name}};
  }
  // Set fields: by path, the highest priority wins; `+=` adds every element.
  std::map<JsonPath, std::vector<const FieldPart*>> by_path;
  std::vector<const FieldPart*> adds;
  for (const auto& [mk, parts] : e.fields)
    for (const auto& p : parts) (p.add ? adds : by_path[p.path]).push_back(&p);
  for (const auto& [path, parts] : by_path) {
    const FieldPart* win = parts[0];
    for (const auto* p : parts)
      if (p->priority > win->priority) win = p;
    for (const auto* p : parts)
      if (p != win && p->priority == win->priority && p->value != win->value)
        throw TxnError{"Conflict",
                       "rules set " + to_string(path) + " of " + e.key.to_string() + " to different values",
                       {rules_[static_cast<size_t>(win->rule)].info->rule->name,
                        rules_[static_cast<size_t>(p->rule)].info->rule->name}};
    set_at(eff, path, win->value);
  }
  std::sort(adds.begin(), adds.end(), [](const FieldPart* a, const FieldPart* b) {
    return std::tie(a->path, a->value) < std::tie(b->path, b->value);
  });
  for (const auto* p : adds) add_at(eff, p->path, p->value);

  const dsl::KindDecl* d = kind_named(e.key.kind);
  eff["apiVersion"] = d->api_version();
  eff["kind"] = d->name;
  Json& md = eff["metadata"];
  if (!md.is_object()) md = Json::object();
  md["name"] = e.key.name;
  if (!e.key.ns.empty()) md["namespace"] = e.key.ns;
  md["cluster"] = e.key.cluster;
  md["uid"] = e.uid;
  md["creationTimestamp"] = e.created;
  md["generation"] = e.generation;
  if (e.resource_version) md["resourceVersion"] = std::to_string(e.resource_version);
  for (const char* k : {"labels", "annotations"})
    if (md.contains(k) && md[k].is_object() && md[k].empty()) md.erase(k);
  for (const char* k : {"finalizers", "ownerReferences"})
    if (md.contains(k) && md[k].is_array() && md[k].empty()) md.erase(k);
  // Conditions keep their lastTransitionTime until their status changes.
  if (Json* conds = eff.contains("status") && eff["status"].is_object() && eff["status"].contains("conditions")
                        ? &eff["status"]["conditions"]
                        : nullptr;
      conds && conds->is_array()) {
    const Json* old = find_fields(prev, {"status", "conditions"});
    for (auto& c : *conds) {
      if (!c.is_object() || c.contains("lastTransitionTime")) continue;
      std::string t = now_;
      if (old && old->is_array())
        for (const auto& o : *old)
          if (o.is_object() && o.value("type", Json()) == c.value("type", Json()) &&
              o.value("status", Json()) == c.value("status", Json()) && o.contains("lastTransitionTime"))
            t = o["lastTransitionTime"].get<std::string>();
      c["lastTransitionTime"] = t;
    }
  }
  return eff;
}

void Engine::recompute_object(const std::string& fact, ObjectEntry e) {
  note_before(fact);
  const ObjectEntry* cur = state_.object(fact);
  Json prev = cur ? cur->effective : Json();
  bool supported = (e.base && e.user_owned) || !e.derived.empty();
  Json eff;
  if (supported || !prev.is_null()) {
    if (prev.is_null()) {
      e.uid = make_uid(fact);
      e.created = now_;
      if (history_)
        if (const ObjectEntry* h = history_->state_.object(fact)) e.created = h->created;
    }
    // generation: one more than committed when anything but metadata and status changed.
    const Json& was = before_[fact];
    Json draft = build_effective(fact, e, prev);
    int64_t committed_gen = was.is_null() ? 0 : find_fields(was, {"metadata", "generation"})->get<int64_t>();
    bool spec_changed = was.is_null() || without(was, {"metadata", "status"}) != without(draft, {"metadata", "status"});
    int64_t gen = was.is_null() ? 1 : committed_gen + (spec_changed ? 1 : 0);
    if (gen != e.generation) {
      e.generation = gen;
      draft["metadata"]["generation"] = gen;
    }
    eff = std::move(draft);
    if (!supported && e.deleting.empty()) {
      // A derived object that lost its support keeps its last derived fields
      // while finalizers hold it.
      Json frozen = e.base ? *e.base : Json::object();
      if (cur)
        for (const auto& [mk, part] : cur->derived) deep_merge(frozen, part);
      e.base = std::move(frozen);
      e.deleting = now_;
      eff = build_effective(fact, e, prev);
      eff["metadata"]["generation"] = e.generation;
    }
    if (!e.deleting.empty()) {
      eff["metadata"]["deletionTimestamp"] = e.deleting;
      if (finalizers_of(eff).empty() && (restoring_ || deferred_.count(fact))) {
        deferred_.insert(fact);
      } else if (finalizers_of(eff).empty()) {
        // Gone: no finalizer holds it any more.
        eff = nullptr;
        e.base.reset();
        e.user_owned = false;
        e.deleting.clear();
        e.uid.clear();
        e.generation = 0;
        e.resource_version = 0;
      }
    }
  }
  if (eff.is_null() && e.derived.empty() && e.fields.empty() && !e.base) {
    if (cur) state_.erase_object(fact);
  } else {
    e.effective = eff;
    state_.put_object(fact, std::move(e));
  }
  if (eff != prev) fact_changed(fact, prev, eff);
  // A derived object removed while still supported (its finalizers let go
  // of an old incarnation) comes back as a new object.
  if (eff.is_null() && !prev.is_null()) {
    const ObjectEntry* again = state_.object(fact);
    if (again && !again->derived.empty()) recompute_object(fact, *again);
  }
}

// ---- Change propagation ------------------------------------------------------------

void Engine::fact_changed(const std::string& fact, const Json& before, const Json& after) {
  bool object = is_object_fact(fact);
  std::string reader_key;
  std::set<std::string> sections;
  if (object) {
    reader_key = parse_object_fact(fact).kind;
    sections = changed_sections(before, after);
  } else {
    reader_key = "rel:" + parse_tuple_fact(fact).first;
  }
  auto it = readers_.find(reader_key);
  if (it == readers_.end()) return;
  for (const Reader& r : it->second) {
    if (object && !sections.count("*")) {
      bool hit = false;
      for (const auto& s : sections) hit |= r.sections.count(s) > 0;
      if (!hit) continue;
    }
    const RuleRuntime& rt = rules_[static_cast<size_t>(r.rule)];
    if (const auto* ms = state_.matches_using(fact))
      for (const auto& mk : *ms)
        if (const Match* m = state_.match(mk); m && m->rule == r.rule) pending_.insert({rt.stratum, r.rule, m->positives});
    for (const dsl::Plan* plan : r.plans) {
      if (object) {
        if (!before.is_null()) discover(rt, *plan, fact, &before);
        if (!after.is_null()) discover(rt, *plan, fact, &after);
      } else {
        discover(rt, *plan, fact, nullptr);
      }
    }
  }
}

void Engine::tuple_changed(const std::string& fact) { fact_changed(fact, Json(), Json()); }

void Engine::discover(const RuleRuntime& rt, const dsl::Plan& plan, const std::string& fact, const Json* object) {
  Bindings b;
  b.slots.resize(rt.info->vars.size());
  try {
    if (!evaluator_->bind_trigger(plan, rt, b, fact, object)) return;
    std::map<const dsl::BodyItem*, std::string> seeds;
    seeds[plan.trigger] = fact;
    evaluator_->run(plan, rt, b, nullptr, [&](Bindings& found) {
      std::vector<std::string> positives;
      for (const auto* item : rt.positives) {
        if (item == plan.trigger) {
          positives.push_back(fact);
        } else if (item->kind == BodyItemKind::kObject) {
          const dsl::VarInfo* v = nullptr;
          for (const auto& var : rt.info->vars)
            if (var->pattern == &item->object) v = var.get();
          const Slot& s = found.slots[static_cast<size_t>(rt.slot(v))];
          if (!s.bound || s.fact.empty()) return true;
          positives.push_back(s.fact);
        } else {
          // A tuple: rebuild it from its arguments; `_` leaves it to evaluate().
          std::vector<std::string> args;
          for (const auto& a : item->tuple.args) {
            if (a->kind == dsl::ExprKind::kVar && a->text == "_") return true;
            Json v = evaluator_->eval(*a, rt, found);
            args.push_back(v.is_string() ? v.get<std::string>() : v.dump());
          }
          positives.push_back(tuple_fact(item->tuple.relation, args));
        }
      }
      pending_.insert({rt.stratum, rt.index, std::move(positives)});
      return true;
    });
  } catch (const EvalError&) {
    // A match that cannot be evaluated is found by evaluate(), which reports it.
  }
}

std::optional<std::vector<Contribution>> Engine::contributions(const RuleRuntime& rt, Bindings& b) {
  std::vector<Contribution> out;
  for (const auto& h : rt.info->rule->heads) {
    Contribution c;
    switch (h.kind) {
      case HeadKind::kDeriveObject: {
        const dsl::KindDecl* d = kind_named(h.object_kind.name);
        auto text = [&](const dsl::ExprPtr& e, const char* what) {
          if (!e) return std::string();
          Json v = evaluator_->eval(*e, rt, b);
          if (!v.is_string() || v.get<std::string>().empty())
            throw EvalError(std::string("derive: `") + what + "` must be a non-empty string, not " + v.dump(), e->span);
          return v.get<std::string>();
        };
        ObjectKey k{d->name, text(h.cluster, "in"), text(h.ns, "namespace"), text(h.name, "named")};
        if (!find_builtin("is_dns1123_subdomain")->fn({k.name}).get<bool>())
          throw EvalError("derive: invalid name \"" + k.name + "\"", h.name->span);
        c.kind = Contribution::Kind::kObject;
        c.target = object_fact(k);
        c.value = Json::object();
        for (const auto& f : h.fields) set_at(c.value, resolve_path(d, f.path, rt, b, false), evaluator_->eval(*f.value, rt, b));
        break;
      }
      case HeadKind::kDeriveTuple: {
        std::vector<std::string> args;
        for (const auto& a : h.tuple.args) {
          Json v = evaluator_->eval(*a, rt, b);
          args.push_back(v.is_string() ? v.get<std::string>() : v.dump());
        }
        c.kind = Contribution::Kind::kTuple;
        c.target = tuple_fact(h.tuple.relation, args);
        break;
      }
      case HeadKind::kSet: {
        const dsl::VarInfo* v = rt.info->set_targets.at(&h);
        const Slot& s = b.slots[static_cast<size_t>(rt.slot(v))];
        c.kind = Contribution::Kind::kField;
        c.target = s.fact;
        c.path = resolve_path(v->decl, h.path, rt, b, true);
        c.value = evaluator_->eval(*h.value, rt, b);
        c.add = h.op == dsl::SetOp::kAdd;
        c.priority = rt.info->rule->priority.value_or(0);
        break;
      }
    }
    out.push_back(std::move(c));
  }
  return out;
}

JsonPath Engine::resolve_path(const dsl::KindDecl* decl, const dsl::Path& path, const RuleRuntime& rt, Bindings& b,
                              bool set_head) {
  JsonPath out;
  std::vector<std::string> fields;
  for (size_t i = 0; i < path.size(); ++i) {
    const dsl::PathSeg& s = path[i];
    if (!s.is_key()) {
      std::string f = s.field;
      if (i == 0 && set_head) {
        const auto& sh = dsl::shorthand_names();
        if (std::find(sh.begin(), sh.end(), f) != sh.end()) {
          out.push_back(PathElem{"metadata", false, "", nullptr});
          fields.push_back("metadata");
        }
      }
      out.push_back(PathElem{f, false, "", nullptr});
      fields.push_back(f);
      continue;
    }
    Json key = evaluator_->eval(*s.key, rt, b);
    std::string dotted;
    for (const auto& f : fields) dotted += (dotted.empty() ? "" : ".") + f;
    auto lk = decl ? decl->list_keys.find(dotted) : decltype(decl->list_keys.end()){};
    if (decl && lk != decl->list_keys.end()) {
      out.push_back(PathElem{"", true, lk->second, key});
    } else if (!fields.empty() && fields.back() == "conditions") {
      out.push_back(PathElem{"", true, "type", key});
    } else {
      if (!key.is_string()) throw EvalError("a map key must be a string, not " + key.dump(), s.span);
      out.push_back(PathElem{key.get<std::string>(), false, "", nullptr});
      fields.push_back(key.get<std::string>());
    }
  }
  return out;
}

void Engine::apply_contributions(int rule, const std::string& key, const std::vector<Contribution>& before,
                                 const std::vector<Contribution>& after) {
  std::set<std::string> targets;
  for (const auto& c : before) targets.insert(c.target);
  for (const auto& c : after) targets.insert(c.target);
  for (const auto& t : targets) {
    changed_by_[t].insert(rule);
    if (is_object_fact(t)) {
      ObjectEntry e = state_.object_copy(t, parse_object_fact(t));
      if (!e.decl) e.decl = kind_named(e.key.kind);
      bool had_support = e.derived.count(key) > 0;
      e.derived.erase(key);
      e.fields.erase(key);
      for (const auto& c : after) {
        if (c.target != t) continue;
        if (c.kind == Contribution::Kind::kObject) {
          Json& part = e.derived[key];
          if (part.is_null()) part = Json::object();
          deep_merge(part, c.value);
        } else {
          e.fields[key].push_back(FieldPart{c.path, c.value, c.add, c.priority, rule});
        }
      }
      bool lost = had_support && !e.derived.count(key) && !e.derived.empty();
      recompute_object(t, std::move(e));
      if (lost) lost_support(t);
    } else {
      const TupleEntry* cur = state_.tuple(t);
      TupleEntry e = cur ? *cur : TupleEntry{};
      bool existed = e.exists();
      if (!tuple_before_.count(t)) tuple_before_[t] = existed;
      bool keep = false;
      for (const auto& c : after) keep |= c.target == t;
      bool had = e.supports.count(key) > 0;
      if (keep) e.supports.insert(key);
      else e.supports.erase(key);
      if (had && !keep && e.exists()) lost_support(t);
      state_.put_tuple(t, e);
      if (existed != e.exists()) tuple_changed(t);
    }
  }
}

// A fact that loses one derivation but keeps others may be kept only by a
// cycle; if its data is part of a recursive stratum, that stratum re-checks it.
void Engine::lost_support(const std::string& fact) {
  dsl::DataNode node = is_object_fact(fact) ? dsl::DataNode{parse_object_fact(fact).kind, "metadata"}
                                            : dsl::DataNode{"", parse_tuple_fact(fact).first};
  int s = program_->graph->recursive_stratum_of(node);
  if (s >= 0) suspects_[s].insert(fact);
}

void Engine::evaluate(int rule, const std::vector<std::string>& positives) {
  const RuleRuntime& rt = rules_[static_cast<size_t>(rule)];
  std::string key = match_key(rule, positives);
  if (++evaluations_[key] > options_.max_evaluations_per_match) {
    std::set<std::string> looping;
    for (const auto& [k, n] : evaluations_)
      if (n > options_.max_evaluations_per_match / 2)
        looping.insert(rules_[static_cast<size_t>(std::stoi(k.substr(0, k.find('\x1e'))))].info->rule->name);
    std::string names;
    for (const auto& n : looping) names += (names.empty() ? "" : ", ") + n;
    throw TxnError{"NotConverged",
                   "the rules do not converge: " + names + " keep changing what they read (stopped after " +
                       std::to_string(options_.max_evaluations_per_match) + " evaluations of one match)",
                   std::vector<std::string>(looping.begin(), looping.end())};
  }
  std::map<const dsl::BodyItem*, std::string> fixed;
  for (size_t i = 0; i < rt.positives.size(); ++i) fixed[rt.positives[i]] = positives[i];
  Bindings b;
  b.slots.resize(rt.info->vars.size());
  std::optional<std::vector<Contribution>> found;
  try {
    evaluator_->run(rt.plan->full, rt, b, &fixed, [&](Bindings& m) {
      found = contributions(rt, m);
      return false;
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
    warnings_.push_back(where + "rule " + rt.info->rule->name + " on " + inputs + ": " + e.what());
  }
  const Match* old = state_.match(key);
  if (!found && !old) return;
  if (found && old && old->contributions == *found) return;
  std::vector<Contribution> before = old ? old->contributions : std::vector<Contribution>{};
  if (found) state_.put_match(key, Match{rule, positives, *found});
  else state_.erase_match(key);
  apply_contributions(rule, key, before, found ? *found : std::vector<Contribution>{});
}

void Engine::run_to_fixpoint() {
  // Lowest stratum first; a stratum's suspects are re-derived once its own
  // work is done, before anything above it runs.
  while (true) {
    int suspect = -1;
    for (const auto& [s, facts] : suspects_)
      if (!facts.empty()) {
        suspect = s;
        break;
      }
    bool have_pending = !pending_.empty();
    if (suspect >= 0 && (!have_pending || pending_.begin()->stratum > suspect)) {
      rederive(suspect);
      continue;
    }
    if (!have_pending) break;
    Pending p = *pending_.begin();
    pending_.erase(pending_.begin());
    evaluate(p.rule, p.positives);
  }
}

// Delete-and-rederive over the support graph of one recursive stratum:
// the suspects and everything derived from them in the stratum are kept
// only if a derivation reaches them from facts outside that set.
void Engine::rederive(int stratum) {
  std::set<std::string> region = std::move(suspects_[stratum]);
  suspects_[stratum].clear();
  std::vector<std::string> work(region.begin(), region.end());
  auto supports = [&](const std::string& f) {
    std::vector<std::string> out;
    if (is_object_fact(f)) {
      if (const ObjectEntry* e = state_.object(f))
        for (const auto& [mk, part] : e->derived) out.push_back(mk);
    } else if (const TupleEntry* t = state_.tuple(f)) {
      out.assign(t->supports.begin(), t->supports.end());
    }
    return out;
  };
  while (!work.empty()) {
    std::string f = work.back();
    work.pop_back();
    if (const auto* ms = state_.matches_using(f))
      for (const auto& mk : *ms) {
        const Match* m = state_.match(mk);
        if (!m || rules_[static_cast<size_t>(m->rule)].stratum != stratum) continue;
        for (const auto& c : m->contributions)
          if (c.kind != Contribution::Kind::kField && region.insert(c.target).second) work.push_back(c.target);
      }
  }
  // Alive: a fact with a derivation whose inputs are all outside the region
  // or alive themselves. A worklist makes this linear in the region's edges.
  std::set<std::string> alive;
  std::vector<std::string> queue;
  auto grounded = [&](const Match& m) {
    return std::all_of(m.positives.begin(), m.positives.end(),
                       [&](const std::string& p) { return !region.count(p) || alive.count(p); });
  };
  auto mark = [&](const std::string& f) {
    if (alive.insert(f).second) queue.push_back(f);
  };
  for (const auto& f : region) {
    if (!is_object_fact(f)) {
      if (const TupleEntry* t = state_.tuple(f); t && t->base) mark(f);
    } else if (const ObjectEntry* e = state_.object(f); e && e->base && e->user_owned) {
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
    std::string f = queue.back();
    queue.pop_back();
    const auto* ms = state_.matches_using(f);
    if (!ms) continue;
    for (const auto& mk : *ms) {
      const Match* m = state_.match(mk);
      if (!m || !grounded(*m)) continue;
      for (const auto& c : m->contributions)
        if (c.kind != Contribution::Kind::kField && region.count(c.target)) mark(c.target);
    }
  }
  // The rest lose every derivation that goes through the dead facts.
  std::set<std::string> dead_matches;
  for (const auto& f : region)
    if (!alive.count(f))
      for (const auto& mk : supports(f)) dead_matches.insert(mk);
  for (const auto& mk : dead_matches) {
    const Match* m = state_.match(mk);
    if (!m) continue;
    Match copy = *m;
    state_.erase_match(mk);
    apply_contributions(copy.rule, mk, copy.contributions, {});
    pending_.insert({stratum, copy.rule, copy.positives});
  }
}

// ---- User operations -------------------------------------------------------------

void Engine::user_op(const Op& op) {
  auto owned_by = [&](const ObjectEntry& e, const JsonPath& path) {
    for (const auto& [mk, parts] : e.fields)
      for (const auto& p : parts)
        if (p.path == path) return rules_[static_cast<size_t>(p.rule)].info->rule->name;
    for (const auto& [mk, part] : e.derived) {
      (void)part;
      return rules_[static_cast<size_t>(std::stoi(mk.substr(0, mk.find('\x1e'))))].info->rule->name;
    }
    return std::string();
  };
  switch (op.type) {
    case Op::Type::kCreate:
    case Op::Type::kUpdate:
    case Op::Type::kRestore: {
      std::string error;
      auto key = key_of(op.object, "", &error);
      if (!key) throw TxnError{"Invalid", error, {}};
      std::string fact = object_fact(*key);
      ObjectEntry e = state_.object_copy(fact, *key);
      e.decl = kind_named(key->kind);
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
        for (const auto& p : parts) owned.push_back(p.path);
      for (const auto& [mk, part] : e.derived) {
        JsonPath prefix;
        leaf_paths(part, prefix, owned);
      }
      for (const auto& path : owned) {
        const Json* mine = find_at(base, path);
        if (!mine) continue;
        const Json* theirs = find_at(e.effective, path);
        bool add = false;
        for (const auto& [mk, parts] : e.fields)
          for (const auto& p : parts) add |= p.add && p.path == path;
        if (!add && theirs && *mine != *theirs && op.type != Op::Type::kRestore)
          throw TxnError{"Conflict",
                         "field " + to_string(path) + " of " + key->to_string() + " is managed by rule " +
                             owned_by(e, path) + "; it cannot be set to another value",
                         {owned_by(e, path)}};
        if (!add) remove_at(base, path);
      }
      e.base = std::move(base);
      if (op.type == Op::Type::kCreate) e.user_owned = true;
      if (op.type == Op::Type::kRestore) e.user_owned = !op.overlay;
      if (op.type == Op::Type::kRestore) {
        const Json* del = find_fields(op.object, {"metadata", "deletionTimestamp"});
        if (del && del->is_string()) e.deleting = del->get<std::string>();
      }
      recompute_object(fact, std::move(e));
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
      if (!finalizers_of(e.effective).empty()) {
        if (e.deleting.empty()) e.deleting = now_;
      } else {
        e.base.reset();
        e.user_owned = false;
      }
      recompute_object(fact, std::move(e));
      break;
    }
    case Op::Type::kAddTuple:
    case Op::Type::kRemoveTuple: {
      std::string fact = tuple_fact(op.relation, op.args);
      const TupleEntry* cur = state_.tuple(fact);
      TupleEntry e = cur ? *cur : TupleEntry{};
      bool existed = e.exists();
      if (!tuple_before_.count(fact)) tuple_before_[fact] = existed;
      e.base = op.type == Op::Type::kAddTuple;
      state_.put_tuple(fact, e);
      if (existed != e.exists()) tuple_changed(fact);
      break;
    }
  }
}

// ---- Transactions -------------------------------------------------------------------

Result Engine::collect_changes() {
  Result r;
  std::vector<std::string> changed;
  for (const auto& [fact, before] : before_) {
    const ObjectEntry* e = state_.object(fact);
    const Json& after = e ? e->effective : Json();
    if (before != after) changed.push_back(fact);
  }
  int64_t rv = rv_;
  for (const auto& fact : changed) {
    const Json& before = before_[fact];
    const ObjectEntry* cur = state_.object(fact);
    ObjectChange c;
    c.key = parse_object_fact(fact);
    c.before = before;
    c.resource_version = ++rv;
    if (cur && !cur->effective.is_null()) {
      state_.set_resource_version(fact, rv);
      c.after = cur->effective;
    }
    c.op = before.is_null() ? ObjectChange::Kind::kCreated
           : c.after.is_null() ? ObjectChange::Kind::kDeleted
                               : ObjectChange::Kind::kUpdated;
    for (int rule : changed_by_[fact]) c.rules.push_back(rules_[static_cast<size_t>(rule)].info->rule->name);
    if (c.op == ObjectChange::Kind::kDeleted) c.after = nullptr;
    r.objects.push_back(std::move(c));
  }
  for (const auto& [fact, existed] : tuple_before_) {
    const TupleEntry* t = state_.tuple(fact);
    bool now = t && t->exists();
    if (now == existed) continue;
    auto [rel, args] = parse_tuple_fact(fact);
    TupleChange c{now, rel, args, {}};
    for (int rule : changed_by_[fact]) c.rules.push_back(rules_[static_cast<size_t>(rule)].info->rule->name);
    r.tuples.push_back(std::move(c));
  }
  r.resource_version = rv;
  return r;
}

Result Engine::apply(const std::vector<Op>& ops, bool dry_run, const std::function<void(Result&)>& inspect) {
  size_t mark = state_.undo_mark();
  now_ = options_.clock();
  pending_.clear();
  before_.clear();
  tuple_before_.clear();
  changed_by_.clear();
  evaluations_.clear();
  suspects_.clear();
  warnings_.clear();
  Result r;
  try {
    for (const auto& op : ops) {
      restoring_ = op.type == Op::Type::kRestore;
      user_op(op);
    }
    restoring_ = false;
    run_to_fixpoint();
    if (!deferred_.empty()) {
      std::set<std::string> again = std::move(deferred_);
      deferred_.clear();
      for (const auto& f : again)
        if (const ObjectEntry* e = state_.object(f)) recompute_object(f, *e);
      run_to_fixpoint();
    }
    r = collect_changes();
  } catch (const TxnError& e) {
    restoring_ = false;
    deferred_.clear();
    state_.undo_to(mark);
    r = Result{};
    r.ok = false;
    r.reason = e.reason;
    r.message = e.message;
    r.rules = e.rules;
  }
  r.warnings = std::move(warnings_);
  warnings_.clear();
  if (r.ok && inspect) inspect(r);
  std::string storage_error;
  if (r.ok && !dry_run && persistence_ && !persistence_->commit(state_, state_.take_dirty(), r, &storage_error)) {
    r = Result{};
    r.ok = false;
    r.reason = "InternalError";
    r.message = "the transaction could not be stored: " + storage_error;
  }
  if (!r.ok || dry_run) {
    state_.undo_to(mark);
    if (r.ok) r.resource_version = rv_;
  } else {
    rv_ = r.resource_version;
    state_.forget_undo();
  }
  state_.take_dirty();
  before_.clear();
  tuple_before_.clear();
  pending_.clear();
  return r;
}

std::string Engine::fingerprint() const {
  std::string all;
  for (const auto& m : program_->program->modules()) all += m->name + "\n" + m->file->text + "\n";
  return find_builtin("sha1")->fn({all}).get<std::string>();
}

Result Engine::rebuild() {
  // Forget every match and every derived part, keep what users own, and
  // let the rules run again from it.
  std::vector<Op> ops;
  size_t mark = state_.undo_mark();
  std::vector<std::string> keys;
  for (const auto& [k, m] : state_.matches()) keys.push_back(k);
  for (const auto& k : keys) state_.erase_match(k);
  std::vector<std::pair<std::string, ObjectEntry>> objects(state_.objects().begin(), state_.objects().end());
  for (auto& [f, e] : objects) {
    if (e.base && e.user_owned) {
      Json o = *e.base;
      o["apiVersion"] = e.effective.is_null() ? Json(kind_named(e.key.kind)->api_version()) : e.effective["apiVersion"];
      o["kind"] = e.key.kind;
      o["metadata"]["name"] = e.key.name;
      if (!e.key.ns.empty()) o["metadata"]["namespace"] = e.key.ns;
      o["metadata"]["cluster"] = e.key.cluster;
      if (!e.deleting.empty()) o["metadata"]["deletionTimestamp"] = e.deleting;
      ops.push_back(Op::restore(o, false));
    }
  }
  std::vector<std::pair<std::string, TupleEntry>> tuples(state_.tuples().begin(), state_.tuples().end());
  for (auto& [f, t] : tuples) {
    if (!t.base) continue;
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
  std::string when = now_.empty() ? options_.clock() : now_;
  opts.clock = [when]() { return when; };
  Engine fresh(program_, opts);
  fresh.history_ = this;
  fresh.rv_ = rv_;
  // First what users own (objects and tuples), then what they wrote on
  // derived objects, which exist only once the rules have run.
  std::vector<Op> owned, overlays;
  for (const auto& [fact, e] : state_.objects()) {
    if (e.effective.is_null()) continue;
    bool held = e.derived.empty() && !e.user_owned;  // lost its support; finalizers hold it
    if (!(e.base && e.user_owned) && !held && !e.base) continue;
    Json o = e.base ? *e.base : Json::object();
    if (held) deep_merge(o, e.effective);
    o["apiVersion"] = e.effective["apiVersion"];
    o["kind"] = e.effective["kind"];
    o["metadata"]["name"] = e.key.name;
    if (!e.key.ns.empty()) o["metadata"]["namespace"] = e.key.ns;
    o["metadata"]["cluster"] = e.key.cluster;
    if (!e.deleting.empty()) o["metadata"]["deletionTimestamp"] = e.deleting;
    bool overlay = !e.user_owned && !held;
    (overlay ? overlays : owned).push_back(Op::restore(o, overlay));
  }
  for (const auto& [fact, t] : state_.tuples())
    if (t.base) {
      auto [rel, args] = parse_tuple_fact(fact);
      owned.push_back(Op::add_tuple(rel, args));
    }
  for (const auto* ops : {&owned, &overlays}) {
    Result r = fresh.apply(*ops);
    if (!r.ok) return "recomputation failed: " + r.reason + ": " + r.message;
  }
  std::string out;
  auto objects = [](const State& s) {
    std::map<std::string, Json> m;
    for (const auto& [f, e] : s.objects())
      if (!e.effective.is_null()) m[f] = normalized(e.effective);
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
  for (const auto& [f, t] : state_.tuples())
    if (t.exists() && !fresh.state_.tuple(f)) out += "only in the incremental state: " + describe_fact(f) + "\n";
  for (const auto& [f, t] : fresh.state_.tuples())
    if (t.exists() && !state_.tuple(f)) out += "missing from the incremental state: " + describe_fact(f) + "\n";
  return out;
}

std::string Engine::explain(const std::string& fact) const {
  std::string out;
  std::set<std::string> seen;
  std::function<void(const std::string&, int)> walk = [&](const std::string& f, int depth) {
    std::string pad(static_cast<size_t>(depth) * 2, ' ');
    out += pad + describe_fact(f);
    if (!seen.insert(f).second) {
      out += " (see above)\n";
      return;
    }
    std::vector<std::pair<std::string, std::string>> why;  // (what, match key)
    if (is_object_fact(f)) {
      const ObjectEntry* e = state_.object(f);
      if (!e || e->effective.is_null()) {
        out += ": does not exist\n";
        return;
      }
      out += e->user_owned ? ": written by a user\n" : e->base ? ": with fields written by a user\n" : "\n";
      for (const auto& [mk, part] : e->derived) why.emplace_back("derived", mk);
      for (const auto& [mk, parts] : e->fields)
        for (const auto& p : parts) why.emplace_back(std::string(p.add ? "adds to " : "sets ") + to_string(p.path), mk);
    } else {
      const TupleEntry* t = state_.tuple(f);
      if (!t || !t->exists()) {
        out += ": does not hold\n";
        return;
      }
      out += t->base ? ": given by a user\n" : "\n";
      for (const auto& mk : t->supports) why.emplace_back("derived", mk);
    }
    for (const auto& [what, mk] : why) {
      const Match* m = state_.match(mk);
      if (!m) continue;
      const auto& r = *rules_[static_cast<size_t>(m->rule)].info->rule;
      auto lc = r.name_span.file->position(r.name_span.begin);
      out += pad + "  " + what + " by rule " + r.name + " (" + r.name_span.file->path + ":" + std::to_string(lc.line) +
             ") from:\n";
      for (const auto& p : m->positives) walk(p, depth + 2);
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
        evaluator_->run(rt.plan->full, rt, b, nullptr, [&](Bindings&) {
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
