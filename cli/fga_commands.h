// `pmesh fga`: OpenFGA models through the rules engine.
//
//   pmesh fga compile MODEL [--prefix P] [-o rules|json|dsl]
//   pmesh fga test FILE... [--filter TEXT]
//
// compile prints what a model becomes (the generated rules module, or the
// model as OpenFGA's JSON or DSL); test runs OpenFGA's model test files
// (fga_test_file.h) through the engine.
//
// Thread safety: single-threaded commands.
#pragma once

#include <string>
#include <vector>

namespace pmesh::cli {

int cmd_fga(const std::vector<std::string>& args);

}  // namespace pmesh::cli
