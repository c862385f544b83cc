// Small text helpers shared by every library above the stdlib.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pmesh {

// "a.b.c" split at '.' -> {"a", "b", "c"}; an empty input gives {""}.
std::vector<std::string> split(std::string_view s, char sep);
// {"a", "b"} joined by ", " -> "a, b".
std::string join(const std::vector<std::string>& parts, std::string_view sep);
// `s` without the leading and trailing bytes that are in `chars` (by
// default HTTP's optional whitespace, space and tab).
std::string trim(std::string_view s, std::string_view chars = " \t");

// Whether `s` is well-formed UTF-8 (no overlong forms, no surrogates, nothing
// above U+10FFFF).
bool valid_utf8(std::string_view s);
// The length (1 to 4) of the well-formed UTF-8 sequence at s[i], or 0 when
// none starts there. REQUIRES: i < s.size().
size_t utf8_sequence_length(std::string_view s, size_t i);
// The code point of the well-formed sequence of length `n` at s[i].
uint32_t utf8_code_point(std::string_view s, size_t i, size_t n);

// `s` with every byte that does not start a well-formed UTF-8 sequence
// replaced by U+FFFD, as Go's encoding/json does when it decodes a string:
// what kube-apiserver stores for such input.
std::string coerce_utf8(std::string_view s);

// Appends byte `c` as it reads between the quotes of Go's %q: \n, \t and
// \r, any other control byte (and DEL) as \xHH, every other byte as it is.
// (Quotes and backslashes are the caller's: go_quote escapes them, a log
// line does not.)
void append_go_escaped(std::string& out, unsigned char c);

// Lower-case hexadecimal, two digits per byte.
std::string hex_encode(std::string_view bytes);

// Base64 (RFC 4648): the standard alphabet with padding, or with `url` the
// URL-safe one without padding (as Go's base64.RawURLEncoding, and JWTs).
std::string base64_encode(std::string_view bytes, bool url = false);
// How many characters base64_encode makes of `n` bytes.
constexpr size_t base64_length(size_t n, bool url) { return url ? (4 * n + 2) / 3 : 4 * ((n + 2) / 3); }
// The same into `out`, without allocating: for short values written many
// times (a match's key in every record that names it). Returns the
// characters written. REQUIRES: out.size() >= base64_length(bytes.size(), url).
size_t base64_encode_into(std::string_view bytes, bool url, std::span<char> out);
// Either alphabet, padded or not; nullopt for what is not base64.
std::optional<std::string> base64_decode(std::string_view text);
// The same into `out`, without allocating: false when `text` is not base64
// or does not decode to exactly out.size() bytes (`out` is then unspecified).
bool base64_decode_exact(std::string_view text, std::span<unsigned char> out);

// `t` as Kubernetes writes times: RFC 3339 in UTC, whole seconds ("2026-01-02T03:04:05Z").
std::string rfc3339_utc(std::time_t t);
// An RFC 3339 time ("2026-01-02T03:04:05Z", a fraction and an offset
// allowed) as seconds since the epoch; nullopt when it is not one.
std::optional<std::time_t> parse_rfc3339(std::string_view text);

}  // namespace pmesh
