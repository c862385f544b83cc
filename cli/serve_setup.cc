#include "cli/serve_setup.h"

#include "engine/documents.h"
#include "engine/json_path.h"
#include "stdlib/embedded.h"

namespace pmesh::cli {

std::string admin_kubeconfig(const std::string& base, const std::string& ca_data, const std::string& token) {
  std::string out = "apiVersion: v1\nkind: Config\nclusters:\n";
  const char* workspaces[][2] = {{"root", "root"}, {"orgs", "root:orgs"}, {"base", ""}};
  for (auto& w : workspaces)
    out += std::string("- name: ") + w[0] + "\n  cluster:\n    server: " + base + (w[1][0] ? std::string("/clusters/") + w[1] : "") + "\n" +
           (ca_data.empty() ? "" : "    certificate-authority-data: " + ca_data + "\n");
  out += "contexts:\n";
  for (auto& w : workspaces)
    out += std::string("- name: ") + w[0] + "\n  context:\n    cluster: " + w[0] + "\n    user: admin\n";
  out += "current-context: root\nusers:\n- name: admin\n  user:" + (token.empty() ? std::string(" {}\n") : "\n    token: " + token + "\n");
  return out;
}

bool register_shard(engine::Engine& engine, engine::DurableStore& store, const std::string& base, std::string* error) {
  using engine::Json;
  const dsl::KindDecl* shard = engine.kinds().declared("Shard");
  if (!shard) return true;
  const Json* cur = engine.get({shard->key(), "root", "", "root"});
  Json want = {{"apiVersion", shard->api_version()},
               {"kind", shard->name},
               {"metadata", {{"name", "root"}, {"cluster", "root"}}},
               {"spec", {{"baseURL", base}}}};
  if (cur && cur->contains("spec") && engine::string_field((*cur)["spec"], "baseURL") == base) return true;
  if (cur) {
    Json next = *cur;
    next["spec"]["baseURL"] = base;
    want = next;
  }
  engine::Result r = engine.apply({cur ? engine::Op::update(want) : engine::Op::create(want)});
  if (!r.ok) return *error = r.reason + ": " + r.message, false;
  return store.flush(error);
}

bool bootstrap(engine::Engine& engine, const std::vector<std::string>& paths, std::string* summary, std::string* error) {
  std::vector<engine::Document> docs;
  bool ok = true;
  if (paths.empty()) {
    for (const auto& f : embedded_policies())
      if (std::string_view(f.path).ends_with("bootstrap.yaml"))
        ok = ok && engine::parse_documents(f.text, std::string("<embedded>/") + f.path, &docs, error);
  } else {
    ok = engine::read_documents(paths, &docs, error);
  }
  if (!ok) return false;
  std::vector<engine::Op> ops;
  size_t skipped = 0;
  for (const auto& d : docs) {
    // The embedded bootstrap is the embedded policies': rules given with
    // --policies may not declare all its kinds (RBAC's), and get the rest.
    if (paths.empty() && !engine.kinds().by_api("root", engine::string_field(d.object, "apiVersion"),
                                                engine::string_field(d.object, "kind"))) {
      ++skipped;
      continue;
    }
    ops.push_back(engine::Op::create(d.object));
  }
  engine::Result r = engine.apply(ops);
  if (!r.ok) return *error = r.reason + ": " + r.message, false;
  *summary = "bootstrapped " + std::to_string(ops.size()) + " objects (" + std::to_string(r.objects.size()) +
             " with what the rules derived)";
  if (skipped) *summary += "; " + std::to_string(skipped) + " of kinds the rules do not declare left out";
  return true;
}

}  // namespace pmesh::cli
