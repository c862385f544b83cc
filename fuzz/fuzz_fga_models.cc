// OpenFGA models as a client writes them: whatever text, as DSL (first byte
// even) or as the API's JSON (odd), is read, validated, lowered to rules
// and compiled, and either refused with an FgaError or compiled; nothing
// crashes, loops or grows without bound.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "fga/compile.h"
#include "fga/dsl_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    pmesh::fga::Model m;
    if (data[0] % 2 == 0) {
      m = pmesh::fga::parse_dsl({{"fuzz.fga", text}});
    } else {
      nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
      if (j.is_discarded()) return 0;
      m = pmesh::fga::from_json(j);
    }
    (void)pmesh::fga::to_dsl(m);
    pmesh::fga::compile_model(std::move(m), "fga_s_");
  } catch (const pmesh::fga::FgaError&) {
  }
  return 0;
}
