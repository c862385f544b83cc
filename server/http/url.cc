#include "server/http/url.h"

namespace pmesh::server {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; `plus_is_space` for query components.
bool unescape(const std::string& s, bool plus_is_space, std::string* out) {
  out->clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0) return false;
      *out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      *out += ' ';
    } else {
      *out += s[i];
    }
  }
  return true;
}

}  // namespace

bool path_unescape(const std::string& s, std::string* out) { return unescape(s, false, out); }

bool parse_target(const std::string& target, std::string* path, std::map<std::string, std::string>* query) {
  size_t q = target.find('?');
  if (!unescape(target.substr(0, q), false, path)) return false;
  query->clear();
  if (q == std::string::npos) return true;
  std::string qs = target.substr(q + 1);
  size_t start = 0;
  while (start <= qs.size()) {
    size_t amp = qs.find('&', start);
    std::string kv = qs.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    if (!kv.empty()) {
      size_t eq = kv.find('=');
      std::string k, v;
      if (!unescape(kv.substr(0, eq), true, &k)) return false;
      if (eq != std::string::npos && !unescape(kv.substr(eq + 1), true, &v)) return false;
      query->emplace(std::move(k), std::move(v));  // the first one wins
    }
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  return true;
}

}  // namespace pmesh::server
