// Checks a document against a schema before anything runs: the
// specification's validation rules (graphql-js's specifiedRules, with its
// messages) and the gateway's limits on depth, complexity and batch size.
//
// Left out: OverlappingFieldsCanBeMerged (the executor answers a response
// key with its first field's arguments) and the rules about interfaces and
// unions, which these schemas do not have.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "server/graphql/document.h"
#include "server/graphql/schema.h"

namespace pmesh::graphql {

// The gateway's queryvalidation limits; 0 turns one off. Depth counts
// nested fields (fragments add none), complexity every field selected,
// through fragments.
struct Limits {
  int max_depth = 15;  // the introspection query graphql-js sends nests 13 deep
  int max_complexity = 2000;
  int max_batch = 10;  // operations in one batched request
  // pmesh's own: fields of the Kubernetes API one operation may call (each
  // a list or a write), so that aliases cannot turn one request into
  // thousands of lists.
  int max_calls = 100;
  // And what those calls may answer in all before the rest fail: a bound
  // on what aliased lists of a large collection hold at once.
  size_t max_result_bytes = 64u << 20;
};

// The gateway's message when `doc` goes past a limit ("query depth 20
// exceeds maximum allowed depth of 15"), or "".
std::string check_limits(const Document& doc, const Limits& limits);

// Every rule `doc` breaks, in document order; empty when it is valid.
std::vector<Error> validate(const Schema& schema, const Document& doc);

}  // namespace pmesh::graphql
