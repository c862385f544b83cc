// GraphQL documents, as anyone who may see a workspace sends them: parsed,
// held to the limits, validated, and executed against a small schema with
// canned results for the fields that would call the API.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/graphql/executor.h"
#include "server/graphql/parser.h"
#include "server/graphql/validation.h"

namespace g = pmesh::graphql;

namespace {

std::shared_ptr<const g::Schema> schema() {
  auto s = std::make_shared<g::Schema>();
  auto field = [](std::string name, g::TypeRef type) {
    g::Field f;
    f.name = f.key = std::move(name);
    f.type = std::move(type);
    return f;
  };
  auto named = [](const char* n) { return g::TypeRef::named(n); };
  g::Type json;
  json.name = g::kJsonStringScalar;
  s->add(json);
  g::Type map;
  map.name = g::kStringMapScalar;
  s->add(map);
  g::Type thing;
  thing.kind = g::Type::Kind::kObject;
  thing.name = "Thing";
  thing.fields = {field("name", named("String")), field("n", named("Int")), field("tags", g::TypeRef::list(named("String"))),
                  field("meta", named(g::kStringMapScalar)), field("raw", named(g::kJsonStringScalar)),
                  field("child", named("Thing")), field("must", g::TypeRef::non_null(named("String")))};
  s->add(thing);
  g::Type input;
  input.kind = g::Type::Kind::kInputObject;
  input.name = "ThingInput";
  input.input_fields = {{"name", "", named("String"), std::nullopt, "name"}, {"n", "", named("Int"), pmesh::graphql::Json(1), "n"},
                        {"meta", "", named(g::kStringMapScalar), std::nullopt, "meta"}};
  s->add(input);
  s->resources.push_back({"g", "v1", "Thing", "things", true});
  g::Type query;
  query.kind = g::Type::Kind::kObject;
  query.name = "Query";
  g::Field list = field("things", g::TypeRef::non_null(g::TypeRef::list(g::TypeRef::non_null(named("Thing")))));
  list.op = g::FieldOp::kList;
  list.resource = 0;
  list.args = {{"limit", "", named("Int"), std::nullopt, "limit"}, {"label", "", named("String"), pmesh::graphql::Json("x"), "label"}};
  g::Field one = field("thing", named("Thing"));
  one.op = g::FieldOp::kGet;
  one.resource = 0;
  one.args = {{"name", "", g::TypeRef::non_null(named("String")), std::nullopt, "name"}};
  query.fields = {list, one};
  s->add(query);
  g::Type mutation;
  mutation.kind = g::Type::Kind::kObject;
  mutation.name = "Mutation";
  g::Field make = field("make", named("Thing"));
  make.op = g::FieldOp::kCreate;
  make.resource = 0;
  make.args = {{"o", "", g::TypeRef::non_null(named("ThingInput")), std::nullopt, "object"}};
  mutation.fields = {make};
  s->add(mutation);
  s->mutation = "Mutation";
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::shared_ptr<const g::Schema> s = schema();
  static const g::Json thing = g::Json::parse(R"({"name": "a", "n": 3, "tags": ["x", 1], "meta": {"k": "v"}, "raw": [1],
                                                   "child": {"name": "b", "child": null}})");
  std::string text(reinterpret_cast<const char*>(data), size);
  g::Error error;
  auto doc = g::parse_document(text, &error);
  if (!doc) return 0;
  if (!g::check_limits(*doc, g::Limits()).empty()) return 0;
  if (!g::validate(*s, *doc).empty()) return 0;
  auto shared = std::make_shared<const g::Document>(std::move(*doc));
  g::Execution exec(s, shared, "", g::Json::parse(R"({"v": "x", "n": 2, "o": {"name": "z"}})"));
  if (!exec.ok()) return 0;
  for (const auto& c : exec.calls())
    exec.set_result(c.path, {c.op == g::FieldOp::kList ? g::Json::array({thing, thing}) : thing, "", c.op == g::FieldOp::kGet && size % 2});
  (void)exec.respond().dump();
  return 0;
}
