// The api-syncagent's own functions, as the sync rules call them (the
// builtins gjson, syncagent_name, syncagent_mutate, syncagent_selector,
// syncagent_schema; builtins.cc lists them): its reference paths, the names
// it gives copies, its mutations, the templated label selectors of related
// resources, and the schema it publishes for a CRD.
// Each follows the agent's code (kcp-dev/api-syncagent, internal/sync and
// internal/mutation); where it is deliberately narrower (gjson's wildcards
// and modifiers, sjson's forced keys), it refuses rather than guesses.
//
// Every input may be a provider's text (a PublishedResource), so sizes are
// bounded: a path may not grow an array by more than kMaxArrayGrowth
// elements, templates and regexes keep their own limits.
//
// Thread safety: pure functions.
#pragma once

#include "stdlib/builtins.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace pmesh {

inline constexpr size_t kMaxArrayGrowth = 1024;

// A gjson/sjson path as the agent's references and mutations write it:
// keys separated by dots, `\` escaping the next character. Throws
// BuiltinError (naming `fn`) for gjson syntax beyond keys and indexes.
std::vector<std::string> parse_reference_path(const std::string& path, const char* fn);

// The agent's mutations (a ResourceMutationSpec's `spec` or `status` list)
// applied in order to `object`: delete (sjson.Delete), regex (the value at
// the path as gjson's String(), Go's ReplaceAllString; an empty pattern sets
// the replacement) and template (html/template over Value, LocalObject =
// the object being mutated, RemoteObject = `other`, trimmed), each setting a
// string as sjson.Set does. Throws BuiltinError.
nlohmann::json apply_syncagent_mutations(nlohmann::json object, const nlohmann::json& mutations,
                                         const nlohmann::json& other);

// What is wrong with a mutation list whatever object it meets (a mechanism
// missing, a path that is empty or beyond keys and indexes, a regex that
// does not compile), "" when nothing is: what admission checks, so that a
// provider's mistake is refused rather than taking the copies away.
std::string syncagent_mutations_problem(const nlohmann::json& mutations);

// The string at `key` of an object, "" when there is none (or it is not a
// string): how the agent's Go structs read an absent field.
std::string field_of(const nlohmann::json& o, const char* key);

// The APIResourceSchema spec the agent publishes for `crd` (an object)
// as the PublishedResource `pr` selects and projects it
// (syncagent_projection.cc); null, with the agent's message in `error`,
// when it cannot.
nlohmann::json project_crd(const nlohmann::json& crd, const nlohmann::json& pr, std::string* error);

Json syncagent_gjson(const BuiltinArgs& args);
Json syncagent_mutations_error(const BuiltinArgs& args);
Json syncagent_name(const BuiltinArgs& args);
Json syncagent_mutate(const BuiltinArgs& args);
Json syncagent_selector(const BuiltinArgs& args);
Json syncagent_schema(const BuiltinArgs& args);
Json syncagent_schema_error(const BuiltinArgs& args);

}  // namespace pmesh
