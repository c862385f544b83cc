#include "stdlib/kube_validation.h"

#include <algorithm>
#include <regex>
#include <tuple>

namespace pmesh {

namespace {

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool alnum(char c) { return lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

// kube's RegexError: the message, examples and the regular expression.
std::string regex_error(const std::string& msg, const std::string& fmt, const std::vector<std::string>& examples) {
  std::string out = msg + " (e.g. ";
  for (size_t i = 0; i < examples.size(); ++i) out += (i ? " or " : "") + ("'" + examples[i] + "', ");
  return out + "regex used for validation is '" + fmt + "')";
}

std::string max_len_error(size_t n) { return "must be no more than " + std::to_string(n) + " characters"; }

const char* kLabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const char* kSubdomainFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const char* kQualifiedFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const char* kLabelValueFmt = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";

bool is_label(const std::string& s, size_t b, size_t e) {
  if (e <= b) return false;
  for (size_t i = b; i < e; ++i)
    if (!lower_alnum(s[i]) && s[i] != '-') return false;
  return lower_alnum(s[b]) && lower_alnum(s[e - 1]);
}

bool is_subdomain(const std::string& s) {
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    size_t end = dot == std::string::npos ? s.size() : dot;
    if (!is_label(s, start, end)) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool is_qualified_part(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  return alnum(s.front()) && alnum(s.back());
}

}  // namespace

Problems dns1123_label_problems(const std::string& value) {
  Problems out;
  if (value.size() > 63) out.push_back(max_len_error(63));
  if (!is_label(value, 0, value.size()))
    out.push_back(regex_error("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                              "and must start and end with an alphanumeric character",
                              kLabelFmt, {"my-name", "123-abc"}));
  return out;
}

Problems dns1123_subdomain_problems(const std::string& value) {
  Problems out;
  if (value.size() > 253) out.push_back(max_len_error(253));
  if (!is_subdomain(value))
    out.push_back(regex_error("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                              "'-' or '.', and must start and end with an alphanumeric character",
                              kSubdomainFmt, {"example.com"}));
  return out;
}

Problems qualified_name_problems(const std::string& value) {
  Problems out;
  const std::string msg = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  std::string name;
  size_t slash = value.find('/');
  if (slash == std::string::npos) {
    name = value;
  } else if (value.find('/', slash + 1) == std::string::npos) {
    std::string prefix = value.substr(0, slash);
    name = value.substr(slash + 1);
    if (prefix.empty()) out.push_back("prefix part must be non-empty");
    else
      for (const auto& p : dns1123_subdomain_problems(prefix)) out.push_back("prefix part " + p);
  } else {
    out.push_back("a qualified name " + regex_error(msg, kQualifiedFmt, {"MyName", "my.name", "123-abc"}) +
                  " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
    return out;
  }
  if (name.empty()) out.push_back("name part must be non-empty");
  else if (name.size() > 63) out.push_back("name part " + max_len_error(63));
  if (!is_qualified_part(name)) out.push_back("name part " + regex_error(msg, kQualifiedFmt, {"MyName", "my.name", "123-abc"}));
  return out;
}

Problems label_value_problems(const std::string& value) {
  Problems out;
  if (value.size() > 63) out.push_back(max_len_error(63));
  if (!value.empty() && !is_qualified_part(value))
    out.push_back(regex_error("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                              "or '.', and must start and end with an alphanumeric character",
                              kLabelValueFmt, {"MyValue", "my_value", "12345"}));
  return out;
}

Problems path_segment_problems(const std::string& name, bool prefix) {
  if (!prefix && (name == "." || name == "..")) return {"may not be '" + name + "'"};
  Problems out;
  for (const char* bad : {"/", "%"})
    if (name.find(bad) != std::string::npos) out.push_back(std::string("may not contain '") + bad + "'");
  return out;
}

Problems object_name_problems(const std::string& name, NameValidation rule, bool prefix) {
  if (rule == NameValidation::kPathSegment) {
    Problems out = path_segment_problems(name, prefix);
    // Beyond kube: control characters could forge the engine's fact keys.
    if (std::any_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
      out.push_back("may not contain control characters");
    return out;
  }
  std::string n = name;
  // A generateName may end in '-': the random suffix follows it.
  if (prefix && !n.empty() && n.back() == '-') n.back() = 'a';
  return rule == NameValidation::kDNS1123Label ? dns1123_label_problems(n) : dns1123_subdomain_problems(n);
}

bool kube_version_before(const std::string& a, const std::string& b) {
  struct Parsed {
    bool kube = false;
    int major = 0, stage = 0, minor = 0;  // stage: 2 GA, 1 beta, 0 alpha
  };
  auto parse = [](const std::string& v) {
    static const std::regex re("^v([1-9][0-9]{0,8})(?:(alpha|beta)([1-9][0-9]{0,8}))?$");
    std::smatch m;
    Parsed p;
    if (!std::regex_match(v, m, re)) return p;
    p.kube = true;
    p.major = std::stoi(m[1]);
    p.stage = !m[2].matched ? 2 : m[2] == "beta" ? 1 : 0;
    p.minor = m[3].matched ? std::stoi(m[3]) : 0;
    return p;
  };
  Parsed x = parse(a), y = parse(b);
  if (x.kube != y.kube) return x.kube;
  if (!x.kube) return a < b;
  return std::tie(x.stage, x.major, x.minor) > std::tie(y.stage, y.major, y.minor);
}

}  // namespace pmesh
