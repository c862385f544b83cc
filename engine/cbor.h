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
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "engine/json_path.h"
#include "stdlib/text.h"

namespace pmesh::engine {

class CborWriter {
 public:
  // REQUIRES: `out` outlives the writer.
  explicit CborWriter(std::string& out) : out_(out) {}
  void map(size_t n) { head(0xa0, n); }
  void array(size_t n) { head(0x80, n); }
  void str(std::string_view s) {
    if (check_utf8_ && utf8_) utf8_ = valid_utf8(s);
    head(0x60, s.size());
    out_ += s;
  }
  // From now on, checks that every string and key written is UTF-8 (a
  // commit's forms are checked as they are encoded, not walked again).
  void check_utf8() { check_utf8_ = true; }
  // Whether every string and key written since check_utf8() was UTF-8.
  bool utf8() const { return utf8_; }
  // The bytes nlohmann's to_cbor writes for `j` (floats and binary values
  // by its writer).
  void value(const Json& j) { value(j, 0); }
  // Whether all it wrote is what cbor_readable accepts: it writes maps'
  // keys in order; not NaN or an infinity (half floats), binary values, or
  // what nests deeper than read_cbor reads itself.
  bool readable() const { return readable_; }
  // An item already encoded. REQUIRES: `item` is one whole CBOR item.
  void raw(std::string_view item) { out_ += item; }

 private:
  void value(const Json& j, int depth);
  // A data item's head: its major type and a length, in the fewest bytes.
  void head(uint8_t major, uint64_t n);
  std::string& out_;
  bool readable_ = true;
  bool check_utf8_ = false;
  bool utf8_ = true;
};

// The value nlohmann's from_cbor reads from `in` (strict: all of `in` is
// one item), and the same exceptions. What CborWriter and nlohmann's writer
// write (definite lengths, text keys, integers, floats, strings, null,
// booleans) is read here; anything else (binary, tags, half floats,
// indefinite lengths, nesting deeper than 512, damage) goes to nlohmann's
// reader, so that every input reads as it did there.
Json read_cbor(std::string_view in);

// Whether `in` is one whole item that read_cbor reads itself (not by
// nlohmann's reader), its maps' keys in strictly increasing order (as
// CborWriter writes a JSON object): what can be kept as bytes and read
// later, since reading it then cannot fail, and whose maps can be searched
// without reading them (cbor_member).
bool cbor_readable(std::string_view in);
// The value of `key` in the map `item`, as a view of it; empty when `item`
// is not a map or has no such key. REQUIRES: cbor_readable(item).
std::string_view cbor_member(std::string_view item, std::string_view key);
// The map `in` read as read_cbor reads it, but for the member `keep`, whose
// bytes are left in `*kept` (empty when absent) if cbor_readable accepts
// them, and read as the others otherwise. Nullopt when `in` is not a map
// the fast reader reads (read_cbor reads it then).
std::optional<Json> read_cbor_map_keeping(std::string_view in, std::string_view keep, std::string_view* kept);
// The same for several members, each one's bytes in the same place of
// `kept`. REQUIRES: kept.size() == keep.size().
std::optional<Json> read_cbor_map_keeping(std::string_view in, std::span<const std::string_view> keep,
                                          std::span<std::string_view> kept);

}  // namespace pmesh::engine
