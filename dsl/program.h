// A Program: the modules of one compilation and the names they declare.
//
// load_program() reads .rules files and folders, parses them, and pulls in
// the stdlib modules they import from the copy embedded in the binary (a
// module given on the command line wins over the embedded one of the same
// name). Program then answers which kinds, relations and functions each
// module can see: its own declarations and those of the modules it imports.
//
// Thread safety: built by one thread, read-only afterwards.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dsl/ast.h"
#include "dsl/diagnostics.h"

namespace pmesh::dsl {

class Program {
 public:
  // REQUIRES: every module in `modules` was parsed; their imports resolve.
  explicit Program(std::vector<std::unique_ptr<Module>> modules, DiagnosticSink& diags);

  const std::vector<std::unique_ptr<Module>>& modules() const { return modules_; }

  // Declarations visible from `m`, or nullptr.
  const KindDecl* find_kind(const Module& m, const std::string& name) const;
  const RelationDecl* find_relation(const Module& m, const std::string& name) const;
  const FunctionDecl* find_function(const Module& m, const std::string& name) const;

  // Every kind of the program, by name (kinds are unique across modules).
  const std::map<std::string, const KindDecl*>& kinds() const { return kinds_; }
  // The declared kinds' other served versions (KindDecl::storage_version).
  const std::vector<const KindDecl*>& served_versions() const { return served_versions_; }
  const std::map<std::string, const RelationDecl*>& relations() const { return relations_; }

  // Rules and tests in a stable order: modules by name, then source order.
  std::vector<std::pair<const Module*, const Rule*>> rules() const;
  std::vector<std::pair<const Module*, const TestDecl*>> tests() const;

 private:
  const Module* module_named(const std::string& name) const;
  void link_served_versions(DiagnosticSink& diags);
  template <typename Decl>
  const Decl* find(const Module& m, const std::string& name,
                   const std::vector<Decl> Module::*list) const;

  std::vector<std::unique_ptr<Module>> modules_;
  std::map<std::string, const Module*> by_name_;
  std::map<std::string, const KindDecl*> kinds_;
  std::vector<const KindDecl*> served_versions_;
  std::map<std::string, const RelationDecl*> relations_;
};

// Loads every .rules file under `paths` (files, or folders searched
// recursively, in sorted order) and the embedded stdlib modules they import.
// Errors (missing files, syntax errors, unknown imports) go to `diags`.
std::unique_ptr<Program> load_program(const std::vector<std::string>& paths, DiagnosticSink& diags);

// Loads the rules compiled into the binary: the policies and every stdlib
// module except the stdlib's own tests. What `pmesh serve` and the engine commands run when no
// rules are named.
std::unique_ptr<Program> load_embedded_program(DiagnosticSink& diags);

// Loads from texts already in memory: (path, text) pairs. For tests and the
// embedded policies.
std::unique_ptr<Program> load_program_from_texts(
    const std::vector<std::pair<std::string, std::string>>& files, DiagnosticSink& diags);

}  // namespace pmesh::dsl
