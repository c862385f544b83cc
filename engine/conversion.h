// Conversion between the versions a kind is served in and the version its
// objects are stored as, as kube-apiserver converts a request's object to
// its storage version and back to the version each reader asks for.
//
// A served version names its storage version and a converter
// (KindDecl::storage, KindDecl::conversion). No converter is a CRD's `None`
// strategy: only apiVersion changes (an APIResourceSchema's versions).
// Named converters are the kinds' own code, as kube's generated and
// hand-written conversion functions are: `kcp-apis` for kcp's APIExport
// and APIBinding (apis.kcp.io v1alpha1, stored as v1alpha2).
//
// Thread safety: stateless; callable from any thread.
#pragma once

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "dsl/ast.h"

namespace pmesh::engine {

using Json = nlohmann::json;

// What cannot be converted (kcp: a schema name without three segments): a
// request's fault, answered 400.
struct ConversionError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// `object`, written as the version `served` declares, in its storage
// version's form (apiVersion included).
// REQUIRES: served.storage != nullptr.
Json to_storage(const dsl::KindDecl& served, Json object);

// A stored object as the version `served` shows it.
// REQUIRES: served.storage != nullptr.
Json from_storage(const dsl::KindDecl& served, Json object);

// Whether a converter of this name exists ("" always does).
bool known_conversion(const std::string& name);

}  // namespace pmesh::engine
