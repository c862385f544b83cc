// An update (PUT) without metadata.resourceVersion: kube-apiserver takes it
// for the built-in kinds whose strategy allows it (AllowUnconditionalUpdate:
// ConfigMaps, Secrets, Namespaces, ServiceAccounts, RBAC's four), updating
// the latest version, and refuses it (422) for a custom resource. An update
// of what does not exist creates it where the strategy says so
// (AllowCreateOnUpdate: RBAC's four), and is 404 elsewhere.
#include <doctest/doctest.h>

#include "tests/unit/server_fixture.h"

namespace pmesh::test {
namespace {

using nlohmann::json;

TEST_CASE("an update without a resourceVersion: taken where kube's strategy allows it, 422 for a custom resource") {
  ServerFixture s;
  const std::string ns = "/clusters/root/api/v1/namespaces/default";
  const std::string rbac = "/clusters/root/apis/rbac.authorization.k8s.io/v1/namespaces/default";
  REQUIRE(s.call("POST", ns + "/configmaps", R"({"metadata":{"name":"cm"},"data":{"k":"1"}})")->status == 201);
  // Another write in between: the unconditional update applies to the latest.
  auto between = s.call("PATCH", ns + "/configmaps/cm", R"({"data":{"other":"x"}})", "application/merge-patch+json");
  REQUIRE(between->status == 200);
  std::string latest = json::parse(between->body)["metadata"]["resourceVersion"];
  auto put = s.call("PUT", ns + "/configmaps/cm", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"k":"2"}})");
  REQUIRE(put);
  CHECK(put->status == 200);
  json cm = json::parse(s.call("GET", ns + "/configmaps/cm")->body);
  CHECK(cm["data"] == json{{"k", "2"}});  // the body replaces the whole object, as a PUT does
  CHECK(std::stoll(cm["metadata"]["resourceVersion"].get<std::string>()) > std::stoll(latest));
  // A stale version is still a conflict.
  auto stale = s.call("PUT", ns + "/configmaps/cm", json{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "cm"}, {"resourceVersion", latest}}}}.dump());
  CHECK(stale->status == 409);

  REQUIRE(s.call("POST", rbac + "/roles", R"({"metadata":{"name":"r"},"rules":[{"apiGroups":[""],"resources":["configmaps"],"verbs":["get"]}]})")->status == 201);
  auto role = s.call("PUT", rbac + "/roles/r",
                     R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"r"},"rules":[{"apiGroups":[""],"resources":["configmaps"],"verbs":["list"]}]})");
  CHECK(role->status == 200);

  // A custom resource (a Workspace, kcp's CRD): its version is required.
  REQUIRE(s.call("POST", "/clusters/root/apis/tenancy.kcp.io/v1alpha1/workspaces", R"({"metadata":{"name":"w"},"spec":{}})")->status == 201);
  auto ws = s.call("PUT", "/clusters/root/apis/tenancy.kcp.io/v1alpha1/workspaces/w",
                   R"({"apiVersion":"tenancy.kcp.io/v1alpha1","kind":"Workspace","metadata":{"name":"w"},"spec":{}})");
  REQUIRE(ws);
  CHECK(ws->status == 422);
  CHECK(ws->body.find("must be specified for an update") != std::string::npos);
}

TEST_CASE("an update of what does not exist creates it where kube's strategy allows it, and is 404 elsewhere") {
  ServerFixture s;
  const std::string ns = "/clusters/root/api/v1/namespaces/default";
  const std::string rbac = "/clusters/root/apis/rbac.authorization.k8s.io/v1";
  const std::string rules = R"("rules":[{"apiGroups":[""],"resources":["configmaps"],"verbs":["get"]}])";
  // A Role, a ClusterRole and their bindings: created, 201, as a create makes them.
  auto role = s.call("PUT", rbac + "/namespaces/default/roles/r",
                     R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"r","resourceVersion":"12345"},)" + rules + "}");
  REQUIRE(role);
  CHECK(role->status == 201);
  json made = json::parse(s.call("GET", rbac + "/namespaces/default/roles/r")->body);
  CHECK(made["rules"][0]["verbs"] == json{"get"});
  CHECK_FALSE(made["metadata"].value("uid", "").empty());
  CHECK(made["metadata"]["resourceVersion"] != "12345");
  CHECK(s.call("PUT", rbac + "/clusterroles/c", R"({"metadata":{"name":"c"},)" + rules + "}")->status == 201);
  CHECK(s.call("PUT", rbac + "/namespaces/default/rolebindings/b",
               R"({"metadata":{"name":"b"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"r"},"subjects":[{"kind":"User","name":"u"}]})")
            ->status == 201);
  CHECK(s.call("PUT", rbac + "/clusterrolebindings/cb",
               R"({"metadata":{"name":"cb"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"c"},"subjects":[{"kind":"User","name":"u"}]})")
            ->status == 201);
  // Then it exists: the next is an update.
  CHECK(s.call("PUT", rbac + "/clusterroles/c", R"({"metadata":{"name":"c"},)" + rules + "}")->status == 200);
  // What kube refuses on the way: another name than the URL's, none, a uid
  // (a precondition no missing object meets), an invalid object.
  auto other = s.call("PUT", rbac + "/clusterroles/d", R"({"metadata":{"name":"e"},)" + rules + "}");
  CHECK(other->status == 400);
  CHECK(json::parse(other->body)["message"] == "the name of the object (e) does not match the name on the URL (d)");
  CHECK(s.call("PUT", rbac + "/clusterroles/d", "{" + rules + "}")->status == 400);
  auto uid = s.call("PUT", rbac + "/clusterroles/d", R"({"metadata":{"name":"d","uid":"u-1"},)" + rules + "}");
  CHECK(uid->status == 409);
  CHECK(json::parse(uid->body)["message"].get<std::string>().find("Precondition failed: UID in precondition: u-1") != std::string::npos);
  CHECK(s.call("PUT", rbac + "/clusterroles/d", R"({"metadata":{"name":"d"},"rules":[{"verbs":["get"]}]})")->status == 422);
  CHECK(s.call("GET", rbac + "/clusterroles/d")->status == 404);
  // Elsewhere a missing object is 404: a ConfigMap, a Workspace.
  CHECK(s.call("PUT", ns + "/configmaps/missing", R"({"metadata":{"name":"missing"},"data":{}})")->status == 404);
  CHECK(s.call("PUT", "/clusters/root/apis/tenancy.kcp.io/v1alpha1/workspaces/missing",
               R"({"metadata":{"name":"missing","resourceVersion":"1"},"spec":{}})")
            ->status == 404);
}

}  // namespace
}  // namespace pmesh::test
