// Logical clusters' names: references resolved to paths (names, paths,
// paths that start at a name), names shown for paths, and the names of
// clusters that went remembered for their last events.
#include <doctest/doctest.h>

#include "engine/cluster_names.h"
#include "engine/engine.h"
#include "server/api/cluster_names.h"
#include "tests/unit/test_util.h"

namespace pmesh::test {
namespace {

using engine::Op;

// The relations that name logical clusters, which the prelude does not declare.
const char* kClusterIdRules = "\nrelation cluster_id(path, id)\nrelation logical_cluster(id, path)\n";

std::vector<Op> named(const std::string& path, const std::string& name, bool add = true) {
  if (!add) return {Op::remove_tuple("cluster_id", {path, name}), Op::remove_tuple("logical_cluster", {name, path})};
  return {Op::add_tuple("cluster_id", {path, name}), Op::add_tuple("logical_cluster", {name, path})};
}

TEST_CASE("a cluster reference resolves by path, by name, and as a path that starts at a name") {
  engine::Engine e(prelude_program(kClusterIdRules));
  REQUIRE(e.apply(named("root:orgs", "2x9abcdefghijklm")).ok);
  const engine::State& s = e.state();
  CHECK(engine::resolve_cluster(s, "root") == "root");
  CHECK(engine::resolve_cluster(s, "root:orgs:acme") == "root:orgs:acme");  // a path is taken as it is
  CHECK(engine::resolve_cluster(s, "2x9abcdefghijklm") == "root:orgs");
  CHECK(engine::resolve_cluster(s, "2x9abcdefghijklm:acme:team") == "root:orgs:acme:team");
  CHECK(engine::resolve_cluster(s, "zzzzzzzzzzzzzzzz") == "");
  CHECK(engine::resolve_cluster(s, "zzzzzzzzzzzzzzzz:acme") == "");
  CHECK(engine::resolve_cluster(s, "orgs:acme") == "");  // not from root, not from a name
  CHECK(engine::cluster_name(s, "root:orgs") == "2x9abcdefghijklm");
  CHECK(engine::cluster_name(s, "root:orgs:acme") == "");
}

TEST_CASE("the API shows names, and remembers the names of clusters that went until the path has a new one") {
  engine::Engine e(prelude_program(kClusterIdRules));
  server::ClusterNames names(e);
  auto apply = [&](const std::vector<Op>& ops) {
    engine::Result r = e.apply(ops);
    REQUIRE(r.ok);
    names.committed(r);
  };
  apply(named("root:a", "aaaaaaaaaaaaaaaa"));
  CHECK(names.name_of("root:a") == "aaaaaaaaaaaaaaaa");
  CHECK(names.name_of("root:b") == "root:b");  // never named: its path
  CHECK(names.path_of("*") == "*");
  CHECK(names.path_of("aaaaaaaaaaaaaaaa") == "root:a");
  apply(named("root:a", "aaaaaaaaaaaaaaaa", false));
  CHECK(names.name_of("root:a") == "aaaaaaaaaaaaaaaa");  // for the events of what went with it
  CHECK(names.path_of("aaaaaaaaaaaaaaaa") == "");         // but it reaches nothing
  apply(named("root:a", "bbbbbbbbbbbbbbbb"));
  CHECK(names.name_of("root:a") == "bbbbbbbbbbbbbbbb");
  apply(named("root:a", "bbbbbbbbbbbbbbbb", false));
  CHECK(names.name_of("root:a") == "bbbbbbbbbbbbbbbb");
}

TEST_CASE("the remembered names are bounded, oldest first, and a path that went twice keeps its latest") {
  engine::Engine e(prelude_program(kClusterIdRules));
  constexpr size_t kBound = 8;
  server::ClusterNames names(e, kBound);
  auto cycle = [&](const std::string& path, const std::string& name) {
    for (bool add : {true, false}) {
      engine::Result r = e.apply(named(path, name, add));
      REQUIRE(r.ok);
      names.committed(r);
    }
  };
  cycle("root:first", "1111111111111111");
  cycle("root:again", "2222222222222222");
  for (size_t i = 0; i + 3 < kBound; ++i) cycle("root:w" + std::to_string(i), "n" + std::to_string(i));
  cycle("root:again", "3333333333333333");  // root:again's first entry is now stale
  CHECK(names.name_of("root:first") == "1111111111111111");
  cycle("root:last", "4444444444444444");  // one over: the oldest goes
  CHECK(names.name_of("root:first") == "root:first");
  CHECK(names.name_of("root:again") == "3333333333333333");
  cycle("root:later", "5555555555555555");  // root:again's stale entry goes, not its name
  CHECK(names.name_of("root:again") == "3333333333333333");
  CHECK(names.name_of("root:last") == "4444444444444444");
}

}  // namespace
}  // namespace pmesh::test
