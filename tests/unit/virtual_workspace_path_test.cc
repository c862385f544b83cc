// The APIExport virtual workspace's URLs: the export and the request it
// carries, or nothing for what is not one.
#include <doctest/doctest.h>

#include "server/api/virtual_workspace_path.h"

namespace pmesh::test {
namespace {

using server::parse_virtual_workspace_path;
using Kind = server::VirtualWorkspacePath::Kind;

TEST_CASE("an APIExport virtual workspace URL names the export and carries a request") {
  auto p = parse_virtual_workspace_path("/services/apiexport/2x9abcdefghijklm/databases/clusters/*/apis/db.example.io/v1/databases");
  REQUIRE(p);
  CHECK(p->kind == Kind::kApiExport);
  CHECK(p->export_cluster == "2x9abcdefghijklm");
  CHECK(p->export_name == "databases");
  CHECK(p->inner == "/clusters/*/apis/db.example.io/v1/databases");
  p = parse_virtual_workspace_path("/services/apiexport/root:orgs:prov/db/clusters/abc");
  REQUIRE(p);
  CHECK(p->export_cluster == "root:orgs:prov");
  CHECK(p->inner == "/clusters/abc");
}

TEST_CASE("the initializing and terminating virtual workspaces name their initializer or terminator") {
  auto p = parse_virtual_workspace_path("/services/initializingworkspaces/root:custom/clusters/*/apis/core.kcp.io/v1alpha1/logicalclusters");
  REQUIRE(p);
  CHECK(p->kind == Kind::kInitializing);
  CHECK(p->hook == "root:custom");
  CHECK(p->inner == "/clusters/*/apis/core.kcp.io/v1alpha1/logicalclusters");
  p = parse_virtual_workspace_path("/services/terminatingworkspaces/root:t/clusters/abc/api/v1/namespaces");
  REQUIRE(p);
  CHECK(p->kind == Kind::kTerminating);
  CHECK(p->hook == "root:t");
}

TEST_CASE("what is not a virtual workspace URL") {
  for (const char* path : {"/services/apiexport/", "/services/apiexport/c", "/services/apiexport/c/e", "/services/apiexport/c/e/",
                           "/services/apiexport//e/clusters/x", "/services/apiexport/c//clusters/x",
                           "/services/apiexport/c/e/api/v1", "/services/apiexport/c/e/clusters/", "/services/apiexportx/c/e/clusters/x",
                           "/clusters/root/api", "/services/initializingworkspaces/i", "/services/initializingworkspaces//clusters/x",
                           "/services/initializingworkspaces/i/api/v1", "/services/terminatingworkspaces/t/clusters/"})
    CHECK_MESSAGE(!parse_virtual_workspace_path(path), path);
}

}  // namespace
}  // namespace pmesh::test
