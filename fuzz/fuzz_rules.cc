// The .rules front end: whatever text, the parser, the analyses, the graph
// and the planner report diagnostics and never crash; a program that
// compiles binds (its expressions, plans and heads, as the engine loads it).
#include <cstddef>
#include <cstdint>
#include <string>

#include "dsl/bound_plan.h"
#include "dsl/compiler.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  pmesh::dsl::DiagnosticSink diags;
  auto program = pmesh::dsl::load_program_from_texts({{"fuzz.rules", text}}, diags);
  auto compiled = pmesh::dsl::compile(std::move(program), diags);
  (void)diags.format();
  if (compiled && !diags.has_errors()) {
    pmesh::dsl::Binder binder(*compiled->program);
    for (const auto& plan : compiled->plans) (void)binder.bind(*plan.info, plan);
  }
  return 0;
}
