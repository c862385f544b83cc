#include "fga/query.h"

#include <algorithm>
#include <set>

namespace pmesh::fga {

using nlohmann::json;

namespace {

[[noreturn]] void invalid(const std::string& message) { throw FgaError("validation_error", message); }

// An id as OpenFGA takes it: no whitespace, and none of the characters that
// separate a tuple's parts.
bool good_id(const std::string& id) {
  return !id.empty() && id.size() <= 256 && id.find_first_of(":#@ \t\r\n") == std::string::npos;
}

Subject object_of(const Model& m, const std::string& object) {
  Subject o;
  if (!parse_subject(object, &o) || !o.relation.empty() || o.wildcard() || !good_id(o.id))
    invalid("invalid 'object' field format: '" + object + "'");
  if (!m.find(o.type)) invalid("type '" + o.type + "' not found");
  return o;
}

Subject user_of(const Model& m, const std::string& user) {
  Subject u;
  if (!parse_subject(user, &u) || (!u.wildcard() && !good_id(u.id)) || (u.wildcard() && !u.relation.empty()))
    invalid("invalid 'user' field format: '" + user + "'");
  if (!m.find(u.type)) invalid("type '" + u.type + "' not found");
  if (!u.relation.empty() && !m.find(u.type, u.relation)) invalid("relation '" + u.type + "#" + u.relation + "' not found");
  return u;
}

const LoweredRelation& relation_of(const ModelView& m, const std::string& type, const std::string& relation) {
  const LoweredRelation* r = m.lowered.find(type, relation);
  if (!r) invalid("relation '" + type + "#" + relation + "' not found");
  return *r;
}

bool holds(const engine::Engine& e, const LoweredRelation& r, const std::string& object, const Subject& u,
           const std::string& user) {
  if (e.has_tuple(r.name, {object, user})) return true;
  if (!u.relation.empty() || u.wildcard() || !r.wild.count(u.type)) return false;
  return e.has_tuple(r.name, {object, u.type + ":*"}) && !(r.cofinite && e.has_tuple(r.except(), {object, user}));
}

}  // namespace

void validate_tuple(const Model& m, const std::string& user, const std::string& relation, const std::string& object) {
  std::string t = object + "#" + relation + "@" + user;
  auto reason = [&](const std::string& why) { invalid("Invalid tuple '" + t + "'. Reason: " + why); };
  Subject o, u;
  if (!parse_subject(object, &o) || !o.relation.empty() || o.wildcard() || !good_id(o.id))
    invalid("invalid 'object' field format: '" + object + "'");
  if (!parse_subject(user, &u) || (!u.wildcard() && !good_id(u.id)) || (u.wildcard() && !u.relation.empty()))
    invalid("invalid 'user' field format: '" + user + "'");
  if (relation.empty()) invalid("invalid 'relation' field format: ''");
  if (!m.find(o.type)) reason("type '" + o.type + "' not found");
  const RelationDef* def = m.find(o.type, relation);
  if (!def) reason("relation '" + o.type + "#" + relation + "' not found");
  if (!m.find(u.type)) reason("type '" + u.type + "' not found");
  for (const auto& tr : def->directly_related)
    if (tr.type == u.type && tr.wildcard == u.wildcard() && tr.relation == u.relation) return;
  if (def->directly_related.empty()) reason("relation '" + o.type + "#" + relation + "' is not directly assignable");
  std::string as = u.wildcard() ? "the typed wildcard '" + u.type + ":*'" : u.relation.empty() ? "type '" + u.type + "'" : "'" + u.type + "#" + u.relation + "'";
  reason(as + " is not an allowed type restriction for '" + o.type + "#" + relation + "'");
}

bool check(const engine::Engine& e, const ModelView& m, const std::string& user, const std::string& relation,
           const std::string& object) {
  Subject o = object_of(m.model, object);
  Subject u = user_of(m.model, user);
  const LoweredRelation& r = relation_of(m, o.type, relation);
  // A userset is in itself (OpenFGA: IsSelfDefining).
  if (u.relation == relation && u.object() == object) return true;
  return holds(e, r, object, u, user);
}

std::vector<std::string> list_objects(engine::Engine& e, const ModelView& m, const std::string& type,
                                      const std::string& relation, const std::string& user) {
  if (!m.model.find(type)) invalid("type '" + type + "' not found");
  Subject u = user_of(m.model, user);
  const LoweredRelation& r = relation_of(m, type, relation);
  // By subject: an index no rule needs, made on first use.
  int by_subject = e.mutable_state().add_index({true, r.name, {"1"}});
  std::set<std::string> out;
  auto collect = [&](const std::string& subject, bool wildcard) {
    e.state().lookup_tuples(by_subject, engine::State::index_key({engine::Json(subject)}), [&](const std::string& fact) {
      std::string obj = engine::parse_tuple_fact(fact).second[0];
      if (!wildcard || !(r.cofinite && e.has_tuple(r.except(), {obj, user}))) out.insert(obj);
      return true;
    });
  };
  collect(user, false);
  if (u.relation.empty() && !u.wildcard() && r.wild.count(u.type)) collect(u.type + ":*", true);
  if (!u.relation.empty() && u.type == type && u.relation == relation) out.insert(u.object());
  return {out.begin(), out.end()};
}

json list_users(const engine::Engine& e, const ModelView& m, const std::string& object, const std::string& relation,
                const std::vector<UserFilter>& filters) {
  Subject o = object_of(m.model, object);
  const LoweredRelation& r = relation_of(m, o.type, relation);
  if (filters.size() != 1) invalid("list-users takes exactly one user filter");
  const UserFilter& f = filters[0];
  if (!m.model.find(f.type)) invalid("type '" + f.type + "' not found");
  if (!f.relation.empty() && !m.model.find(f.type, f.relation)) invalid("relation '" + f.type + "#" + f.relation + "' not found");
  std::set<std::string> users;
  e.state().scan_tuples_with(r.name, object, [&](const std::string& fact) {
    const engine::TupleEntry* t = e.state().tuple(fact);
    if (!t || !t->exists()) return true;
    std::string s = engine::parse_tuple_fact(fact).second[1];
    Subject u;
    if (parse_subject(s, &u) && u.type == f.type && u.relation == f.relation) users.insert(s);
    return true;
  });
  if (!f.relation.empty() && f.type == o.type && f.relation == relation) users.insert(object + "#" + relation);
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

std::string user_string(const json& user) {
  auto str = [](const json& o, const char* k) { return o.is_object() && o.contains(k) && o[k].is_string() ? o[k].get<std::string>() : ""; };
  if (user.contains("wildcard")) return str(user["wildcard"], "type") + ":*";
  if (user.contains("userset")) return str(user["userset"], "type") + ":" + str(user["userset"], "id") + "#" + str(user["userset"], "relation");
  if (user.contains("object")) return str(user["object"], "type") + ":" + str(user["object"], "id");
  return "";
}

}  // namespace pmesh::fga
