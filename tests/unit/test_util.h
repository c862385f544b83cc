// Helpers for the unit tests: compile rules from a string; a temporary
// data directory, opened into an engine that commits to it.
#pragma once

#include <memory>
#include <string>

#include "dsl/compiler.h"
#include "engine/durable_store.h"
#include "engine/engine.h"

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

// kPrelude followed by `rules`, compiled once per distinct text and shared
// by the tests that ask for it. Fails the calling test when it does not
// compile.
std::shared_ptr<const dsl::CompiledProgram> prelude_program(const std::string& rules = "");

// The first diagnostic's "line:col: message", or "" when there is none.
std::string first_error(const Compiled& c);

// A new directory under the system's temporary one, removed with its
// contents.
struct TempDir {
  std::string path;
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// A data directory opened and loaded into a fresh engine that commits to
// it. open_data_dir throws std::runtime_error if it cannot.
struct OpenedStore {
  std::unique_ptr<engine::DurableStore> store;
  std::unique_ptr<engine::Engine> engine;
};
OpenedStore open_data_dir(const std::string& path, std::shared_ptr<const dsl::CompiledProgram> program);

}  // namespace pmesh::test
