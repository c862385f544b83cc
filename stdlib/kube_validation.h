// Kubernetes' validation of names and labels
// (k8s.io/apimachinery/pkg/util/validation), with its messages: each
// function returns the problems with a value, empty when it is valid.
//
// Used by the server's checks and by the rules' builtins alike.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <vector>

namespace pmesh {

using Problems = std::vector<std::string>;

// A lowercase RFC 1123 label: at most 63 characters of [a-z0-9-], starting
// and ending alphanumeric (namespaces, and what kcp names after them).
Problems dns1123_label_problems(const std::string& value);
// A lowercase RFC 1123 subdomain: at most 253 characters, labels joined by '.'.
Problems dns1123_subdomain_problems(const std::string& value);
// A name with an optional DNS subdomain prefix: "prefix/name" (label keys,
// annotation keys, finalizers).
Problems qualified_name_problems(const std::string& value);
// A label value: empty, or at most 63 characters of [A-Za-z0-9-_.] starting
// and ending alphanumeric.
Problems label_value_problems(const std::string& value);

// kube's path.IsValidPathSegmentName (IsValidPathSegmentPrefix with
// `prefix`): not "." or "..", no '/' or '%'.
Problems path_segment_problems(const std::string& name, bool prefix = false);

// How a kind's names are validated: kube's NameIsDNSSubdomain (most kinds),
// NameIsDNSLabel (namespaces, workspaces) or ValidatePathSegmentName (RBAC's
// roles and bindings, whose names may hold `:`).
enum class NameValidation { kDNS1123Subdomain, kDNS1123Label, kPathSegment };

// An object name as its kind's validation wants it: `prefix` for a
// generateName, whose trailing '-' is allowed.
Problems object_name_problems(const std::string& name, NameValidation rule, bool prefix);

// Kube's version priority (apimachinery's CompareKubeAwareVersionStrings):
// GA before beta before alpha, higher numbers first, then versions that do
// not look like kube's, alphabetically. Sorted by it, the first is a
// group's preferred version.
bool kube_version_before(const std::string& a, const std::string& b);

}  // namespace pmesh
