#include "fga/resolution.h"

#include <algorithm>
#include <limits>
#include <mutex>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fga/store_tuples.h"
#include "stdlib/keyed_hash.h"

namespace pmesh::fga {

namespace {

using Kind = Rewrite::Kind;

enum class Outcome { kDenied, kAllowed, kTooComplex };

// A sub-check OpenFGA would dispatch: a relation of an object.
struct Target {
  Subject object;
  std::string relation;
};

std::string key(const Subject& o, const std::string& relation) { return o.object() + "#" + relation; }

// The objects a tuple-to-userset's tupleset names, with the relation it asks of them.
std::vector<Target> tupleset_targets(const engine::Engine& e, const ModelView& m, const TypeDef& t, const Subject& o,
                                     const Rewrite& rw) {
  std::vector<Target> out;
  const RelationDef* ts = t.find(rw.tupleset);
  if (!ts) return out;
  for (const auto& p : direct_users(e, m, *ts, o.object(), rw.tupleset)) {
    Subject s;
    if (parse_subject(p, &s) && s.relation.empty() && !s.wildcard() && m.model.find(s.type, rw.relation))
      out.push_back({s, rw.relation});
  }
  return out;
}

// The usersets written in `def`'s tuples on `o` (`group:eng#member`).
std::vector<Target> userset_targets(const engine::Engine& e, const ModelView& m, const RelationDef& def, const Subject& o) {
  std::vector<Target> out;
  if (std::none_of(def.directly_related.begin(), def.directly_related.end(), [](const TypeRestriction& tr) { return !tr.relation.empty(); }))
    return out;  // no userset can be written here: nothing to read
  for (const auto& u : direct_users(e, m, def, o.object(), def.name)) {
    Subject s;
    if (parse_subject(u, &s) && !s.relation.empty()) out.push_back({{s.type, s.id, ""}, s.relation});
  }
  return out;
}

// Every sub-check a relation's rewrite dispatches on `o`, all branches.
void dispatch_targets(const engine::Engine& e, const ModelView& m, const Subject& o, const TypeDef& t, const RelationDef& def,
                      const Rewrite& rw, std::vector<Target>* out) {
  std::vector<Target> more;
  switch (rw.kind) {
    case Kind::kThis:
      more = userset_targets(e, m, def, o);
      break;
    case Kind::kComputed:
      more = {{o, rw.relation}};
      break;
    case Kind::kTupleToUserset:
      more = tupleset_targets(e, m, t, o, rw);
      break;
    default:
      for (const auto& c : rw.children) dispatch_targets(e, m, o, t, def, c, out);
  }
  out->insert(out->end(), more.begin(), more.end());
}

// One question's walk. Results are kept per node with the depth they were
// found at: allowed or denied at depth d holds at any depth up to d, too
// complex at any depth from d.
class CheckWalk {
 public:
  CheckWalk(const engine::Engine& e, const ModelView& m, const std::string& user, int limit)
      : e_(e), m_(m), user_(user), limit_(limit) {
    parse_subject(user, &u_);
  }

  Outcome node(const Subject& o, const std::string& relation, int depth) {
    if (depth >= limit_) return Outcome::kTooComplex;
    std::string k = key(o, relation);
    if (path_.count(k)) {  // OpenFGA: a cycle is denied
      ++cuts_;
      return Outcome::kDenied;
    }
    if (u_.relation == relation && u_.object() == o.object()) return Outcome::kAllowed;
    const TypeDef* t = m_.model.find(o.type);
    const RelationDef* def = t ? t->find(relation) : nullptr;
    if (!def || !m_.lowered.graph.reachable(o.type, relation, u_)) return Outcome::kDenied;
    if (auto it = seen_.find(k); it != seen_.end()) {
      auto [out, at] = it->second;
      if (out == Outcome::kTooComplex ? depth >= at : depth <= at) return out;
    }
    if (++steps_ > kMaxResolutionSteps) return Outcome::kTooComplex;
    path_.insert(k);
    std::size_t cuts = cuts_;
    Outcome out = rewrite(o, *t, *def, def->rewrite, depth);
    path_.erase(k);
    if (cuts == cuts_) seen_[k] = {out, depth};  // what a cycle cut decided holds on that path only
    return out;
  }

 private:
  // Whether the materialized relation holds: the branch to try first.
  bool holds_now(const Target& t) const {
    const LoweredRelation* r = m_.lowered.find(t.object.type, t.relation);
    return r && holds(e_, *r, m_.store, t.object.object(), u_, user_);
  }

  // A union over dispatches, those that hold first.
  Outcome any_of(std::vector<Target> targets, int depth) {
    std::stable_partition(targets.begin(), targets.end(), [&](const Target& t) { return holds_now(t); });
    Outcome out = Outcome::kDenied;
    for (const auto& t : targets) {
      Outcome o = node(t.object, t.relation, depth + 1);
      if (o == Outcome::kAllowed) return o;
      if (o == Outcome::kTooComplex) out = o;
    }
    return out;
  }

  bool direct(const Subject& o, const RelationDef& def) const {
    if (admits(def, u_) && e_.has_tuple(kTupleRelation, m_.tuple(o.object(), def.name, user_))) return true;
    if (!u_.relation.empty() || u_.wildcard()) return false;
    Subject wild{u_.type, "*", ""};
    return admits(def, wild) && e_.has_tuple(kTupleRelation, m_.tuple(o.object(), def.name, wild.object()));
  }

  // A union is decided by its first allowed branch, an intersection by its
  // first denied one; else it is too complex if a branch was.
  Outcome decided_by(Outcome decisive, Outcome otherwise, const Subject& o, const TypeDef& t, const RelationDef& def,
                     const Rewrite& rw, int depth) {
    Outcome out = otherwise;
    for (const auto& c : rw.children) {
      Outcome x = rewrite(o, t, def, c, depth);
      if (x == decisive) return x;
      if (x == Outcome::kTooComplex) out = x;
    }
    return out;
  }

  Outcome rewrite(const Subject& o, const TypeDef& t, const RelationDef& def, const Rewrite& rw, int depth) {
    switch (rw.kind) {
      case Kind::kThis:
        if (direct(o, def)) return Outcome::kAllowed;
        return any_of(userset_targets(e_, m_, def, o), depth);
      case Kind::kComputed:
        return node(o, rw.relation, depth + 1);
      case Kind::kTupleToUserset:
        return any_of(tupleset_targets(e_, m_, t, o, rw), depth);
      case Kind::kUnion:
        return decided_by(Outcome::kAllowed, Outcome::kDenied, o, t, def, rw, depth);
      case Kind::kIntersection:
        return decided_by(Outcome::kDenied, Outcome::kAllowed, o, t, def, rw, depth);
      case Kind::kDifference: {
        Outcome base = rewrite(o, t, def, rw.children[0], depth);
        if (base == Outcome::kDenied) return base;
        Outcome sub = rewrite(o, t, def, rw.children[1], depth);
        if (sub == Outcome::kAllowed) return Outcome::kDenied;
        return base == Outcome::kTooComplex || sub == Outcome::kTooComplex ? Outcome::kTooComplex : Outcome::kAllowed;
      }
    }
    return Outcome::kDenied;
  }

  const engine::Engine& e_;
  const ModelView& m_;
  std::string user_;
  Subject u_;
  int limit_;
  std::set<std::string> path_;
  std::unordered_map<std::string, std::pair<Outcome, int>, KeyedTextHash, std::equal_to<>> seen_;
  std::size_t steps_ = 0, cuts_ = 0;
};

// The expansion OpenFGA's list-users makes: every branch from a node,
// toward one kind of user (or any, with no filter: then it bounds every
// check's walk from the node). Its height is the longest chain of
// dispatches below a node; a node already on the path adds nothing, as a
// cycle ends OpenFGA's walk. Heights are capped at the limit.
class Expansion {
 public:
  Expansion(const engine::Engine& e, const ModelView& m, const Subject* filter, int limit,
            std::unordered_map<std::string, int, KeyedTextHash, std::equal_to<>>* seen)
      : e_(e), m_(m), filter_(filter), limit_(limit), seen_(*seen) {}

  int height(const Subject& o, const std::string& relation) {
    if (filter_ && !m_.lowered.graph.reachable(o.type, relation, *filter_)) return 0;
    std::string k = key(o, relation);
    if (path_.count(k)) {
      ++cuts_;
      return 0;
    }
    if (auto it = seen_.find(k); it != seen_.end()) return it->second;
    const TypeDef* t = m_.model.find(o.type);
    const RelationDef* def = t ? t->find(relation) : nullptr;
    if (!def) return 0;
    if (++steps_ > kMaxResolutionSteps) return limit_;
    path_.insert(k);
    std::size_t cuts = cuts_;
    std::vector<Target> below;
    dispatch_targets(e_, m_, o, *t, *def, def->rewrite, &below);
    int h = 0;
    for (const auto& c : below) {
      h = std::max(h, 1 + height(c.object, c.relation));
      if (h >= limit_) break;
    }
    path_.erase(k);
    // A height a cycle cut short is the longest path from here only when
    // the walk came the way it did; it is not kept.
    if (cuts == cuts_) seen_[k] = h;
    return h;
  }

 private:
  const engine::Engine& e_;
  const ModelView& m_;
  const Subject* filter_;
  int limit_;
  std::unordered_map<std::string, int, KeyedTextHash, std::equal_to<>>& seen_;
  std::set<std::string> path_;
  std::size_t steps_ = 0, cuts_ = 0;
};

constexpr std::size_t kMaxCachedHeights = 1 << 20;

// Whether no walk from (o, relation) can reach the limit: then the check is
// one lookup again. Heights with no filter are kept (lower.h).
bool shallow(const engine::Engine& e, const ModelView& m, const Subject& o, const std::string& relation, int limit) {
  ResolutionCache& c = *m.lowered.resolution_cache;
  std::lock_guard<std::mutex> lock(c.mu);
  if (c.engine != &e || c.epoch != e.epoch() || c.limit != limit || c.size > kMaxCachedHeights) {
    c.heights.clear();
    c.size = 0;
    c.engine = &e;
    c.epoch = e.epoch();
    c.limit = limit;
  }
  auto& heights = c.heights[m.store];
  size_t before = heights.size();
  bool out = Expansion(e, m, nullptr, limit, &heights).height(o, relation) < limit;
  c.size += heights.size() - before;
  return out;
}

}  // namespace

void resolution_too_complex() {
  throw FgaError("authorization_model_resolution_too_complex",
                 "Authorization Model resolution required too many rewrite rules to be resolved. Check your "
                 "authorization model for infinite recursion or too much nesting");
}

void check_resolution(const engine::Engine& e, const ModelView& m, const std::string& user, const std::string& relation,
                      const std::string& object, int limit) {
  Subject o;
  if (limit <= 0 || !parse_subject(object, &o) || m.lowered.graph.bounded(o.type, relation) || shallow(e, m, o, relation, limit))
    return;
  if (CheckWalk(e, m, user, limit).node(o, relation, 0) == Outcome::kTooComplex) resolution_too_complex();
}

bool walk_check(const engine::Engine& e, const ModelView& m, const std::string& user, const std::string& relation,
                const std::string& object, int limit) {
  Subject o;
  if (!parse_subject(object, &o)) return false;
  Outcome out = CheckWalk(e, m, user, limit > 0 ? limit : std::numeric_limits<int>::max()).node(o, relation, 0);
  if (out == Outcome::kTooComplex) resolution_too_complex();
  return out == Outcome::kAllowed;
}

namespace {

// Whether a rewrite asks `relation` of its own object, or of the objects its
// tupleset `ts` names.
bool computes(const Rewrite& rw, const std::string& relation) {
  if (rw.kind == Kind::kComputed) return rw.relation == relation;
  for (const auto& c : rw.children)
    if (computes(c, relation)) return true;
  return false;
}
bool follows(const Rewrite& rw, const std::string& ts, const std::string& relation) {
  if (rw.kind == Kind::kTupleToUserset) return rw.tupleset == ts && rw.relation == relation;
  for (const auto& c : rw.children)
    if (follows(c, ts, relation)) return true;
  return false;
}

}  // namespace

std::vector<std::string> objects_reaching(engine::Engine& e, const ModelView& m, const Subject& userset,
                                          const std::string& type, const std::string& relation, int limit) {
  // A store's tuples by their user: an index no rule needs, made on first use.
  int by_user = e.mutable_state().add_index({true, kTupleRelation, {"0", "3"}});
  std::set<std::string> seen, candidates;
  std::vector<Target> queue = {{{userset.type, userset.id, ""}, userset.relation}};
  auto push = [&](const Subject& o, const std::string& r) {
    if (seen.size() >= kMaxResolutionSteps) resolution_too_complex();  // rather than a list cut short
    if (seen.insert(key(o, r)).second) queue.push_back({o, r});
  };
  seen.insert(key(queue[0].object, queue[0].relation));
  while (!queue.empty()) {
    Target n = queue.back();
    queue.pop_back();
    if (n.object.type == type && n.relation == relation) candidates.insert(n.object.object());
    if (const TypeDef* t = m.model.find(n.object.type))
      for (const auto& r : t->relations)
        if (computes(r.rewrite, n.relation)) push(n.object, r.name);
    auto named = [&](const std::string& user, auto&& then) {
      e.state().lookup_tuples(by_user, engine::State::index_key({engine::Json(m.store), engine::Json(user)}), [&](const engine::FactKey& fact) {
        auto args = engine::parse_tuple_fact(fact).second;
        Subject q;
        if (parse_subject(args[1], &q)) then(q, args[2]);
        return true;
      });
    };
    named(n.object.object(), [&](const Subject& q, const std::string& ts) {  // q's tupleset names n's object
      if (const TypeDef* t = m.model.find(q.type))
        for (const auto& r : t->relations)
          if (follows(r.rewrite, ts, n.relation)) push(q, r.name);
    });
    named(key(n.object, n.relation), [&](const Subject& q, const std::string& r) { push(q, r); });  // q#r@n
  }
  std::vector<std::string> out;
  std::string user = userset.object() + "#" + userset.relation;
  for (const auto& o : candidates)
    if (walk_check(e, m, user, relation, o, limit)) out.push_back(o);
  return out;
}

void list_objects_resolution(const engine::Engine& e, const ModelView& m, const std::vector<std::string>& objects,
                             const std::string& relation, const std::string& user, int limit) {
  if (limit <= 0 || objects.empty()) return;
  CheckWalk walk(e, m, user, limit);
  for (const auto& object : objects) {
    Subject o;
    if (!parse_subject(object, &o) || m.lowered.graph.bounded(o.type, relation)) return;
    if (!shallow(e, m, o, relation, limit) && walk.node(o, relation, 0) == Outcome::kTooComplex) resolution_too_complex();
  }
}

std::vector<std::string> usersets_reached(const engine::Engine& e, const ModelView& m, const std::string& object,
                                          const std::string& relation, const Subject& filter, int limit) {
  Subject start;
  if (filter.relation.empty() || !parse_subject(object, &start)) return {};
  std::set<std::string> seen = {key(start, relation)}, candidates;
  std::vector<Target> queue = {{start, relation}};
  while (!queue.empty()) {
    Target n = queue.back();
    queue.pop_back();
    if (n.object.type == filter.type && n.relation == filter.relation) candidates.insert(key(n.object, n.relation));
    const TypeDef* t = m.model.find(n.object.type);
    const RelationDef* def = t ? t->find(n.relation) : nullptr;
    if (!def || !m.lowered.graph.reachable(n.object.type, n.relation, filter)) continue;
    std::vector<Target> below;
    dispatch_targets(e, m, n.object, *t, *def, def->rewrite, &below);
    for (auto& b : below) {
      if (seen.size() >= kMaxResolutionSteps) resolution_too_complex();  // rather than a list cut short
      if (seen.insert(key(b.object, b.relation)).second) queue.push_back(std::move(b));
    }
  }
  std::vector<std::string> out;
  for (const auto& u : candidates)
    if (walk_check(e, m, u, relation, object, limit)) out.push_back(u);
  return out;
}

void list_users_resolution(const engine::Engine& e, const ModelView& m, const std::string& object,
                           const std::string& relation, const Subject& filter, int limit) {
  Subject o;
  if (limit <= 0 || !parse_subject(object, &o) || m.lowered.graph.bounded(o.type, relation) || shallow(e, m, o, relation, limit))
    return;
  std::unordered_map<std::string, int, KeyedTextHash, std::equal_to<>> seen;
  if (Expansion(e, m, &filter, limit, &seen).height(o, relation) >= limit) resolution_too_complex();
}

}  // namespace pmesh::fga
