#include "server/graphql/kube_schema.h"

#include <cctype>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <set>

#include "engine/json_path.h"
#include "server/api/discovery.h"

namespace pmesh::graphql {
namespace {

// flect.Pascalize as the gateway uses it: words split at `_`, each
// capitalized, the acronyms flect knows written in capitals.
std::string pascalize(const std::string& s) {
  static const std::set<std::string> acronyms = {"API", "CPU", "CSS", "DNS", "HTML", "HTTP", "HTTPS", "ID", "IP",
                                                 "JSON", "RAM", "SQL", "SSH", "TCP", "TLS", "TTL", "UDP", "UI",
                                                 "UID", "UUID", "URI", "URL", "VM", "XML"};
  std::string out, word;
  auto flush = [&] {
    if (word.empty()) return;
    std::string upper = word;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (acronyms.count(upper)) {
      out += upper;
    } else {
      word[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(word[0])));
      out += word;
    }
    word.clear();
  };
  for (char c : s) {
    if (c == '_' || c == '-' || c == '.' || c == ' ') flush();
    else word += c;
  }
  flush();
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// flect.Pluralize of a Kind: the kind's own plural where it extends the
// kind's name (accounts -> Accounts), English rules otherwise.
std::string plural_name(const dsl::KindDecl& k) {
  std::string kind = lower(k.name);
  if (k.plural.size() > kind.size() && k.plural.compare(0, kind.size(), kind) == 0) return k.name + k.plural.substr(kind.size());
  const std::string& n = k.name;
  auto ends = [&](const char* s) { return n.size() >= std::strlen(s) && n.compare(n.size() - std::strlen(s), std::string::npos, s) == 0; };
  if (ends("s") || ends("x") || ends("z") || ends("ch") || ends("sh")) return n + "es";
  if (n.size() > 1 && n.back() == 'y' && !std::strchr("aeiouAEIOU", n[n.size() - 2])) return n.substr(0, n.size() - 1) + "ies";
  return n + "s";
}

std::string description_of(const Json& s) {
  auto it = s.find("description");
  return it != s.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// OpenAPI schemas to GraphQL types, as the gateway's types.Converter.
class Converter {
 public:
  Converter(Schema& schema, const Json& definitions) : schema_(schema), defs_(definitions) {}

  // The object type `name` (and `name`Input) of `s`'s properties; false when
  // it has none.
  bool object(const Json& s, const std::string& name) {
    std::vector<Field> fields;
    std::vector<InputValue> inputs;
    convert_fields(s, name, &fields, &inputs);
    if (fields.empty()) return false;
    add(name, s, std::move(fields), std::move(inputs));
    return true;
  }

 private:
  void add(const std::string& name, const Json& s, std::vector<Field> fields, std::vector<InputValue> inputs) {
    Type out;
    out.kind = Type::Kind::kObject;
    out.name = name;
    out.description = description_of(s);
    out.fields = std::move(fields);
    Type in;
    in.kind = Type::Kind::kInputObject;
    in.name = name + "Input";
    in.description = out.description;
    in.input_fields = std::move(inputs);
    schema_.add(std::move(out));
    schema_.add(std::move(in));
  }

  void convert_fields(const Json& s, const std::string& prefix, std::vector<Field>* fields, std::vector<InputValue>* inputs) {
    auto props = s.find("properties");
    if (props == s.end() || !props->is_object()) return;
    std::set<std::string> taken;
    for (const auto& [key, spec] : props->items()) {
      std::string name = sanitize_name(key);
      if (name.rfind("__", 0) == 0) name = "_" + name.substr(2);  // names starting __ are introspection's
      // Two keys that sanitize alike ("a-b", "a_b"): the first (in key
      // order) is served, so the type stays valid.
      if (!taken.insert(name).second) continue;
      auto [out, in] = convert(spec, prefix, key);
      Field f;
      f.name = name;
      f.key = key;
      f.type = out;
      f.description = description_of(spec);
      fields->push_back(std::move(f));
      inputs->push_back({name, description_of(spec), in, std::nullopt, key});
    }
  }

  std::pair<TypeRef, TypeRef> convert(const Json& s, const std::string& prefix, const std::string& field) {
    static const std::pair<TypeRef, TypeRef> kString{named("String"), named("String")};
    if (!s.is_object()) return kString;
    auto type = s.find("type");
    if (type == s.end() || !type->is_string()) return ref(s, field);
    const std::string& t = type->get_ref<const std::string&>();
    if (t == "string") return kString;
    if (t == "integer") return {named("Int"), named("Int")};
    if (t == "number") return {named("Float"), named("Float")};
    if (t == "boolean") return {named("Boolean"), named("Boolean")};
    if (t == "array") {
      auto items = s.find("items");
      if (items == s.end() || !items->is_object()) return {TypeRef::list(named("String")), TypeRef::list(named("String"))};
      auto [out, in] = convert(*items, prefix, field);
      return {TypeRef::list(out), TypeRef::list(in)};
    }
    if (t == "object") return object_field(s, prefix + field);
    return kString;
  }

  std::pair<TypeRef, TypeRef> object_field(const Json& s, const std::string& type_name) {
    auto props = s.find("properties");
    if (props != s.end() && props->is_object() && !props->empty()) {
      std::string name = sanitize_name(type_name);
      if (schema_.has(name)) return {named(name), named(name + "Input")};
      // A type that refers to itself (through a $ref) stops at a String,
      // as the gateway's registry does.
      if (!processing_.insert(name).second) return {named("String"), named("String")};
      std::vector<Field> fields;
      std::vector<InputValue> inputs;
      convert_fields(s, type_name, &fields, &inputs);
      processing_.erase(name);
      add(name, s, std::move(fields), std::move(inputs));
      return {named(name), named(name + "Input")};
    }
    auto extra = s.find("additionalProperties");
    if (extra != s.end() && extra->is_object() && extra->value("type", "") == "string")
      return {named(kStringMapScalar), named(kStringMapScalar)};
    return {named(kJsonStringScalar), named(kJsonStringScalar)};
  }

  // A field that only refers to a definition (`allOf: [{$ref}]`, as kube
  // publishes metadata): that definition's type, named after it and the field.
  std::pair<TypeRef, TypeRef> ref(const Json& s, const std::string& field) {
    auto all = s.find("allOf");
    if (all == s.end() || !all->is_array() || all->empty() || !(*all)[0].is_object()) return {named("String"), named("String")};
    std::string target = engine::string_field((*all)[0], "$ref");
    const std::string prefix = "#/components/schemas/";
    if (target.rfind(prefix, 0) != 0) return {named("String"), named("String")};
    std::string def = target.substr(prefix.size());
    auto it = defs_.find(def);
    if (it == defs_.end()) return {named("String"), named("String")};
    return convert(*it, def, field);
  }

  Schema& schema_;
  const Json& defs_;
  std::set<std::string> processing_;
};

InputValue arg(const char* name, TypeRef type, const char* description, std::optional<Json> def = std::nullopt) {
  return {name, description, std::move(type), std::move(def), name};
}

InputValue name_arg() { return arg("name", nn(named("String")), "The name of the object"); }
InputValue namespace_arg() { return arg("namespace", named("String"), "The namespace in which to search for the objects"); }
InputValue dry_run_arg() { return arg("dryRun", named("Boolean"), "If true, the operation will be performed in dry-run mode"); }

std::vector<InputValue> item_args(bool namespaced) {
  std::vector<InputValue> out = {name_arg()};
  if (namespaced) out.push_back(namespace_arg());
  return out;
}

std::vector<InputValue> list_args(bool namespaced) {
  std::vector<InputValue> out = {
      arg("labelselector", named("String"), "A label selector to filter the objects by"),
      arg("sortBy", named("String"), "The field to sort the results by", Json("metadata.name")),
      arg("limit", named("Int"), "Maximum number of items to return (server may return fewer)"),
      arg("continue", named("String"), "Continue token from a previous list call to retrieve the next page")};
  if (namespaced) out.push_back(namespace_arg());
  return out;
}

void add_subscription_args(std::vector<InputValue>& args) {
  args.push_back(arg("subscribeToAll", named("Boolean"), "If true, events will be emitted on every field change", Json(false)));
  args.push_back(arg("resourceVersion", named("String"),
                     "If set, subscription will stream changes starting from this resourceVersion. If omitted will return all"));
}

Field op_field(std::string name, TypeRef type, std::vector<InputValue> args, FieldOp op, int resource,
               std::string description = "") {
  Field f;
  f.name = std::move(name);
  f.key = f.name;
  f.type = std::move(type);
  f.args = std::move(args);
  f.op = op;
  f.resource = resource;
  f.description = std::move(description);
  return f;
}

Field nested(const std::string& name, const std::string& type) {
  Field f;
  f.name = f.key = name;
  f.type = named(type);
  return f;
}

// A group's or version's field: it resolves to its source, as the
// gateway's CommonResolver.
Field through(const std::string& name, const std::string& type) {
  Field f = nested(name, type);
  f.key.clear();
  return f;
}

Type object_type(const std::string& name) {
  Type t;
  t.kind = Type::Kind::kObject;
  t.name = name;
  return t;
}

// The kind's definition in its group-version's OpenAPI document.
const Json* definition_of(const Json& defs, const dsl::KindDecl& k) {
  for (const auto& [name, d] : defs.items()) {
    auto gvk = d.find("x-kubernetes-group-version-kind");
    if (gvk == d.end() || !gvk->is_array() || gvk->size() != 1) continue;
    const Json& g = (*gvk)[0];
    if (engine::string_field(g, "group") == k.group && engine::string_field(g, "version") == k.version &&
        engine::string_field(g, "kind") == k.name)
      return &d;
  }
  return nullptr;
}

}  // namespace

std::string sanitize_name(const std::string& group) {
  std::string out = group;
  for (auto& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
  if (!out.empty() && std::isdigit(static_cast<unsigned char>(out[0]))) out = "_" + out;
  return out;
}

std::string kube_schema_key(const std::vector<const dsl::KindDecl*>& kinds) {
  // The engine's kind declarations are immutable and never freed
  // (engine/kinds.h): their addresses name them.
  std::string key;
  key.reserve(kinds.size() * 17);
  char buf[24];
  for (const auto* k : kinds) {
    int n = std::snprintf(buf, sizeof buf, "%p,", static_cast<const void*>(k));
    key.append(buf, static_cast<size_t>(n));
  }
  return key;
}

std::shared_ptr<const Schema> kube_schema(const std::vector<const dsl::KindDecl*>& kinds) {
  auto schema = std::make_shared<Schema>();
  Schema& s = *schema;
  Type json_string;
  json_string.name = kJsonStringScalar;
  json_string.description = "A JSON-serialized string representation of any object.";
  s.add(json_string);
  Type string_map;
  string_map.name = kStringMapScalar;
  string_map.description = "Input type for a map from strings to strings.";
  s.add(string_map);
  Type event_type;
  event_type.kind = Type::Kind::kEnum;
  event_type.name = "WatchEventType";
  event_type.enum_values = {"ADDED", "DELETED", "MODIFIED"};
  s.add(event_type);

  // group -> version -> kinds, in order, for a schema that reads the same
  // on every request.
  std::map<std::string, std::map<std::string, std::vector<const dsl::KindDecl*>>> groups;
  for (const auto* k : kinds) groups[k->group][k->version].push_back(k);

  Type query = object_type("Query"), mutation = object_type("Mutation"), subscription = object_type("Subscription");
  for (auto& [group, versions] : groups) {
    std::string sg = sanitize_name(group);
    Type group_query = object_type(pascalize(sg) + "Query"), group_mutation = object_type(pascalize(sg) + "Mutation");
    for (auto& [version, ks] : versions) {
      std::string gv = pascalize(sg + "_" + version);
      Type version_query = object_type(gv + "Query"), version_mutation = object_type(gv + "Mutation");
      std::string path = group.empty() ? "api/" + version : "apis/" + group + "/" + version;
      Json doc = server::openapi_v3_group_version(kinds, path);
      const Json& defs = doc.is_object() ? doc["components"]["schemas"] : Json::object();
      std::sort(ks.begin(), ks.end(), [](const dsl::KindDecl* a, const dsl::KindDecl* b) { return a->name < b->name; });
      for (const auto* k : ks) {
        const Json* def = definition_of(defs, *k);
        std::string unique = gv + k->name;
        if (!def || s.has(unique)) continue;
        Converter conv(s, defs);
        if (!conv.object(*def, unique)) continue;
        int r = static_cast<int>(s.resources.size());
        bool ns = k->scope == dsl::Scope::kNamespaced;
        for (const auto& c : k->categories)
          s.categories[c].push_back(
              {{"kind", k->name}, {"group", k->group}, {"version", k->version}, {"scope", ns ? "Namespaced" : "Cluster"}});
        s.resources.push_back({k->group, k->version, k->name, k->plural, ns});
        Type list = object_type(unique + "List");
        list.fields = {nested("resourceVersion", "String"),
                       {"items", "", nn(TypeRef::list(nn(named(unique)))), {}, "items"},
                       nested("continue", "String"),
                       nested("remainingItemCount", "Int")};
        s.add(list);
        std::string plural = plural_name(*k);
        version_query.fields.push_back(op_field(plural, nn(named(unique + "List")), list_args(ns), FieldOp::kList, r));
        version_query.fields.push_back(op_field(k->name, nn(named(unique)), item_args(ns), FieldOp::kGet, r));
        version_query.fields.push_back(op_field(k->name + "Yaml", nn(named("String")), item_args(ns), FieldOp::kGetYaml, r));

        std::vector<InputValue> create = {arg("object", nn(named(unique + "Input")), "The object to create or update"), dry_run_arg()};
        if (ns) create.push_back(namespace_arg());
        std::vector<InputValue> update = create;
        update.push_back(name_arg());
        std::vector<InputValue> del = item_args(ns);
        del.push_back(dry_run_arg());
        version_mutation.fields.push_back(op_field("create" + k->name, named(unique), create, FieldOp::kCreate, r));
        version_mutation.fields.push_back(op_field("update" + k->name, named(unique), update, FieldOp::kUpdate, r));
        version_mutation.fields.push_back(op_field("delete" + k->name, named("Boolean"), del, FieldOp::kDelete, r));

        Type event = object_type(unique + "Event");
        event.fields = {{"type", "", nn(named("WatchEventType")), {}, "type"}, nested("object", unique)};
        s.add(event);
        std::string sub = lower(sg.empty() ? version + "_" : sg + "_" + version + "_");
        std::vector<InputValue> one = item_args(ns), all = list_args(ns);
        add_subscription_args(one);
        add_subscription_args(all);
        subscription.fields.push_back(op_field(sub + lower(k->name), named(unique + "Event"), one, FieldOp::kSubscribeOne, r,
                                               "Subscribe to changes of " + k->name));
        subscription.fields.push_back(op_field(sub + lower(plural), named(unique + "Event"), all, FieldOp::kSubscribeAll, r,
                                               "Subscribe to changes of " + plural));
      }
      Type& q_parent = group.empty() ? query : group_query;
      Type& m_parent = group.empty() ? mutation : group_mutation;
      if (!version_query.fields.empty()) {
        q_parent.fields.push_back(through(version, version_query.name));
        s.add(std::move(version_query));
      }
      if (!version_mutation.fields.empty()) {
        m_parent.fields.push_back(through(version, version_mutation.name));
        s.add(std::move(version_mutation));
      }
    }
    if (!group.empty() && !group_query.fields.empty()) {
      query.fields.push_back(through(sg, group_query.name));
      s.add(std::move(group_query));
    }
    if (!group.empty() && !group_mutation.fields.empty()) {
      mutation.fields.push_back(through(sg, group_mutation.name));
      s.add(std::move(group_mutation));
    }
  }
  // The gateway's custom query: the kinds of a category, for the portal.
  Type by_category = object_type("typeByCategoryObject");
  for (const char* f : {"kind", "group", "version", "scope"}) by_category.fields.push_back({f, "", nn(named("String")), {}, f});
  s.add(std::move(by_category));
  query.fields.push_back(op_field("typeByCategory", nn(TypeRef::list(nn(named("typeByCategoryObject")))), {name_arg()},
                                  FieldOp::kTypeByCategory, -1));
  Field apply = op_field("applyYaml", named(kJsonStringScalar),
                         {arg("yaml", nn(named("String")), "YAML manifest to apply (single document only)")}, FieldOp::kApplyYaml, -1);
  mutation.fields.push_back(std::move(apply));
  s.mutation = "Mutation";
  if (!subscription.fields.empty()) s.subscription = "Subscription";
  s.add(std::move(query));
  s.add(std::move(mutation));
  if (!s.subscription.empty()) s.add(std::move(subscription));
  return schema;
}

}  // namespace pmesh::graphql
