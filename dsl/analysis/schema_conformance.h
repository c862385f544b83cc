// Heads against kinds' schemas, at compile time: a literal the schema
// forbids where a derive or a set puts it (another type, a value outside an
// enum) cannot produce a valid object, and is an error. A field the schema
// does not have is a warning: kube drops such fields from what clients
// write, and pmesh keeps what rules write (other rules may read it). What
// only evaluation knows (computed values, required fields filled by
// expressions) the engine checks when the rule runs
// (engine/schema_validation.h).
//
// Thread safety: reads the program; one instance per compilation.
#pragma once

#include <vector>

#include "dsl/analysis/rule_info.h"
#include "dsl/diagnostics.h"
#include "dsl/program.h"

namespace pmesh::dsl {

class SchemaConformance {
 public:
  SchemaConformance(const Program& program, DiagnosticSink& diags) : program_(program), diags_(diags) {}
  void check(const RuleInfo& info);

 private:
  // The schema node `path` (canonical) reaches in `schema`; null with an
  // error when the schema has no such field, or when it allows anything
  // below (`*free` set).
  const nlohmann::json* walk(const nlohmann::json& schema, const std::vector<std::string>& path, bool* free,
                             std::string* missing) const;
  void value(const RuleInfo& info, const KindDecl& d, const std::vector<std::string>& path, const Expr& v, Span span);

  const Program& program_;
  DiagnosticSink& diags_;
};

}  // namespace pmesh::dsl
