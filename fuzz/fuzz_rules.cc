// The .rules front end: whatever text, the parser, the analyses, the graph
// and the planner report diagnostics and never crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dsl/compiler.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  pmesh::dsl::DiagnosticSink diags;
  auto program = pmesh::dsl::load_program_from_texts({{"fuzz.rules", text}}, diags);
  auto compiled = pmesh::dsl::compile(std::move(program), diags);
  (void)diags.format();
  return 0;
}
