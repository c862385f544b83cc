// CBOR as the durable store writes it: JSON values in the bytes nlohmann's
// to_cbor gives, written and read a head or a string at a time.
//
// Why not nlohmann's own reader and writer: both go a byte at a time
// through an adapter (a string is read by pushing each character), and the
// reader builds through its SAX interface, inserting each member of a map
// by a search. Writing objects' records this way cut the store's commit
// by two thirds; reading them is most of a data directory's reopen.
//
// Thread safety: none needed; a writer appends to its caller's string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/json_path.h"

namespace pmesh::engine {

class CborWriter {
 public:
  // REQUIRES: `out` outlives the writer.
  explicit CborWriter(std::string& out) : out_(out) {}
  void map(size_t n) { head(0xa0, n); }
  void array(size_t n) { head(0x80, n); }
  void str(std::string_view s) {
    head(0x60, s.size());
    out_ += s;
  }
  // The bytes nlohmann's to_cbor writes for `j` (floats and binary values
  // by its writer).
  void value(const Json& j);

 private:
  // A data item's head: its major type and a length, in the fewest bytes.
  void head(uint8_t major, uint64_t n);
  std::string& out_;
};

// The value nlohmann's from_cbor reads from `in` (strict: all of `in` is
// one item), and the same exceptions. What CborWriter and nlohmann's writer
// write (definite lengths, text keys, integers, floats, strings, null,
// booleans) is read here; anything else (binary, tags, half floats,
// indefinite lengths, nesting deeper than 512, damage) goes to nlohmann's
// reader, so that every input reads as it did there.
Json read_cbor(std::string_view in);

}  // namespace pmesh::engine
