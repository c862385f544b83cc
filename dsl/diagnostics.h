// Diagnostics: the errors and warnings that every stage of the compiler reports.
//
// A Diagnostic points at a Span and says what is wrong; DiagnosticSink collects
// them so that a stage reports every problem it finds rather than the first.
// format() renders "file:line:col: error: message", the source line and a caret.
//
// Thread safety: a DiagnosticSink is not synchronized; use one per thread.
#pragma once

#include <string>
#include <vector>

#include "dsl/source.h"

namespace pmesh::dsl {

enum class Severity { kError, kWarning, kNote };

struct Diagnostic {
  Severity severity = Severity::kError;
  Span span;
  std::string message;
  std::vector<std::string> notes;  // extra lines printed after the caret
};

class DiagnosticSink {
 public:
  void error(Span span, std::string message, std::vector<std::string> notes = {});
  void warning(Span span, std::string message);
  // A diagnostic about no particular source position (e.g. a missing file).
  void error(std::string message);

  // Keeps `file` alive as long as the sink, so that diagnostics pointing
  // into it can be printed after whoever parsed it is gone.
  void retain(SourceFilePtr file) { files_.push_back(std::move(file)); }

  bool has_errors() const { return errors_ > 0; }
  size_t error_count() const { return errors_; }
  const std::vector<Diagnostic>& all() const { return diags_; }

  // Every diagnostic, sorted by file and position, rendered with source lines.
  std::string format() const;

 private:
  std::vector<Diagnostic> diags_;
  std::vector<SourceFilePtr> files_;
  size_t errors_ = 0;
};

std::string format_diagnostic(const Diagnostic& d);

}  // namespace pmesh::dsl
