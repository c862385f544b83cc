// Server-side printing: kube's JSONPath subset, the Table a kind's printer
// columns make (cells as apiextensions-apiserver's table convertor makes
// them), HumanDuration, Accept negotiation, and printer columns in kind
// declarations.
#include <doctest/doctest.h>

#include "dsl/parser.h"
#include "server/api/table.h"
#include "stdlib/kube_jsonpath.h"
#include "stdlib/text.h"

namespace pmesh::server {
namespace {

using nlohmann::json;

std::string print(const std::string& path, const json& doc) {
  std::string error;
  auto p = KubeJsonPath::parse(path, &error);
  if (!p) return "ERROR: " + error;
  auto out = p->print(doc);
  return out ? *out : "<nothing>";
}

const json kDoc = json::parse(R"({
  "metadata": {"name": "a", "labels": {"region": "eu", "app.kubernetes.io/name": "x"}},
  "spec": {"n": 3, "f": 1.5, "on": true, "list": [1, 2, 3], "m": {"k": "v"}},
  "status": {"conditions": [
    {"type": "Ready", "status": "True", "n": 1},
    {"type": "Synced", "status": "False", "n": 2}]},
  "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"},
               {"kind": "User", "name": "bob"}]
})");

TEST_CASE("kube JSONPath: the paths printer columns use") {
  CHECK(print(".metadata.name", kDoc) == "a");
  CHECK(print("{.metadata.name}", kDoc) == "a");
  CHECK(print(".metadata.labels['region']", kDoc) == "eu");
  CHECK(print(".metadata.labels.app\\.kubernetes\\.io/name", kDoc) == "x");
  CHECK(print(".metadata.labels[\"app.kubernetes.io/name\"]", kDoc) == "x");
  CHECK(print(".status.conditions[?(@.type==\"Ready\")].status", kDoc) == "True");
  CHECK(print(".status.conditions[?(@.type=='Synced')].status", kDoc) == "False");
  CHECK(print(".status.conditions[?(@.type!=\"Ready\")].type", kDoc) == "Synced");
  CHECK(print(".status.conditions[?(@.n>1)].type", kDoc) == "Synced");
  CHECK(print(".status.conditions[?(@.n<=1)].type", kDoc) == "Ready");
  CHECK(print(".status.conditions[?(@.status)].type", kDoc) == "Ready Synced");
  CHECK(print(".spec.list[0]", kDoc) == "1");
  CHECK(print(".spec.list[-1]", kDoc) == "3");
  CHECK(print(".spec.list[*]", kDoc) == "1 2 3");
  CHECK(print(".spec.m", kDoc) == "{\"k\":\"v\"}");
  CHECK(print(".spec.f", kDoc) == "1.5");
  CHECK(print(".spec.on", kDoc) == "true");
  CHECK(print("{.metadata.name}/{.spec.n}", kDoc) == "a/3");
  CHECK(print("['metadata','spec'].n", kDoc) == "3");
  CHECK(print(".spec.missing", kDoc) == "<nothing>");
  CHECK(print(".spec.list[7]", kDoc) == "<nothing>");
  CHECK(print(".metadata.name.deeper", kDoc) == "<nothing>");
}

TEST_CASE("kube JSONPath: what is outside the subset does not parse") {
  CHECK(print("..name", kDoc).rfind("ERROR: recursive descent", 0) == 0);
  CHECK(print(".spec.list[0:2]", kDoc).rfind("ERROR: slices", 0) == 0);
  CHECK(print("{range .items[*]}{.x}{end}", kDoc).rfind("ERROR: range", 0) == 0);
  CHECK(print("{.metadata.name", kDoc).rfind("ERROR: unclosed", 0) == 0);
  CHECK(print(".a[?(@.x=)]", kDoc).rfind("ERROR:", 0) == 0);
  CHECK(print(".a['x]", kDoc).rfind("ERROR: unterminated", 0) == 0);
  CHECK(print("", kDoc).rfind("ERROR:", 0) == 0);
  // A tenant's schema cannot make the parser recurse without bound.
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "[?(@";
  CHECK(print(deep, kDoc).rfind("ERROR: filters nested too deeply", 0) == 0);
  std::string nested = ".a";
  for (int i = 0; i < 3; ++i) nested += "[?(@.b";
  nested += ")])])]";
  CHECK(print(nested, kDoc) == "<nothing>");
}

TEST_CASE("HumanDuration as kube prints ages") {
  CHECK(human_duration(-5) == "<invalid>");
  CHECK(human_duration(-1) == "0s");
  CHECK(human_duration(0) == "0s");
  CHECK(human_duration(119) == "119s");
  CHECK(human_duration(120) == "2m");
  CHECK(human_duration(200) == "3m20s");
  CHECK(human_duration(600) == "10m");
  CHECK(human_duration(3 * 3600 - 1) == "179m");
  CHECK(human_duration(3 * 3600) == "3h");
  CHECK(human_duration(3 * 3600 + 1800) == "3h30m");
  CHECK(human_duration(8 * 3600) == "8h");
  CHECK(human_duration(47 * 3600) == "47h");
  CHECK(human_duration(50 * 3600) == "2d2h");
  CHECK(human_duration(10 * 86400) == "10d");
  CHECK(human_duration(800 * 86400) == "2y70d");
  CHECK(human_duration(10LL * 365 * 86400) == "10y");
}

TEST_CASE("RFC 3339 times") {
  CHECK(parse_rfc3339("1970-01-01T00:00:00Z") == 0);
  // (date -u -d 2026-11-30T12:00:00Z +%s)
  CHECK(parse_rfc3339("2026-11-30T12:00:00Z") == 1796040000);
  CHECK(parse_rfc3339("2026-11-30T12:00:00.123456Z") == 1796040000);
  CHECK(parse_rfc3339("2026-11-30T13:30:00+01:30") == 1796040000);
  CHECK_FALSE(parse_rfc3339("2026-11-30 12:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-13-30T12:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-11-30T12:00:00"));
  CHECK_FALSE(parse_rfc3339("yesterday"));
}

TEST_CASE("Accept: a Table when asked for one, a 406 when only Tables it cannot make are") {
  std::optional<ApiError> e;
  const std::string kubectl =
      "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
  CHECK(table_version(kubectl, &e) == "v1");
  CHECK(table_version("application/json;as=Table;v=v1beta1;g=meta.k8s.io", &e) == "v1beta1");
  CHECK(table_version("application/json; as=Table; g=meta.k8s.io; v=v1", &e) == "v1");
  CHECK_FALSE(e);
  CHECK_FALSE(table_version("application/json", &e));
  CHECK_FALSE(table_version("", &e));
  CHECK_FALSE(table_version("*/*", &e));
  CHECK_FALSE(table_version("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", &e));
  CHECK_FALSE(e);
  // A Table of another version, or as YAML, is skipped for what follows.
  CHECK(table_version("application/json;as=Table;v=v2;g=meta.k8s.io,application/json;as=Table;v=v1;g=meta.k8s.io", &e) ==
        "v1");
  CHECK_FALSE(table_version("application/json;as=Table;v=v2;g=meta.k8s.io,application/json", &e));
  CHECK_FALSE(e);
  CHECK_FALSE(table_version("application/yaml;as=Table;v=v1;g=meta.k8s.io", &e));
  REQUIRE(e);
  CHECK(e->code == 406);
  e.reset();
  CHECK_FALSE(table_version("application/json;as=Table;v=v1;g=example.com", &e));
  REQUIRE(e);
  CHECK(e->reason == "NotAcceptable");
}

dsl::KindDecl widget(std::vector<dsl::PrinterColumn> columns) {
  dsl::KindDecl k;
  k.name = "Widget";
  k.group = "example.io";
  k.version = "v1";
  k.plural = "widgets";
  k.printer_columns = std::move(columns);
  return k;
}

dsl::PrinterColumn column(std::string name, std::string type, std::string path) {
  dsl::PrinterColumn c;
  c.name = std::move(name);
  c.type = std::move(type);
  c.json_path = std::move(path);
  return c;
}

TEST_CASE("a Table's cells follow the column's type, as a custom resource's do") {
  const std::time_t now = *parse_rfc3339("2026-11-30T12:00:00Z");
  json obj = kDoc;
  obj["apiVersion"] = "example.io/v1";
  obj["kind"] = "Widget";
  obj["metadata"]["creationTimestamp"] = "2026-11-30T11:55:00Z";
  obj["spec"]["when"] = "2026-11-29T12:00:00Z";
  obj["spec"]["bad"] = "not a time";
  auto k = widget({column("N", "integer", ".spec.n"), column("F", "integer", ".spec.f"), column("Num", "number", ".spec.n"),
                   column("On", "boolean", ".spec.on"), column("OnStr", "string", ".spec.on"),
                   column("NotBool", "boolean", ".spec.n"), column("Missing", "string", ".spec.nope"),
                   column("When", "date", ".spec.when"), column("Bad", "date", ".spec.bad"),
                   column("Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"),
                   column("First", "string", ".subjects[*].name")});
  TablePrinter p(k, TableOptions{}, now);
  json t = p.table({&obj}, {{"resourceVersion", "7"}});
  CHECK(t["kind"] == "Table");
  CHECK(t["apiVersion"] == "meta.k8s.io/v1");
  CHECK(t["metadata"]["resourceVersion"] == "7");
  REQUIRE(t["columnDefinitions"].size() == 12);
  CHECK(t["columnDefinitions"][0]["name"] == "Name");
  CHECK(t["columnDefinitions"][0]["format"] == "name");
  CHECK(t["columnDefinitions"][1]["type"] == "integer");
  // A column without a description is described as apiextensions-apiserver describes it.
  CHECK(t["columnDefinitions"][1]["description"] == "Custom resource definition column (in JSONPath format): .spec.n");
  const json& cells = t["rows"][0]["cells"];
  CHECK(cells[0] == "a");
  CHECK(cells[1] == 3);
  CHECK(cells[2] == 1);  // integer columns truncate
  CHECK(cells[3] == 3.0);
  CHECK(cells[4] == true);
  CHECK(cells[5] == "true");  // a string column prints what it finds
  CHECK(cells[6].is_null());  // a value of another type is no value
  CHECK(cells[7].is_null());  // nothing found: null, which kubectl shows as <none>
  CHECK(cells[8] == "24h");
  CHECK(cells[9] == "<invalid>");
  CHECK(cells[10] == "True");
  CHECK(cells[11] == "alice");  // the first result only
  // The row's object is its metadata by default.
  const json& o = t["rows"][0]["object"];
  CHECK(o["kind"] == "PartialObjectMetadata");
  CHECK(o["apiVersion"] == "meta.k8s.io/v1");
  CHECK(o["metadata"]["labels"]["region"] == "eu");
  CHECK_FALSE(o.contains("spec"));
}

TEST_CASE("a kind without printer columns prints NAME and AGE: includeObject and versions") {
  const std::time_t now = *parse_rfc3339("2026-11-30T12:00:00Z");
  json obj = {{"apiVersion", "example.io/v1"},
              {"kind", "Widget"},
              {"metadata", {{"name", "w"}, {"creationTimestamp", "2026-11-30T11:57:30Z"}}},
              {"spec", {{"x", 1}}}};
  auto k = widget({});
  TablePrinter p(k, TableOptions{"v1beta1", "Object"}, now);
  json t = p.table({&obj}, {{"resourceVersion", "1"}});
  CHECK(t["apiVersion"] == "meta.k8s.io/v1beta1");
  REQUIRE(t["columnDefinitions"].size() == 2);
  CHECK(t["columnDefinitions"][1]["name"] == "Age");
  CHECK(t["columnDefinitions"][1]["type"] == "date");
  CHECK(t["rows"][0]["cells"] == json::array({"w", "2m30s"}));
  CHECK(t["rows"][0]["object"] == obj);
  CHECK(p.content_type() == "application/json;as=Table;v=v1beta1;g=meta.k8s.io");
  TablePrinter none(k, TableOptions{"v1", "None"}, now);
  CHECK(none.table({&obj}, json::object())["rows"][0]["object"].is_null());
  // Watch events after the first carry no column definitions.
  CHECK(none.table({&obj}, json::object(), false)["columnDefinitions"].is_null());
  // Streamed pieces make the same document.
  json streamed = json::parse(none.head({{"resourceVersion", "1"}}) + none.row_json(obj) + TablePrinter::tail());
  CHECK(streamed == none.table({&obj}, {{"resourceVersion", "1"}}));
}

TEST_CASE("the built-in kinds' computed columns: counts, joined values, templates, ages") {
  const std::time_t now = *parse_rfc3339("2026-11-30T12:00:00Z");
  dsl::PrinterColumn data = column("Data", "string", "['data','binaryData']");
  data.count = true;
  dsl::PrinterColumn role = column("Role", "string", "{.roleRef.kind}/{.roleRef.name}");
  dsl::PrinterColumn users = column("Users", "string", ".subjects[?(@.kind==\"User\")].name");
  users.join = true;
  dsl::PrinterColumn sas = column("ServiceAccounts", "string", ".subjects[?(@.kind==\"ServiceAccount\")]");
  sas.each = "{.namespace}/{.name}";
  dsl::PrinterColumn groups = column("Groups", "string", ".subjects[?(@.kind==\"Group\")].name");
  groups.join = true;
  dsl::PrinterColumn age = column("Age", "string", ".metadata.creationTimestamp");
  age.age = true;
  auto k = widget({data, role, users, sas, groups, age});
  json obj = kDoc;
  obj["data"] = {{"a", "1"}, {"b", "2"}};
  obj["binaryData"] = {{"c", "AA=="}};
  obj["roleRef"] = {{"kind", "ClusterRole"}, {"name", "view"}};
  TablePrinter p(k, TableOptions{}, now);
  // kube's own printers describe an age column by the creation time stamp's documentation.
  CHECK(p.table({}, json::object())["columnDefinitions"][6]["description"].get<std::string>().rfind("CreationTimestamp is", 0) == 0);
  json cells = p.table({&obj}, json::object())["rows"][0]["cells"];
  CHECK(cells == json::array({"a", 3, "ClusterRole/view", "alice, bob", "ns/sa", "", "<unknown>"}));
  json bare = {{"metadata", {{"name", "b"}}}};
  cells = p.table({&bare}, json::object())["rows"][0]["cells"];
  CHECK(cells == json::array({"b", 0, nullptr, "", "", "", "<unknown>"}));
}

TEST_CASE("printer columns in kind declarations are checked as kube checks a CRD's") {
  dsl::DiagnosticSink d;
  auto m = dsl::parse_module(std::make_shared<dsl::SourceFile>("t.rules", R"(kind W {
  version: v1, plural: ws
  printerColumns: [
    { name: "Ready", type: "string", jsonPath: ".status.conditions[?(@.type==\"Ready\")].status", priority: 1 },
    { name: "Bad", type: "text", jsonPath: ".a" },
    { name: "Worse", type: "string", jsonPath: "..a", format: "uuid" },
    { type: "string", colour: "red" },
  ]
})"), d);
  std::string all;
  for (const auto& x : d.all()) all += x.message + "\n";
  CHECK(all.find("printer column `Bad`: type is integer, number, string, boolean or date, not `text`") != std::string::npos);
  CHECK(all.find("printer column `Worse`: unknown format `uuid`") != std::string::npos);
  CHECK(all.find("printer column `Worse`: jsonPath: recursive descent") != std::string::npos);
  CHECK(all.find("unknown printer column attribute `colour`") != std::string::npos);
  CHECK(all.find("a printer column needs a `name`") != std::string::npos);
  CHECK(all.find("needs a `jsonPath`") != std::string::npos);
  REQUIRE(m.kinds.size() == 1);
  REQUIRE_FALSE(m.kinds[0].printer_columns.empty());
  CHECK(m.kinds[0].printer_columns[0].priority == 1);
  CHECK(m.kinds[0].printer_columns[0].json_path == ".status.conditions[?(@.type==\"Ready\")].status");
}

}  // namespace
}  // namespace pmesh::server
