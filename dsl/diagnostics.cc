#include "dsl/diagnostics.h"

#include <algorithm>
#include <tuple>

namespace pmesh::dsl {

void DiagnosticSink::error(Span span, std::string message, std::vector<std::string> notes) {
  diags_.push_back({Severity::kError, span, std::move(message), std::move(notes)});
  ++errors_;
}

void DiagnosticSink::warning(Span span, std::string message) {
  diags_.push_back({Severity::kWarning, span, std::move(message), {}});
}

void DiagnosticSink::error(std::string message) { error(Span{}, std::move(message)); }

std::string format_diagnostic(const Diagnostic& d) {
  const char* sev = d.severity == Severity::kError     ? "error"
                    : d.severity == Severity::kWarning ? "warning"
                                                       : "note";
  std::string out;
  if (d.span.file == nullptr) {
    out = std::string("pmesh: ") + sev + ": " + d.message + "\n";
  } else {
    const SourceFile& f = *d.span.file;
    LineCol lc = f.position(d.span.begin);
    out = f.path + ":" + std::to_string(lc.line) + ":" + std::to_string(lc.column) + ": " + sev +
          ": " + d.message + "\n";
    std::string_view line = f.line_text(d.span.begin);
    out += "  ";
    out += line;
    out += "\n  ";
    // Keep tabs so that the caret lines up under tab-indented text.
    for (uint32_t i = 0; i + 1 < lc.column && i < line.size(); ++i) out += line[i] == '\t' ? '\t' : ' ';
    out += '^';
    uint32_t width = d.span.end > d.span.begin ? d.span.end - d.span.begin : 1;
    uint32_t room = line.size() >= lc.column ? static_cast<uint32_t>(line.size()) - lc.column + 1 : 1;
    for (uint32_t i = 1; i < std::min(width, room); ++i) out += '~';
    out += "\n";
  }
  for (const auto& n : d.notes) out += "  note: " + n + "\n";
  return out;
}

std::string DiagnosticSink::format() const {
  std::vector<const Diagnostic*> sorted;
  for (const auto& d : diags_) sorted.push_back(&d);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic* a, const Diagnostic* b) {
    auto key = [](const Diagnostic* d) {
      return std::make_tuple(d->span.file ? d->span.file->path : std::string(), d->span.begin);
    };
    return key(a) < key(b);
  });
  std::string out;
  for (const auto* d : sorted) out += format_diagnostic(*d);
  return out;
}

}  // namespace pmesh::dsl
