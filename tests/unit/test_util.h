// Helpers for the unit tests: compile rules from a string.
#pragma once

#include <memory>
#include <string>

#include "dsl/compiler.h"

namespace pmesh::test {

struct Compiled {
  dsl::DiagnosticSink diags;
  std::unique_ptr<dsl::CompiledProgram> program;
  std::string errors() const { return diags.format(); }
  bool ok() const { return !diags.has_errors(); }
};

// Compiles `text` as the file "test.rules", with the embedded stdlib
// available to its imports.
std::unique_ptr<Compiled> compile(const std::string& text);

// The kind declarations most tests use, as a prefix to their rules.
extern const char* kPrelude;

// The first diagnostic's "line:col: message", or "" when there is none.
std::string first_error(const Compiled& c);

}  // namespace pmesh::test
