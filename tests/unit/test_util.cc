#include "tests/unit/test_util.h"

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
