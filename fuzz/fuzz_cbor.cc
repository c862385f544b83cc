// The store's CBOR reader against nlohmann's, on any bytes: a damaged
// record must read as nlohmann's reader reads it (the same value, or an
// exception), never past its end. Differential: it aborts on a difference.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>
#include <string>

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
  if (nlohmann_reads(in) != pmesh_reads(in)) std::abort();
  return 0;
}
