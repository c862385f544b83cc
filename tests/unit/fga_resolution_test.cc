// OpenFGA's resolution limit: where its check, list-objects and list-users
// stop with authorization_model_resolution_too_complex, pmesh's do too,
// though its relations are materialized and have no depth. A reference
// walks OpenFGA's check as its LocalChecker does (one level per dispatch,
// a node already on the path denied, three-valued unions, intersections
// and exclusions) and is compared over random tuples at a small limit; the
// named cases are OpenFGA's own at its default limit of 25.
#include <doctest/doctest.h>

#include <random>
#include <set>

#include "engine/engine.h"
#include "fga/compile.h"
#include "fga/dsl_parser.h"
#include "fga/query.h"
#include "fga/validate.h"
#include "tests/unit/fga_test_util.h"

namespace pmesh::test {
namespace {

using fga::FgaError;

enum class R { kDenied, kAllowed, kTooComplex };

using Tuple = FgaTuple;

class DepthReference {
 public:
  DepthReference(const fga::CompiledModel& m, const std::vector<Tuple>& tuples, int limit)
      : m_(m), tuples_(tuples), limit_(limit) {}

  R check(const std::string& user, const std::string& relation, const std::string& object) {
    fga::Subject u, o;
    fga::parse_subject(user, &u);
    fga::parse_subject(object, &o);
    if (u.relation == relation && u.object() == object) return R::kAllowed;
    return node(u, user, o, relation, 0, {});
  }

 private:
  R node(const fga::Subject& u, const std::string& user, const fga::Subject& o, const std::string& relation, int depth,
         std::set<std::string> path) {
    if (depth >= limit_) return R::kTooComplex;
    if (!path.insert(o.object() + "#" + relation).second) return R::kDenied;
    if (u.relation == relation && u.object() == o.object()) return R::kAllowed;
    const fga::RelationDef* def = m_.model.find(o.type, relation);
    if (!def || !m_.lowered.graph.reachable(o.type, relation, u)) return R::kDenied;
    return eval(u, user, o, *def, def->rewrite, depth, path);
  }

  static R any(const std::vector<R>& xs) {
    R out = R::kDenied;
    for (R x : xs) {
      if (x == R::kAllowed) return x;
      if (x == R::kTooComplex) out = x;
    }
    return out;
  }

  bool admitted(const fga::RelationDef& def, const fga::Subject& s) const {
    for (const auto& tr : def.directly_related)
      if (tr.type == s.type && tr.wildcard == s.wildcard() && tr.relation == s.relation) return true;
    return false;
  }

  R eval(const fga::Subject& u, const std::string& user, const fga::Subject& o, const fga::RelationDef& def,
         const fga::Rewrite& rw, int depth, const std::set<std::string>& path) {
    using K = fga::Rewrite::Kind;
    std::vector<R> xs;
    switch (rw.kind) {
      case K::kThis:
        for (const auto& t : tuples_) {
          fga::Subject s;
          fga::parse_subject(t.user, &s);
          if (t.object != o.object() || t.relation != def.name || !admitted(def, s)) continue;
          if (t.user == user || (s.wildcard() && u.relation.empty() && !u.wildcard() && s.type == u.type)) return R::kAllowed;
        }
        for (const auto& t : tuples_) {
          fga::Subject s;
          fga::parse_subject(t.user, &s);
          if (t.object != o.object() || t.relation != def.name || !admitted(def, s) || s.relation.empty()) continue;
          xs.push_back(node(u, user, {s.type, s.id, ""}, s.relation, depth + 1, path));
        }
        return any(xs);
      case K::kComputed:
        return node(u, user, o, rw.relation, depth + 1, path);
      case K::kTupleToUserset: {
        const fga::RelationDef* ts = m_.model.find(o.type, rw.tupleset);
        for (const auto& t : tuples_) {
          fga::Subject p;
          fga::parse_subject(t.user, &p);
          if (t.object != o.object() || t.relation != rw.tupleset || !admitted(*ts, p) || !m_.model.find(p.type, rw.relation)) continue;
          xs.push_back(node(u, user, p, rw.relation, depth + 1, path));
        }
        return any(xs);
      }
      case K::kUnion:
        for (const auto& c : rw.children) xs.push_back(eval(u, user, o, def, c, depth, path));
        return any(xs);
      case K::kIntersection: {
        R out = R::kAllowed;
        for (const auto& c : rw.children) {
          R x = eval(u, user, o, def, c, depth, path);
          if (x == R::kDenied) return x;
          if (x == R::kTooComplex) out = x;
        }
        return out;
      }
      case K::kDifference: {
        R base = eval(u, user, o, def, rw.children[0], depth, path);
        if (base == R::kDenied) return base;
        R sub = eval(u, user, o, def, rw.children[1], depth, path);
        if (sub == R::kAllowed) return R::kDenied;
        return base == R::kTooComplex || sub == R::kTooComplex ? R::kTooComplex : R::kAllowed;
      }
    }
    return R::kDenied;
  }

  const fga::CompiledModel& m_;
  const std::vector<Tuple>& tuples_;
  int limit_;
};

R outcome(const std::function<bool()>& ask) {
  try {
    return ask() ? R::kAllowed : R::kDenied;
  } catch (const FgaError& e) {
    REQUIRE(e.code == "authorization_model_resolution_too_complex");
    return R::kTooComplex;
  }
}

std::string name(R r) { return r == R::kAllowed ? "allowed" : r == R::kDenied ? "denied" : "too complex"; }

void compare_at_limit(const std::string& dsl, const std::vector<std::string>& objects, const std::vector<std::string>& users,
                      int limit, int seed, int steps) {
  fga::CompiledModel m = fga::compile_model(fga::parse_dsl({{"model.fga", dsl}}), "fga_");
  engine::Engine e(m.program);
  REQUIRE(e.apply({engine::Op::add_tuple(fga::kLoadedRelation, m.lowered.loaded("local"))}).ok);
  fga::ModelView view{m.model, m.lowered, "local"};
  std::vector<Tuple> candidates = admitted_tuples(m.model, objects, users), present;
  std::mt19937 rng(seed);
  int too_complex = 0;
  for (int step = 0; step < steps; ++step) {
    const Tuple& t = candidates[rng() % candidates.size()];
    bool add = toggle(&present, t);
    std::vector<std::string> args = {"local", t.object, t.relation, t.user};
    REQUIRE(e.apply({add ? engine::Op::add_tuple(fga::kTupleRelation, args) : engine::Op::remove_tuple(fga::kTupleRelation, args)}).ok);
    DepthReference ref(m, present, limit);
    for (const auto& o : objects) {
      fga::Subject os;
      fga::parse_subject(o, &os);
      for (const auto& r : m.model.find(os.type)->relations)
        for (const auto& u : users) {
          R want = ref.check(u, r.name, o);
          R got = outcome([&] { return fga::check(e, view, u, r.name, o, limit); });
          too_complex += want == R::kTooComplex;
          if (want != got) {
            std::string tuples;
            for (const auto& p : present) tuples += "  " + p.object + "#" + p.relation + "@" + p.user + "\n";
            FAIL_CHECK("check " << u << " " << r.name << " " << o << " at limit " << limit << ": OpenFGA's walk says "
                                << name(want) << ", pmesh " << name(got) << " (seed " << seed << ", step " << step << ")\n"
                                << tuples);
            return;
          }
        }
    }
  }
  CHECK(too_complex > 0);  // the limit was met, not only passed by
}

TEST_CASE("fga resolution: a small limit cuts recursion, unions, intersections and exclusions as OpenFGA's walk does") {
  const char* model = R"(model
  schema 1.1
type user
type group
  relations
    define member: [user, user:*, group#member]
    define owner: [user]
    define admin: owner or member
type folder
  relations
    define parent: [folder, group]
    define blocked: [user, group#member]
    define viewer: [user, group#member] or viewer from parent or admin from parent
    define open: viewer but not blocked
    define editor: [user] and viewer
)";
  std::vector<std::string> objects = {"group:g1", "group:g2", "group:g3", "folder:f1", "folder:f2", "folder:f3"};
  std::vector<std::string> users = {"user:anne", "user:bob", "user:*", "group:g1#member", "group:g2#member", "group:g3#member",
                                    "folder:f1", "folder:f2", "folder:f3", "group:g1", "group:g2"};
  for (int limit : {2, 3, 4})
    for (int seed = 1; seed <= 3; ++seed) compare_at_limit(model, objects, users, limit, seed, 70);
}

// OpenFGA's own case (TestListUsersDepthExceeded): folder:1 is 25 parents
// below the folder maria views, folder:2 is 24.
struct Chain {
  fga::CompiledModel m = fga::compile_model(fga::parse_dsl({{"m.fga", R"(model
  schema 1.1
type user
type folder
  relations
    define parent: [folder]
    define viewer: [user, team#member] or viewer from parent
type group
  relations
    define member: [user, group#member]
type team
  relations
    define member: [user]
)"}}),
                                            "fga_");
  engine::Engine e{m.program};
  fga::ModelView v{m.model, m.lowered, "local"};
  Chain() {
    std::vector<engine::Op> ops = {engine::Op::add_tuple(fga::kLoadedRelation, m.lowered.loaded("local")), add("folder:26", "viewer", "user:maria")};
    for (int i = 1; i <= 25; ++i) ops.push_back(add("folder:" + std::to_string(i), "parent", "folder:" + std::to_string(i + 1)));
    // group:0 holds group:1's members, ... group:25 holds maria.
    for (int i = 0; i < 25; ++i) ops.push_back(add("group:" + std::to_string(i), "member", "group:" + std::to_string(i + 1) + "#member"));
    ops.push_back(add("group:25", "member", "user:maria"));
    // A cycle: deep only in appearance.
    ops.push_back(add("group:x", "member", "group:y#member"));
    ops.push_back(add("group:y", "member", "group:x#member"));
    REQUIRE(e.apply(ops).ok);
  }
  engine::Op add(const std::string& o, const std::string& r, const std::string& u) {
    return engine::Op::add_tuple(fga::kTupleRelation, std::vector<std::string>{"local", o, r, u});
  }
};

TEST_CASE("fga resolution: OpenFGA's default limit of 25 on check, list-objects and list-users") {
  Chain c;
  auto check = [&](const std::string& u, const std::string& r, const std::string& o) { return outcome([&] { return fga::check(c.e, c.v, u, r, o); }); };
  CHECK(check("user:maria", "viewer", "folder:2") == R::kAllowed);     // 24 dispatches
  CHECK(check("user:maria", "viewer", "folder:1") == R::kTooComplex);  // 25
  CHECK(check("user:bob", "viewer", "folder:2") == R::kDenied);        // the walk ends at folder:26
  CHECK(check("user:bob", "viewer", "folder:1") == R::kTooComplex);    // and would go on past the limit
  CHECK(check("user:bob", "viewer", "folder:20") == R::kDenied);
  CHECK(check("team:t#member", "viewer", "folder:2") == R::kDenied);
  CHECK(check("group:g#member", "viewer", "folder:1") == R::kDenied);  // no path reaches folder#viewer from it: at once
  CHECK(check("user:maria", "member", "group:1") == R::kAllowed);
  CHECK(check("user:maria", "member", "group:0") == R::kTooComplex);
  CHECK(check("user:maria", "member", "group:x") == R::kDenied);  // a cycle is denied, not too deep
  CHECK(check("group:25#member", "member", "group:1") == R::kAllowed);
  // Without a limit (the platform's own decisions) the relation answers.
  CHECK(fga::check(c.e, c.v, "user:maria", "viewer", "folder:1", 0));

  auto users = [&](const std::string& o) {
    return outcome([&] { return !fga::list_users(c.e, c.v, o, "viewer", {{"user", ""}}).empty(); });
  };
  CHECK(users("folder:2") == R::kAllowed);
  CHECK(users("folder:1") == R::kTooComplex);
  CHECK(fga::list_users(c.e, c.v, "folder:2", "viewer", {{"user", ""}}).dump() == R"([{"object":{"id":"maria","type":"user"}}])");
  CHECK(outcome([&] { return !fga::list_users(c.e, c.v, "folder:1", "viewer", {{"team", "member"}}).empty(); }) == R::kTooComplex);

  CHECK_THROWS_WITH_AS(fga::list_objects(c.e, c.v, "folder", "viewer", "user:maria"),
                       doctest::Contains("too many rewrite rules"), FgaError);
  CHECK(fga::list_objects(c.e, c.v, "folder", "viewer", "user:bob").empty());
  CHECK(fga::list_objects(c.e, c.v, "folder", "viewer", "user:maria", 0).size() == 26);
}

TEST_CASE("fga resolution: a model whose chain of rewrites is as long as the limit is too complex wherever it is walked") {
  std::string dsl = "model\n  schema 1.1\ntype user\ntype doc\n  relations\n";
  for (int i = 0; i < 25; ++i) dsl += "    define r" + std::to_string(i) + ": r" + std::to_string(i + 1) + "\n";
  dsl += "    define r25: [user]\n";
  fga::CompiledModel m = fga::compile_model(fga::parse_dsl({{"m.fga", dsl}}), "fga_");
  CHECK(!m.lowered.graph.bounded("doc", "r0"));
  CHECK(m.lowered.graph.bounded("doc", "r1"));
  engine::Engine e(m.program);
  REQUIRE(e.apply({engine::Op::add_tuple(fga::kLoadedRelation, m.lowered.loaded("local"))}).ok);
  REQUIRE(e.apply({engine::Op::add_tuple(fga::kTupleRelation, std::vector<std::string>{"local", "doc:1", "r25", "user:anne"})}).ok);
  fga::ModelView v{m.model, m.lowered, "local"};
  CHECK(outcome([&] { return fga::check(e, v, "user:anne", "r0", "doc:1"); }) == R::kTooComplex);
  CHECK(outcome([&] { return fga::check(e, v, "user:bob", "r0", "doc:1"); }) == R::kTooComplex);
  CHECK(outcome([&] { return fga::check(e, v, "user:anne", "r1", "doc:1"); }) == R::kAllowed);
}

}  // namespace
}  // namespace pmesh::test
