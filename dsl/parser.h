// The parser: .rules text to a Module AST.
//
// Parsing is per top-level declaration: a declaration that does not parse is
// reported, the parser skips to the next line that starts a declaration, and
// goes on, so that one run reports every syntax error of a file.
//
// Thread safety: parse_module is reentrant; it shares no state between calls.
#pragma once

#include "dsl/ast.h"
#include "dsl/diagnostics.h"

namespace pmesh::dsl {

// Parses `file`. Syntax errors go to `diags`; the Module holds every
// declaration that parsed.
Module parse_module(SourceFilePtr file, DiagnosticSink& diags);

// Parses a single expression (for tools and tests). REQUIRES: `file` holds
// only the expression.
ExprPtr parse_expression(SourceFilePtr file, DiagnosticSink& diags);

}  // namespace pmesh::dsl
