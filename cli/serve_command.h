// `pmesh serve`: the KRM API over a data directory, as kcp is run.
//
// Thread safety: runs the server on the calling thread until a signal.
#pragma once

#include <string>
#include <vector>

namespace pmesh::cli {

int serve_main(const std::vector<std::string>& args);
// `pmesh serviceaccount-keys rotate --data-dir DIR`: a new signing key for
// ServiceAccount tokens, used from the server's next start.
int serviceaccount_keys_main(const std::vector<std::string>& args);

}  // namespace pmesh::cli
