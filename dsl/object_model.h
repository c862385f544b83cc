// How the language sees a KRM object: the paths a rule may name and the
// sections they belong to.
//
// A variable bound to an object is read through paths. Shorthands name the
// metadata fields that rules use most: `x.name` is `x.metadata.name`, and
// `x.cluster` is the logical cluster path the object lives in (kcp keeps it
// outside the object; pmesh exposes it as `metadata.cluster`). A section is
// the unit of the dependency graph: `spec`, `status`, any other top-level
// field a kind declares, `metadata` (identity and existence), and the parts
// of metadata that rules write on objects they do not own:
// `metadata.labels`, `metadata.annotations`, `metadata.finalizers`,
// `metadata.ownerReferences`.
//
// The compiler and the engine both resolve paths here, so they agree.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dsl/ast.h"

namespace pmesh::dsl {

// Expands a shorthand in the first segment: ["name"] -> ["metadata", "name"].
// Returns nullopt when the first segment is neither a shorthand, `metadata`,
// `kind`, `apiVersion`, nor a section that `kind` declares; `kind` null means
// a kind known only at run time, whose sections are not checked.
std::optional<std::vector<std::string>> canonical_path(const KindDecl* kind,
                                                       const std::vector<std::string>& segments);

// The section a canonical path lies in. REQUIRES: `path` is canonical and
// not empty.
std::string section_of(const std::vector<std::string>& path);
// The same, where a path at or below one of `kind`'s system fields is in
// that field's own node ("spec.cluster").
std::string section_of(const KindDecl* kind, const std::vector<std::string>& path);
// The system fields of `kind` at or below `path` (reading `ws.spec` reads
// `spec.cluster` too).
std::vector<std::string> system_fields_under(const KindDecl* kind, const std::vector<std::string>& path);

// Every section of an object of `kind` (all metadata parts and the declared
// sections); for a run-time kind, metadata parts plus spec and status.
std::vector<std::string> all_sections(const KindDecl* kind);

// Whether a rule may write `section` of an object that it does not own.
bool writable_by_non_owner(const std::string& section);

// A canonical path written with dots, as plans, indexes and the state
// name fields ("metadata.name", "spec.owner.kind"). A label's or
// annotation's key may hold dots ("app.kubernetes.io/name"), so after
// metadata.labels or metadata.annotations the rest of the path is one
// field. Whether the field after `dotted_prefix` is that whole rest:
bool rest_is_one_field(std::string_view dotted_prefix);
// The fields of a dotted canonical path, read so (none for "").
std::vector<std::string> dotted_fields(std::string_view dotted);

// The shorthand names, for documentation and messages.
const std::vector<std::string>& shorthand_names();
// Whether `name` is one of them (x.name is x.metadata.name).
bool is_shorthand(std::string_view name);

}  // namespace pmesh::dsl
