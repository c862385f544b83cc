#include "dsl/program.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "dsl/parser.h"
#include "stdlib/embedded.h"

namespace pmesh::dsl {

namespace fs = std::filesystem;

Program::Program(std::vector<std::unique_ptr<Module>> modules, DiagnosticSink& diags)
    : modules_(std::move(modules)) {
  std::sort(modules_.begin(), modules_.end(),
            [](const auto& a, const auto& b) { return a->name < b->name; });
  for (const auto& m : modules_) {
    auto [it, fresh] = by_name_.emplace(m->name, m.get());
    if (!fresh)
      diags.error(m->name_span.file ? m->name_span : Span{m->file.get(), 0, 1},
                  "module `" + m->name + "` is defined twice", {"also in " + it->second->file->path});
  }
  for (const auto& m : modules_) {
    for (const auto& imp : m->imports)
      if (!by_name_.count(imp.module)) diags.error(imp.span, "unknown module `" + imp.module + "`");
    for (const auto& k : m->kinds) {
      if (!k.storage_version.empty()) continue;  // another served version: below
      auto [it, fresh] = kinds_.emplace(k.name, &k);
      if (!fresh) diags.error(k.span, "kind `" + k.name + "` is declared twice", {"also in " + it->second->span.file->path});
    }
    for (const auto& r : m->relations) {
      auto [it, fresh] = relations_.emplace(r.name, &r);
      if (!fresh && it->second->params.size() != r.params.size())
        diags.error(r.span, "relation `" + r.name + "` is declared with " + std::to_string(r.params.size()) +
                                " arguments here and " + std::to_string(it->second->params.size()) + " elsewhere");
      else if (!fresh && it->second->log != r.log) {
        // Named where it is not one: that is where a rule could read it.
        const RelationDecl& plain = r.log ? *it->second : r;
        const RelationDecl& log = r.log ? r : *it->second;
        diags.error(plain.span, "relation `" + r.name + "` is a log where it is declared elsewhere: declare it `log` here too",
                    {"declared a log in " + log.span.file->path});
      }
    }
    std::set<std::string> rule_names;
    for (const auto& r : m->rules)
      if (!rule_names.insert(r.name).second) diags.error(r.name_span, "rule `" + r.name + "` is defined twice");
    std::set<std::string> fn_names;
    for (const auto& f : m->functions)
      if (!fn_names.insert(f.name).second) diags.error(f.span, "function `" + f.name + "` is defined twice");
  }
  link_served_versions(diags);
}

void Program::link_served_versions(DiagnosticSink& diags) {
  for (const auto& m : modules_)
    for (auto& k : m->kinds) {
      if (k.storage_version.empty()) continue;
      auto it = kinds_.find(k.name);
      if (it == kinds_.end() || it->second->version != k.storage_version) {
        diags.error(k.span, "kind " + k.name + " " + k.version + " is stored as version " + k.storage_version +
                                ", which no declaration of " + k.name + " has");
        continue;
      }
      const KindDecl& stored = *it->second;
      if (k.version == stored.version || k.group != stored.group || k.plural != stored.plural || k.scope != stored.scope) {
        diags.error(k.span, "kind " + k.name + " " + k.version + " must be another version of the same group, " +
                                "plural and scope as the version it is stored as");
        continue;
      }
      k.storage = &stored;
      served_versions_.push_back(&k);
    }
}

const KindDecl* Program::find_kind(const Module& m, const std::string& name) const {
  // Rules see a kind as it is stored: its other served versions are the API's.
  auto stored = [&](const Module& in) -> const KindDecl* {
    for (const auto& d : in.kinds)
      if (d.name == name && d.storage_version.empty()) return &d;
    return nullptr;
  };
  if (const KindDecl* d = stored(m)) return d;
  for (const auto& imp : m.imports)
    if (const Module* o = module_named(imp.module))
      if (const KindDecl* d = stored(*o)) return d;
  return nullptr;
}

const Module* Program::module_named(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

template <typename Decl>
const Decl* Program::find(const Module& m, const std::string& name, const std::vector<Decl> Module::*list) const {
  for (const auto& d : m.*list)
    if (d.name == name) return &d;
  for (const auto& imp : m.imports)
    if (const Module* o = module_named(imp.module))
      for (const auto& d : o->*list)
        if (d.name == name) return &d;
  return nullptr;
}

const RelationDecl* Program::find_relation(const Module& m, const std::string& name) const {
  return find(m, name, &Module::relations);
}
const FunctionDecl* Program::find_function(const Module& m, const std::string& name) const {
  return find(m, name, &Module::functions);
}

std::vector<std::pair<const Module*, const Rule*>> Program::rules() const {
  std::vector<std::pair<const Module*, const Rule*>> out;
  for (const auto& m : modules_)
    for (const auto& r : m->rules) out.emplace_back(m.get(), &r);
  return out;
}

std::vector<std::pair<const Module*, const TestDecl*>> Program::tests() const {
  std::vector<std::pair<const Module*, const TestDecl*>> out;
  for (const auto& m : modules_)
    for (const auto& t : m->tests) out.emplace_back(m.get(), &t);
  return out;
}

namespace {

// Parses `files`, then adds the embedded stdlib modules that are imported
// (transitively) and not already present.
std::unique_ptr<Program> assemble(std::vector<std::unique_ptr<Module>> modules, DiagnosticSink& diags) {
  std::set<std::string> present;
  for (const auto& m : modules) present.insert(m->name);
  std::vector<std::unique_ptr<Module>> embedded;
  bool parsed_embedded = false;
  for (bool changed = true; changed;) {
    changed = false;
    std::set<std::string> wanted;
    for (const auto& m : modules)
      for (const auto& imp : m->imports)
        if (!present.count(imp.module)) wanted.insert(imp.module);
    if (wanted.empty()) break;
    if (!parsed_embedded) {
      parsed_embedded = true;
      for (const auto& f : embedded_stdlib()) {
        if (std::string_view(f.path).size() < 6 || !std::string_view(f.path).ends_with(".rules")) continue;
        auto file = std::make_shared<SourceFile>(std::string("<embedded>/") + f.path, f.text);
        embedded.push_back(std::make_unique<Module>(parse_module(file, diags)));
      }
    }
    for (auto& e : embedded) {
      if (e && wanted.count(e->name)) {
        present.insert(e->name);
        modules.push_back(std::move(e));
        changed = true;
      }
    }
  }
  return std::make_unique<Program>(std::move(modules), diags);
}

}  // namespace

std::unique_ptr<Program> load_program(const std::vector<std::string>& paths, DiagnosticSink& diags) {
  std::vector<std::string> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec))
        if (it->is_regular_file() && it->path().extension() == ".rules") found.push_back(it->path().string());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(p, ec)) {
      files.push_back(p);
    } else {
      diags.error("no such file or folder: " + p);
    }
  }
  std::vector<std::pair<std::string, std::string>> texts;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      diags.error("cannot read " + f);
      continue;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    texts.emplace_back(f, ss.str());
  }
  return load_program_from_texts(texts, diags);
}

std::unique_ptr<Program> load_embedded_program(DiagnosticSink& diags) {
  std::vector<std::pair<std::string, std::string>> texts;
  for (const auto* files : {&embedded_stdlib(), &embedded_policies()})
    for (const auto& e : *files) {
      std::string_view path(e.path);
      if (path.ends_with(".rules") && path.find("/tests/") == std::string_view::npos)
        texts.emplace_back(std::string("<embedded>/") + e.path, e.text);
    }
  return load_program_from_texts(texts, diags);
}

std::unique_ptr<Program> load_program_from_texts(const std::vector<std::pair<std::string, std::string>>& files,
                                                 DiagnosticSink& diags) {
  std::vector<std::unique_ptr<Module>> modules;
  for (const auto& [path, text] : files) {
    auto file = std::make_shared<SourceFile>(path, text);
    modules.push_back(std::make_unique<Module>(parse_module(file, diags)));
  }
  return assemble(std::move(modules), diags);
}

}  // namespace pmesh::dsl
