// AccessAnalysis: what a rule reads and writes, section by section.
//
// Follows every path from an object variable (through `old(x)`, and through
// calls of functions written in the language, which it inlines) to the
// section of the object it touches, and records reads and writes as nodes of
// the dependency graph. Reads under `not`, inside aggregates and through
// optional patterns are marked negated: they are what makes a cycle
// unstratifiable. Reads through `old(x)` are not recorded: they see the
// previous transaction, not this one.
//
// It reports: a path into a section that the kind does not declare, a derive
// that initializes a field outside the object's sections, and a `set` that
// writes a section the rule does not own (anything but status and the
// writable parts of metadata of an object it did not derive).
//
// REQUIRES: NameResolution has filled the RuleInfo.
// Thread safety: one instance per thread.
#pragma once

#include "dsl/analysis/rule_info.h"
#include "dsl/diagnostics.h"
#include "dsl/program.h"

namespace pmesh::dsl {

class AccessAnalysis {
 public:
  AccessAnalysis(const Program& program, DiagnosticSink& diags) : program_(program), diags_(diags) {}

  void analyze(RuleInfo& info);

 private:
  // Arguments of the function calls being inlined.
  struct Env {
    const FunctionDecl* fn = nullptr;
    std::vector<const Expr*> args;
    const Env* caller = nullptr;
    const Expr* arg(const std::string& name) const;
  };

  void body(const Body& b, bool negated);
  void expr(const Expr& e, bool negated, bool old, const Env* env);
  const VarInfo* root(const Expr& e, const Env* env, bool& old, std::vector<std::string>& segs,
                      std::vector<std::pair<const Expr*, const Env*>>& keys);
  void read(const VarInfo& v, const std::vector<std::string>& segs, Span span, bool negated, bool old);
  void existence(const VarInfo& v, Span span, bool negated);
  void head(const Head& h);
  std::string kind_of(const VarInfo& v) const;
  std::vector<std::string> literal_path(const Path& p);

  const Program& program_;
  DiagnosticSink& diags_;
  RuleInfo* info_ = nullptr;
  int depth_ = 0;
};

}  // namespace pmesh::dsl
