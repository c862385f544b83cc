// Each format as kube-openapi's strfmt registry checks it: its patterns,
// and for the formats it checks with Go's parsers (net.ParseIP,
// net.ParseCIDR, net.ParseMAC, mail.ParseAddress, url.Parse) the rules
// those parsers apply.
#include "engine/schema_formats.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <cctype>
#include <map>
#include <memory>

#include "stdlib/text.h"

namespace pmesh::engine {
namespace {

bool matches(const char* pattern, const std::string& v) {
  // The patterns are ours and few: compiled once each.
  thread_local std::map<const char*, std::unique_ptr<RE2>> compiled;
  auto& re = compiled[pattern];
  if (!re) re = std::make_unique<RE2>(pattern);
  return RE2::FullMatch(v, *re);
}

bool hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

bool ipv4(const std::string& v) {
  auto parts = split(v, '.');
  if (parts.size() != 4) return false;
  for (const auto& p : parts) {
    if (p.empty() || p.size() > 3 || (p.size() > 1 && p[0] == '0')) return false;
    for (char c : p)
      if (c < '0' || c > '9') return false;
    if (std::stoi(p) > 255) return false;
  }
  return true;
}

bool ipv6(const std::string& v) {
  in6_addr out;
  return v.find(':') != std::string::npos && inet_pton(AF_INET6, v.c_str(), &out) == 1;
}

// net.ParseCIDR: an address, a slash and a prefix length that fits it.
bool cidr(const std::string& v) {
  size_t slash = v.find('/');
  if (slash == std::string::npos) return false;
  std::string ip = v.substr(0, slash), bits = v.substr(slash + 1);
  if (bits.empty() || bits.size() > 3 || (bits.size() > 1 && bits[0] == '0')) return false;
  for (char c : bits)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  int n = std::stoi(bits);
  if (ipv4(ip)) return n <= 32;
  return ipv6(ip) && n <= 128;
}

// net.ParseMAC: 6, 8 or 20 groups of two hex digits joined by ':' or '-',
// or 3, 4 or 10 groups of four joined by '.'.
bool mac(const std::string& v) {
  for (char sep : {':', '-'}) {
    auto parts = split(v, sep);
    if (parts.size() != 6 && parts.size() != 8 && parts.size() != 20) continue;
    bool ok = true;
    for (const auto& p : parts) ok = ok && p.size() == 2 && hex(p[0]) && hex(p[1]);
    if (ok) return true;
  }
  auto parts = split(v, '.');
  if (parts.size() != 3 && parts.size() != 4 && parts.size() != 10) return false;
  for (const auto& p : parts)
    if (p.size() != 4 || !hex(p[0]) || !hex(p[1]) || !hex(p[2]) || !hex(p[3])) return false;
  return true;
}

// strfmt.IsHostname: its pattern, at most 255 characters, labels of at most 63.
bool hostname(const std::string& v) {
  if (v.size() > 255) return false;
  for (const auto& label : split(v, '.'))
    if (label.size() > 63) return false;
  return matches(
      R"(^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$)",
      v);
}

// mail.ParseAddress: an addr-spec (dot-atom or quoted local part; dot-atom
// or literal domain), alone or in angle brackets after a display name.
bool email(const std::string& v) {
  const char* atom = R"([A-Za-z0-9!#$%&'*+/=?^_`{|}~\x{80}-\x{10FFFF}-]+)";
  std::string dot_atom = std::string(atom) + R"((\.)" + atom + ")*";
  std::string local = "(" + dot_atom + R"(|"([^"\\]|\\.)*"))";
  std::string domain = "(" + dot_atom + R"(|\[[^\[\]\\]*\]))";
  std::string addr = local + "@" + domain;
  thread_local RE2 bare("^" + addr + "$");
  thread_local RE2 named(R"(^[^<>]*<)" + addr + R"(>\s*$)");
  return RE2::FullMatch(v, bare) || RE2::FullMatch(v, named);
}

// url.Parse: no control characters, percent escapes well formed, a scheme
// that starts with a letter, and no colon in a relative reference's first
// segment.
bool uri(const std::string& v) {
  for (size_t i = 0; i < v.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(v[i]);
    if (c < 0x20 || c == 0x7f) return false;
    if (c == '%' && (i + 2 >= v.size() || !hex(v[i + 1]) || !hex(v[i + 2]))) return false;
  }
  size_t colon = v.find(':');
  size_t stop = v.find_first_of("/?#");
  if (colon != std::string::npos && (stop == std::string::npos || colon < stop)) {
    if (colon == 0) return false;  // "missing protocol scheme"
    if (!matches(R"([A-Za-z][A-Za-z0-9+.-]*)", v.substr(0, colon))) return false;  // then no scheme: a colon in the first segment
  }
  return true;
}

// What an ISBN is without the spaces and hyphens it may be written with.
std::string isbn_digits(const std::string& v) {
  std::string d;
  for (char c : v)
    if (c != ' ' && c != '-') d += c;
  return d;
}

// govalidator's ISBN checks: digits (X last for ISBN-10) with their checksum.
bool isbn10(const std::string& v) {
  std::string d = isbn_digits(v);
  if (!matches(R"((?:[0-9]{9}X|[0-9]{10}))", d)) return false;
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (i + 1) * (d[static_cast<size_t>(i)] - '0');
  sum += 10 * (d[9] == 'X' ? 10 : d[9] - '0');
  return sum % 11 == 0;
}

bool isbn13(const std::string& v) {
  std::string d = isbn_digits(v);
  if (!matches(R"([0-9]{13})", d)) return false;
  int sum = 0;
  for (int i = 0; i < 12; ++i) sum += (d[static_cast<size_t>(i)] - '0') * (i % 2 ? 3 : 1);
  return (10 - sum % 10) % 10 == d[12] - '0';
}

// govalidator.IsCreditCard: a card number's pattern and its Luhn checksum.
bool creditcard(const std::string& v) {
  std::string d;
  for (char c : v)
    if (std::isdigit(static_cast<unsigned char>(c))) d += c;
    else if (c != ' ' && c != '-') return false;
  if (!matches(R"((?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|(222[1-9]|22[3-9][0-9]|2[3-6][0-9]{2}|27[01][0-9]|2720)[0-9]{12}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\d{3})\d{11}|6[27][0-9]{14}))", d))
    return false;
  int sum = 0;
  bool twice = false;
  for (size_t i = d.size(); i-- > 0;) {
    int n = d[i] - '0';
    if (twice && (n *= 2) > 9) n -= 9;
    sum += n;
    twice = !twice;
  }
  return sum % 10 == 0;
}

// strfmt.ParseDuration: Go's durations ("1h30m"), or a number and a unit
// strfmt knows ("3 days", "2w").
bool duration(const std::string& v) {
  if (matches(R"([-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+|[-+]?0)", v)) return true;
  return matches(R"(\s*[0-9]+\s*(ns|us|µs|ms|s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days|w|wk|wks|week|weeks)\s*)", v);
}

}  // namespace

bool format_ok(const std::string& format, const std::string& v) {
  if (format == "date-time" || format == "datetime") return parse_rfc3339(v).has_value();
  if (format == "date") return v.size() == 10 && parse_rfc3339(v + "T00:00:00Z").has_value();
  if (format == "byte") return base64_decode(v).has_value();
  if (format == "uuid") return matches(R"((?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})", v);
  if (format == "uuid3") return matches(R"((?i)[0-9a-f]{8}-[0-9a-f]{4}-3[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12})", v);
  if (format == "uuid4") return matches(R"((?i)[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})", v);
  if (format == "uuid5") return matches(R"((?i)[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})", v);
  if (format == "ipv4") return ipv4(v);
  if (format == "ipv6") return ipv6(v);
  if (format == "cidr") return cidr(v);
  if (format == "mac") return mac(v);
  if (format == "hostname") return hostname(v);
  if (format == "email") return email(v);
  if (format == "uri") return uri(v);
  if (format == "bsonobjectid") return matches(R"([0-9a-fA-F]{24})", v);
  if (format == "hexcolor") return matches(R"(#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6}))", v);
  if (format == "rgbcolor")
    return matches(
        R"(rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\))",
        v);
  if (format == "isbn10") return isbn10(v);
  if (format == "isbn13") return isbn13(v);
  if (format == "isbn") return isbn10(v) || isbn13(v);
  if (format == "creditcard") return creditcard(v);
  if (format == "ssn") return matches(R"(\d{3}[- ]?\d{2}[- ]?\d{4})", v);
  if (format == "duration") return duration(v);
  return true;  // password, and formats kube does not check
}

}  // namespace pmesh::engine
