#include "fga/query.h"

#include "fga/resolution.h"
#include "fga/store_tuples.h"

#include <algorithm>
#include <set>

namespace pmesh::fga {

using nlohmann::json;

namespace {

[[noreturn]] void invalid(const std::string& message) { throw FgaError("validation_error", message); }
[[noreturn]] void type_not_found(const std::string& type) { throw FgaError("type_not_found", "type '" + type + "' not found"); }
[[noreturn]] void relation_not_found(const std::string& type, const std::string& rel, const std::string& tuple = "") {
  throw FgaError("relation_not_found", "relation '" + type + "#" + rel + "' not found" + (tuple.empty() ? "" : " for tuple '" + tuple + "'"));
}

// An id as OpenFGA takes it: no whitespace, no `#` (which starts a
// userset's relation). Control characters are refused too: beyond OpenFGA,
// since they could forge the engine's fact keys.
bool good_id(const std::string& id) {
  if (id.empty() || id.size() > 256 || id.find('#') != std::string::npos) return false;
  return std::none_of(id.begin(), id.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

// The shapes OpenFGA accepts: an object is `type:id`; a user also `type:*`
// or `type:id#relation`.
Subject object_format(const std::string& object) {
  Subject o;
  if (!parse_subject(object, &o) || !o.relation.empty() || o.wildcard() || !good_id(o.id))
    invalid("invalid 'object' field format: '" + object + "'");
  return o;
}

Subject user_format(const std::string& user) {
  Subject u;
  if (!parse_subject(user, &u) || (!u.wildcard() && !good_id(u.id)) || (u.wildcard() && !u.relation.empty()))
    invalid("invalid 'user' field format: '" + user + "'");
  return u;
}

Subject object_of(const Model& m, const std::string& object) {
  Subject o = object_format(object);
  if (!m.find(o.type)) type_not_found(o.type);
  return o;
}

Subject user_of(const Model& m, const std::string& user) {
  Subject u = user_format(user);
  if (!m.find(u.type)) type_not_found(u.type);
  if (!u.relation.empty() && !m.find(u.type, u.relation)) relation_not_found(u.type, u.relation);
  return u;
}

const LoweredRelation& relation_of(const ModelView& m, const std::string& type, const std::string& relation) {
  const LoweredRelation* r = m.lowered.find(type, relation);
  if (!r) relation_not_found(type, relation);
  return *r;
}

// Whether the model's rules run for the store. A store's tuples count for
// nothing under a model that is not loaded for it: the relations it keeps
// are empty there, and the parts read as views (lower.h) must say the same.
bool loaded(const engine::Engine& e, const ModelView& m) { return e.has_tuple(kLoadedRelation, m.lowered.loaded(m.store)); }

}  // namespace

void validate_tuple(const Model& m, const std::string& user, const std::string& relation, const std::string& object) {
  std::string t = object + "#" + relation + "@" + user;
  auto reason = [&](const std::string& why) { throw FgaError("invalid_tuple", "Invalid tuple '" + t + "'. Reason: " + why); };
  Subject o = object_format(object), u = user_format(user);
  if (relation.size() > 50 || !good_id(relation) || relation.find_first_of(":@") != std::string::npos) invalid("invalid 'relation' field format: '" + relation + "'");
  if (!m.find(o.type)) type_not_found(o.type);
  const RelationDef* def = m.find(o.type, relation);
  if (!def) relation_not_found(o.type, relation, t);
  if (!m.find(u.type)) type_not_found(u.type);
  if (admits(*def, u)) return;
  if (def->directly_related.empty()) reason("relation '" + o.type + "#" + relation + "' is not directly assignable");
  std::string as = u.wildcard() ? "the typed wildcard '" + u.type + ":*'" : u.relation.empty() ? "type '" + u.type + "'" : "'" + u.type + "#" + u.relation + "'";
  reason(as + " is not an allowed type restriction for '" + o.type + "#" + relation + "'");
}

void validate_question(const Model& m, const std::string& user, const std::string& relation, const std::string& object) {
  Subject o = object_of(m, object);
  user_of(m, user);
  if (!m.find(o.type, relation)) relation_not_found(o.type, relation);
}

bool check(const engine::Engine& e, const ModelView& m, const std::string& user, const std::string& relation,
           const std::string& object, int depth_limit) {
  Subject o = object_of(m.model, object);
  Subject u = user_of(m.model, user);
  const LoweredRelation& r = relation_of(m, o.type, relation);
  // A userset is in itself (OpenFGA: IsSelfDefining).
  if (u.relation == relation && u.object() == object) return true;
  if (!loaded(e, m)) return false;
  if (!u.relation.empty()) return walk_check(e, m, user, relation, object, depth_limit);
  check_resolution(e, m, user, relation, object, depth_limit);
  return holds(e, r, m.store, object, u, user);
}

std::vector<std::string> list_objects(engine::Engine& e, const ModelView& m, const std::string& type,
                                      const std::string& relation, const std::string& user, int depth_limit) {
  if (!m.model.find(type)) type_not_found(type);
  Subject u = user_of(m.model, user);
  const LoweredRelation& r = relation_of(m, type, relation);
  if (!loaded(e, m)) return {};
  std::set<std::string> out;
  const std::string of_type = type + ":";
  for (const RelationPart& p : r.parts) {
    // By store and subject (a view: by store, relation and user): an index
    // no rule needs, made on first use.
    int by_subject = e.mutable_state().add_index({true, p.relation(), p.view() ? std::vector<std::string>{"0", "2", "3"} : std::vector<std::string>{"0", "2"}});
    auto collect = [&](const std::string& subject, bool wildcard) {
      std::vector<engine::Json> key = {engine::Json(m.store), engine::Json(subject)};
      if (p.view()) key.insert(key.begin() + 1, engine::Json(p.rel));
      e.state().lookup_tuples(by_subject, engine::State::index_key(key), [&](const engine::FactKey& fact) {
        std::string obj = engine::parse_tuple_fact(fact).second[1];
        if (p.view() && obj.compare(0, of_type.size(), of_type) != 0) return true;  // another type's relation of that name
        if (!wildcard || !(p.cofinite && e.has_tuple(p.except(), {m.store, obj, user}))) out.insert(obj);
        return true;
      });
    };
    if (!p.view() || admits(p.admitted, u)) collect(user, false);
    if (u.relation.empty() && !u.wildcard() && p.wild.count(u.type)) collect(u.type + ":*", true);
  }
  if (!u.relation.empty())
    for (auto& o : objects_reaching(e, m, u, type, relation, depth_limit)) out.insert(std::move(o));
  std::vector<std::string> objects(out.begin(), out.end());
  list_objects_resolution(e, m, objects, relation, user, depth_limit);
  return objects;
}

json list_users(const engine::Engine& e, const ModelView& m, const std::string& object, const std::string& relation,
                const std::vector<UserFilter>& filters, int depth_limit) {
  Subject o = object_of(m.model, object);
  const LoweredRelation& r = relation_of(m, o.type, relation);
  if (filters.size() != 1) invalid("list-users takes exactly one user filter");
  const UserFilter& f = filters[0];
  if (!m.model.find(f.type)) type_not_found(f.type);
  if (!f.relation.empty() && !m.model.find(f.type, f.relation)) relation_not_found(f.type, f.relation);
  if (!loaded(e, m)) return json::array();
  list_users_resolution(e, m, object, relation, Subject{f.type, "", f.relation}, depth_limit);
  std::set<std::string> users;
  for (const RelationPart& p : r.parts) {
    e.state().scan_tuples_with(p.relation(), p.key(m.store, object), [&](const engine::FactKey& fact) {
      const engine::TupleEntry* t = e.state().tuple(fact);
      if (!t || !t->exists()) return true;
      std::string s = engine::parse_tuple_fact(fact).second.back();
      Subject u;
      if (parse_subject(s, &u) && u.type == f.type && u.relation == f.relation && (!p.view() || admits(p.admitted, u))) users.insert(s);
      return true;
    });
  }
  for (auto& s : usersets_reached(e, m, object, relation, Subject{f.type, "", f.relation}, depth_limit)) users.insert(std::move(s));
  json out = json::array();
  for (const auto& s : users) {
    Subject u;
    parse_subject(s, &u);
    if (u.wildcard()) out.push_back({{"wildcard", {{"type", u.type}}}});
    else if (!u.relation.empty()) out.push_back({{"userset", {{"type", u.type}, {"id", u.id}, {"relation", u.relation}}}});
    else out.push_back({{"object", {{"type", u.type}, {"id", u.id}}}});
  }
  return out;
}

namespace {

json expand_node(const engine::Engine& e, const ModelView& m, const Subject& o, const RelationDef& def, const Rewrite& rw) {
  std::string object = o.object(), name = object + "#" + def.name;
  auto set = [&](const char* kind) {
    json nodes = json::array();
    for (const auto& c : rw.children) nodes.push_back(expand_node(e, m, o, def, c));
    return json{{"name", name}, {kind, {{"nodes", nodes}}}};
  };
  switch (rw.kind) {
    case Rewrite::Kind::kThis:
      return {{"name", name}, {"leaf", {{"users", {{"users", direct_users(e, m, def, object, def.name)}}}}}};
    case Rewrite::Kind::kComputed:
      return {{"name", name}, {"leaf", {{"computed", {{"userset", object + "#" + rw.relation}}}}}};
    case Rewrite::Kind::kTupleToUserset: {
      json computed = json::array();
      const RelationDef* ts = m.model.find(o.type, rw.tupleset);
      for (const auto& p : direct_users(e, m, *ts, object, rw.tupleset)) {
        Subject ps;
        if (parse_subject(p, &ps) && m.model.find(ps.type, rw.relation)) computed.push_back({{"userset", p + "#" + rw.relation}});
      }
      return {{"name", name}, {"leaf", {{"tupleToUserset", {{"tupleset", object + "#" + rw.tupleset}, {"computed", computed}}}}}};
    }
    case Rewrite::Kind::kUnion:
      return set("union");
    case Rewrite::Kind::kIntersection:
      return set("intersection");
    case Rewrite::Kind::kDifference:
      return {{"name", name},
              {"difference", {{"base", expand_node(e, m, o, def, rw.children[0])}, {"subtract", expand_node(e, m, o, def, rw.children[1])}}}};
  }
  return json::object();
}

}  // namespace

json expand(const engine::Engine& e, const ModelView& m, const std::string& object, const std::string& relation) {
  Subject o = object_of(m.model, object);
  const RelationDef* def = m.model.find(o.type, relation);
  if (!def) relation_not_found(o.type, relation);
  return {{"root", expand_node(e, m, o, *def, def->rewrite)}};
}

std::string user_string(const json& user) {
  auto str = [](const json& o, const char* k) { return o.is_object() && o.contains(k) && o[k].is_string() ? o[k].get<std::string>() : ""; };
  if (user.contains("wildcard")) return str(user["wildcard"], "type") + ":*";
  if (user.contains("userset")) return str(user["userset"], "type") + ":" + str(user["userset"], "id") + "#" + str(user["userset"], "relation");
  if (user.contains("object")) return str(user["object"], "type") + ":" + str(user["object"], "id");
  return "";
}

}  // namespace pmesh::fga
