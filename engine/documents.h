// KRM documents as users write them: YAML or JSON files, several documents
// per file, and `kind: List` documents whose items are objects.
//
// read_documents returns every object with where it came from; a file that
// does not parse is an error naming the file, line and column.
//
// Thread safety: reentrant.
#pragma once

#include <string>
#include <vector>

#include "engine/json_path.h"

namespace pmesh::engine {

struct Document {
  std::string source;  // file:line
  Json object;
};

// Bounds on what one text may expand to.
struct YamlLimits {
  size_t max_depth = 100;          // nested sequences and maps
  size_t max_nodes = 10'000'000;   // decoded nodes, aliases expanded
};

// Parses YAML (a superset of JSON) text. Plain scalars become numbers,
// booleans and null where YAML 1.2's core schema says so; quoted ones stay
// strings. Text that is not UTF-8, nesting past the limit and excessive
// aliasing (as go-yaml defines it) are errors. Returns false and sets
// `error` ("file:line:col: message").
bool parse_documents(const std::string& text, const std::string& file, std::vector<Document>* out,
                     std::string* error, const YamlLimits& limits = YamlLimits());

// Reads files, and folders (their .yaml, .yml and .json files, sorted).
bool read_documents(const std::vector<std::string>& paths, std::vector<Document>* out, std::string* error);

// JSON as YAML text, for `-o yaml`.
std::string to_yaml(const Json& value);

}  // namespace pmesh::engine
