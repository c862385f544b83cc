// An update (PUT) without metadata.resourceVersion: kube-apiserver takes it
// for the built-in kinds whose strategy allows it (AllowUnconditionalUpdate:
// ConfigMaps, Secrets, Namespaces, ServiceAccounts, RBAC's four), updating
// the latest version, and refuses it (422) for a custom resource.
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

}  // namespace
}  // namespace pmesh::test
