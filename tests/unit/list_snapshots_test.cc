// Lists' snapshots: kept up to date commit by commit (copy on write, chunks
// splitting and emptying), a snapshot is the collection as the engine has
// it, in one workspace or in all, and one taken earlier does not change
// afterwards; a collection at a past version is the view retained for it,
// and no other.
#include <doctest/doctest.h>

#include <map>
#include <random>

#include "engine/engine.h"
#include "server/registry/list_snapshots.h"
#include "tests/unit/test_util.h"

namespace pmesh::test {
namespace {

using engine::Json;
using engine::Op;
using server::ListSnapshots;

Json config_map(const std::string& ns, const std::string& name, int v, const std::string& cluster = "root") {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"cluster", cluster}}},
          {"data", {{"v", std::to_string(v)}}}};
}

std::vector<std::string> items(const ListSnapshots::View& v, const std::string& prefix = "", const std::string& after = "") {
  std::vector<std::string> out;
  v.scan(prefix, after, [&](const ListSnapshots::Item& i) {
    out.push_back(i.fact + " " + i.bytes);
    return true;
  });
  return out;
}

TEST_CASE("list snapshots follow the engine through creates, updates and deletes across chunks") {
  engine::Engine e(prelude_program());
  REQUIRE(e.apply({Op::create({{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "a"}, {"cluster", "root"}}}}),
                   Op::create({{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "b"}, {"cluster", "root"}}}})})
              .ok);
  server::ClusterNames names(e);
  ListSnapshots kept(e, names);
  e.set_commit_listener([&](const engine::Result& r) { kept.committed(r); });
  std::string kind = e.kinds().by_name("root", "ConfigMap")->key();
  auto first = kept.view(kind, "root");
  CHECK(first->size() == 0);
  std::mt19937 rng(7);
  std::set<std::string> present;
  for (int step = 0; step < 60; ++step) {
    std::vector<Op> ops;
    std::set<std::string> touched;
    for (int k = 0; k < 60; ++k) {
      std::string ns = rng() % 2 ? "a" : "b", name = "m" + std::to_string(rng() % 1500), id = ns + "/" + name;
      if (!touched.insert(id).second) continue;
      if (!present.count(id)) {
        ops.push_back(Op::create(config_map(ns, name, step)));
        present.insert(id);
      } else if (rng() % 3) {
        ops.push_back(Op::update(config_map(ns, name, step)));
      } else {
        ops.push_back(Op::remove({kind, "root", ns, name}));
        present.erase(id);
      }
    }
    auto r = e.apply(ops);
    REQUIRE(r.ok);
    auto now = kept.view(kind, "root");
    ListSnapshots fresh(e, names);
    auto made = fresh.view(kind, "root");
    REQUIRE(now->size() == present.size());
    REQUIRE(items(*now) == items(*made));
  }
  CHECK(present.size() > 2 * ListSnapshots::kChunk);  // chunks split on the way
  CHECK(first->size() == 0);  // a snapshot taken before does not change
  auto v = kept.view(kind, "root");
  // A namespace's range, and resuming after an item, as a continue token does.
  std::string root = "root", a = "a";
  std::string prefix = engine::object_prefix(kind, &root, &a);
  auto in_a = items(*v, prefix);
  CHECK(!in_a.empty());
  for (const auto& i : in_a) CHECK(i.rfind(prefix, 0) == 0);
  std::string third = in_a[2].substr(0, in_a[2].find(' '));
  auto rest = items(*v, prefix, third);
  CHECK(rest.size() == in_a.size() - 3);
  CHECK(rest.front() == in_a[3]);
}

TEST_CASE("a kind's snapshot across all workspaces follows changes in each, sharing their items") {
  engine::Engine e(prelude_program());
  std::vector<Op> nss;
  for (const char* c : {"root", "root:x", "root:y"})
    nss.push_back(Op::create({{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "a"}, {"cluster", c}}}}));
  REQUIRE(e.apply(nss).ok);
  REQUIRE(e.apply({Op::create(config_map("a", "before", 0, "root:y"))}).ok);
  server::ClusterNames names(e);
  ListSnapshots kept(e, names);
  e.set_commit_listener([&](const engine::Result& r) { kept.committed(r); });
  std::string kind = e.kinds().by_name("root", "ConfigMap")->key();
  auto all_before = kept.view(kind, "*");
  kept.view(kind, "root:x");
  CHECK(all_before->size() == 1);
  std::mt19937 rng(11);
  std::set<std::string> present = {"root:y/before"};
  for (int step = 0; step < 20; ++step) {
    std::vector<Op> ops;
    std::set<std::string> touched;
    for (int k = 0; k < 30; ++k) {
      std::string c = std::vector<std::string>{"root", "root:x", "root:y"}[rng() % 3], name = "m" + std::to_string(rng() % 200);
      std::string id = c + "/" + name;
      if (!touched.insert(id).second) continue;
      if (!present.count(id)) {
        ops.push_back(Op::create(config_map("a", name, step, c)));
        present.insert(id);
      } else if (rng() % 3) {
        ops.push_back(Op::update(config_map("a", name, step, c)));
      } else {
        ops.push_back(Op::remove({kind, c, "a", name}));
        present.erase(id);
      }
    }
    REQUIRE(e.apply(ops).ok);
    ListSnapshots fresh(e, names);
    auto all = kept.view(kind, "*");
    REQUIRE(all->size() == present.size());
    REQUIRE(items(*all) == items(*fresh.view(kind, "*")));
    REQUIRE(items(*kept.view(kind, "root:x")) == items(*fresh.view(kind, "root:x")));
  }
  CHECK(all_before->size() == 1);
  // Each item names its workspace; a workspace's items are the same ones in
  // both collections.
  std::map<std::string, const ListSnapshots::Item*> by_fact;
  kept.view(kind, "*")->scan("", "", [&](const ListSnapshots::Item& i) {
    CHECK(i.fact.find(i.cluster) != std::string::npos);
    by_fact[i.fact] = &i;
    return true;
  });
  kept.view(kind, "root:x")->scan("", "", [&](const ListSnapshots::Item& i) {
    CHECK(i.cluster == "root:x");
    CHECK(by_fact.count(i.fact));
    CHECK(by_fact[i.fact] == &i);
    return true;
  });
}

TEST_CASE("list snapshots stay within their budget: the collection listed longest ago goes first") {
  engine::Engine e(prelude_program());
  REQUIRE(e.apply({Op::create({{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "a"}, {"cluster", "root"}}}}),
                   Op::create(config_map("a", "one", 1))})
              .ok);
  std::string cms = e.kinds().by_name("root", "ConfigMap")->key(), nss = e.kinds().by_name("root", "Namespace")->key();
  server::ClusterNames names(e);
  ListSnapshots roomy(e, names);
  auto first = roomy.view(cms, "root");
  roomy.view(nss, "root");
  CHECK(roomy.view(cms, "root") == first);  // kept: the same snapshot
  ListSnapshots tight(e, names, 1);  // no room for two
  auto kept = tight.view(cms, "root");
  CHECK(kept->bytes() > 0);
  CHECK(tight.view(cms, "root") == kept);   // alone over the budget, but being listed: kept
  tight.view(nss, "root");                  // the config maps' snapshot goes
  auto again = tight.view(cms, "root");
  CHECK(again != kept);
  CHECK(items(*again) == items(*kept));     // made again, the same
}

TEST_CASE("a collection at a past version: the current view while nothing changed it, else the one retained") {
  engine::Engine e(prelude_program());
  REQUIRE(e.apply({Op::create({{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "a"}, {"cluster", "root"}}}}),
                   Op::create(config_map("a", "one", 1))})
              .ok);
  server::ClusterNames names(e);
  ListSnapshots kept(e, names);
  e.set_commit_listener([&](const engine::Result& r) { kept.committed(r); });
  std::string cms = e.kinds().by_name("root", "ConfigMap")->key(), nss = e.kinds().by_name("root", "Namespace")->key();
  int64_t made = e.resource_version();
  auto first = kept.view_at(cms, "root", made);
  REQUIRE(first.view);
  CHECK(first.since == made);
  CHECK(!kept.view_at(cms, "root", made - 1).view);  // before it was made: not known
  // Another kind's change does not change the collection.
  REQUIRE(e.apply({Op::create({{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "b"}, {"cluster", "root"}}}})}).ok);
  CHECK(kept.view_at(cms, "root", e.resource_version()).view == first.view);
  CHECK(kept.view_at(cms, "root", made).view == first.view);
  int64_t listed = e.resource_version();
  kept.retain(cms, "root", listed, first);
  REQUIRE(e.apply({Op::create(config_map("a", "two", 2))}).ok);
  int64_t between = e.resource_version();
  REQUIRE(e.apply({Op::create(config_map("a", "three", 3))}).ok);
  auto now = kept.view_at(cms, "root", e.resource_version());
  CHECK(now.view != first.view);
  CHECK(now.view->size() == 3);
  CHECK(kept.view_at(cms, "root", listed).view == first.view);  // retained
  CHECK(kept.view_at(cms, "root", made).view == first.view);    // the same view then
  CHECK(items(*kept.view_at(cms, "root", listed).view) == items(*first.view));
  CHECK(!kept.view_at(cms, "root", between).view);  // a state no view holds
  CHECK(!kept.view_at(nss, "root", made).view);     // another collection's version
  // Retaining the same view again keeps one entry; past kMaxRetained the
  // oldest goes.
  kept.retain(cms, "root", listed, first);
  CHECK(kept.retained() == 1);
  for (size_t i = 0; i < ListSnapshots::kMaxRetained; ++i) {
    REQUIRE(e.apply({Op::create(config_map("a", "more-" + std::to_string(i), 0))}).ok);
    int64_t rv = e.resource_version();
    kept.retain(cms, "root", rv, kept.view_at(cms, "root", rv));
  }
  CHECK(kept.retained() == ListSnapshots::kMaxRetained);
  CHECK(!kept.view_at(cms, "root", listed).view);
}

}  // namespace
}  // namespace pmesh::test
