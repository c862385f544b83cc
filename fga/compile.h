// A model, from its text to rules the engine can run: read (JSON or DSL),
// validated as OpenFGA validates it, lowered (lower.h) and compiled by the
// rules compiler. A model whose lowered rules do not compile (exclusion
// inside a cycle is not stratifiable) is refused with the compiler's words.
//
// Thread safety: pure functions; a CompiledModel is immutable.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dsl/compiler.h"
#include "fga/lower.h"
#include "fga/model.h"

namespace pmesh::fga {

struct CompiledModel {
  Model model;
  LoweredModel lowered;
  std::shared_ptr<const dsl::CompiledProgram> program;  // the lowered module alone
};

// The rules of `model`, named with `prefix` (lower.h), for the stores it is
// loaded for. Throws FgaError (invalid_authorization_model) when the model
// is invalid.
CompiledModel compile_model(Model model, const std::string& prefix);

// A model file as `fga` reads one: JSON (`.json`), an fga.mod manifest
// (`schema` and `contents`, module files beside it), or DSL.
// Throws FgaError; a file that cannot be read is a validation_error.
Model read_model_file(const std::string& path);

}  // namespace pmesh::fga
