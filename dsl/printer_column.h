// A kind's printer columns (`printerColumns` in a kind declaration, a
// CRD's additionalPrinterColumns in an APIResourceSchema): read and checked
// as kube-apiserver checks a CRD's columns.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "dsl/ast.h"
#include "dsl/diagnostics.h"

namespace pmesh::dsl {

// What is wrong with `c` (no name, an unknown type or format, a path outside
// kube's JSONPath subset, `count` on a column that cannot show a number).
std::vector<std::string> printer_column_problems(const PrinterColumn& c);

// One entry of a kind's `printerColumns`, with its problems reported.
PrinterColumn printer_column(const Expr& e, DiagnosticSink& diags);

}  // namespace pmesh::dsl
