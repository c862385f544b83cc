// The store's CBOR reader against nlohmann's, on any bytes: a damaged
// record must read as nlohmann's reader reads it (the same value, or an
// exception), never past its end. Differential: it aborts on a difference.
// What cbor_readable accepts (kept as bytes, read later) must read, a
// map's members found in place must be the values read_cbor reads, and a
// map read but for one member must be the rest of it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>
#include <string>
#include <string_view>

#include "engine/cbor.h"

namespace {

std::optional<std::vector<uint8_t>> nlohmann_reads(const std::string& in) {
  try {
    return pmesh::engine::Json::to_cbor(pmesh::engine::Json::from_cbor(in));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}
std::optional<std::vector<uint8_t>> pmesh_reads(const std::string& in) {
  try {
    return pmesh::engine::Json::to_cbor(pmesh::engine::read_cbor(in));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  // Values compared by their encoding: exact for NaNs and for strings that
  // are not UTF-8.
  auto theirs = nlohmann_reads(in);
  if (theirs != pmesh_reads(in)) std::abort();
  if (!pmesh::engine::cbor_readable(in)) return 0;
  if (!theirs) std::abort();  // kept as bytes, it could not be read later
  pmesh::engine::Json whole = pmesh::engine::read_cbor(in);
  if (!whole.is_object()) return 0;
  for (const auto& [k, v] : whole.items()) {
    // Compared by encoding (exact for NaNs).
    auto found = pmesh::engine::Json::to_cbor(pmesh::engine::read_cbor(pmesh::engine::cbor_member(in, k)));
    if (found != pmesh::engine::Json::to_cbor(v)) std::abort();
    std::string_view kept;
    auto rest = pmesh::engine::read_cbor_map_keeping(in, k, &kept);
    if (!rest || kept.empty() || rest->contains(k)) std::abort();
    (*rest)[k] = pmesh::engine::read_cbor(kept);
    if (pmesh::engine::Json::to_cbor(*rest) != pmesh::engine::Json::to_cbor(whole)) std::abort();
  }
  // All members kept at once, each in its place, and a key it lacks empty.
  std::vector<std::string> keys;
  for (const auto& [k, v] : whole.items()) keys.push_back(k);
  std::string absent = "?";
  while (whole.contains(absent)) absent += '?';
  keys.push_back(absent);
  std::vector<std::string_view> keep(keys.begin(), keys.end()), kept(keys.size());
  auto rest = pmesh::engine::read_cbor_map_keeping(in, keep, kept);
  if (!rest || !rest->empty() || !kept.back().empty()) std::abort();
  for (size_t i = 0; i + 1 < keys.size(); ++i)
    if (pmesh::engine::Json::to_cbor(pmesh::engine::read_cbor(kept[i])) != pmesh::engine::Json::to_cbor(whole[keys[i]]))
      std::abort();
  return 0;
}
