#include "fga/compile.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "fga/dsl_parser.h"
#include "fga/validate.h"

namespace pmesh::fga {

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FgaError("validation_error", "cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

CompiledModel compile_model(Model model, const std::string& prefix) {
  validate(model);
  CompiledModel c;
  c.lowered = lower(model, prefix);
  c.model = std::move(model);
  dsl::DiagnosticSink diags;
  auto program = dsl::load_program_from_texts({{c.lowered.module + ".rules", c.lowered.rules}}, diags);
  std::unique_ptr<dsl::CompiledProgram> compiled;
  if (!diags.has_errors()) compiled = dsl::compile(std::move(program), diags);
  if (diags.has_errors() || !compiled) {
    // Name the model's relations, not only the generated ones.
    std::string text = diags.format(), named;
    for (const auto& [key, r] : c.lowered.relations)
      for (size_t at = text.find(r.name); at != std::string::npos; at = text.find(r.name, at + 1)) {
        size_t end = at + r.name.size();
        bool whole = end == text.size() || !(std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_') ||
                     text.compare(end, 2, "__") == 0;
        if (whole) {
          named += (named.empty() ? "" : ", ") + key;
          break;
        }
      }
    throw FgaError("invalid_authorization_model",
                   "the model cannot be evaluated incrementally" +
                       (named.empty() ? std::string() : " (" + named + " exclude what depends on themselves: `but not`, or a wildcard minus an exclusion, inside recursion)") +
                       ":\n" + text);
  }
  c.program = std::move(compiled);
  return c;
}

Model read_model_file(const std::string& path) {
  std::string text = read_text(path);
  std::filesystem::path p(path);
  if (p.extension() == ".json") {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) throw FgaError("validation_error", path + ": not JSON");
    return from_json(j);
  }
  if (p.filename() == "fga.mod") {
    std::vector<std::pair<std::string, std::string>> files;
    try {
      YAML::Node mod = YAML::Load(text);
      if (!mod["contents"] || !mod["contents"].IsSequence()) throw FgaError("validation_error", path + ": contents must be a list of files");
      for (const auto& f : mod["contents"]) {
        std::string name = (p.parent_path() / f.as<std::string>()).string();
        files.push_back({name, read_text(name)});
      }
    } catch (const YAML::Exception& e) {
      throw FgaError("validation_error", path + ": " + e.what());
    }
    return parse_dsl(files);
  }
  return parse_dsl({{path, text}});
}

}  // namespace pmesh::fga
