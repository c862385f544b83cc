// Contributions' values, one copy of each: what the engine's heads compute
// and what a reopen's decoders read back.
//
// A match holds a value per head, and most of them are the same few small
// values over and over (a condition, a finalizer list, `true`, a phase):
// reading 300 organizations × 9 accounts back, nine values in ten were
// bytes a record had already held. Kept apart, each was a tree of its own
// in every match; here the second and later are the first one's
// SharedJson, found by their CBOR. (Values are immutable once shared, so
// whoever holds one cannot tell.)
//
// A value over kTreeMaxBytes is read as its bytes instead (SharedJson::
// from_cbor, and packed past kMaxBytes; checked by cbor_readable first):
// most are a derive's fields, which nothing reads until their object
// changes, and which the engine holds so too once the object has gone cold
// (cold_objects.cc, with the same bound). Read as trees up to kMaxBytes, a
// reopened engine held 1.7 KiB per account more (docs/performance.md, stop
// 66). Those up to kMaxBytes are still shared, as their bytes. (Packed,
// they took no less: at that size the holder is most of it.)
//
// The pool keeps only small values and a bounded number of them: what is
// unique (names, uids) would fill it for nothing, so it starts over when
// full, and the values in use stay with their holders. A value too large
// to keep is told apart without being written out. What the pool alone
// keeps alive is bounded by its size: values a tenant's objects make can
// crowd it, which costs sharing, never a result.
//
// Thread safety: none; one pool per decoding thread, and the engine's own
// on the engine's thread.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "engine/state.h"

namespace pmesh::engine {

class ValuePool {
 public:
  // The value whose CBOR is `cbor` (read_cbor's, with its exceptions).
  SharedJson read(std::string_view cbor);
  // `value`, or the pool's equal one. (Equal by their CBOR: 1 and 1.0 are
  // kept apart, as are a number and the same number read back unsigned,
  // which compare equal.)
  SharedJson share(Json value);

  static constexpr size_t kMaxBytes = 256;    // a value's CBOR, to be kept
  static constexpr size_t kTreeMaxBytes = 64;  // a value's CBOR, to be read as a tree
  static constexpr size_t kMaxValues = 4096;   // before the pool starts over

 private:
  const SharedJson* find(std::string_view cbor) const;
  SharedJson keep(std::string_view cbor, SharedJson value);

  absl::flat_hash_map<std::string, SharedJson> values_;
  std::string scratch_;  // the CBOR of the value being looked up
};

}  // namespace pmesh::engine
