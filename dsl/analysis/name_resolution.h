// NameResolution: binds every name in a rule to what it means.
//
// Kinds, relations and functions are looked up among what the rule's module
// can see; variables among the patterns and lets of the body and the bodies
// around it. Binding is order-free within a body (the planner orders the
// work later). It reports: unknown kinds, relations and functions, wrong
// arity, unbound variables, a variable bound twice, variables bound and never
// used, heads that are incomplete (a derive without `in` or `named`), and
// functions that recurse.
//
// Thread safety: one instance per thread.
#pragma once

#include "dsl/analysis/rule_info.h"
#include "dsl/diagnostics.h"
#include "dsl/program.h"

namespace pmesh::dsl {

class NameResolution {
 public:
  NameResolution(const Program& program, DiagnosticSink& diags) : program_(program), diags_(diags) {}

  RuleInfo resolve(const Module& m, const Rule& r);
  void check_function(const Module& m, const FunctionDecl& f);
  // Kinds and relations named by a test's steps exist and fit.
  void check_test(const Module& m, const TestDecl& t);

 private:
  struct Scope {
    const Body* body = nullptr;
    std::map<std::string, VarInfo*> vars;
    const Scope* parent = nullptr;
    VarInfo* lookup(const std::string& name) const;
  };

  void declare(const Body& body, Scope& scope);
  void resolve_body(const Body& body, Scope& scope);
  void resolve_pattern(const ObjectPattern& p, Scope& scope);
  void resolve_tuple(const TuplePattern& t, Scope& scope, bool binding);
  void resolve_expr(const Expr& e, const Scope& scope);
  void resolve_head(const Head& h, Scope& scope);
  const KindDecl* resolve_kind(const KindRef& k, const Scope& scope);
  void check_call(const Expr& e);
  // An admission rule's shape: one `on`, at the top; only `set` of the
  // admitted object and `refuse`.
  void check_admission(const Rule& r, const Scope& scope);
  VarInfo* add_var(VarInfo v, Scope& scope);

  const Program& program_;
  DiagnosticSink& diags_;
  const Module* module_ = nullptr;
  RuleInfo* info_ = nullptr;
  // Function-body checking: the parameters in scope, and the call stack.
  const std::vector<std::string>* params_ = nullptr;
  std::vector<const FunctionDecl*> fn_stack_;
};

}  // namespace pmesh::dsl
