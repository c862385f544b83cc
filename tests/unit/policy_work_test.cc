// The embedded policies' work per write does not grow with the store: an
// organization and accounts created, an owner changed and an account
// deleted, a consumer binding a provider's export and ordering through the
// api-syncagent's path, another changing and a third deleting its order,
// beside 2 organizations and beside 12 make each rule visit no more
// objects and tuples (RuleStats::candidates,
// a count, so the test does not depend on the machine's speed). A rule
// that scans where it should look up — every organization's workspace
// types read to find one organization's, as org-type-users once did — is
// caught here rather than in a benchmark at 1,000 organizations.
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "dsl/compiler.h"
#include "dsl/program.h"
#include "engine/documents.h"
#include "engine/engine.h"
#include "server/openfga/fga_store.h"
#include "server/openfga/platform_model.h"
#include "stdlib/embedded.h"

namespace pmesh {
namespace {

using engine::Json;
using engine::Op;

Json account(const std::string& cluster, const std::string& name, const std::string& type) {
  return {{"apiVersion", "core.platform-mesh.io/v1alpha1"},
          {"kind", "Account"},
          {"metadata", {{"name", name}, {"cluster", cluster}}},
          {"spec", {{"type", type}, {"creator", "alice@example.com"}}}};
}

struct Workload {
  std::shared_ptr<const dsl::CompiledProgram> program;

  Workload() {
    dsl::DiagnosticSink diags;
    auto p = dsl::compile(dsl::load_embedded_program(diags), diags);
    REQUIRE_MESSAGE((p && !diags.has_errors()), diags.format());
    program = std::move(p);
  }

  // Each rule's candidates while an organization and accounts are created,
  // an account's owner changed and an account deleted, in a store of
  // `orgs` organizations of two accounts each.
  std::map<std::string, uint64_t> candidates_beside(int orgs) const {
    engine::Engine e(program);
    std::vector<engine::Document> docs;
    std::string err;
    for (const auto& f : embedded_policies())
      if (std::string(f.path).ends_with("bootstrap.yaml")) REQUIRE(engine::parse_documents(f.text, f.path, &docs, &err));
    std::vector<Op> boot;
    for (auto& d : docs) boot.push_back(Op::create(d.object));
    REQUIRE(e.apply(boot).ok);
    server::FgaStore store(e);
    store.set_platform_model(server::platform_model_files(*program->program));
    store.load();
    auto run = [&](Op op) {
      auto r = e.apply({std::move(op)});
      REQUIRE_MESSAGE(r.ok, r.reason << ": " << r.message);
      store.committed(r);
    };
    auto create = [&](Json o) { run(Op::create(std::move(o))); };
    // A provider publishing Databases through the api-syncagent's path, and
    // every organization a consumer with one.
    create(account("root:orgs", "prov", "org"));
    create({{"apiVersion", "apiextensions.k8s.io/v1"}, {"kind", "CustomResourceDefinition"},
            {"metadata", {{"name", "databases.db.example.io"}, {"cluster", "root:orgs:prov"}}},
            {"spec", {{"group", "db.example.io"}, {"scope", "Namespaced"},
                      {"names", {{"kind", "Database"}, {"plural", "databases"}, {"singular", "database"}}},
                      {"versions", {{{"name", "v1"}, {"served", true}, {"storage", true},
                                     {"schema", {{"openAPIV3Schema", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}},
                                     {"subresources", {{"status", Json::object()}}}}}}}}});
    create({{"apiVersion", "apis.kcp.io/v1alpha2"}, {"kind", "APIExport"},
            {"metadata", {{"name", "databases"}, {"cluster", "root:orgs:prov"}}},
            {"spec", {{"resources", {{{"group", "db.example.io"}, {"name", "databases"},
                                      {"schema", "v1.databases.db.example.io"}, {"storage", {{"crd", Json::object()}}}}}},
                      {"permissionClaims", Json::parse(R"([{"group": "", "resource": "secrets", "verbs": ["*"]},
                                                           {"group": "", "resource": "configmaps", "verbs": ["*"]}])")}}}});
    create({{"apiVersion", "syncagent.kcp.io/v1alpha1"}, {"kind", "PublishedResource"},
            {"metadata", {{"name", "databases"}, {"cluster", "root:orgs:prov"}}},
            {"spec", {{"resource", {{"kind", "Database"}, {"apiGroup", "db.example.io"}}},
                      {"mutation", Json::parse(R"({"spec": [{"regex": {"path": "spec.tier", "pattern": "^gold$", "replacement": "g"}}],
                                                  "status": [{"delete": {"path": "status.internal"}}]})")},
                      {"related", Json::parse(R"([
                        {"identifier": "creds", "origin": "service", "kind": "Secret",
                         "object": {"selector": {"matchLabels": {"db.example.io/instance": "{{ .LocalObject.metadata.name }}"},
                                                 "rewrite": {"regex": {"replacement": "db-creds"}}}}},
                        {"identifier": "conf", "origin": "kcp", "kind": "ConfigMap", "object": {"reference": {"path": "spec.config"}}}])")}}}});
    auto consume = [&](const std::string& ws) {
      create({{"apiVersion", "apis.kcp.io/v1alpha2"}, {"kind", "APIBinding"},
              {"metadata", {{"name", "databases"}, {"cluster", ws}}},
              {"spec", {{"reference", {{"export", {{"path", "root:orgs:prov"}, {"name", "databases"}}}}},
                        // Related objects need the claims accepted.
                        {"permissionClaims", Json::parse(R"([
                          {"group": "", "resource": "secrets", "verbs": ["*"], "state": "Accepted", "selector": {"matchAll": true}},
                          {"group": "", "resource": "configmaps", "verbs": ["*"], "state": "Accepted", "selector": {"matchAll": true}}])")}}}});
      create({{"apiVersion", "v1"}, {"kind", "ConfigMap"},
              {"metadata", {{"name", "db-conf"}, {"namespace", "default"}, {"cluster", ws}}}, {"data", {{"k", "v"}}}});
      create({{"apiVersion", "db.example.io/v1"}, {"kind", "Database"},
              {"metadata", {{"name", "db"}, {"namespace", "default"}, {"cluster", ws}}},
              {"spec", {{"size", 1}, {"config", "db-conf"}}}});
    };
    for (int i = 0; i < orgs; ++i) {
      std::string org = "org" + std::to_string(i);
      create(account("root:orgs", org, "org"));
      for (int j = 0; j < 2; ++j) create(account("root:orgs:" + org, "acc" + std::to_string(j), "account"));
      consume("root:orgs:" + org);
    }
    auto before = e.costs_by_rule();
    create(account("root:orgs", "probe", "org"));
    create(account("root:orgs:probe", "team", "account"));
    create(account("root:orgs:org0", "team", "account"));
    Json other = account("root:orgs:org0", "acc1", "account");
    other["spec"]["creator"] = "carol@example.com";  // another owner
    run(Op::update(other));
    run(Op::remove({"Account", "root:orgs:org0", "", "team"}));
    // A consumer binds and orders; another changes its order, a third drops it.
    consume("root:orgs:probe");
    run(Op::update({{"apiVersion", "db.example.io/v1"}, {"kind", "Database"},
                    {"metadata", {{"name", "db"}, {"namespace", "default"}, {"cluster", "root:orgs:org0"}}},
                    {"spec", {{"size", 2}}}}));
    run(Op::remove({"databases.db.example.io", "root:orgs:org1", "default", "db"}));
    std::map<std::string, uint64_t> out;
    for (const auto& [rule, s] : e.costs_by_rule()) {
      uint64_t was = before.count(rule) ? before.at(rule).candidates : 0;
      if (s.candidates != was) out[rule] = s.candidates - was;
    }
    return out;
  }
};

TEST_CASE("policies: the objects and tuples each rule visits for a write do not grow with the organizations") {
  Workload w;
  auto small = w.candidates_beside(2);
  auto large = w.candidates_beside(12);
  REQUIRE(!small.empty());
  // Every rule, the sync path's included (mutations and related objects by
  // selector and by reference among it): bound-object-parent,
  // related-objects and sync-cleanup-finalizer grew (57 -> 137, 39 -> 99,
  // 105 -> 225) while they found a consumer among every consumer of the
  // export, before the relations they join through declared their keys.
  std::ostringstream grew;
  for (const auto& [rule, n] : large) {
    uint64_t was = small.count(rule) ? small.at(rule) : 0;
    if (n > was)
      grew << "\n  " << rule << ": " << was << " beside 2 organizations, " << n << " beside 12";
  }
  CHECK_MESSAGE(grew.str().empty(), "rules whose work grew with the store:" << grew.str());
  // The sync path ran: its copy rule visited something.
  CHECK(large.count("sync-copy") == 1);
  CHECK(large.count("related-selection") == 1);
  // A consumer's ConfigMap went to the provider (claims accepted).
  CHECK(large.count("sync-related-configmap") == 1);
}

}  // namespace
}  // namespace pmesh
