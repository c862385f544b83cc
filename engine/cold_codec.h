// The compression of the CBOR that cold values are held as
// (SharedJson::from_cbor_packed, cold_objects.cc).
//
// A cold object's CBOR is a few hundred bytes, most of them what every
// object of its kind holds too: field names, condition types and reasons,
// API versions. Alone, each compresses poorly (its frame has nothing to
// refer back to); against a dictionary of what such values hold, to a
// sixth (docs/performance.md). The dictionary is learned once per process,
// with zstd's trainer, from the first values offered for packing
// (kSampleBytes of them); until then, pack() keeps samples and packs
// nothing. A dictionary is never replaced, so that whatever was packed
// with it can be unpacked for the life of the process; nothing packed is
// written anywhere (records hold the CBOR).
//
// Thread safety: pack and unpack may be called from any thread (each uses
// a compression context of its thread's; learning is locked).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pmesh::engine::cold_codec {

// How many bytes of values the dictionary is learned from.
inline constexpr size_t kSampleBytes = 256 * 1024;

// `cbor` packed, or nullopt when there is no dictionary yet (it is kept as
// a sample then) or packing would not make it smaller.
std::optional<std::string> pack(std::string_view cbor);

// The CBOR that `packed` was packed from, into `out` (replacing what it held).
// REQUIRES: `packed` came from pack() in this process (else throws
// std::runtime_error).
void unpack(std::string_view packed, std::string& out);

// Whether the dictionary has been learned.
bool learned();

}  // namespace pmesh::engine::cold_codec
