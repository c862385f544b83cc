#include "fga/model.h"

#include <algorithm>

namespace pmesh::fga {

using nlohmann::json;

namespace {

[[noreturn]] void invalid(const std::string& what) { throw FgaError("validation_error", what); }

// OpenFGA's gateway takes a field by its proto name or its JSON name.
const json* field(const json& o, const char* snake, const char* camel = nullptr) {
  if (!o.is_object()) return nullptr;
  auto it = o.find(snake);
  if (it != o.end() && !it->is_null()) return &*it;
  if (camel) {
    it = o.find(camel);
    if (it != o.end() && !it->is_null()) return &*it;
  }
  return nullptr;
}

std::string string_of(const json* v, const std::string& what) {
  if (!v) return "";
  if (!v->is_string()) invalid(what + " must be a string");
  return v->get<std::string>();
}

Rewrite rewrite_from(const json& j, int depth) {
  // A model nests rewrites; a hostile one nests them without end.
  if (depth > 64) invalid("the userset rewrite nests too deeply");
  if (!j.is_object()) invalid("a userset rewrite must be an object");
  Rewrite r;
  int kinds = 0;
  if (field(j, "this")) {
    r.kind = Rewrite::Kind::kThis;
    ++kinds;
  }
  if (const json* c = field(j, "computed_userset", "computedUserset")) {
    r.kind = Rewrite::Kind::kComputed;
    r.relation = string_of(field(*c, "relation"), "computedUserset.relation");
    ++kinds;
  }
  if (const json* t = field(j, "tuple_to_userset", "tupleToUserset")) {
    r.kind = Rewrite::Kind::kTupleToUserset;
    const json* ts = field(*t, "tupleset");
    const json* cu = field(*t, "computed_userset", "computedUserset");
    r.tupleset = ts ? string_of(field(*ts, "relation"), "tupleset.relation") : "";
    r.relation = cu ? string_of(field(*cu, "relation"), "computedUserset.relation") : "";
    ++kinds;
  }
  for (const char* set : {"union", "intersection"}) {
    if (const json* u = field(j, set)) {
      r.kind = std::string(set) == "union" ? Rewrite::Kind::kUnion : Rewrite::Kind::kIntersection;
      const json* children = field(*u, "child");
      if (!children || !children->is_array() || children->empty()) invalid(std::string(set) + ".child must be a non-empty list");
      for (const auto& c : *children) r.children.push_back(rewrite_from(c, depth + 1));
      ++kinds;
    }
  }
  if (const json* d = field(j, "difference")) {
    r.kind = Rewrite::Kind::kDifference;
    const json* base = field(*d, "base");
    const json* sub = field(*d, "subtract");
    if (!base || !sub) invalid("difference needs base and subtract");
    r.children.push_back(rewrite_from(*base, depth + 1));
    r.children.push_back(rewrite_from(*sub, depth + 1));
    ++kinds;
  }
  if (kinds != 1) invalid("a userset rewrite must hold exactly one of this, computedUserset, tupleToUserset, union, intersection, difference");
  return r;
}

json rewrite_to(const Rewrite& r) {
  auto rel = [](const std::string& name) { return json{{"object", ""}, {"relation", name}}; };
  switch (r.kind) {
    case Rewrite::Kind::kThis:
      return {{"this", json::object()}};
    case Rewrite::Kind::kComputed:
      return {{"computedUserset", rel(r.relation)}};
    case Rewrite::Kind::kTupleToUserset:
      return {{"tupleToUserset", {{"tupleset", rel(r.tupleset)}, {"computedUserset", rel(r.relation)}}}};
    case Rewrite::Kind::kUnion:
    case Rewrite::Kind::kIntersection: {
      json children = json::array();
      for (const auto& c : r.children) children.push_back(rewrite_to(c));
      return {{r.kind == Rewrite::Kind::kUnion ? "union" : "intersection", {{"child", children}}}};
    }
    case Rewrite::Kind::kDifference:
      return {{"difference", {{"base", rewrite_to(r.children[0])}, {"subtract", rewrite_to(r.children[1])}}}};
  }
  return json::object();
}

}  // namespace

std::string TypeRestriction::to_string() const {
  std::string s = type + (wildcard ? ":*" : "") + (relation.empty() ? "" : "#" + relation);
  return condition.empty() ? s : s + " with " + condition;
}

const RelationDef* TypeDef::find(const std::string& relation) const {
  for (const auto& r : relations)
    if (r.name == relation) return &r;
  return nullptr;
}

const TypeDef* Model::find(const std::string& type) const {
  for (const auto& t : types)
    if (t.name == type) return &t;
  return nullptr;
}

const RelationDef* Model::find(const std::string& type, const std::string& relation) const {
  const TypeDef* t = find(type);
  return t ? t->find(relation) : nullptr;
}

Model from_json(const json& j) {
  if (!j.is_object()) invalid("an authorization model must be a JSON object");
  Model m;
  m.schema_version = string_of(field(j, "schema_version", "schemaVersion"), "schema_version");
  const json* tds = field(j, "type_definitions", "typeDefinitions");
  if (!tds || !tds->is_array()) invalid("type_definitions must be a list");
  // OpenFGA bounds a model's size; so do we, before walking it.
  if (tds->size() > 1024) invalid("a model has at most 1024 type definitions");
  for (const auto& td : *tds) {
    if (!td.is_object()) invalid("a type definition must be an object");
    TypeDef t;
    t.name = string_of(field(td, "type"), "type");
    const json* rels = field(td, "relations");
    if (rels && !rels->is_object()) invalid("relations of type '" + t.name + "' must be a map");
    const json* meta = field(td, "metadata");
    const json* meta_rels = meta ? field(*meta, "relations") : nullptr;
    if (rels)
      for (const auto& [name, rw] : rels->items()) {
        RelationDef r;
        r.name = name;
        r.rewrite = rewrite_from(rw, 0);
        const json* rm = meta_rels ? field(*meta_rels, name.c_str()) : nullptr;
        const json* drt = rm ? field(*rm, "directly_related_user_types", "directlyRelatedUserTypes") : nullptr;
        if (drt && !drt->is_array()) invalid("directly_related_user_types must be a list");
        if (drt)
          for (const auto& ref : *drt) {
            TypeRestriction tr;
            tr.type = string_of(field(ref, "type"), "directly_related_user_types.type");
            tr.relation = string_of(field(ref, "relation"), "directly_related_user_types.relation");
            tr.wildcard = field(ref, "wildcard") != nullptr;
            tr.condition = string_of(field(ref, "condition"), "directly_related_user_types.condition");
            r.directly_related.push_back(tr);
          }
        t.relations.push_back(std::move(r));
      }
    std::sort(t.relations.begin(), t.relations.end(), [](const RelationDef& a, const RelationDef& b) { return a.name < b.name; });
    m.types.push_back(std::move(t));
  }
  if (const json* c = field(j, "conditions")) {
    if (!c->is_object()) invalid("conditions must be a map");
    m.conditions = *c;
  }
  return m;
}

json to_json(const Model& m) {
  json types = json::array();
  for (const auto& t : m.types) {
    json rels = json::object(), meta = json::object();
    for (const auto& r : t.relations) {
      rels[r.name] = rewrite_to(r.rewrite);
      json drt = json::array();
      for (const auto& tr : r.directly_related) {
        json ref = {{"type", tr.type}};
        if (!tr.relation.empty()) ref["relation"] = tr.relation;
        if (tr.wildcard) ref["wildcard"] = json::object();
        if (!tr.condition.empty()) ref["condition"] = tr.condition;
        drt.push_back(ref);
      }
      meta[r.name] = {{"directly_related_user_types", drt}};
    }
    json td = {{"type", t.name}, {"relations", rels}};
    td["metadata"] = t.relations.empty() ? json(nullptr) : json{{"relations", meta}};
    types.push_back(td);
  }
  json out = {{"schema_version", m.schema_version}, {"type_definitions", types}};
  if (!m.conditions.empty()) out["conditions"] = m.conditions;
  return out;
}

bool parse_subject(const std::string& s, Subject* out) {
  size_t colon = s.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) return false;
  Subject sub;
  sub.type = s.substr(0, colon);
  std::string rest = s.substr(colon + 1);
  size_t hash = rest.find('#');
  if (hash != std::string::npos) {
    sub.relation = rest.substr(hash + 1);
    rest = rest.substr(0, hash);
    if (sub.relation.empty() || rest.empty()) return false;
  }
  sub.id = rest;
  *out = std::move(sub);
  return true;
}

}  // namespace pmesh::fga
