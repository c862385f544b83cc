// OpenFGA models through the engine: the materialized relations answer
// check, list-objects and list-users as OpenFGA's own recursive check
// would, for every construct, over random tuples; the model readers and
// validation speak OpenFGA's language.
#include <doctest/doctest.h>

#include <functional>
#include <random>
#include <set>

#include "engine/engine.h"
#include "fga/compile.h"
#include "fga/dsl_parser.h"
#include "fga/query.h"
#include "fga/validate.h"
#include "tests/unit/fga_test_util.h"
#include "server/openfga/fga_store.h"

namespace pmesh::test {
namespace {

using fga::FgaError;

using Tuple = FgaTuple;

// OpenFGA's check as its documentation states it, walked recursively with
// no materialization: a relation's rewrite over the tuples the model
// admits; a path that comes back to where it started finds nothing.
class ReferenceCheck {
 public:
  ReferenceCheck(const fga::Model& m, const std::vector<Tuple>& tuples) : m_(m), tuples_(tuples) {}

  bool check(const std::string& user, const std::string& relation, const std::string& object) {
    fga::Subject u, o;
    fga::parse_subject(object, &o);
    fga::parse_subject(user, &u);
    if (u.relation == relation && u.object() == object) return true;
    std::set<std::string> path;
    return rel(u, user, o.type, relation, object, path);
  }

 private:
  bool admitted(const fga::RelationDef& def, const fga::Subject& s) const {
    for (const auto& tr : def.directly_related)
      if (tr.type == s.type && tr.wildcard == s.wildcard() && tr.relation == s.relation) return true;
    return false;
  }

  bool rel(const fga::Subject& u, const std::string& user, const std::string& type, const std::string& relation,
           const std::string& object, std::set<std::string> path) {
    std::string here = object + "#" + relation;
    if (!path.insert(here).second) return false;
    if (u.relation == relation && u.object() == object) return true;  // a userset is in itself, wherever reached
    const fga::RelationDef* def = m_.find(type, relation);
    return def && eval(u, user, type, *def, def->rewrite, object, path);
  }

  bool eval(const fga::Subject& u, const std::string& user, const std::string& type, const fga::RelationDef& def,
            const fga::Rewrite& rw, const std::string& object, const std::set<std::string>& path) {
    using K = fga::Rewrite::Kind;
    switch (rw.kind) {
      case K::kThis:
        for (const auto& t : tuples_) {
          if (t.object != object || t.relation != def.name) continue;
          fga::Subject s;
          fga::parse_subject(t.user, &s);
          if (!admitted(def, s)) continue;
          if (t.user == user) return true;
          if (s.wildcard() && u.relation.empty() && !u.wildcard() && s.type == u.type) return true;
          if (!s.relation.empty() && rel(u, user, s.type, s.relation, s.object(), path)) return true;
        }
        return false;
      case K::kComputed:
        return rel(u, user, type, rw.relation, object, path);
      case K::kTupleToUserset: {
        const fga::RelationDef* ts = m_.find(type, rw.tupleset);
        for (const auto& t : tuples_) {
          if (t.object != object || t.relation != rw.tupleset) continue;
          fga::Subject p;
          fga::parse_subject(t.user, &p);
          if (!admitted(*ts, p) || !m_.find(p.type, rw.relation)) continue;
          if (rel(u, user, p.type, rw.relation, t.user, path)) return true;
        }
        return false;
      }
      case K::kUnion:
        for (const auto& c : rw.children)
          if (eval(u, user, type, def, c, object, path)) return true;
        return false;
      case K::kIntersection:
        for (const auto& c : rw.children)
          if (!eval(u, user, type, def, c, object, path)) return false;
        return true;
      case K::kDifference:
        return eval(u, user, type, def, rw.children[0], object, path) && !eval(u, user, type, def, rw.children[1], object, path);
    }
    return false;
  }

  const fga::Model& m_;
  const std::vector<Tuple>& tuples_;
};

// Every (user, relation, object) over the given ids, both ways, after each
// of a run of random writes and deletes.
// The stdlib's OpenFGA relations alone, for an FgaStore's engine.
std::shared_ptr<const dsl::CompiledProgram> stores_program() {
  dsl::DiagnosticSink diags;
  std::shared_ptr<const dsl::CompiledProgram> base =
      dsl::compile(dsl::load_program_from_texts({{"base.rules", "module base\nimport stdlib.fga\n"}}, diags), diags);
  REQUIRE(!diags.has_errors());
  return base;
}

void compare_with_reference(const std::string& dsl, const std::vector<std::string>& objects,
                            const std::vector<std::string>& users, int seed, int steps) {
  fga::CompiledModel m = fga::compile_model(fga::parse_dsl({{"model.fga", dsl}}), "fga_");
  engine::Engine e(m.program);
  REQUIRE(e.apply({engine::Op::add_tuple(fga::kLoadedRelation, m.lowered.loaded("local"))}).ok);
  fga::ModelView view{m.model, m.lowered, "local"};
  // Every tuple the model admits over these ids; and, one write in four,
  // one it does not (a tuple a newer model's restrictions dropped, or a
  // relation of another type): in the store, and counting for nothing.
  std::vector<Tuple> candidates = admitted_tuples(m.model, objects, users), strays;
  REQUIRE(!candidates.empty());
  for (const auto& o : objects)
    for (const auto& t : m.model.types)
      for (const auto& r : t.relations)
        for (const auto& u : users)
          if (std::none_of(candidates.begin(), candidates.end(),
                           [&](const Tuple& c) { return c.object == o && c.relation == r.name && c.user == u; }))
            strays.push_back({o, r.name, u});
  std::mt19937 rng(seed);
  std::vector<Tuple> present;
  for (int step = 0; step < steps; ++step) {
    const Tuple& t = !strays.empty() && rng() % 4 == 0 ? strays[rng() % strays.size()] : candidates[rng() % candidates.size()];
    bool add = toggle(&present, t);
    auto r = e.apply({add ? engine::Op::add_tuple(fga::kTupleRelation, std::vector<std::string>{"local", t.object, t.relation, t.user})
                          : engine::Op::remove_tuple(fga::kTupleRelation, std::vector<std::string>{"local", t.object, t.relation, t.user})});
    REQUIRE(r.ok);
    ReferenceCheck ref(m.model, present);
    for (const auto& o : objects) {
      fga::Subject os;
      fga::parse_subject(o, &os);
      for (const auto& r : m.model.find(os.type)->relations) {
        for (const auto& u : users) {
          bool want = ref.check(u, r.name, o);
          bool got = fga::check(e, view, u, r.name, o);
          if (want != got) {
            std::string tuples;
            for (const auto& p : present) tuples += "  " + p.object + "#" + p.relation + "@" + p.user + "\n";
            FAIL_CHECK("check " << u << " " << r.name << " " << o << ": OpenFGA says " << want << ", pmesh " << got
                                << " (seed " << seed << ", step " << step << ")\n" << tuples);
            return;
          }
          fga::Subject us;
          fga::parse_subject(u, &us);
          auto listed = fga::list_objects(e, view, os.type, r.name, u);
          bool in_list = std::find(listed.begin(), listed.end(), o) != listed.end();
          if (in_list != want) {
            FAIL_CHECK("list-objects " << u << " " << r.name << " " << os.type << " and " << o << ": want " << want);
            return;
          }
          for (const auto& x : listed)
            if (x.rfind(os.type + ":", 0) != 0 || !ref.check(u, r.name, x)) {
              FAIL_CHECK("list-objects " << u << " " << r.name << " " << os.type << " lists " << x << " (seed " << seed << ", step " << step << ")");
              return;
            }
        }
        // List-users with a userset filter: exactly the usersets check allows.
        std::set<std::string> want_sets, got_sets;
        for (const auto& u : users)
          if (u.rfind("group:", 0) == 0 && u.find("#member") != std::string::npos && ref.check(u, r.name, o)) want_sets.insert(u);
        for (const auto& g : fga::list_users(e, view, o, r.name, {{"group", "member"}})) got_sets.insert(fga::user_string(g));
        if (want_sets != got_sets) {
          FAIL_CHECK("list-users " << o << " " << r.name << " group#member: want " << want_sets.size() << ", got "
                                   << got_sets.size() << " (seed " << seed << ", step " << step << ")");
          return;
        }
      }
    }
    if (step % 10 == 9) REQUIRE(e.verify() == "");
  }
}

const std::vector<std::string> kUsers = {"user:anne", "user:bob", "user:carl", "user:*", "group:g1#member", "group:g2#member"};

TEST_CASE("fga: wildcards and exclusions through groups, parents and intersections agree with OpenFGA's check") {
  const char* model = R"(model
  schema 1.1
type user
type group
  relations
    define member: [user, user:*, group#member]
type folder
  relations
    define parent: [folder]
    define blocked: [user, user:*]
    define viewer: [user, user:*, group#member] or viewer from parent
    define open: viewer but not blocked
type doc
  relations
    define parent: [folder]
    define blocked: [user]
    define allowed: [user, user:*]
    define viewer: open from parent or ([user:*, group#member] but not blocked)
    define both: viewer and allowed
    define either: both or (allowed but not viewer)
)";
  std::vector<std::string> objects = {"group:g1", "group:g2", "folder:f1", "folder:f2", "doc:d1", "doc:d2"};
  std::vector<std::string> users = kUsers;
  users.push_back("folder:f1");
  users.push_back("folder:f2");
  users.push_back("user:dana");  // never written: what a wildcard means for a stranger
  for (int seed = 1; seed <= 6; ++seed) compare_with_reference(model, objects, users, seed, 60);
}

TEST_CASE("fga: recursion through usersets and tuple-to-userset agrees with OpenFGA's check") {
  const char* model = R"(model
  schema 1.1
type user
type group
  relations
    define member: [user, group#member]
    define owner: [user]
    define admin: owner or member
type folder
  relations
    define parent: [folder, group]
    define viewer: [user, group#member] or viewer from parent or admin from parent
    define editor: [user] and viewer
)";
  std::vector<std::string> objects = {"group:g1", "group:g2", "folder:f1", "folder:f2", "folder:f3"};
  std::vector<std::string> users = {"user:anne", "user:bob", "group:g1#member", "group:g2#member", "folder:f1", "folder:f2", "folder:f3",
                                    "group:g1", "group:g2"};
  for (int seed = 1; seed <= 6; ++seed) compare_with_reference(model, objects, users, seed, 80);
}

TEST_CASE("fga: unions read their computed usersets where asked, in every place a relation is read, as OpenFGA's check") {
  // lead, all, editor, viewer, a, b and staff are split (lower.h): read as
  // unions of parts by usersets, tuple-to-usersets, intersections, both
  // sides of a difference and a cofinite union (wide, which copies what it
  // reads). staff's `staff from parent` leaves the parent's bosses to
  // boss's own `boss from parent`.
  const char* model = R"(model
  schema 1.1
type user
type group
  relations
    define member: [user, user:*, group#member]
    define admin: [user]
    define lead: admin or member
    define all: lead or admin
type folder
  relations
    define parent: [folder]
    define owner: [user, group#member]
    define editor: [user:*] or owner
    define viewer: [group#lead, group#all] or editor or viewer from parent
    define up: editor from parent
    define a: [user] or b
    define b: [user] or editor
    define blocked: [user, user:*]
    define open: viewer but not blocked
    define closed: blocked but not editor
    define both: editor and viewer
    define wide: open or editor or (up but not owner)
    define same: viewer
    define mix: blocked and a
    define cut: a but not open
    define boss: [user, group#member] or boss from parent
    define staff: [user] or boss or staff from parent or up from parent
)";
  std::vector<std::string> objects = {"group:g1", "group:g2", "folder:f1", "folder:f2"};
  std::vector<std::string> users = kUsers;
  for (const char* u : {"user:dana", "group:g1#lead", "group:g2#all", "folder:f1", "folder:f2"}) users.push_back(u);
  for (int seed = 1; seed <= 6; ++seed) compare_with_reference(model, objects, users, seed, 80);
}

TEST_CASE("fga: a union read as more than eight parts is derived whole, so that rules stay few") {
  // r_k: [user] or r_(k-1) would be read as k + 1 parts; `both` reads two
  // of them in one rule, once per pair of parts.
  std::string model = "model\n  schema 1.1\ntype user\ntype group\n  relations\n    define member: [user]\ntype doc\n  relations\n    define r0: [user]\n";
  for (int k = 1; k <= 10; ++k) model += "    define r" + std::to_string(k) + ": [user] or r" + std::to_string(k - 1) + "\n";
  model += "    define both: r10 and r7\n";
  fga::CompiledModel m = fga::compile_model(fga::parse_dsl({{"model.fga", model}}), "fga_");
  CHECK(m.lowered.find("doc", "r7")->parts.size() == 8);
  CHECK(m.lowered.find("doc", "r8")->parts.size() == 1);  // nine would be too many
  CHECK(m.lowered.find("doc", "r10")->parts.size() == 3);  // its own, r9's own, r8
  size_t rules = 0;
  for (size_t at = m.lowered.rules.find("\nrule "); at != std::string::npos; at = m.lowered.rules.find("\nrule ", at + 1)) ++rules;
  CHECK(rules < 80);
  compare_with_reference(model, {"doc:1", "doc:2"}, {"user:anne", "user:bob"}, 1, 40);
}

TEST_CASE("fga: contextual tuples answer as if written, and are gone after") {
  const char* model = R"(model
  schema 1.1
type user
type group
  relations
    define member: [user, user:*, group#member]
type doc
  relations
    define parent: [doc]
    define blocked: [user]
    define viewer: [user, group#member] or viewer from parent
    define can_view: viewer but not blocked
)";
  engine::Engine e(stores_program());
  server::FgaStore store(e);
  fga::Model m = fga::parse_dsl({{"m.fga", model}});
  REQUIRE(e.apply(store.create_store({"S1", "s", "t", "alice"})).ok);
  REQUIRE(e.apply(store.write_model("S1", "M1", m)).ok);
  REQUIRE(store.activate("S1").ok);
  std::vector<Tuple> candidates = {{"group:g", "member", "user:anne"}, {"group:g", "member", "user:*"},
                                   {"doc:1", "viewer", "group:g#member"}, {"doc:2", "parent", "doc:1"},
                                   {"doc:2", "blocked", "user:bob"},     {"doc:1", "viewer", "user:bob"},
                                   {"group:h", "member", "group:g#member"}, {"doc:2", "viewer", "group:h#member"}};
  std::mt19937 rng(11);
  std::vector<Tuple> written;
  for (int round = 0; round < 40; ++round) {
    // Some tuples written, others only in the question.
    std::vector<Tuple> stored, context;
    for (const auto& t : candidates) {
      unsigned r = rng() % 3;
      if (r == 0) stored.push_back(t);
      else if (r == 1) context.push_back(t);
    }
    std::vector<engine::Op> ops;
    for (const auto& t : written) ops.push_back(engine::Op::remove_tuple("fga_tuple", {"S1", t.object, t.relation, t.user}));
    for (const auto& t : stored) ops.push_back(engine::Op::add_tuple("fga_tuple", {"S1", t.object, t.relation, t.user}));
    REQUIRE(e.apply(ops).ok);
    written = stored;
    std::vector<std::vector<std::string>> ctx;
    for (const auto& t : context) ctx.push_back({t.object, t.relation, t.user});
    std::vector<Tuple> all = stored;
    all.insert(all.end(), context.begin(), context.end());
    ReferenceCheck ref(m, all);
    for (const char* user : {"user:anne", "user:bob", "user:zed", "group:g#member"})
      for (const char* object : {"doc:1", "doc:2"})
        for (const char* rel : {"viewer", "can_view"}) {
          bool got = false;
          store.with_model("S1", "", ctx, [&](engine::Engine& en, const fga::ModelView& v) { got = fga::check(en, v, user, rel, object); });
          CHECK_MESSAGE(got == ref.check(user, rel, object), "round " << round << ": " << user << " " << rel << " " << object);
        }
    // Nothing of the context stays.
    for (const auto& t : context)
      if (std::none_of(stored.begin(), stored.end(), [&](const Tuple& x) { return x.object == t.object && x.relation == t.relation && x.user == t.user; }))
        CHECK(!e.has_tuple("fga_tuple", {"S1", t.object, t.relation, t.user}));
  }
  CHECK(e.verify() == "");
}

TEST_CASE("fga: stores with one model share its rule set, and each store answers from its own tuples") {
  const char* text = R"(model
  schema 1.1
type user
type group
  relations
    define member: [user, group#member]
type doc
  relations
    define viewer: [user, group#member]
)";
  engine::Engine e(stores_program());
  server::FgaStore store(e);
  fga::Model m = fga::parse_dsl({{"m.fga", text}});
  for (const char* s : {"S1", "S2"}) {
    REQUIRE(e.apply(store.create_store({s, s, "t", "alice"})).ok);
    REQUIRE(e.apply(store.write_model(s, "M1", m)).ok);
    REQUIRE(store.activate(s).ok);
  }
  auto t = [](const char* s, const char* o, const char* r, const char* u) { return engine::Op::add_tuple("fga_tuple", {s, o, r, u}); };
  REQUIRE(e.apply({t("S1", "group:eng", "member", "user:anne"), t("S1", "doc:1", "viewer", "group:eng#member"),
                   t("S2", "doc:1", "viewer", "group:eng#member"), t("S2", "group:eng", "member", "user:bob")})
              .ok);
  CHECK(e.has_rule_set("fga:M1"));
  auto ask = [&](const char* s, const char* u) {
    bool defined = false;
    return store.ask(s, u, "viewer", "doc:1", &defined) && defined;
  };
  CHECK(ask("S1", "user:anne"));
  CHECK(!ask("S1", "user:bob"));  // S2's group is S2's
  CHECK(ask("S2", "user:bob"));
  CHECK(!ask("S2", "user:anne"));
  CHECK(e.verify() == "");
  // A model id is found in its own store only.
  REQUIRE(e.apply(store.write_model("S1", "M0", fga::parse_dsl({{"m.fga", "model\n  schema 1.1\ntype user\n"}}))).ok);
  CHECK_THROWS_AS(store.model("S2", "M0"), fga::FgaError);
  // One id, two contents: refused rather than shared.
  REQUIRE(e.apply(store.create_store({"S3", "s3", "t", "alice"})).ok);
  CHECK_THROWS_AS(store.write_model("S3", "M1", fga::parse_dsl({{"m.fga", "model\n  schema 1.1\ntype user\n"}})), fga::FgaError);
  // S1 moves to a newer model; the rule set stays for S2, and goes with it.
  REQUIRE(e.apply(store.write_model("S1", "M2", m)).ok);
  REQUIRE(store.activate("S1").ok);
  CHECK(e.has_rule_set("fga:M1"));
  CHECK(e.has_rule_set("fga:M2"));
  CHECK(ask("S1", "user:anne"));
  CHECK(ask("S2", "user:bob"));
  CHECK(e.verify() == "");
  store.deactivate("S2");
  CHECK(!e.has_rule_set("fga:M1"));
  CHECK(!ask("S2", "user:bob"));
  CHECK(ask("S1", "user:anne"));
  CHECK(e.verify() == "");
}

TEST_CASE("fga: list-users returns objects, usersets and wildcards as OpenFGA does") {
  fga::CompiledModel m = fga::compile_model(fga::parse_dsl({{"m.fga", R"(model
  schema 1.1
type user
type group
  relations
    define member: [user, user:*, group#member]
)"}}),
                                            "fga_");
  engine::Engine e(m.program);
  REQUIRE(e.apply({engine::Op::add_tuple(fga::kLoadedRelation, m.lowered.loaded("local"))}).ok);
  auto add = [&](std::string o, std::string r, std::string u) { return engine::Op::add_tuple(fga::kTupleRelation, std::vector<std::string>{"local", o, r, u}); };
  REQUIRE(e.apply({add("group:a", "member", "user:anne"), add("group:a", "member", "group:b#member"),
                   add("group:b", "member", "user:*")})
              .ok);
  fga::ModelView v{m.model, m.lowered, "local"};
  auto users = fga::list_users(e, v, "group:a", "member", {{"user", ""}});
  CHECK(users.dump() == R"([{"wildcard":{"type":"user"}},{"object":{"id":"anne","type":"user"}}])");
  auto sets = fga::list_users(e, v, "group:a", "member", {{"group", "member"}});
  CHECK(sets.dump() ==
        R"([{"userset":{"id":"a","relation":"member","type":"group"}},{"userset":{"id":"b","relation":"member","type":"group"}}])");
  CHECK_THROWS_WITH_AS(fga::check(e, v, "user:anne", "viewer", "group:a"), "relation 'group#viewer' not found", FgaError);
  CHECK_THROWS_WITH_AS(fga::check(e, v, "user:anne", "member", "doc:a"), "type 'doc' not found", FgaError);
}

TEST_CASE("fga: tuples as written are read where asked, and those the model does not admit count for nothing") {
  // viewer's and blocked's tuples as written are views (lower.h): nothing
  // copies them. A tuple their restrictions do not admit (written under an
  // older model, or directly) is in the store and counts for nothing, on
  // either side of an exclusion.
  fga::CompiledModel m = fga::compile_model(fga::parse_dsl({{"m.fga", R"(model
  schema 1.1
type user
type group
  relations
    define member: [user]
type doc
  relations
    define blocked: [user]
    define viewer: [user, group#member]
    define can_view: viewer but not blocked
    define muted: [group#member]
    define can_hear: viewer but not muted
)"}}),
                                            "fga_");
  engine::Engine e(m.program);
  REQUIRE(e.apply({engine::Op::add_tuple(fga::kLoadedRelation, m.lowered.loaded("local"))}).ok);
  auto add = [&](std::string o, std::string r, std::string u) { return engine::Op::add_tuple(fga::kTupleRelation, std::vector<std::string>{"local", o, r, u}); };
  REQUIRE(e.apply({add("doc:1", "viewer", "user:anne"), add("doc:1", "viewer", "group:eng#member"), add("group:eng", "member", "user:bob"),
                   add("doc:1", "blocked", "group:eng#member"),  // blocked admits users only
                   add("doc:1", "viewer", "user:*"), add("doc:1", "viewer", "doc:2"),  // viewer admits neither
                   add("group:eng", "viewer", "user:carl"),  // a relation group does not have
                   add("doc:1", "muted", "user:anne")})  // muted admits usersets only
              .ok);
  fga::ModelView v{m.model, m.lowered, "local"};
  const fga::LoweredRelation* viewer = m.lowered.find("doc", "viewer");
  REQUIRE(viewer->parts.size() == 2);
  CHECK(viewer->parts[0].view());
  CHECK(!e.has_tuple(viewer->name, {"local", "doc:1", "user:anne"}));  // not copied
  CHECK(e.has_tuple(viewer->name, {"local", "doc:1", "user:bob"}));   // through the group: derived
  CHECK(m.lowered.rules.find("fga_doc_blocked(") == std::string::npos);  // blocked is its tuples alone
  CHECK(fga::check(e, v, "user:anne", "viewer", "doc:1"));
  CHECK(fga::check(e, v, "group:eng#member", "can_view", "doc:1"));
  CHECK(fga::check(e, v, "user:bob", "can_view", "doc:1"));
  CHECK(!fga::check(e, v, "user:dana", "viewer", "doc:1"));
  CHECK(!fga::check(e, v, "doc:2", "viewer", "doc:1"));
  CHECK(fga::list_objects(e, v, "doc", "viewer", "user:carl").empty());  // group:eng's tuple is no doc's
  auto sets = fga::list_users(e, v, "doc:1", "can_view", {{"group", "member"}});
  CHECK(sets.dump() == R"([{"userset":{"id":"eng","relation":"member","type":"group"}}])");
  CHECK(fga::list_users(e, v, "doc:1", "viewer", {{"user", ""}}).dump() ==
        R"([{"object":{"id":"anne","type":"user"}},{"object":{"id":"bob","type":"user"}}])");
  CHECK(fga::list_users(e, v, "doc:1", "viewer", {{"doc", ""}}).dump() == "[]");
  CHECK(fga::list_objects(e, v, "doc", "viewer", "doc:2").empty());
  CHECK(fga::list_objects(e, v, "doc", "can_view", "user:anne") == std::vector<std::string>{"doc:1"});
  CHECK(fga::check(e, v, "user:anne", "can_hear", "doc:1"));
  CHECK(fga::list_objects(e, v, "doc", "can_hear", "user:anne") == std::vector<std::string>{"doc:1"});
  // Blocked as written: anne is out, and back when the tuple goes.
  REQUIRE(e.apply({add("doc:1", "blocked", "user:anne")}).ok);
  CHECK(!fga::check(e, v, "user:anne", "can_view", "doc:1"));
  CHECK(fga::list_objects(e, v, "doc", "can_view", "user:anne").empty());
  REQUIRE(e.apply({engine::Op::remove_tuple(fga::kTupleRelation, std::vector<std::string>{"local", "doc:1", "blocked", "user:anne"})}).ok);
  CHECK(fga::check(e, v, "user:anne", "can_view", "doc:1"));
  CHECK(e.verify() == "");
}

TEST_CASE("fga: the DSL reads as OpenFGA's grammar has it") {
  fga::Model m = fga::parse_dsl({{"m.fga", R"(model
  schema 1.1
# a comment
type user
type doc
  relations
    define owner: [user, user:*] # trailing
    define viewer: (owner or editor) but not blocked
    define editor: [user with cond_unused]
    define blocked: [user]
)"}});
  CHECK(m.types.size() == 2);
  CHECK(fga::to_dsl(m).find("define viewer: (owner or editor) but not blocked") != std::string::npos);
  CHECK(fga::to_json(fga::from_json(fga::to_json(m))) == fga::to_json(m));
  CHECK_THROWS_WITH_AS(fga::parse_dsl({{"m.fga", "model\n  schema 1.1\ntype doc\n  relations\n    define a: [doc] or b and c\n"}}),
                       "m.fga:5: mixing operators in the definition of 'a' needs parentheses", FgaError);
  CHECK_THROWS_WITH_AS(fga::parse_dsl({{"m.fga", "model\n  schema 1.1\ncondition x(a: int) {\n"}}),
                       "m.fga:3: conditions are not supported: pmesh evaluates no CEL", FgaError);
  // Modules: `extend type` adds to a type another file declares.
  fga::Model mod = fga::parse_dsl({{"core.fga", "module core\ntype user\ntype account\n  relations\n    define owner: [user]\n"},
                                   {"ext.fga", "module ext\nextend type account\n  relations\n    define create_x: owner\n"}});
  CHECK(mod.find("account", "create_x") != nullptr);
}

TEST_CASE("fga: invalid models are refused with OpenFGA's messages") {
  auto refused = [](const std::string& body) {
    try {
      fga::validate(fga::parse_dsl({{"m.fga", "model\n  schema 1.1\ntype user\n" + body}}));
    } catch (const FgaError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(refused("type doc\n  relations\n    define a: b\n    define b: a\n") ==
        "the definition of relation 'a' in object type 'doc' is invalid: potential loop");
  CHECK(refused("type doc\n  relations\n    define a: [user] or b\n    define b: a\n") ==
        "the definition of relation 'a' in object type 'doc' is invalid: an authorization model cannot contain a cycle");
  CHECK(refused("type doc\n  relations\n    define a: nope\n") == "'doc#nope' relation is undefined");
  CHECK(refused("type doc\n  relations\n    define parent: [doc#a]\n    define a: [user]\n    define v: a from parent\n") ==
        "the relation type 'doc#a' on 'parent' in object type 'doc' is not valid");
  CHECK(refused("type doc\n  relations\n    define v: [group]\n") == "the relation type 'group' on 'v' in object type 'doc' is not valid");
  CHECK(refused("type doc\n  relations\n    define v: [doc#v]\n") ==
        "the definition of relation 'v' in object type 'doc' is invalid: no entrypoints defined");
  CHECK(refused("type self\n") == "the definition of type 'self' is invalid");
  // Found by fuzzing: a relation reached from another before its own
  // validation names what does not exist.
  CHECK(refused("type a\n  relations\n    define p: [b]\n    define x: y from p\ntype b\n  relations\n    define y: z\n") ==
        "undefined type definition for 'b#z'");
  CHECK(refused("type doc\n  relations\n    define v: [user]\n") == "accepted");
  // Exclusion inside a cycle cannot be evaluated incrementally: refused.
  CHECK_THROWS_AS(fga::compile_model(fga::parse_dsl({{"m.fga", R"(model
  schema 1.1
type user
type doc
  relations
    define parent: [doc]
    define blocked: [user] or viewer from parent
    define viewer: [user] but not blocked
)"}}),
                                     "fga_"),
                  FgaError);
}

TEST_CASE("fga: writes are validated against the model's type restrictions") {
  fga::Model m = fga::parse_dsl({{"m.fga", "model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define v: [user]\n"}});
  CHECK_NOTHROW(fga::validate_tuple(m, "user:anne", "v", "doc:1"));
  CHECK_THROWS_WITH_AS(fga::validate_tuple(m, "user:*", "v", "doc:1"),
                       "Invalid tuple 'doc:1#v@user:*'. Reason: the typed wildcard 'user:*' is not an allowed type restriction for 'doc#v'",
                       FgaError);
  CHECK_THROWS_WITH_AS(fga::validate_tuple(m, "user:anne", "w", "doc:1"), "relation 'doc#w' not found for tuple 'doc:1#w@user:anne'",
                       FgaError);
  CHECK_THROWS_AS(fga::validate_tuple(m, "user:an ne", "v", "doc:1"), FgaError);
  CHECK_THROWS_AS(fga::validate_tuple(m, "user:anne", "v", "doc:1#v"), FgaError);
}

}  // namespace
}  // namespace pmesh::test
