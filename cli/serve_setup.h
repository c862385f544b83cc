// What `pmesh serve` does around the API: the first start's bootstrap, the
// shard's registration, the admin kubeconfig.
//
// Thread safety: call before serving, on the engine's thread.
#pragma once

#include <string>
#include <vector>

#include "engine/durable_store.h"
#include "engine/engine.h"

namespace pmesh::cli {

// On the first start (an empty data directory), creates what an
// installation starts with, in one transaction: the files in `paths`, or the
// embedded policies/bootstrap.yaml. False (and `error`) when it cannot.
bool bootstrap(engine::Engine& engine, const std::vector<std::string>& paths, std::string* summary, std::string* error);

// As a kcp shard does, records where the server serves (Shard `root` in
// root, spec.baseURL): workspaces' URLs are made from it. Nothing to do when
// the rules declare no Shard kind or the address is unchanged.
bool register_shard(engine::Engine& engine, engine::DurableStore& store, const std::string& base, std::string* error);

// An admin kubeconfig, as kcp writes one: a cluster and context per
// well-known workspace (root, root:orgs, and the server without a cluster).
// `ca_data` (base64 PEM) and `token` when serving HTTPS with authentication.
std::string admin_kubeconfig(const std::string& base, const std::string& ca_data, const std::string& token);


}  // namespace pmesh::cli
