// apis.kcp.io v1alpha1 <-> v1alpha2 as kcp converts APIExports and
// APIBindings (sdk/apis/apis/v1alpha2/*_conversion.go): what one version
// cannot say rides in kcp's annotations, so a round trip through the
// other version gives the object back; the declared kinds serve v1alpha1
// and store v1alpha2.
#include <doctest/doctest.h>

#include "dsl/diagnostics.h"
#include "dsl/program.h"
#include "engine/conversion.h"
#include "engine/engine.h"
#include "engine/kcp_apis_conversion.h"
#include "engine/kinds.h"

namespace pmesh::engine {
namespace {

using nlohmann::json;

json annotation(const json& o, const std::string& key) {
  const json& a = o["metadata"]["annotations"];
  return json::parse(a.at(key).get<std::string>());
}

bool has_annotations(const json& o) { return o.contains("metadata") && o["metadata"].contains("annotations"); }

TEST_CASE("conversion: an APIExport's latestResourceSchemas are v1alpha2's CRD resources, and back") {
  json v1 = {{"apiVersion", "apis.kcp.io/v1alpha1"},
             {"kind", "APIExport"},
             {"metadata", {{"name", "db"}}},
             {"spec", {{"latestResourceSchemas", {"v1.databases.db.example.io", "v2.pods.core"}}}},
             {"status", {{"identityHash", "abc"}}}};
  json v2 = kcp_apis::to_v1alpha2("APIExport", v1);
  REQUIRE(v2["spec"]["resources"].size() == 2);
  CHECK(v2["spec"]["resources"][0] == json{{"group", "db.example.io"}, {"name", "databases"},
                                           {"schema", "v1.databases.db.example.io"}, {"storage", {{"crd", json::object()}}}});
  CHECK(v2["spec"]["resources"][1]["group"] == "");  // "core" is the core group
  CHECK(v2["spec"]["resources"][1]["name"] == "pods");
  CHECK_FALSE(v2["spec"].contains("latestResourceSchemas"));
  CHECK(v2["status"] == v1["status"]);
  CHECK_FALSE(has_annotations(v2));
  CHECK(kcp_apis::to_v1alpha1("APIExport", v2) == v1);

  // kcp refuses a schema name it cannot split.
  json bad = v1;
  bad["spec"]["latestResourceSchemas"] = {"databases"};
  CHECK_THROWS_WITH_AS(kcp_apis::to_v1alpha2("APIExport", bad),
                       "invalid schema \"databases\": must have at least 3 dot-separated segments", ConversionError);
}

TEST_CASE("conversion: what v1alpha1 cannot say about an APIExport rides in kcp's annotations") {
  json v2 = {{"apiVersion", "apis.kcp.io/v1alpha2"},
             {"kind", "APIExport"},
             {"metadata", {{"name", "db"}, {"annotations", {{"keep", "me"}}}}},
             {"spec", {{"resources", {{{"group", "db.example.io"}, {"name", "databases"}, {"schema", "v1.databases.db.example.io"},
                                       {"storage", {{"crd", json::object()}}}},
                                      {{"group", "db.example.io"}, {"name", "views"}, {"schema", "v1.views.db.example.io"},
                                       {"storage", {{"virtual", {{"reference", {{"name", "x"}}}}}}}}}},
                       {"permissionClaims", {{{"group", ""}, {"resource", "configmaps"}, {"verbs", {"get", "list"}}},
                                             {{"group", ""}, {"resource", "secrets"}, {"verbs", {"*"}}}}}}}};
  json v1 = kcp_apis::to_v1alpha1("APIExport", v2);
  CHECK(v1["spec"]["latestResourceSchemas"] == json{"v1.databases.db.example.io"});
  CHECK(annotation(v1, "apis.v1alpha2.kcp.io/resource-schemas") == json{v2["spec"]["resources"][1]});
  // As Go writes it: the empty group left out (omitempty).
  CHECK(annotation(v1, "apis.v1alpha2.kcp.io/permission-claims") == json{{{"resource", "configmaps"}, {"verbs", {"get", "list"}}}});
  CHECK(v1["spec"]["permissionClaims"] == json{{{"resource", "configmaps"}}, {{"resource", "secrets"}}});
  CHECK(v1["metadata"]["annotations"]["keep"] == "me");
  json back = kcp_apis::to_v1alpha2("APIExport", v1);
  // As kcp's: the v1alpha1 claims are kept on the way up, whatever they say.
  CHECK(back["metadata"]["annotations"]["keep"] == "me");
  CHECK(back["metadata"]["annotations"].size() == 2);
  CHECK(annotation(back, "apis.v1alpha2.kcp.io/v1alpha1-permission-claims") == v1["spec"]["permissionClaims"]);
  CHECK(back["spec"]["resources"] == v2["spec"]["resources"]);
  CHECK(back["spec"]["permissionClaims"][0]["verbs"] == json{"get", "list"});
  CHECK(back["spec"]["permissionClaims"][1]["verbs"] == json{"*"});  // no verbs in v1alpha1: every verb

  // And v1alpha1's `all` and `resourceSelector`, which v1alpha2 lost.
  json old = {{"kind", "APIExport"},
              {"metadata", {{"name", "db"}}},
              {"spec", {{"permissionClaims", {{{"resource", "configmaps"}, {"all", true}},
                                              {{"resource", "secrets"}, {"resourceSelector", {{{"namespaces", {"a"}}}}}}}}}}};
  json there = kcp_apis::to_v1alpha2("APIExport", old);
  CHECK(there["spec"]["permissionClaims"] == json{{{"resource", "configmaps"}, {"verbs", {"*"}}},
                                                  {{"resource", "secrets"}, {"verbs", {"*"}}}});
  CHECK(kcp_apis::to_v1alpha1("APIExport", there) == old);
}

TEST_CASE("conversion: an APIBinding's claims, their verbs and selectors, both ways") {
  json v1 = {{"kind", "APIBinding"},
             {"metadata", {{"name", "db"}}},
             {"spec", {{"reference", {{"export", {{"path", "root:p"}, {"name", "db"}}}}},
                       {"permissionClaims", {{{"resource", "configmaps"}, {"all", true}, {"state", "Accepted"}},
                                             {{"resource", "secrets"}, {"resourceSelector", {{{"namespaces", {"a"}}}}},
                                              {"state", "Rejected"}}}}}},
             {"status", {{"exportPermissionClaims", {{{"resource", "configmaps"}, {"all", true}}}},
                         {"appliedPermissionClaims", {{{"resource", "configmaps"}, {"all", true}}}}}}};
  json v2 = kcp_apis::to_v1alpha2("APIBinding", v1);
  CHECK(v2["spec"]["reference"] == v1["spec"]["reference"]);
  CHECK(v2["spec"]["permissionClaims"][0] ==
        json{{"resource", "configmaps"}, {"selector", {{"matchAll", true}}}, {"state", "Accepted"}, {"verbs", {"*"}}});
  // A resourceSelector always meant every object: matchAll.
  CHECK(v2["spec"]["permissionClaims"][1]["selector"] == json{{"matchAll", true}});
  CHECK(v2["status"]["exportPermissionClaims"] == json{{{"resource", "configmaps"}, {"verbs", {"*"}}}});
  CHECK(v2["status"]["appliedPermissionClaims"][0]["selector"] == json{{"matchAll", true}});
  CHECK(kcp_apis::to_v1alpha1("APIBinding", v2) == v1);

  // v1alpha2's verbs and label selectors ride in v1alpha1's annotations.
  json scoped = {{"kind", "APIBinding"},
                 {"metadata", {{"name", "db"}}},
                 {"spec", {{"reference", {{"export", {{"name", "db"}}}}},
                           {"permissionClaims", {{{"group", ""}, {"resource", "configmaps"}, {"identityHash", ""},
                                                  {"verbs", {"get"}}, {"selector", {{"matchLabels", {{"app", "db"}}}}},
                                                  {"state", "Accepted"}}}}}},
                 {"status", {{"appliedPermissionClaims", {{{"resource", "configmaps"}, {"verbs", {"get"}},
                                                           {"selector", {{"matchLabels", {{"app", "db"}}}}}}}}}}};
  json down = kcp_apis::to_v1alpha1("APIBinding", scoped);
  CHECK(down["spec"]["permissionClaims"] == json{{{"resource", "configmaps"}, {"state", "Accepted"}}});
  CHECK(annotation(down, "apis.v1alpha2.kcp.io/acceptable-permission-claims")[0]["selector"] ==
        json{{"matchLabels", {{"app", "db"}}}});
  CHECK(annotation(down, "apis.v1alpha2.kcp.io/status-applied-permission-claims")[0]["verbs"] == json{"get"});
  json up = kcp_apis::to_v1alpha2("APIBinding", down);
  CHECK(up["spec"]["permissionClaims"][0]["verbs"] == json{"get"});
  CHECK(up["spec"]["permissionClaims"][0]["selector"] == json{{"matchLabels", {{"app", "db"}}}});
  CHECK(up["status"]["appliedPermissionClaims"][0]["selector"] == json{{"matchLabels", {{"app", "db"}}}});
  CHECK_FALSE(has_annotations(up));

  // A hostile annotation is a conversion error, not a crash.
  json junk = down;
  junk["metadata"]["annotations"]["apis.v1alpha2.kcp.io/acceptable-permission-claims"] = "{not json";
  CHECK_THROWS_AS(kcp_apis::to_v1alpha2("APIBinding", junk), ConversionError);
}

TEST_CASE("conversion: the declared kcp kinds store v1alpha2 and serve v1alpha1 through the converter") {
  dsl::DiagnosticSink diags;
  auto program = dsl::load_embedded_program(diags);
  REQUIRE(program);
  Kinds kinds(*program);
  const dsl::KindDecl* stored = kinds.by_api("root:p", "apis.kcp.io/v1alpha2", "APIExport");
  REQUIRE(stored);
  CHECK(stored->storage == nullptr);
  CHECK(kinds.by_api("root:p", "apis.kcp.io/v1alpha1", "APIExport") == stored);
  const dsl::KindDecl* served = kinds.served_version("root:p", "apis.kcp.io/v1alpha1", "APIExport");
  REQUIRE(served);
  CHECK(served->storage == stored);
  CHECK(kinds.by_resource("root:p", "apis.kcp.io", "v1alpha1", "apiexports") == served);
  CHECK(kinds.served_version("root:p", "apis.kcp.io/v1alpha2", "APIExport") == nullptr);
  json v1 = {{"apiVersion", "apis.kcp.io/v1alpha1"}, {"kind", "APIExport"}, {"spec", {{"latestResourceSchemas", {"v1.a.b.io"}}}}};
  json v2 = to_storage(*served, v1);
  CHECK(v2["apiVersion"] == "apis.kcp.io/v1alpha2");
  CHECK(v2["spec"]["resources"][0]["name"] == "a");
  CHECK(from_storage(*served, v2) == v1);
}

TEST_CASE("conversion: what a store holds in v1alpha1 is restored as v1alpha2") {
  // A data directory written before APIExports were stored as v1alpha2: a
  // rebuild restores its objects as they were written.
  dsl::DiagnosticSink diags;
  auto program = dsl::load_embedded_program(diags);
  REQUIRE(program);
  std::shared_ptr<const dsl::CompiledProgram> compiled = dsl::compile(std::move(program), diags);
  REQUIRE(compiled);
  Engine engine(compiled);
  json old = {{"apiVersion", "apis.kcp.io/v1alpha1"},
              {"kind", "APIExport"},
              {"metadata", {{"name", "db"}, {"cluster", "root"}}},
              {"spec", {{"latestResourceSchemas", {"v1.databases.db.example.io"}}}}};
  Result r = engine.apply({Op::restore(old, false)});
  REQUIRE_MESSAGE(r.ok, r.message);
  const json* stored = engine.get({"APIExport", "root", "", "db"});
  REQUIRE(stored);
  CHECK((*stored)["apiVersion"] == "apis.kcp.io/v1alpha2");
  CHECK((*stored)["spec"]["resources"][0]["schema"] == "v1.databases.db.example.io");
}

}  // namespace
}  // namespace pmesh::engine
