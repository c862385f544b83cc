#include "server/graphql/executor.h"

#include <cmath>
#include <set>

#include "engine/json_path.h"
#include "server/graphql/values.h"

namespace pmesh::graphql {
namespace {

constexpr int kMaxDepthOfWatch = 64;

// A field error: the field is null and the error reported.
struct FieldFailure {
  std::string message;
};

// A leaf value as the scalar serializes it (graphql-js's serialize).
OrderedJson serialize(const Type& t, const Json& v) {
  const std::string& n = t.name;
  if (t.kind == Type::Kind::kEnum) {
    if (v.is_string())
      for (const auto& e : t.enum_values)
        if (e == v.get_ref<const std::string&>()) return OrderedJson(e);
    throw FieldFailure{"Enum \"" + n + "\" cannot represent value: " + v.dump()};
  }
  if (n == kJsonStringScalar) return OrderedJson(v.dump());
  if (n == kStringMapScalar) return OrderedJson(v);
  if (n == "String" || n == "ID") {
    if (v.is_string()) return OrderedJson(v.get<std::string>());
    if (v.is_boolean()) return OrderedJson(v.get<bool>() ? "true" : "false");
    if (v.is_number()) return OrderedJson(v.dump());
    throw FieldFailure{n + " cannot represent value: " + v.dump()};
  }
  if (n == "Boolean") {
    if (v.is_boolean()) return OrderedJson(v.get<bool>());
    if (v.is_number()) return OrderedJson(v.get<double>() != 0);
    throw FieldFailure{"Boolean cannot represent a non boolean value: " + v.dump()};
  }
  if (n == "Int") {
    // Kubernetes' int64 fields are served whole, beyond GraphQL's 32 bits.
    if (v.is_number_integer()) return OrderedJson(v);
    if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()) return OrderedJson(static_cast<int64_t>(v.get<double>()));
    if (v.is_boolean()) return OrderedJson(v.get<bool>() ? 1 : 0);
    throw FieldFailure{"Int cannot represent non-integer value: " + v.dump()};
  }
  if (n == "Float") {
    if (v.is_number()) return OrderedJson(v.get<double>());
    throw FieldFailure{"Float cannot represent non numeric value: " + v.dump()};
  }
  throw FieldFailure{"unknown scalar " + n};
}

}  // namespace

std::string path_key(const Json& path) {
  std::string out;
  for (const auto& p : path) out += (out.empty() ? "" : ".") + (p.is_string() ? p.get<std::string>() : p.dump());
  return out;
}

Execution::Execution(std::shared_ptr<const Schema> schema, std::shared_ptr<const Document> doc,
                     const std::string& operation_name, const Json& variables)
    : schema_(std::move(schema)), doc_(std::move(doc)) {
  const Operation* op = nullptr;
  for (const auto& o : doc_->operations) {
    if (operation_name.empty() ? doc_->operations.size() == 1 : o.name == operation_name) op = &o;
  }
  if (!op) {
    errors_.push_back({operation_name.empty() ? "Must provide operation name if query contains multiple operations."
                                              : "Unknown operation named \"" + operation_name + "\".",
                       {},
                       nullptr});
    return;
  }
  if (!variables.is_null() && !variables.is_object()) {
    errors_.push_back({"Variables must be provided as an Object where each property is a variable value.", {}, nullptr});
    return;
  }
  // CoerceVariableValues.
  for (const auto& def : op->variables) {
    auto given = variables.is_object() ? variables.find(def.name) : variables.end();
    bool present = variables.is_object() && given != variables.end();
    std::string why;
    if (!present) {
      if (def.default_value) {
        auto v = coerce_literal(*schema_, *def.default_value, def.type, nullptr, &why);
        if (v) variables_[def.name] = *v;
      } else if (def.type.non_null_()) {
        errors_.push_back({"Variable \"$" + def.name + "\" of required type \"" + def.type.to_string() + "\" was not provided.",
                           {def.loc},
                           nullptr});
      }
      continue;
    }
    auto v = coerce_json(*schema_, *given, def.type, &why);
    if (!v) {
      errors_.push_back({"Variable \"$" + def.name + "\" got invalid value " + given->dump() + "; " + why, {def.loc}, nullptr});
      continue;
    }
    variables_[def.name] = *v;
  }
  if (errors_.empty()) op_ = op;
}

bool Execution::included(const std::vector<Directive>& ds) const {
  for (const auto& d : ds) {
    if (d.name != "skip" && d.name != "include") continue;
    bool value = false;
    for (const auto& a : d.args) {
      if (a.name != "if") continue;
      std::string why;
      auto v = coerce_literal(*schema_, a.value, TypeRef::named("Boolean"), &variables_, &why);
      value = v && v->is_boolean() && v->get<bool>();
    }
    if (d.name == "skip" && value) return false;
    if (d.name == "include" && !value) return false;
  }
  return true;
}

void Execution::collect(const Type& type, const SelectionSet& set, Collected* out, std::set<std::string>* fragments) const {
  for (const auto& s : set) {
    if (!included(s.directives)) continue;
    if (s.kind == Selection::Kind::kField) {
      const std::string& key = s.response_key();
      auto it = std::find_if(out->begin(), out->end(), [&](const auto& e) { return e.first == key; });
      if (it == out->end()) out->push_back({key, {&s}});
      else it->second.push_back(&s);
    } else if (s.kind == Selection::Kind::kInlineFragment) {
      if (s.type_condition.empty() || s.type_condition == type.name) collect(type, s.selections, out, fragments);
    } else if (fragments->insert(s.name).second) {
      const Fragment* f = doc_->fragment(s.name);
      if (f && f->type_condition == type.name) collect(type, f->selections, out, fragments);
    }
  }
}

Json Execution::arguments(const std::vector<InputValue>& defs, const Selection& node, std::string* why) const {
  Json out = Json::object();
  for (const auto& d : defs) {
    const Argument* given = nullptr;
    for (const auto& a : node.args)
      if (a.name == d.name) given = &a;
    std::optional<Json> v;
    if (given) {
      v = coerce_literal(*schema_, given->value, d.type, &variables_, why);
      if (!v && !why->empty()) {
        *why = "Argument \"" + d.name + "\" has invalid value " + print_value(given->value) + ": " + *why;
        return nullptr;
      }
    }
    if (!v && d.default_value) v = *d.default_value;
    if (!v && d.type.non_null_()) {
      *why = given ? "Argument \"" + d.name + "\" of required type \"" + d.type.to_string() + "\" was provided the variable \"$" +
                         given->value.text + "\" which was not provided a runtime value."
                   : "Argument \"" + d.name + "\" of required type \"" + d.type.to_string() + "\" was not provided.";
      return nullptr;
    }
    if (v) out[d.key] = *v;
  }
  return out;
}

std::vector<std::string> Execution::watched(const Fields& fields) const {
  // The leaves under `object`, as the gateway's extractRequestedFields.
  std::vector<std::string> out;
  std::function<void(const SelectionSet&, const std::string&, int)> walk = [&](const SelectionSet& set,
                                                                               const std::string& prefix, int depth) {
    if (depth > kMaxDepthOfWatch) return;
    for (const auto& s : set) {
      if (s.kind == Selection::Kind::kField) {
        std::string p = prefix.empty() ? s.name : prefix + "." + s.name;
        if (s.has_selections) walk(s.selections, p, depth + 1);
        else if (s.name != "__typename") out.push_back(p);
      } else if (s.kind == Selection::Kind::kInlineFragment) {
        walk(s.selections, prefix, depth + 1);
      } else if (const Fragment* f = doc_->fragment(s.name)) {
        walk(f->selections, prefix, depth + 1);
      }
    }
  };
  for (const Selection* f : fields)
    for (const auto& s : f->selections)
      if (s.kind == Selection::Kind::kField && s.name == "object" && s.has_selections) walk(s.selections, "", 0);
  return out;
}

const Json* Execution::resolve(const Type& parent, const Field* f, const Json& source, const Json& args, const Json& path,
                               Json& scratch) {
  static const Json kNull;
  const std::string& name = f->name;
  auto made = [&](Json v) {
    scratch = std::move(v);
    return &scratch;
  };
  if (name == "__typename") return made(parent.name);
  if (parent.name == schema_->query && name == "__schema") return made(Json::object());
  if (parent.name == schema_->query && name == "__type") {
    std::string n = engine::string_field(args, "name");
    return made(schema_->has(n) ? Json(n) : Json());
  }
  if (parent.name == "__Schema") return made(schema_->introspect_schema(name));
  if (parent.name == "__Type") {
    bool deprecated = engine::true_field(args, "includeDeprecated");
    return made(source.is_string() ? schema_->introspect_type(source.get<std::string>(), name, deprecated) : Json());
  }
  if (f->op == FieldOp::kTypeByCategory) {
    auto it = schema_->categories.find(engine::string_field(args, "name"));
    return made(it == schema_->categories.end() ? Json::array() : it->second);
  }
  if (f->op != FieldOp::kNone) {
    std::string key = path_key(path);
    if (collecting_) {
      Call c;
      c.op = f->op;
      c.resource = f->resource >= 0 ? &schema_->resources[static_cast<size_t>(f->resource)] : nullptr;
      c.args = args;
      c.path = key;
      calls_.push_back(std::move(c));
      return &kNull;
    }
    auto it = results_.find(key);
    if (it == results_.end()) return &kNull;
    if (it->second.failed) throw FieldFailure{it->second.error};
    return &it->second.value;
  }
  // Everything else reads the source where it is: lists of thousands of
  // objects are walked, not copied.
  if (f->key.empty()) return source.is_null() ? made(Json::object()) : &source;
  if (!source.is_object()) return &kNull;
  auto it = source.find(f->key);
  return it == source.end() ? &kNull : &*it;
}

namespace {

// Pushes a response path element for a scope: paths are one stack, not
// copied per field of every listed object.
struct PathStep {
  Json& path;
  template <typename T>
  PathStep(Json& p, T step) : path(p) {
    path.push_back(std::move(step));
  }
  ~PathStep() { path.erase(path.size() - 1); }
};

}  // namespace

Execution::Done Execution::field(const Type& parent, const Json& source, const std::string& key, const Fields& fields,
                                 Json& path, OrderedJson* out) {
  const Selection& node = *fields.front();
  PathStep step(path, key);
  const Field* f = schema_->field(parent, node.name);
  if (!f) {
    *out = nullptr;  // validation refuses this; nothing to say twice
    return Done::kValue;
  }
  const TypeRef& type = f->type;
  try {
    std::string why;
    Json args = arguments(f->args, node, &why);
    if (args.is_null()) throw FieldFailure{why};
    Json scratch;
    const Json* value = resolve(parent, f, source, args, path, scratch);
    if (collecting_ && f->op != FieldOp::kNone && f->op != FieldOp::kTypeByCategory) {
      if (f->op == FieldOp::kSubscribeOne || f->op == FieldOp::kSubscribeAll) calls_.back().watched = watched(fields);
      *out = nullptr;
      return Done::kValue;
    }
    Done d = complete(type, fields, *value, path, {parent.name, f->name}, out);
    return d == Done::kPropagate ? Done::kPropagate : Done::kValue;
  } catch (const FieldFailure& e) {
    if (!collecting_) errors_.push_back({e.message, {node.loc}, path});
    *out = nullptr;
    return type.non_null_() ? Done::kPropagate : Done::kValue;
  }
}

Execution::Done Execution::complete(const TypeRef& type, const Fields& fields, const Json& value, Json& path,
                                    const Owner& owner, OrderedJson* out, const Collected* collected) {
  if (type.wrap == TypeRef::Wrap::kNonNull) {
    Done d = complete(*type.of, fields, value, path, owner, out, collected);
    if (d == Done::kValue && out->is_null()) {
      if (!collecting_)
        errors_.push_back({"Cannot return null for non-nullable field " + owner.type + "." + owner.field + ".", {fields.front()->loc}, path});
      return Done::kPropagate;
    }
    return d == Done::kValue ? Done::kValue : Done::kPropagate;
  }
  if (value.is_null()) {
    *out = nullptr;
    return Done::kValue;
  }
  if (type.wrap == TypeRef::Wrap::kList) {
    if (!value.is_array())
      throw FieldFailure{"Expected Iterable, but did not find one for field \"" + owner.type + "." + owner.field + "\"."};
    // The items' fields, collected once for all of them.
    Collected items;
    const Type* item = schema_->type(type.of->named_type());
    if (item && item->kind == Type::Kind::kObject && !collected) {
      std::set<std::string> fragments;
      for (const Selection* f : fields) collect(*item, f->selections, &items, &fragments);
      collected = &items;
    }
    *out = OrderedJson::array();
    for (size_t i = 0; i < value.size(); ++i) {
      PathStep step(path, i);
      OrderedJson one;
      Done d = complete(*type.of, fields, value[i], path, owner, &one, collected);
      if (d == Done::kPropagate) {
        *out = nullptr;
        return Done::kNullFromChild;
      }
      out->push_back(std::move(one));
    }
    return Done::kValue;
  }
  const Type* t = schema_->type(type.name);
  if (!t) throw FieldFailure{"Unknown type " + type.name};
  if (t->kind == Type::Kind::kScalar || t->kind == Type::Kind::kEnum) {
    *out = serialize(*t, value);
    return Done::kValue;
  }
  Collected sub;
  if (!collected) {
    std::set<std::string> fragments;
    for (const Selection* f : fields) collect(*t, f->selections, &sub, &fragments);
    collected = &sub;
  }
  Done d = selection_set(*t, value, *collected, path, out);
  if (d == Done::kPropagate) {
    *out = nullptr;
    return Done::kNullFromChild;
  }
  return d;
}

Execution::Done Execution::selection_set(const Type& type, const Json& source, const Collected& fields, Json& path,
                                         OrderedJson* out) {
  *out = OrderedJson::object();
  bool null_out = false;
  for (const auto& [key, nodes] : fields) {
    OrderedJson v;
    if (field(type, source, key, nodes, path, &v) == Done::kPropagate) null_out = true;
    if (!null_out) (*out)[key] = std::move(v);
  }
  if (null_out) {
    *out = nullptr;
    return Done::kPropagate;
  }
  return Done::kValue;
}

const Type& Execution::root(Collected* fields) const {
  std::string name = op_->type == OperationType::kQuery ? schema_->query
                     : op_->type == OperationType::kMutation ? schema_->mutation
                                                              : schema_->subscription;
  const Type* t = schema_->type(name);
  std::set<std::string> fragments;
  collect(*t, op_->selections, fields, &fragments);
  return *t;
}

const std::vector<Call>& Execution::calls() {
  if (collected_) return calls_;
  collecting_ = true;
  calls_.clear();
  Collected fields;
  const Type& t = root(&fields);
  OrderedJson ignored;
  Json path = Json::array();
  selection_set(t, Json::object(), fields, path, &ignored);
  collecting_ = false;
  collected_ = true;
  return calls_;
}

OrderedJson Execution::respond() {
  Collected fields;
  const Type& t = root(&fields);
  std::vector<Error> before = errors_;
  OrderedJson data;
  Json path = Json::array();
  selection_set(t, Json::object(), fields, path, &data);
  OrderedJson out = OrderedJson::object();
  if (!errors_.empty()) {
    out["errors"] = OrderedJson::array();
    for (const auto& e : errors_) out["errors"].push_back(error_json(e));
  }
  out["data"] = std::move(data);
  errors_ = std::move(before);  // a subscription answers many events
  return out;
}

}  // namespace pmesh::graphql
