// The GraphQL gateway: the parser, validation with graphql-js's messages,
// the limits, and execution through the KRM API in one process (queries,
// mutations, errors, null propagation, introspection, subscriptions).
#include <doctest/doctest.h>

#include <chrono>

#include "server/graphql/gateway.h"
#include "server/graphql/kube_schema.h"
#include "server/graphql/parser.h"
#include "server/graphql/validation.h"
#include "tests/unit/server_fixture.h"

namespace pmesh::graphql {
namespace {

using nlohmann::json;

std::string syntax(const std::string& text) {
  Error e;
  auto doc = parse_document(text, &e);
  if (doc) return "ok";
  return e.message + " @" + std::to_string(e.locations[0].line) + ":" + std::to_string(e.locations[0].column);
}

TEST_CASE("graphql parser: the executable grammar") {
  Error e;
  auto doc = parse_document(R"(
    # a comment
    query Q($n: String! = "x", $l: [Int!], $o: WidgetInput) @include(if: true) {
      a: field(s: "q\"\u00e9\uD83D\uDE00", i: -12, f: 1.5e3, b: false, n: null, e: ENUM, l: [1, 2], o: {k: $n}) {
        ...F @skip(if: $b)
        ... on T { x }
        ... @include(if: true) { y }
      }
    }
    fragment F on T { z(block: """
        first
          indented
      """) }
    { shorthand }
  )", &e);
  REQUIRE(doc);
  REQUIRE(doc->operations.size() == 2);
  const Operation& q = doc->operations[0];
  CHECK(q.name == "Q");
  REQUIRE(q.variables.size() == 3);
  CHECK(q.variables[0].type.to_string() == "String!");
  CHECK(q.variables[0].default_value->text == "x");
  CHECK(q.variables[1].type.to_string() == "[Int!]");
  const Selection& a = q.selections[0];
  CHECK(a.alias == "a");
  CHECK(a.name == "field");
  REQUIRE(a.args.size() == 8);
  CHECK(a.args[0].value.text == "q\"\xC3\xA9\xF0\x9F\x98\x80");
  CHECK(a.args[1].value.kind == Value::Kind::kInt);
  CHECK(a.args[2].value.kind == Value::Kind::kFloat);
  CHECK(a.args[5].value.kind == Value::Kind::kEnum);
  CHECK(a.args[7].value.fields[0].value.kind == Value::Kind::kVariable);
  REQUIRE(a.selections.size() == 3);
  CHECK(a.selections[0].kind == Selection::Kind::kFragmentSpread);
  CHECK(a.selections[1].type_condition == "T");
  CHECK(a.selections[2].directives[0].name == "include");
  CHECK(doc->fragments[0].selections[0].args[0].value.text == "first\n  indented");
  CHECK(doc->operations[1].selections[0].name == "shorthand");
  CHECK(a.loc.line == 4);
}

TEST_CASE("graphql parser: syntax errors name the token and where it is") {
  CHECK(syntax("") == "Syntax Error: Unexpected <EOF>. @1:1");
  CHECK(syntax("{ a(b: ) }") == "Syntax Error: Unexpected \")\". @1:8");
  CHECK(syntax("{ a\n  b(\n") == "Syntax Error: Unexpected <EOF>. @3:1");
  CHECK(syntax("type Query { a: String }") == "Syntax Error: Unexpected Name \"type\". @1:1");
  CHECK(syntax("{ a(n: 01) }") == "Syntax Error: Unexpected Int. @1:9");
  CHECK(syntax("{ a(s: \"open) }").rfind("Syntax Error: Unexpected ", 0) == 0);
  // Nesting is bounded before the grammar recurses: no stack to exhaust.
  std::string deep = std::string(100000, '{') + "a" + std::string(100000, '}');
  CHECK(syntax(deep).rfind("Syntax Error: The document nests deeper than 64 levels.", 0) == 0);
  std::string lists = "{ a(l: " + std::string(100000, '[') + ") }";
  CHECK(syntax(lists).rfind("Syntax Error: The document nests deeper", 0) == 0);
  CHECK(syntax("{ a(s: \"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{\") }") == "ok");
}

// A schema of ConfigMaps and a namespaced bound kind with a schema.
std::shared_ptr<const Schema> test_schema(test::ServerFixture& f) { return kube_schema(f.engine().kinds().in_cluster("root")); }

std::vector<std::string> messages(const Schema& s, const std::string& text) {
  Error e;
  auto doc = parse_document(text, &e);
  REQUIRE(doc);
  std::vector<std::string> out;
  for (const auto& err : validate(s, *doc)) out.push_back(err.message);
  return out;
}

TEST_CASE("graphql validation: graphql-js's rules and messages") {
  test::ServerFixture f;
  auto s = test_schema(f);
  using V = std::vector<std::string>;
  CHECK(messages(*s, "{ v1 { ConfigMaps { items { metadata { name } } } } }") == V{});
  CHECK(messages(*s, "{ v1 { Nope } }") == V{"Cannot query field \"Nope\" on type \"V1Query\"."});
  CHECK(messages(*s, "{ v1 { ConfigMap(name: \"a\") } }") ==
        V{"Field \"ConfigMap\" of type \"V1ConfigMap!\" must have a selection of subfields. Did you mean \"ConfigMap { ... }\"?"});
  CHECK(messages(*s, "{ v1 { ConfigMapYaml(name: \"a\") { x } } }") ==
        V{"Field \"ConfigMapYaml\" must not have a selection since type \"String!\" has no subfields."});
  CHECK(messages(*s, "{ v1 { ConfigMap { kind } } }") ==
        V{"Field \"ConfigMap\" argument \"name\" of type \"String!\" is required, but it was not provided."});
  CHECK(messages(*s, "{ v1 { ConfigMap(name: \"a\", colour: 1) { kind } } }") ==
        V{"Unknown argument \"colour\" on field \"V1Query.ConfigMap\"."});
  CHECK(messages(*s, "{ v1 { ConfigMap(name: 5) { kind } } }") ==
        V{"Expected value of type \"String!\", found 5; String cannot represent a non string value: 5"});
  CHECK(messages(*s, "{ v1 { ConfigMaps(limit: \"3\") { continue } } }") ==
        V{"Expected value of type \"Int\", found \"3\"; Int cannot represent non-integer value: \"3\""});
  CHECK(messages(*s, "{ ...Missing }") == V{"Unknown fragment \"Missing\"."});
  CHECK(messages(*s, "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }") ==
        V{"Cannot spread fragment \"A\" within itself via \"B\"."});
  CHECK(messages(*s, "fragment A on Query { __typename } { __typename }") == V{"Fragment \"A\" is never used."});
  CHECK(messages(*s, "query Q($x: String) { v1 { ConfigMap(name: $y) { kind } } }") ==
        V{"Variable \"$y\" is not defined by operation \"Q\".", "Variable \"$x\" is never used in operation \"Q\"."});
  CHECK(messages(*s, "query ($x: V1ConfigMap) { __typename }") ==
        V{"Variable \"$x\" cannot be non-input type \"V1ConfigMap\".", "Variable \"$x\" is never used."});
  CHECK(messages(*s, "{ a: __typename } { b: __typename }") ==
        V{"This anonymous operation must be the only defined operation.", "This anonymous operation must be the only defined operation."});
  CHECK(messages(*s, "subscription { a: __typename b: __typename }") ==
        V{"Anonymous Subscription must select only one top level field."});
  CHECK(messages(*s, "subscription S { __typename }") == V{"Subscription \"S\" must not select an introspection top level field."});
  CHECK(messages(*s, "{ __typename @bogus }") == V{"Unknown directive \"@bogus\"."});
  CHECK(messages(*s, "query @skip(if: true) { __typename }") == V{"Directive \"@skip\" may not be used on QUERY."});
  CHECK(messages(*s, "{ __type(name: \"V1ConfigMap\") { name } __schema { queryType { name } } }") == V{});
}

// A server in JavaScript decodes the request as UTF-8 before graphql-js
// sees it: a byte that starts no well-formed sequence is U+FFFD. (A string
// literal printed into a message was dumped as JSON and threw: the graphql
// fuzz target found it.)
TEST_CASE("graphql parser: bytes that are not UTF-8 read as U+FFFD") {
  test::ServerFixture f;
  auto s = test_schema(f);
  using V = std::vector<std::string>;
  CHECK(syntax("{ a(s: \"\xFA\xD9\") }") == "ok");
  CHECK(messages(*s, "{ v1 { ConfigMaps(limit: \"\xFAq\") { continue } } }") ==
        V{"Expected value of type \"Int\", found \"\xEF\xBF\xBDq\"; Int cannot represent non-integer value: \"\xEF\xBF\xBDq\""});
}

TEST_CASE("graphql limits: depth, complexity, and fragments that would multiply") {
  Limits limits;
  Error e;
  auto doc = parse_document("{ a { b { c { d { e { f { g { h { i { j { k { l { m { n { o { p } } } } } } } } } } } } } } } }", &e);
  REQUIRE(doc);
  CHECK(check_limits(*doc, limits) == "query depth 16 exceeds maximum allowed depth of 15");
  // Each fragment spreads the next twice: 2^40 fields if expanded.
  std::string bomb = "{ ...F0 }";
  for (int i = 0; i < 40; ++i) bomb += " fragment F" + std::to_string(i) + " on Query { ...F" + std::to_string(i + 1) + " a: ...F" + std::to_string(i + 1) + " }";
  bomb = "{ ...F0 }";
  for (int i = 0; i < 40; ++i)
    bomb += " fragment F" + std::to_string(i) + " on Query { x" + std::to_string(i) + ": __typename ...F" + std::to_string(i + 1) +
            " ... on Query { ...F" + std::to_string(i + 1) + " } }";
  bomb += " fragment F40 on Query { __typename }";
  doc = parse_document(bomb, &e);
  REQUIRE(doc);
  auto start = std::chrono::steady_clock::now();
  std::string over = check_limits(*doc, limits);
  CHECK(over.rfind("query complexity ", 0) == 0);
  CHECK(over.find("exceeds maximum allowed complexity of 2000") != std::string::npos);
  (void)start;
}

struct Gql {
  test::ServerFixture f;
  json post(const std::string& query, const json& variables = nullptr, const std::string& ws = "root") {
    json body = {{"query", query}};
    if (!variables.is_null()) body["variables"] = variables;
    auto res = f.call("POST", "/api/clusters/" + ws + "/graphql", body.dump());
    REQUIRE(res);
    last_status = res->status;
    return json::parse(res->body);
  }
  int last_status = 0;
};

TEST_CASE("graphql execution: lists, gets, mutations and their errors through the KRM API") {
  Gql g;
  json r = g.post(R"(mutation { v1 {
      a: createConfigMap(namespace: "default", object: {metadata: {name: "one", labels: {app: "x"}}, data: {k: "v"}}) { metadata { name labels } data }
      b: createConfigMap(namespace: "default", object: {metadata: {name: "two"}}) { metadata { name } }
      c: createConfigMap(namespace: "default", object: {metadata: {name: "one"}}) { metadata { name } } } })");
  CHECK(r["data"]["v1"]["a"] == json::parse(R"({"metadata": {"name": "one", "labels": {"app": "x"}}, "data": {"k": "v"}})"));
  CHECK(r["data"]["v1"]["b"]["metadata"]["name"] == "two");
  CHECK(r["data"]["v1"]["c"].is_null());
  REQUIRE(r["errors"].size() == 1);
  CHECK(r["errors"][0]["message"] == "configmaps \"one\" already exists");
  CHECK(r["errors"][0]["path"] == json::array({"v1", "c"}));

  r = g.post(R"({ v1 { ConfigMaps(namespace: "default", labelselector: "app=x") { items { metadata { name } } }
                       all: ConfigMaps(namespace: "default", sortBy: "metadata.name", limit: 1) { items { metadata { name } } continue remainingItemCount } } })");
  CHECK(r["data"]["v1"]["ConfigMaps"]["items"] == json::parse(R"([{"metadata": {"name": "one"}}])"));
  CHECK(r["data"]["v1"]["all"]["items"].size() == 1);
  CHECK(!r["data"]["v1"]["all"]["continue"].get<std::string>().empty());
  CHECK(r["data"]["v1"]["all"]["remainingItemCount"] == 1);

  // A merge patch; a get; YAML; a delete; each as the KRM API answers.
  r = g.post(R"(mutation ($o: V1ConfigMapInput!) { v1 { updateConfigMap(name: "one", namespace: "default", object: $o) { data } } })",
             {{"o", {{"data", {{"k2", "w"}}}}}});
  CHECK(r["data"]["v1"]["updateConfigMap"]["data"] == json::parse(R"({"k": "v", "k2": "w"})"));
  r = g.post(R"({ v1 { ConfigMapYaml(name: "one", namespace: "default") } })");
  CHECK(r["data"]["v1"]["ConfigMapYaml"].get<std::string>().find("kind: ConfigMap\n") != std::string::npos);
  r = g.post(R"(mutation { v1 { deleteConfigMap(name: "two", namespace: "default") } })");
  CHECK(r["data"]["v1"]["deleteConfigMap"] == true);
  // A non-null field that fails makes its parent null.
  r = g.post(R"({ v1 { ConfigMap(name: "two", namespace: "default") { metadata { name } } } })");
  CHECK(r["data"]["v1"].is_null());
  CHECK(r["errors"][0]["message"] == "configmaps \"two\" not found");
  // Namespaced kinds need their namespace; names cannot escape their path segment.
  r = g.post(R"({ v1 { ConfigMap(name: "one") { kind } } })");
  CHECK(r["errors"][0]["message"] == "missing required argument: namespace");
  r = g.post(R"({ v1 { ConfigMap(name: "../x", namespace: "default") { kind } } })");
  CHECK(r["errors"][0]["message"].get<std::string>().rfind("invalid name \"../x\"", 0) == 0);
  // sortBy a field that is not there.
  r = g.post(R"({ v1 { ConfigMaps(sortBy: "spec.nothing") { continue } } })");
  CHECK(r["errors"][0]["message"] == "specified sortBy field does not exist");
}

TEST_CASE("graphql execution: variables, fragments, directives, aliases and introspection") {
  Gql g;
  g.post(R"(mutation { v1 { createConfigMap(namespace: "default", object: {metadata: {name: "one"}, data: {k: "v"}}) { kind } } })");
  json r = g.post(R"(query Q($n: String!, $skip: Boolean = false) { v1 { ConfigMap(name: $n, namespace: "default") { ...Meta data @skip(if: $skip) k: kind } } }
                     fragment Meta on V1ConfigMap { metadata { name } __typename })",
                  {{"n", "one"}, {"skip", true}});
  CHECK(r["data"]["v1"]["ConfigMap"] == json::parse(R"({"metadata": {"name": "one"}, "__typename": "V1ConfigMap", "k": "ConfigMap"})"));
  r = g.post(R"(query Q($n: String!) { v1 { ConfigMap(name: $n, namespace: "default") { kind } } })", {{"n", 5}});
  CHECK(r["errors"][0]["message"] == "Variable \"$n\" got invalid value 5; String cannot represent a non string value: 5");
  CHECK(r.count("data") == 0);
  r = g.post(R"(query Q($n: String!) { v1 { ConfigMap(name: $n, namespace: "default") { kind } } })");
  CHECK(r["errors"][0]["message"] == "Variable \"$n\" of required type \"String!\" was not provided.");
  r = g.post(R"({ __type(name: "V1ConfigMap") { kind name fields { name type { kind ofType { name } } } } })");
  CHECK(r["data"]["__type"]["kind"] == "OBJECT");
  bool metadata = false;
  for (const auto& f : r["data"]["__type"]["fields"])
    if (f["name"] == "metadata") metadata = f["type"]["kind"] == "OBJECT";
  CHECK(metadata);
  r = g.post(R"({ typeByCategory(name: "platform-mesh") { kind group version scope } none: typeByCategory(name: "nothing") { kind } })");
  bool account = false;
  for (const auto& t : r["data"]["typeByCategory"])
    account |= t == json::parse(R"({"kind": "Account", "group": "core.platform-mesh.io", "version": "v1alpha1", "scope": "Cluster"})");
  CHECK(account);
  CHECK(r["data"]["none"] == json::array());
  r = g.post(R"({ __schema { queryType { name } mutationType { name } subscriptionType { name } } })");
  CHECK(r["data"]["__schema"] == json::parse(R"({"queryType": {"name": "Query"}, "mutationType": {"name": "Mutation"},
                                                  "subscriptionType": {"name": "Subscription"}})"));
  // Over the limits: 400 before anything runs; a batch answers in order.
  auto res = g.f.call("POST", "/api/clusters/root/graphql", json::array({{{"query", "{ __typename }"}}, {{"query", "{ v1 { __typename } }"}}}).dump());
  CHECK(json::parse(res->body) == json::parse(R"([{"data": {"__typename": "Query"}}, {"data": {"v1": {"__typename": "V1Query"}}}])"));
  json many = json::array();
  for (int i = 0; i < 11; ++i) many.push_back({{"query", "{ __typename }"}});
  res = g.f.call("POST", "/api/clusters/root/graphql", many.dump());
  CHECK(res->status == 400);
  CHECK(json::parse(res->body)["errors"][0]["message"] == "batch size 11 exceeds maximum allowed batch size of 10");
  res = g.f.call("PUT", "/api/clusters/root/graphql", "{}");
  CHECK(res->status == 405);
  // Aliases cannot multiply lists past the limit; GET only reads.
  std::string lists = "{ v1 {";
  for (int i = 0; i < 101; ++i) lists += " l" + std::to_string(i) + ": ConfigMaps { continue }";
  r = g.post(lists + " } }");
  CHECK(g.last_status == 400);
  CHECK(r["errors"][0]["message"] == "the operation calls the Kubernetes API 101 times; at most 100 are allowed");
  res = g.f.call("GET", "/api/clusters/root/graphql?query=mutation%20%7B%20v1%20%7B%20deleteConfigMap(name%3A%20%22one%22%2C%20namespace%3A%20%22default%22)%20%7D%20%7D");
  CHECK(res->status == 405);
  CHECK(json::parse(res->body)["errors"][0]["message"] == "Can only perform a mutation operation from a POST request.");
  res = g.f.call("GET", "/api/clusters/root/graphql?query=%7B%20__typename%20%7D");
  CHECK(json::parse(res->body) == json::parse(R"({"data": {"__typename": "Query"}})"));
  // The newer releases' route, without /graphql.
  res = g.f.call("GET", "/api/clusters/root?query=%7B%20__typename%20%7D");
  CHECK(json::parse(res->body) == json::parse(R"({"data": {"__typename": "Query"}})"));
  CHECK(server::GraphqlGateway::workspace_of("/api/clusters/root:orgs/graphql") == "root:orgs");
  CHECK(server::GraphqlGateway::workspace_of("/api/clusters/root/x/graphql") == std::nullopt);
  CHECK(server::GraphqlGateway::workspace_of("/api/v1/namespaces") == std::nullopt);
  CHECK(server::GraphqlGateway::workspace_of("/api/clusters/") == std::nullopt);
  // A workspace that does not exist is not found, as its discovery is.
  res = g.f.call("POST", "/api/clusters/root:nowhere/graphql", R"({"query": "{ __typename }"})");
  CHECK(res->status == 404);
}

TEST_CASE("graphql subscriptions: watch events as server-sent events, MODIFIED only for selected fields") {
  Gql g;
  g.post(R"(mutation { v1 { createConfigMap(namespace: "default", object: {metadata: {name: "one"}, data: {k: "v"}}) { kind } } })");
  auto stream = std::make_shared<test::FakeStream>();
  auto res = g.f.call("POST", "/api/clusters/root/graphql",
                      json{{"query", R"(subscription { v1_configmaps(namespace: "default") { type object { metadata { name } data } } })"}}.dump(),
                      "application/json", stream, "text/event-stream");
  CHECK(!res);
  CHECK(stream->content_type() == "text/event-stream");
  g.post(R"(mutation { v1 { updateConfigMap(name: "one", namespace: "default", object: {metadata: {labels: {a: "b"}}}) { kind } } })");
  g.post(R"(mutation { v1 { updateConfigMap(name: "one", namespace: "default", object: {data: {k: "w"}}) { kind } } })");
  g.post(R"(mutation { v1 { deleteConfigMap(name: "one", namespace: "default") } })");
  for (int i = 0; i < 50; ++i) g.f.settle();
  std::vector<std::string> types;
  for (const auto& c : stream->chunks) {
    REQUIRE(c.rfind("event: next\ndata: ", 0) == 0);
    json e = json::parse(c.substr(18));
    types.push_back(e["data"]["v1_configmaps"]["type"].get<std::string>() + " " +
                    e["data"]["v1_configmaps"]["object"]["data"].value("k", ""));
  }
  // The label change selects nothing the subscription reads: no event.
  CHECK(types == std::vector<std::string>{"ADDED v", "MODIFIED w", "DELETED w"});

  // subscribeToAll: every change.
  auto all = std::make_shared<test::FakeStream>();
  g.f.call("POST", "/api/clusters/root/graphql",
           json{{"query", R"(subscription { v1_configmap(name: "two", namespace: "default", subscribeToAll: true) { type object { data } } })"}}.dump(),
           "application/json", all, "text/event-stream");
  g.post(R"(mutation { v1 { createConfigMap(namespace: "default", object: {metadata: {name: "two"}}) { kind } } })");
  g.post(R"(mutation { v1 { createConfigMap(namespace: "default", object: {metadata: {name: "other"}}) { kind } } })");
  g.post(R"(mutation { v1 { updateConfigMap(name: "two", namespace: "default", object: {metadata: {labels: {a: "b"}}}) { kind } } })");
  for (int i = 0; i < 50; ++i) g.f.settle();
  CHECK(all->chunks.size() == 2);
}

TEST_CASE("graphql gateway: what one operation's calls answer is bounded: the calls past the bound fail") {
  test::ServerFixture f;
  boost::asio::io_context io;
  Limits limits;
  limits.max_result_bytes = 1000;
  server::GraphqlGateway gw(io, limits);
  int served = 0;
  std::string big = json{{"items", json::array()}, {"metadata", {{"resourceVersion", "1"}}}, {"pad", std::string(800, 'x')}}.dump();
  auto serve = [&](const server::HttpRequest&, const std::shared_ptr<server::Stream>&) -> std::optional<server::HttpResponse> {
    ++served;
    return server::HttpResponse{200, "application/json", big, {}, nullptr};
  };
  server::HttpRequest req;
  req.method = "POST";
  req.body = json{{"query", "{ v1 { a: ConfigMaps { continue } b: ConfigMaps { continue } c: ConfigMaps { continue } } }"}}.dump();
  auto res = gw.handle(req, "root", f.engine().kinds().in_cluster("root"), serve, nullptr);
  REQUIRE(res);
  REQUIRE(res->later);
  std::optional<server::HttpResponse> answer;
  res->later([&](std::optional<server::HttpResponse> r) { answer = std::move(r); });
  // The response is made on the gateway's workers and handed back to `io`.
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       !answer && std::chrono::steady_clock::now() < until;) {
    io.restart();
    io.poll();
    if (!answer) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE(answer);
  json body = json::parse(answer->body);
  CHECK(served == 2);  // the third call is not made: the first two answered more than the bound
  // `c` (a non-null list) failed, so its version is null, as GraphQL has it.
  CHECK(body.at("data").at("v1").is_null());
  CHECK(body.at("errors").at(0).at("message") == "the operation's results pass 1000 bytes; ask for less");
  CHECK(body.at("errors").at(0).at("path") == json::array({"v1", "c"}));
}

TEST_CASE("graphql schema: a tenant's odd OpenAPI schema makes a schema, not an exception") {
  dsl::KindDecl k;
  k.runtime = true;
  k.group = "acme.io";
  k.version = "v1";
  k.name = "Odd";
  k.plural = "odds";
  k.schema = std::make_shared<const json>(json::parse(R"({"type": "object", "properties": {
    "spec": {"type": "object", "properties": {
      "a": {"allOf": [{"$ref": 5}]}, "b": {"allOf": "x"}, "c": {"type": 7}, "d": {"type": "array", "items": "x"},
      "e": {"type": "object", "additionalProperties": true}, "f": {"type": "object", "properties": {"g h": {"type": "string"}, "g_h": {"type": "integer"},
      "__x": {"type": "integer"}, "9": {"type": "boolean"}}}, "self": {"allOf": [{"$ref": "#/components/schemas/io.acme.v1.Odd"}]}}},
    "status": 3}})"));
  auto s = kube_schema({&k});
  REQUIRE(s->type("AcmeIoV1Odd"));
  const Type* spec = s->type("AcmeIoV1Oddspec");
  REQUIRE(spec);
  CHECK(spec->field("a")->type.to_string() == "String");
  CHECK(spec->field("e")->type.to_string() == kJsonStringScalar);
  const Type* f = s->type("AcmeIoV1Oddspecf");
  REQUIRE(f);
  CHECK(f->field("g_h")->key == "g h");
  CHECK(f->field("_x"));
  CHECK(f->field("_9"));
}

TEST_CASE("graphql execution: every argument of every API field null, or of another type, answers without harm") {
  Gql g;
  auto schema = kube_schema(g.f.engine().kinds().in_cluster("root"));
  int asked = 0;
  for (const char* root : {"Query", "Mutation"}) {
    for (const auto& group : schema->type(root)->fields) {
      const Type* gt = schema->type(group.type.named_type());
      if (!gt || gt->kind != Type::Kind::kObject) continue;
      std::vector<std::pair<std::string, const Field*>> fields;
      if (group.op != FieldOp::kNone) fields.push_back({"", &group});
      for (const auto& f : gt->fields) {
        const Type* vt = schema->type(f.type.named_type());
        if (f.op != FieldOp::kNone) fields.push_back({group.name, &f});
        else if (vt && vt->kind == Type::Kind::kObject)
          for (const auto& ff : vt->fields)
            if (ff.op != FieldOp::kNone) fields.push_back({group.name + " { " + f.name, &ff});
      }
      for (const auto& [outer, f] : fields) {
        for (const char* filler : {"null", "7", "true", "[1]", "{a: 1}"}) {
          std::string args;
          for (const auto& a : f->args) {
            std::string v = a.type.non_null_() ? (a.type.named_type() == "String" ? "\"x\"" : "{metadata: {name: \"x\"}}") : filler;
            args += (args.empty() ? "" : ", ") + a.name + ": " + v;
          }
          const Type* out = schema->type(f->type.named_type());
          std::string sel = out && out->kind == Type::Kind::kObject ? " { __typename }" : "";
          std::string q = std::string(root == std::string("Mutation") ? "mutation " : "") + "{ " + outer + (outer.empty() ? "" : " { ") +
                          f->name + (args.empty() ? "" : "(" + args + ")") + sel + (outer.empty() ? "" : " }") +
                          (outer.find('{') != std::string::npos ? " }" : "") + " }";
          auto res = g.f.call("POST", "/api/clusters/root/graphql", json{{"query", q}}.dump());
          REQUIRE(res);
          INFO(q);
          auto body = json::parse(res->body, nullptr, false);
          CHECK(body.is_object());
          ++asked;
        }
      }
    }
  }
  CHECK(asked > 100);
  // Subscriptions too: each answers with an event stream, whatever its arguments.
  int subscribed = 0;
  for (const auto& f : schema->type(schema->subscription)->fields) {
    for (const char* filler : {"null", "7", "true", "[1]", "{a: 1}", "\"../x\""}) {
      std::string args;
      for (const auto& a : f.args) args += (args.empty() ? "" : ", ") + a.name + ": " + (a.type.non_null_() ? "\"x\"" : filler);
      std::string q = "subscription { " + f.name + "(" + args + ") { type } }";
      auto stream = std::make_shared<test::FakeStream>();
      auto res = g.f.call("POST", "/api/clusters/root/graphql", json{{"query", q}}.dump(), "application/json", stream,
                          "text/event-stream");
      INFO(q);
      CHECK(!res);
      for (const auto& c : stream->chunks) CHECK(c.rfind("event: ", 0) == 0);
      ++subscribed;
    }
  }
  CHECK(subscribed > 50);
  // The server still answers.
  CHECK(g.post("{ __typename }")["data"]["__typename"] == "Query");
}

}  // namespace
}  // namespace pmesh::graphql
