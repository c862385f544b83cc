// kcp's conversions between apis.kcp.io v1alpha1 and v1alpha2 for APIExport
// and APIBinding (kcp's sdk/apis/apis/v1alpha2/*_conversion.go), on JSON.
//
// v1alpha2 is what pmesh stores and rules read, as kcp stores it. What one
// version cannot say travels in kcp's annotations so that a round trip
// loses nothing: v1alpha2's claim verbs and label selectors and non-CRD
// resource schemas under `apis.v1alpha2.kcp.io/...` on the v1alpha1 form,
// v1alpha1's `all` and `resourceSelector` on the v1alpha2 form. The
// annotations' JSON has sorted keys where Go's encoder keeps struct order.
//
// Thread safety: stateless.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace pmesh::engine::kcp_apis {

// `kind` is APIExport or APIBinding; other objects pass through.
// Throws ConversionError for what kcp refuses to convert.
nlohmann::json to_v1alpha2(const std::string& kind, nlohmann::json v1alpha1);
nlohmann::json to_v1alpha1(const std::string& kind, nlohmann::json v1alpha2);

}  // namespace pmesh::engine::kcp_apis
