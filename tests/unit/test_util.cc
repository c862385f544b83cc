#include "tests/unit/test_util.h"

#include <stdlib.h>

#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>

namespace pmesh::test {

const char* kPrelude = R"(module t
import stdlib.kinds.core
import stdlib.kinds.kcp
import stdlib.kinds.platform
import stdlib.conditions
import stdlib.meta
)";

std::unique_ptr<Compiled> compile(const std::string& text) {
  auto c = std::make_unique<Compiled>();
  auto program = dsl::load_program_from_texts({{"test.rules", text}}, c->diags);
  c->program = dsl::compile(std::move(program), c->diags);
  return c;
}

std::shared_ptr<const dsl::CompiledProgram> prelude_program(const std::string& rules) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const dsl::CompiledProgram>> compiled;
  std::lock_guard<std::mutex> lock(mu);
  auto& p = compiled[rules];
  if (!p) {
    auto c = compile(std::string(kPrelude) + rules);
    INFO(c->errors());
    REQUIRE(c->ok());
    p = std::move(c->program);
  }
  return p;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "pmesh-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path = tmpl;
}
TempDir::~TempDir() { std::filesystem::remove_all(path); }

OpenedStore open_data_dir(const std::string& path, std::shared_ptr<const dsl::CompiledProgram> program) {
  std::string err;
  OpenedStore o;
  o.store = engine::DurableStore::open(path, &err);
  if (!o.store) throw std::runtime_error(err);
  o.engine = std::make_unique<engine::Engine>(std::move(program));
  if (!o.store->load(*o.engine, &err)) throw std::runtime_error(err);
  o.engine->set_persistence(o.store.get());
  return o;
}

std::string first_error(const Compiled& c) {
  for (const auto& d : c.diags.all()) {
    if (d.severity != dsl::Severity::kError) continue;
    if (!d.span.file) return d.message;
    auto lc = d.span.file->position(d.span.begin);
    return std::to_string(lc.line) + ":" + std::to_string(lc.column) + ": " + d.message;
  }
  return "";
}

}  // namespace pmesh::test
