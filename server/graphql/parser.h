// Parses GraphQL executable documents (the October 2021 specification's
// grammar: operations, fragments, variables, directives, every value
// literal, block strings) with PEGTL, as the rules language is parsed.
//
// Type system definitions are refused (a request executes; it does not
// define), as graphql-js's ExecutableDefinitions rule refuses them. Errors
// read as graphql-js words them ("Syntax Error: Expected Name, found
// <EOF>.") with the line and column. Nesting is bounded before parsing, so a
// hostile document cannot exhaust the stack.
//
// Thread safety: reentrant.
#pragma once

#include <optional>
#include <string_view>

#include "server/graphql/document.h"

namespace pmesh::graphql {

// Deeper nesting of selections, lists and objects is a syntax error.
constexpr int kMaxNesting = 64;

// The document, or nullopt with `error` set. Bytes that start no well-formed
// UTF-8 sequence read as U+FFFD (as a server in JavaScript decodes them).
std::optional<Document> parse_document(std::string_view text, Error* error);

}  // namespace pmesh::graphql
