// The APIExport virtual workspace's URLs: the export and the request it
// carries, or nothing for what is not one.
#include <doctest/doctest.h>

#include "server/api/apiexport_path.h"

namespace pmesh::test {
namespace {

using server::parse_apiexport_path;

TEST_CASE("an APIExport virtual workspace URL names the export and carries a request") {
  auto p = parse_apiexport_path("/services/apiexport/2x9abcdefghijklm/databases/clusters/*/apis/db.example.io/v1/databases");
  REQUIRE(p);
  CHECK(p->export_cluster == "2x9abcdefghijklm");
  CHECK(p->export_name == "databases");
  CHECK(p->inner == "/clusters/*/apis/db.example.io/v1/databases");
  p = parse_apiexport_path("/services/apiexport/root:orgs:prov/db/clusters/abc");
  REQUIRE(p);
  CHECK(p->export_cluster == "root:orgs:prov");
  CHECK(p->inner == "/clusters/abc");
}

TEST_CASE("what is not an APIExport virtual workspace URL") {
  for (const char* path : {"/services/apiexport/", "/services/apiexport/c", "/services/apiexport/c/e", "/services/apiexport/c/e/",
                           "/services/apiexport//e/clusters/x", "/services/apiexport/c//clusters/x",
                           "/services/apiexport/c/e/api/v1", "/services/apiexport/c/e/clusters/", "/services/apiexportx/c/e/clusters/x",
                           "/clusters/root/api", "/services/initializingworkspaces/i/clusters/x"})
    CHECK_MESSAGE(!parse_apiexport_path(path), path);
}

}  // namespace
}  // namespace pmesh::test
