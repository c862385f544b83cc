#include "engine/cbor.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <optional>
#include <stdexcept>

namespace pmesh::engine {

namespace {
// As deep as the fast reader reads (its items nest below 513 levels).
constexpr int kMaxDepth = 512;
}  // namespace

void CborWriter::value(const Json& j, int depth) {
  if (depth > kMaxDepth) readable_ = false;
  switch (j.type()) {
    case Json::value_t::null:
      out_ += static_cast<char>(0xf6);
      return;
    case Json::value_t::boolean:
      out_ += static_cast<char>(j.get<bool>() ? 0xf5 : 0xf4);
      return;
    case Json::value_t::number_unsigned:
      head(0x00, j.get<uint64_t>());
      return;
    case Json::value_t::number_integer: {
      int64_t n = j.get<int64_t>();
      if (n >= 0) head(0x00, static_cast<uint64_t>(n));
      else head(0x20, static_cast<uint64_t>(-1 - n));
      return;
    }
    case Json::value_t::string:
      str(j.get_ref<const std::string&>());
      return;
    case Json::value_t::array:
      array(j.size());
      for (const auto& e : j) value(e, depth + 1);
      return;
    case Json::value_t::object:
      map(j.size());
      for (const auto& [k, v] : j.items()) {
        str(k);
        value(v, depth + 1);
      }
      return;
    default:
      // Floats as 32 or 64 bits, which the fast reader reads; NaN and the
      // infinities as half floats and binary values, which it does not.
      if (!j.is_number_float() || !std::isfinite(j.get<double>())) readable_ = false;
      nlohmann::detail::binary_writer<Json, char>(nlohmann::detail::output_adapter<char, std::string>(out_)).write_cbor(j);
  }
}

void CborWriter::head(uint8_t major, uint64_t n) {
  if (n < 24) {
    out_ += static_cast<char>(major | n);
    return;
  }
  int bytes = n <= 0xff ? 1 : n <= 0xffff ? 2 : n <= 0xffffffffULL ? 4 : 8;
  out_ += static_cast<char>(major | (bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27));
  for (int i = bytes - 1; i >= 0; --i) out_ += static_cast<char>((n >> (8 * i)) & 0xff);
}

namespace {

// Thrown where the fast reader leaves an input to nlohmann's.
struct NotHere {};

class CborReader {
 public:
  explicit CborReader(std::string_view in) : p_(in.data()), end_(in.data() + in.size()) {}

  Json item(int depth) {
    if (depth > kMaxDepth) throw NotHere{};
    uint8_t initial = byte();
    uint8_t major = initial >> 5;
    uint64_t n = length(initial & 0x1f);
    switch (major) {
      case 0: return Json(n);
      case 1: return Json(static_cast<int64_t>(~n));  // -1 - n
      case 3: return Json(std::string(bytes(n)));
      case 4: {
        Json a = Json::array();
        // Each element takes a byte at least: no reservation past the input.
        if (n > static_cast<uint64_t>(end_ - p_)) throw NotHere{};
        auto& v = a.get_ref<Json::array_t&>();
        v.reserve(n);
        for (uint64_t i = 0; i < n; ++i) v.push_back(item(depth + 1));
        return a;
      }
      case 5: {
        Json o = Json::object();
        auto& m = o.get_ref<Json::object_t&>();
        for (uint64_t i = 0; i < n; ++i) {
          uint8_t k = byte();
          if ((k >> 5) != 3) throw NotHere{};  // nlohmann takes text keys only
          std::string key(bytes(length(k & 0x1f)));
          Json v = item(depth + 1);
          // Keys come sorted from a std::map: each goes at the end. A key
          // out of order, or repeated (the last one wins, as there), by search.
          if (m.empty() || m.rbegin()->first < key) m.emplace_hint(m.end(), std::move(key), std::move(v));
          else m[std::move(key)] = std::move(v);
        }
        return o;
      }
      case 7:
        switch (initial) {
          case 0xf4: return Json(false);
          case 0xf5: return Json(true);
          case 0xf6: return Json(nullptr);
          case 0xfa: {
            uint32_t bits = static_cast<uint32_t>(n);
            return Json(static_cast<double>(std::bit_cast<float>(bits)));
          }
          case 0xfb: return Json(std::bit_cast<double>(n));
          default: throw NotHere{};
        }
      default: throw NotHere{};  // binary and tags
    }
  }

  // Past one item, building nothing; throws NotHere on what item() would
  // leave to nlohmann's reader, and on a map whose keys are not in strictly
  // increasing order (what CborWriter writes from a JSON object), so that
  // a search of a map's keys can stop at the first that is not smaller.
  void skip(int depth) {
    if (depth > kMaxDepth) throw NotHere{};
    uint8_t initial = byte();
    uint8_t major = initial >> 5;
    uint64_t n = length(initial & 0x1f);
    switch (major) {
      case 0:
      case 1: return;
      case 3: bytes(n); return;
      case 4:
        for (uint64_t i = 0; i < n; ++i) skip(depth + 1);
        return;
      case 5: {
        std::string_view last;
        for (uint64_t i = 0; i < n; ++i) {
          uint8_t k = byte();
          if ((k >> 5) != 3) throw NotHere{};
          std::string_view key = bytes(length(k & 0x1f));
          if (i && !(last < key)) throw NotHere{};
          last = key;
          skip(depth + 1);
        }
        return;
      }
      case 7:
        if (initial == 0xf4 || initial == 0xf5 || initial == 0xf6 || initial == 0xfa || initial == 0xfb) return;
        throw NotHere{};
      default: throw NotHere{};
    }
  }
  // Past an item skip() accepted before: heads and lengths only.
  void skip_unchecked() {
    uint8_t initial = byte();
    uint8_t major = initial >> 5;
    uint64_t n = length(initial & 0x1f);
    switch (major) {
      case 3: bytes(n); return;
      case 4:
        for (uint64_t i = 0; i < n; ++i) skip_unchecked();
        return;
      case 5:
        for (uint64_t i = 0; i < n; ++i) {
          bytes(length(byte() & 0x1f));
          skip_unchecked();
        }
        return;
      default: return;  // numbers and simple values: all in the head
    }
  }
  // The value of `key` in the map here: its bytes, or empty. REQUIRES: a
  // map skip() accepts (keys in increasing order), so the search stops at
  // the first key that is not smaller.
  std::string_view member(std::string_view key) {
    uint8_t initial = byte();
    if ((initial >> 5) != 5) return {};
    uint64_t n = length(initial & 0x1f);
    for (uint64_t i = 0; i < n; ++i) {
      uint8_t k = byte();
      if ((k >> 5) != 3) throw NotHere{};
      std::string_view here = bytes(length(k & 0x1f));
      if (key < here) return {};
      const char* start = p_;
      skip_unchecked();
      if (here == key) return std::string_view(start, static_cast<size_t>(p_ - start));
    }
    return {};
  }
  // A map read into JSON but for the members `keep`, whose bytes go to
  // the same places of `kept` (empty when absent) when skip() accepts
  // them; read as any other member otherwise.
  Json map_keeping(std::span<const std::string_view> keep, std::span<std::string_view> kept) {
    uint8_t initial = byte();
    if ((initial >> 5) != 5) throw NotHere{};
    uint64_t n = length(initial & 0x1f);
    Json o = Json::object();
    auto& m = o.get_ref<Json::object_t&>();
    for (auto& k : kept) k = {};
    for (uint64_t i = 0; i < n; ++i) {
      uint8_t k = byte();
      if ((k >> 5) != 3) throw NotHere{};
      std::string key(bytes(length(k & 0x1f)));
      if (auto which = std::find(keep.begin(), keep.end(), key); which != keep.end()) {
        std::string_view& into = kept[static_cast<size_t>(which - keep.begin())];
        const char* start = p_;
        try {
          skip(1);
          into = std::string_view(start, static_cast<size_t>(p_ - start));
          m.erase(key);  // the last of repeated keys counts
          continue;
        } catch (const NotHere&) {
          p_ = start;
          into = {};
        }
      }
      Json v = item(1);
      if (m.empty() || m.rbegin()->first < key) m.emplace_hint(m.end(), std::move(key), std::move(v));
      else m[std::move(key)] = std::move(v);
    }
    return o;
  }

  bool at_end() const { return p_ == end_; }

 private:

  uint8_t byte() {
    if (p_ == end_) throw NotHere{};
    return static_cast<uint8_t>(*p_++);
  }
  // The argument of a head whose low five bits are `info`: the value itself
  // below 24, else the 1, 2, 4 or 8 bytes that follow, big-endian.
  uint64_t length(uint8_t info) {
    if (info < 24) return info;
    int bytes = info == 24 ? 1 : info == 25 ? 2 : info == 26 ? 4 : info == 27 ? 8 : 0;
    if (!bytes) throw NotHere{};  // indefinite lengths; reserved values
    uint64_t n = 0;
    for (int i = 0; i < bytes; ++i) n = (n << 8) | byte();
    return n;
  }
  std::string_view bytes(uint64_t n) {
    if (n > static_cast<uint64_t>(end_ - p_)) throw NotHere{};
    std::string_view s(p_, static_cast<size_t>(n));
    p_ += n;
    return s;
  }

  const char* p_;
  const char* end_;
};

}  // namespace

bool cbor_readable(std::string_view in) {
  try {
    CborReader r(in);
    r.skip(0);
    return r.at_end();
  } catch (const NotHere&) {
    return false;
  }
}

std::string_view cbor_member(std::string_view item, std::string_view key) {
  try {
    return CborReader(item).member(key);
  } catch (const NotHere&) {
    throw std::runtime_error("cbor_member: not an item cbor_readable accepts");
  }
}

std::optional<Json> read_cbor_map_keeping(std::string_view in, std::span<const std::string_view> keep,
                                          std::span<std::string_view> kept) {
  try {
    CborReader r(in);
    Json out = r.map_keeping(keep, kept);
    if (r.at_end()) return out;
  } catch (const NotHere&) {
  }
  for (auto& k : kept) k = {};
  return std::nullopt;
}

std::optional<Json> read_cbor_map_keeping(std::string_view in, std::string_view keep, std::string_view* kept) {
  return read_cbor_map_keeping(in, std::span<const std::string_view>(&keep, 1), std::span<std::string_view>(kept, 1));
}

Json read_cbor(std::string_view in) {
  try {
    CborReader r(in);
    Json out = r.item(0);
    if (r.at_end()) return out;
  } catch (const NotHere&) {
  }
  // In place: nlohmann's from_cbor returns its result through a
  // conditional expression, which copies the whole value once more.
  Json out;
  nlohmann::detail::json_sax_dom_parser<Json> sax(out, /*allow_exceptions=*/true);
  Json::sax_parse(in, &sax, Json::input_format_t::cbor);
  return out;
}

}  // namespace pmesh::engine
