// ObjectMeta as kube-apiserver checks it, on every kind.
//
// Types first (what Go's decoder refuses, as a 400 naming the field), then
// values (ValidateObjectMetaAccessor and ValidateObjectMetaUpdate from
// k8s.io/apimachinery: names, generateName, namespace, labels, annotations
// and their total size, owner references, finalizers, immutable fields), as
// field errors the caller turns into one 422.
//
// Thread safety: pure functions.
#pragma once

#include "stdlib/kube_validation.h"

#include <optional>
#include <string>

#include "dsl/ast.h"
#include "server/api/status.h"

namespace pmesh::server {

// 256 KiB, kube's TotalAnnotationSizeLimitB.
constexpr size_t kMaxAnnotationBytes = 256 * 1024;

// The 400 Go's decoder gives when `object` (a body) has a field of the
// wrong JSON type in its type metadata or ObjectMeta; nullopt when the
// types are right.
std::optional<ApiError> check_object_types(const Json& object);

// Go's decoding of a map[string]<value_type> field `key` of `o` (null means
// unset): the 400 naming `field` when it is not a map of strings.
std::optional<ApiError> want_string_map(const Json& o, const char* key, const std::string& field,
                                        const std::string& value_type = "string");

// ValidateObjectMetaAccessor, the name checked as the kind's `names` says.
FieldErrors validate_object_meta(const Json& metadata, bool namespaced, NameValidation names);

// ValidateObjectMetaUpdate: what may not change between `old_md` and `new_md`.
FieldErrors validate_object_meta_update(const Json& new_md, const Json& old_md);

}  // namespace pmesh::server
