#include "server/api/selectors.h"

#include <algorithm>

#include "engine/json_path.h"
#include "server/api/request.h"
#include "stdlib/kube_validation.h"
#include "stdlib/text.h"

namespace pmesh::server {

namespace {

// kube's label selector lexer: identifiers run until white space or one of
// the symbols; `in` and `notin` are keywords.
enum class Tok { kEnd, kIdent, kIn, kNotIn, kOpenParen, kCloseParen, kComma, kEq, kDoubleEq, kNotEq, kBang, kGt, kLt };

struct Token {
  Tok type;
  std::string text;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_symbol_char(char c) { return c == '!' || c == '=' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<'; }

std::vector<Token> lex(const std::string& s) {
  std::vector<Token> out;
  size_t i = 0;
  while (true) {
    while (i < s.size() && is_space(s[i])) ++i;
    if (i >= s.size()) break;
    char c = s[i];
    if (is_symbol_char(c)) {
      if (c == '!' && i + 1 < s.size() && s[i + 1] == '=') out.push_back({Tok::kNotEq, "!="}), i += 2;
      else if (c == '=' && i + 1 < s.size() && s[i + 1] == '=') out.push_back({Tok::kDoubleEq, "=="}), i += 2;
      else {
        static const Tok types[] = {Tok::kBang, Tok::kEq, Tok::kOpenParen, Tok::kCloseParen, Tok::kComma, Tok::kGt, Tok::kLt};
        static const char chars[] = {'!', '=', '(', ')', ',', '>', '<'};
        for (size_t k = 0; k < 7; ++k)
          if (chars[k] == c) out.push_back({types[k], std::string(1, c)});
        ++i;
      }
      continue;
    }
    size_t start = i;
    while (i < s.size() && !is_space(s[i]) && !is_symbol_char(s[i])) ++i;
    std::string word = s.substr(start, i - start);
    out.push_back({word == "in" ? Tok::kIn : word == "notin" ? Tok::kNotIn : Tok::kIdent, word});
  }
  out.push_back({Tok::kEnd, ""});
  return out;
}

}  // namespace

std::optional<Selector> Selector::parse_labels(const std::string& text, std::string* error) {
  Selector sel;
  std::vector<Token> toks = lex(text);
  size_t p = 0;
  auto fail = [&](const std::string& why) {
    *error = "unable to parse requirement: " + why;
    return std::nullopt;
  };
  auto expected = [&](const std::string& what) {
    *error = "found '" + toks[p].text + "', expected: " + what;
    return std::nullopt;
  };
  if (toks[0].type == Tok::kEnd) return sel;
  while (true) {
    Requirement req;
    bool negated = false;
    if (toks[p].type == Tok::kBang) {
      negated = true;
      ++p;
    }
    if (toks[p].type != Tok::kIdent) return expected("identifier");
    req.key = toks[p++].text;
    if (Problems pr = qualified_name_problems(req.key); !pr.empty())
      return fail("key: Invalid value: \"" + req.key + "\": " + pr[0]);
    if (toks[p].type == Tok::kEnd || toks[p].type == Tok::kComma) {
      req.op = negated ? Op::kNotExists : Op::kExists;
    } else {
      if (negated) return expected("',' or 'end of string'");
      Tok op = toks[p++].type;
      switch (op) {
        case Tok::kIn: req.op = Op::kIn; break;
        case Tok::kNotIn: req.op = Op::kNotIn; break;
        case Tok::kEq:
        case Tok::kDoubleEq: req.op = Op::kEq; break;
        case Tok::kNotEq: req.op = Op::kNotEq; break;
        case Tok::kGt: req.op = Op::kGt; break;
        case Tok::kLt: req.op = Op::kLt; break;
        default:
          --p;
          return expected("[!= = == > < in notin]");
      }
      if (req.op == Op::kIn || req.op == Op::kNotIn) {
        if (toks[p].type != Tok::kOpenParen) return expected("'('");
        ++p;
        // Values separated by commas; an empty value between commas is "".
        bool want_value = true;
        while (toks[p].type != Tok::kCloseParen) {
          if (toks[p].type == Tok::kIdent && want_value) {
            req.values.insert(toks[p++].text);
            want_value = false;
          } else if (toks[p].type == Tok::kComma) {
            if (want_value) req.values.insert("");
            want_value = true;
            ++p;
          } else {
            return expected("',', ')' or identifier");
          }
        }
        if (want_value && !req.values.empty()) req.values.insert("");
        ++p;
        if (req.values.empty()) return fail("values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty");
      } else {
        std::string v;
        if (toks[p].type == Tok::kIdent) v = toks[p++].text;
        else if (toks[p].type != Tok::kEnd && toks[p].type != Tok::kComma) return expected("identifier");
        req.values.insert(v);
        if ((req.op == Op::kGt || req.op == Op::kLt) && !parse_int(v))
          return fail("values[0]: Invalid value: \"" + v + "\": for 'Gt', 'Lt' operators, the value must be an integer");
      }
      if (req.op != Op::kGt && req.op != Op::kLt) {
        size_t i = 0;
        for (const auto& v : req.values) {
          if (Problems pr = label_value_problems(v); !pr.empty())
            return fail("values[" + std::to_string(i) + "][" + req.key + "]: Invalid value: \"" + v + "\": " + pr[0]);
          ++i;
        }
      }
    }
    sel.reqs_.push_back(std::move(req));
    if (toks[p].type == Tok::kEnd) break;
    if (toks[p].type != Tok::kComma) return expected("',' or 'end of string'");
    ++p;
  }
  return sel;
}

std::optional<Selector> Selector::parse_fields(const std::string& text, const std::vector<std::string>& labels,
                                               std::string* error) {
  Selector sel;
  sel.fields_ = true;
  if (trim(text).empty()) return sel;
  // Terms split at unescaped commas; `\` escapes the next character.
  std::vector<std::string> terms(1);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      terms.back() += text.substr(i, 2);
      ++i;
    } else if (text[i] == ',') {
      terms.emplace_back();
    } else {
      terms.back() += text[i];
    }
  }
  for (const auto& raw : terms) {
    Requirement req;
    // The first unescaped operator splits key and value.
    size_t op_at = std::string::npos, op_len = 0;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\\') {
        ++i;
        continue;
      }
      if (raw.compare(i, 2, "!=") == 0) op_at = i, op_len = 2, req.op = Op::kNotEq;
      else if (raw.compare(i, 2, "==") == 0) op_at = i, op_len = 2, req.op = Op::kEq;
      else if (raw[i] == '=') op_at = i, op_len = 1, req.op = Op::kEq;
      if (op_at != std::string::npos) break;
    }
    if (op_at == std::string::npos) {
      *error = "invalid selector: '" + text + "'; can't understand '" + raw + "'";
      return std::nullopt;
    }
    req.key = trim(raw.substr(0, op_at));
    std::string value, escaped = raw.substr(op_at + op_len);
    for (size_t i = 0; i < escaped.size(); ++i) {
      if (escaped[i] == '\\' && i + 1 < escaped.size()) {
        char n = escaped[i + 1];
        if (n != '\\' && n != ',' && n != '=') {
          *error = "invalid field selector: invalid escape sequence: \\" + std::string(1, n);
          return std::nullopt;
        }
        value += n;
        ++i;
      } else if (escaped[i] == '=' || escaped[i] == ',' || escaped[i] == '\\') {
        *error = "invalid field selector: unescaped '" + std::string(1, escaped[i]) + "' in value";
        return std::nullopt;
      } else {
        value += escaped[i];
      }
    }
    req.values.insert(value);
    // kube's field label conversion: a built-in kind's own, or for a kind
    // that declares none runtime.DefaultMetaV1FieldSelectorConversion.
    if (labels.empty() && req.key != "metadata.name" && req.key != "metadata.namespace") {
      *error = "\"" + req.key + "\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"";
      return std::nullopt;
    }
    if (!labels.empty() && std::find(labels.begin(), labels.end(), req.key) == labels.end()) {
      *error = "field label not supported: " + req.key;
      return std::nullopt;
    }
    req.path = split(req.key, '.');
    sel.reqs_.push_back(std::move(req));
  }
  return sel;
}

void Selector::require_field(const std::string& key, const std::string& value) {
  fields_ = true;
  reqs_.push_back({key, Op::kEq, {value}, split(key, '.')});
}

bool Selector::matches(const nlohmann::json& object) const {
  static const nlohmann::json empty = nlohmann::json::object();
  const nlohmann::json& md = object.is_object() && object.contains("metadata") ? object["metadata"] : empty;
  for (const auto& r : reqs_) {
    std::optional<std::string> value;
    if (fields_) {
      // A field the object lacks reads as "", as in kube's fields.Set; a
      // custom resource's selectable boolean or integer as its text, as
      // apiextensions formats them.
      const nlohmann::json* v = engine::find_fields(object, r.path);
      value = !v                         ? std::string()
              : v->is_string()           ? v->get<std::string>()
              : v->is_boolean()          ? std::string(v->get<bool>() ? "true" : "false")
              : v->is_number_integer()   ? v->dump()
                                         : std::string();
    } else if (md.contains("labels") && md["labels"].is_object() && md["labels"].contains(r.key) &&
               md["labels"][r.key].is_string()) {
      value = md["labels"][r.key].get<std::string>();
    }
    bool ok = false;
    switch (r.op) {
      case Op::kExists: ok = value.has_value(); break;
      case Op::kNotExists: ok = !value.has_value(); break;
      case Op::kEq:
      case Op::kIn: ok = value && r.values.count(*value); break;
      case Op::kNotEq:
      case Op::kNotIn: ok = !value || !r.values.count(*value); break;
      case Op::kGt:
      case Op::kLt: {
        // (value_or, not the optionals themselves: GCC cannot see that
        // both are set where they are read, and warns.)
        std::optional<int64_t> have = value ? parse_int(*value) : std::nullopt;
        std::optional<int64_t> want = parse_int(*r.values.begin());
        if (have && want) {
          int64_t h = have.value_or(0), w = want.value_or(0);
          ok = r.op == Op::kGt ? h > w : h < w;
        }
        break;
      }
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace pmesh::server
