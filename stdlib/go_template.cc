#include "stdlib/go_template.h"

#include "stdlib/digest.h"
#include "stdlib/text.h"

#include <openssl/evp.h>

#include <cctype>
#include <vector>

namespace pmesh {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxTemplateBytes = 4096;  // a tenant's text; naming rules are a line
// What any step may make: names are at most 253 bytes, and chained
// `replace`s would otherwise grow a value exponentially.
constexpr size_t kMaxValueBytes = 4096;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// What is_space accepts, for trim.
constexpr std::string_view kSpace = " \t\n\r";

// An argument or a command's head, as written.
struct Token {
  enum Kind { kString, kInt, kField, kWord } kind;
  std::string text;
  int64_t number = 0;
};

std::vector<Token> tokens(const std::string& command) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < command.size()) {
    if (is_space(command[i])) {
      ++i;
      continue;
    }
    if (command[i] == '"') {
      std::string s;
      ++i;
      while (i < command.size() && command[i] != '"') {
        if (command[i] == '\\' && i + 1 < command.size()) {
          char c = command[++i];
          s += c == 'n' ? '\n' : c == 't' ? '\t' : c;
        } else {
          s += command[i];
        }
        ++i;
      }
      if (i >= command.size()) throw TemplateError("unterminated quoted string");
      ++i;
      out.push_back({Token::kString, s});
      continue;
    }
    size_t start = i;
    while (i < command.size() && !is_space(command[i])) ++i;
    std::string word = command.substr(start, i - start);
    if (word[0] == '.') {
      out.push_back({Token::kField, word});
    } else if (std::isdigit(static_cast<unsigned char>(word[0])) || (word[0] == '-' && word.size() > 1)) {
      try {
        size_t used = 0;
        Token t{Token::kInt, word};
        t.number = std::stoll(word, &used);
        if (used != word.size()) throw TemplateError("bad number syntax: \"" + word + "\"");
        out.push_back(t);
      } catch (const std::logic_error&) {
        throw TemplateError("bad number syntax: \"" + word + "\"");
      }
    } else if (word[0] == '$' || word == "if" || word == "range" || word == "with" || word == "define" || word == "template" ||
               word == "block" || word == "end" || word == "else") {
      throw TemplateError("\"" + word + "\" is not supported in naming templates");
    } else {
      out.push_back({Token::kWord, word});
    }
  }
  return out;
}

// The pipeline's commands, split at '|' outside quoted strings.
std::vector<std::string> commands(const std::string& pipeline) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < pipeline.size(); ++i) {
    char c = pipeline[i];
    if (c == '"' && (i == 0 || pipeline[i - 1] != '\\')) quoted = !quoted;
    if (c == '|' && !quoted) out.emplace_back();
    else out.back() += c;
  }
  return out;
}

Json field(const Json& data, const std::string& chain) {
  if (chain == ".") return data;
  const Json* at = &data;
  size_t i = 1;
  while (i <= chain.size()) {
    size_t dot = chain.find('.', i);
    std::string key = chain.substr(i, dot == std::string::npos ? std::string::npos : dot - i);
    if (key.empty()) throw TemplateError("bad field name: \"" + chain + "\"");
    if (!at->is_object()) return Json();
    auto it = at->find(key);
    if (it == at->end()) return Json();
    at = &*it;
    if (dot == std::string::npos) break;
    i = dot + 1;
  }
  return *at;
}

// Go's %v of a value as templates print it.
std::string print(const Json& v) {
  if (v.is_null()) return "<no value>";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) return v.dump();
  // A Go value with a String method prints as what it returns (fmt's
  // Stringer); data that stands for one carries it as a member.
  if (v.is_object() && v.contains("String") && v["String"].is_string()) return v["String"].get<std::string>();
  throw TemplateError("cannot print a " + std::string(v.type_name()) + " in a name");
}

// html/template's escaper for text context.
std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '\'': out += "&#39;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\0': out += "\uFFFD"; break;
      default: out += c;
    }
  }
  return out;
}

std::string string_arg(const std::string& fn, const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  throw TemplateError("error calling " + fn + ": invalid value; expected string");
}

int64_t int_arg(const std::string& fn, const Json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  throw TemplateError("error calling " + fn + ": invalid value; expected int");
}

Json call(const std::string& fn, const std::vector<Json>& a) {
  auto want = [&](size_t lo, size_t hi) {
    if (a.size() < lo || a.size() > hi)
      throw TemplateError("wrong number of args for " + fn + ": want " + std::to_string(lo) + " got " + std::to_string(a.size()));
  };
  if (fn == "sha3sum") return want(1, 1), hex_digest(EVP_sha3_256(), string_arg(fn, a[0]));
  if (fn == "sha3short") {
    want(1, 2);
    int64_t n = a.size() == 2 ? int_arg(fn, a[0]) : 20;
    if (n <= 0) throw TemplateError("error calling sha3short: sha3short: invalid length " + std::to_string(n));
    std::string h = hex_digest(EVP_sha3_256(), string_arg(fn, a.back()));
    return h.substr(0, std::min<size_t>(h.size(), static_cast<size_t>(n)));
  }
  if (fn == "shortHash") return want(1, 1), hex_digest(EVP_sha1(), string_arg(fn, a[0])).substr(0, 20);
  if (fn == "lower" || fn == "upper") {
    want(1, 1);
    std::string s = string_arg(fn, a[0]);
    for (auto& c : s) c = static_cast<char>(fn == "lower" ? std::tolower(static_cast<unsigned char>(c)) : std::toupper(static_cast<unsigned char>(c)));
    return s;
  }
  if (fn == "trim") return want(1, 1), trim(string_arg(fn, a[0]), kSpace);
  if (fn == "trunc") {
    want(2, 2);
    int64_t n = int_arg(fn, a[0]);
    std::string s = string_arg(fn, a[1]);
    if (n < 0) return static_cast<size_t>(-n) < s.size() ? s.substr(s.size() - static_cast<size_t>(-n)) : s;
    return static_cast<size_t>(n) < s.size() ? s.substr(0, static_cast<size_t>(n)) : s;
  }
  if (fn == "trimPrefix" || fn == "trimSuffix") {
    want(2, 2);
    std::string affix = string_arg(fn, a[0]), s = string_arg(fn, a[1]);
    bool prefix = fn == "trimPrefix";
    if (s.size() >= affix.size() && (prefix ? s.compare(0, affix.size(), affix) == 0 : s.compare(s.size() - affix.size(), affix.size(), affix) == 0))
      return prefix ? s.substr(affix.size()) : s.substr(0, s.size() - affix.size());
    return s;
  }
  if (fn == "replace") {
    want(3, 3);
    std::string from = string_arg(fn, a[0]), to = string_arg(fn, a[1]), s = string_arg(fn, a[2]), out;
    if (from.empty()) return s;
    for (size_t i = 0; i < s.size();) {
      if (s.compare(i, from.size(), from) == 0) out += to, i += from.size();
      else out += s[i++];
    }
    return out;
  }
  if (fn == "default") {
    want(1, 2);
    const Json& v = a.size() == 2 ? a[1] : Json();
    bool empty = v.is_null() || (v.is_string() && v.get<std::string>().empty()) || (v.is_boolean() && !v.get<bool>()) ||
                 (v.is_number() && v == 0) || ((v.is_array() || v.is_object()) && v.empty());
    return empty ? a[0] : v;
  }
  throw TemplateError("function \"" + fn + "\" not defined");
}

Json pipeline(const std::string& text, const Json& data) {
  Json value;
  bool first = true;
  for (const auto& command : commands(text)) {
    std::vector<Token> t = tokens(command);
    if (t.empty()) throw TemplateError("missing value for command");
    std::vector<Json> args;
    for (size_t i = 1; i < t.size(); ++i)
      args.push_back(t[i].kind == Token::kString ? Json(t[i].text)
                     : t[i].kind == Token::kInt  ? Json(t[i].number)
                     : t[i].kind == Token::kField ? field(data, t[i].text)
                                                  : throw TemplateError("function \"" + t[i].text + "\" as an argument is not supported"));
    if (!first) args.push_back(value);
    if (t[0].kind == Token::kWord) {
      value = call(t[0].text, args);
      if (value.is_string() && value.get_ref<const std::string&>().size() > kMaxValueBytes)
        throw TemplateError(t[0].text + " made a value longer than " + std::to_string(kMaxValueBytes) + " bytes");
    } else {
      if (!first || t.size() > 1) throw TemplateError("can't give argument to non-function " + t[0].text);
      value = t[0].kind == Token::kField ? field(data, t[0].text) : t[0].kind == Token::kInt ? Json(t[0].number) : Json(t[0].text);
    }
    first = false;
  }
  return value;
}

}  // namespace

std::string render_go_template(const std::string& tpl, const Json& data, TemplateOutput output) {
  if (tpl.size() > kMaxTemplateBytes) throw TemplateError("the template is longer than " + std::to_string(kMaxTemplateBytes) + " bytes");
  std::string out;
  size_t i = 0;
  while (i < tpl.size()) {
    size_t open = tpl.find("{{", i);
    if (open == std::string::npos) {
      out += tpl.substr(i);
      break;
    }
    std::string text = tpl.substr(i, open - i);
    size_t close = tpl.find("}}", open + 2);
    if (close == std::string::npos) throw TemplateError("unclosed action");
    std::string action = tpl.substr(open + 2, close - open - 2);
    // "{{- " and " -}}" trim the whitespace beside the action.
    if (action.size() >= 2 && action[0] == '-' && is_space(action[1])) {
      while (!text.empty() && is_space(text.back())) text.pop_back();
      action = action.substr(1);
    }
    bool trim_after = action.size() >= 2 && action.back() == '-' && is_space(action[action.size() - 2]);
    if (trim_after) action.pop_back();
    out += text;
    std::string body = trim(action, kSpace);
    if (body.rfind("/*", 0) != 0) {  // a comment prints nothing
      Json value = pipeline(body, data);
      out += output == TemplateOutput::kText ? print(value) : value.is_null() ? std::string() : html_escape(print(value));
    }
    if (out.size() > kMaxValueBytes) throw TemplateError("the name is longer than " + std::to_string(kMaxValueBytes) + " bytes");
    i = close + 2;
    if (trim_after)
      while (i < tpl.size() && is_space(tpl[i])) ++i;
  }
  return trim(out, kSpace);
}

}  // namespace pmesh
