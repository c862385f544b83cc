// The pmesh commands that run the engine: apply, dry-run, explain, verify.
//
// Thread safety: single-threaded commands.
#pragma once

#include <string>
#include <vector>

namespace pmesh::cli {

int cmd_apply(const std::vector<std::string>& args);
int cmd_dry_run(const std::vector<std::string>& args);
int cmd_explain(const std::vector<std::string>& args);
int cmd_verify(const std::vector<std::string>& args);

}  // namespace pmesh::cli
