#include "stdlib/text.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace pmesh {

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    out.emplace_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

void append_go_escaped(std::string& out, unsigned char c) {
  switch (c) {
    case '\n': out += "\\n"; return;
    case '\t': out += "\\t"; return;
    case '\r': out += "\\r"; return;
    default:
      if (c < 0x20 || c == 0x7f) {
        out += "\\x";
        out += hex_encode(std::string_view(reinterpret_cast<const char*>(&c), 1));  // rare: an allocation will do
      } else {
        out += static_cast<char>(c);
      }
  }
}

std::string hex_encode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * bytes.size(), '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto c = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = kDigits[c >> 4];
    out[2 * i + 1] = kDigits[c & 15];
  }
  return out;
}

std::string trim(std::string_view s, std::string_view chars) {
  size_t b = s.find_first_not_of(chars);
  if (b == std::string_view::npos) return "";
  return std::string(s.substr(b, s.find_last_not_of(chars) - b + 1));
}

// RFC 3629's table: the second byte's range depends on the first.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c == 0xE0) n = 3, lo = 0xA0;
  else if (c == 0xED) n = 3, hi = 0x9F;  // no surrogates
  else if (c >= 0xE1 && c <= 0xEF) n = 3;
  else if (c == 0xF0) n = 4, lo = 0x90;
  else if (c >= 0xF1 && c <= 0xF3) n = 4;
  else if (c == 0xF4) n = 4, hi = 0x8F;
  else return 0;
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return n;
}

uint32_t utf8_code_point(std::string_view s, size_t i, size_t n) {
  auto c = static_cast<unsigned char>(s[i]);
  uint32_t cp = n == 1 ? c : c & (0xFFu >> (n + 1));
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
  return cp;
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    // Eight ASCII bytes at a time: nearly every string a transaction
    // writes is ASCII, and each is checked before it commits.
    uint64_t word;
    if (i + sizeof word <= s.size()) {
      std::memcpy(&word, s.data() + i, sizeof word);
      if ((word & 0x8080808080808080ull) == 0) {
        i += sizeof word;
        continue;
      }
    }
    size_t n = utf8_sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string coerce_utf8(std::string_view s) {
  if (valid_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

size_t base64_encode_into(std::string_view bytes, bool url, std::span<char> out) {
  static constexpr char kStandard[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char* digits = url ? kUrl : kStandard;
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = uint32_t{in[i]} << 16 | uint32_t{in[i + 1]} << 8 | in[i + 2];
    out[o++] = digits[v >> 18], out[o++] = digits[v >> 12 & 63], out[o++] = digits[v >> 6 & 63], out[o++] = digits[v & 63];
  }
  if (const size_t rest = n - i; rest > 0) {
    const uint32_t v = uint32_t{in[i]} << 16 | (rest == 2 ? uint32_t{in[i + 1]} << 8 : 0);
    out[o++] = digits[v >> 18], out[o++] = digits[v >> 12 & 63];
    if (rest == 2) out[o++] = digits[v >> 6 & 63];
    if (!url) {
      if (rest == 1) out[o++] = '=';
      out[o++] = '=';
    }
  }
  return o;
}

std::string base64_encode(std::string_view bytes, bool url) {
  std::string out(base64_length(bytes.size(), url), '\0');
  out.resize(base64_encode_into(bytes, url, out));
  return out;
}

namespace {

// Each character's six bits in either alphabet (-1: not base64).
constexpr std::array<int8_t, 256> kBase64Values = [] {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  for (int i = 0; i < 26; ++i) t['A' + i] = static_cast<int8_t>(i), t['a' + i] = static_cast<int8_t>(26 + i);
  for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<int8_t>(52 + i);
  t['+'] = t['-'] = 62;
  t['/'] = t['_'] = 63;
  return t;
}();

// Decodes `text` as base64_decode does, handing each byte to `put`; false
// when it is not base64. (A table instead of OpenSSL's block decoder: no
// copy of the input to translate and pad; stored match keys are decoded
// on every reopen.)
template <class Put>
bool decode_base64(std::string_view text, Put&& put) {
  size_t pad = 0;
  while (!text.empty() && text.back() == '=') text.remove_suffix(1), ++pad;
  if (pad > 2 || text.size() % 4 == 1) return false;
  if (pad && pad != (4 - text.size() % 4) % 4) return false;
  auto value = [&](size_t i) { return static_cast<int32_t>(kBase64Values[static_cast<unsigned char>(text[i])]); };
  // Four characters, three bytes at a time.
  size_t i = 0;
  for (; i + 4 <= text.size(); i += 4) {
    int32_t a = value(i), b = value(i + 1), c = value(i + 2), d = value(i + 3);
    if ((a | b | c | d) < 0) return false;
    uint32_t x = static_cast<uint32_t>(a << 18 | b << 12 | c << 6 | d);
    put(static_cast<char>(x >> 16));
    put(static_cast<char>((x >> 8) & 0xff));
    put(static_cast<char>(x & 0xff));
  }
  // Two or three left (one was refused above): one or two bytes; the bits
  // of a last partial byte are ignored, as Go's and OpenSSL's decoders do.
  if (size_t left = text.size() - i; left >= 2) {
    int32_t a = value(i), b = value(i + 1), c = left == 3 ? value(i + 2) : 0;
    if ((a | b | c) < 0) return false;
    uint32_t x = static_cast<uint32_t>(a << 18 | b << 12 | c << 6);
    put(static_cast<char>(x >> 16));
    if (left == 3) put(static_cast<char>((x >> 8) & 0xff));
  }
  return true;
}

}  // namespace

std::optional<std::string> base64_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  if (!decode_base64(text, [&](char c) { out += c; })) return std::nullopt;
  return out;
}

bool base64_decode_exact(std::string_view text, std::span<unsigned char> out) {
  size_t n = 0;
  bool ok = decode_base64(text, [&](char c) {
    if (n < out.size()) out[n] = static_cast<unsigned char>(c);
    ++n;
  });
  return ok && n == out.size();
}

std::string rfc3339_utc(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::time_t> parse_rfc3339(std::string_view text) {
  auto digits = [&](size_t at, size_t n, int* out) {
    if (at + n > text.size()) return false;
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      v = v * 10 + (text[i] - '0');
    }
    *out = v;
    return true;
  };
  std::tm tm{};
  int year, mon, day, hour, min, sec;
  if (!digits(0, 4, &year) || text.size() < 20 || text[4] != '-' || !digits(5, 2, &mon) || text[7] != '-' ||
      !digits(8, 2, &day) || (text[10] != 'T' && text[10] != 't') || !digits(11, 2, &hour) || text[13] != ':' ||
      !digits(14, 2, &min) || text[16] != ':' || !digits(17, 2, &sec))
    return std::nullopt;
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return std::nullopt;
  size_t i = 19;
  if (i < text.size() && text[i] == '.') {
    ++i;
    size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == start) return std::nullopt;
  }
  long offset = 0;
  if (i < text.size() && (text[i] == 'Z' || text[i] == 'z')) {
    ++i;
  } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    int oh, om;
    if (!digits(i + 1, 2, &oh) || i + 3 >= text.size() || text[i + 3] != ':' || !digits(i + 4, 2, &om) || oh > 23 ||
        om > 59)
      return std::nullopt;
    offset = (text[i] == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != text.size()) return std::nullopt;
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  return timegm(&tm) - offset;
}

}  // namespace pmesh
