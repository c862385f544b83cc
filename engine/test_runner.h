// Runs the test blocks of a program: given / when / expect steps against an
// engine in memory, checking after every transaction that the incremental
// state equals a recomputation from scratch.
//
// Thread safety: run_tests builds its own engines; it may run concurrently
// with other calls.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dsl/compiler.h"
#include "engine/json_path.h"

namespace pmesh::engine {

struct TestOutcome {
  std::string file;
  std::string name;
  bool passed = true;
  std::string failure;  // what was expected, what was found, and why
};

struct TestReport {
  std::vector<TestOutcome> outcomes;
  int passed = 0;
  int failed = 0;
};

// Runs every test whose name contains `filter` (all when empty), except the
// tests of stdlib modules that were only pulled in by an import.
// REQUIRES: `program` compiled without errors.
TestReport run_tests(std::shared_ptr<const dsl::CompiledProgram> program, const std::string& filter);

// Test data (YAML flow style, bare words as strings) as JSON. A bare key with
// dots is a path (`spec.type.name: x` is `{spec: {type: {name: x}}}`);
// a quoted key is one key.
Json data_to_json(const dsl::Expr& e);

}  // namespace pmesh::engine
