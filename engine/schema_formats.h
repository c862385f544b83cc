// The string formats a schema's `format` names, checked as kube-apiserver
// checks a custom resource's: the formats of kube-openapi's strfmt registry
// (apiextensions' supported formats). A format kube does not know is
// accepted, as kube accepts it.
//
// Thread safety: pure functions.
#pragma once

#include <string>

namespace pmesh::engine {

// Whether `value` is of `format` (true for formats kube does not check).
bool format_ok(const std::string& format, const std::string& value);

}  // namespace pmesh::engine
