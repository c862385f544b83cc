// A source file of the rules language and positions within it.
//
// SourceFile owns the text of one .rules file and maps byte offsets to
// line:column. A Span is a byte range in one file; every AST node carries one
// so that every later stage can point at the text it came from.
//
// Thread safety: immutable after construction; safe to share between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pmesh::dsl {

struct Span {
  const struct SourceFile* file = nullptr;
  uint32_t begin = 0;  // byte offset of the first character
  uint32_t end = 0;    // byte offset one past the last character
};

struct LineCol {
  uint32_t line = 1;    // 1-based
  uint32_t column = 1;  // 1-based, in bytes
};

struct SourceFile {
  SourceFile(std::string path, std::string text);

  const std::string path;  // as the user named it, for diagnostics
  const std::string text;

  LineCol position(uint32_t offset) const;
  // The text of the line holding `offset`, without its line break.
  std::string_view line_text(uint32_t offset) const;

 private:
  std::vector<uint32_t> line_starts_;
};

using SourceFilePtr = std::shared_ptr<const SourceFile>;

}  // namespace pmesh::dsl
