#include "stdlib/kube_jsonpath.h"

#include <cmath>
#include <cstdlib>

namespace pmesh {

using nlohmann::json;

struct KubeJsonPath::Step {
  enum class Kind { kKeys, kIndex, kAll, kFilter };
  Kind kind = Kind::kKeys;
  std::vector<std::string> keys;  // kKeys: one field, or a union
  long index = 0;                  // kIndex
  // kFilter: a path from the element, compared with `literal` by `op`
  // (empty: the path finds something).
  std::vector<Step> left;
  std::string op;
  json literal;
};

struct KubeJsonPath::Piece {
  bool expression = false;
  std::string text;         // the text, or the expression as written
  std::vector<Step> steps;  // of an expression
};

namespace {

using Step = KubeJsonPath::Step;

class Parser {
 public:
  Parser(const std::string& s, size_t begin, size_t end) : s_(s), i_(begin), end_(end) {}

  // A path to the end of the range (or, in a filter, to what ends it).
  bool path(std::vector<Step>* out, bool in_filter) {
    if (i_ < end_ && (s_[i_] == '$' || s_[i_] == '@')) ++i_;
    while (i_ < end_) {
      char c = s_[i_];
      if (in_filter && (c == ' ' || c == ')' || c == '=' || c == '!' || c == '<' || c == '>')) return true;
      if (c == '.') {
        ++i_;
        if (i_ < end_ && s_[i_] == '.') return fail("recursive descent (..) is not supported");
        if (i_ < end_ && s_[i_] == '*') {
          ++i_;
          out->push_back(Step{Step::Kind::kAll, {}, 0, {}, {}, {}});
          continue;
        }
        if (i_ >= end_ || s_[i_] == '[') continue;  // "{.}" is the root; ".[" a bracket
        std::string name;
        while (i_ < end_) {
          char n = s_[i_];
          if (n == '\\' && i_ + 1 < end_) {
            name += s_[i_ + 1];
            i_ += 2;
            continue;
          }
          if (n == '.' || n == '[' ||
              (in_filter && (n == ' ' || n == ')' || n == '=' || n == '!' || n == '<' || n == '>')))
            break;
          name += n;
          ++i_;
        }
        out->push_back(Step{Step::Kind::kKeys, {name}, 0, {}, {}, {}});
      } else if (c == '[') {
        ++i_;
        if (!bracket(out)) return false;
      } else {
        return fail(std::string("unexpected '") + c + "'");
      }
    }
    return true;
  }

  const std::string& error() const { return error_; }
  bool at_end() const { return i_ >= end_; }

 private:
  bool fail(const std::string& what) {
    if (error_.empty()) error_ = what + " at column " + std::to_string(i_ + 1);
    return false;
  }
  void spaces() {
    while (i_ < end_ && s_[i_] == ' ') ++i_;
  }
  bool quoted(std::string* out) {
    char q = s_[i_++];
    while (i_ < end_ && s_[i_] != q) {
      if (s_[i_] == '\\' && i_ + 1 < end_) ++i_;
      *out += s_[i_++];
    }
    if (i_ >= end_) return fail("unterminated quoted string");
    ++i_;
    return true;
  }
  bool close() {
    spaces();
    if (i_ >= end_ || s_[i_] != ']') return fail("expected ']'");
    ++i_;
    return true;
  }
  bool bracket(std::vector<Step>* out) {
    spaces();
    if (i_ >= end_) return fail("unterminated '['");
    char c = s_[i_];
    if (c == '*') {
      ++i_;
      out->push_back(Step{Step::Kind::kAll, {}, 0, {}, {}, {}});
      return close();
    }
    if (c == '\'' || c == '"') {
      Step st;
      for (;;) {
        std::string key;
        if (!quoted(&key)) return false;
        st.keys.push_back(key);
        spaces();
        if (i_ < end_ && s_[i_] == ',') {
          ++i_;
          spaces();
          if (i_ < end_ && (s_[i_] == '\'' || s_[i_] == '"')) continue;
          return fail("expected a quoted key after ','");
        }
        break;
      }
      out->push_back(std::move(st));
      return close();
    }
    if (c == '?') {
      // Paths come from tenants' schemas: nesting must not exhaust the stack.
      if (++depth_ > kMaxDepth) return fail("filters nested too deeply");
      ++i_;
      if (i_ >= end_ || s_[i_] != '(') return fail("expected '(' after '?'");
      ++i_;
      spaces();
      Step st;
      st.kind = Step::Kind::kFilter;
      if (i_ >= end_ || s_[i_] != '@') return fail("a filter starts with '@'");
      if (!path(&st.left, true)) return false;
      spaces();
      for (const char* op : {"==", "!=", "<=", ">=", "<", ">"}) {
        std::string o(op);
        if (s_.compare(i_, o.size(), o) == 0 && i_ + o.size() <= end_) {
          st.op = o;
          i_ += o.size();
          break;
        }
      }
      if (!st.op.empty() && !literal(&st.literal)) return false;
      spaces();
      if (i_ >= end_ || s_[i_] != ')') return fail("expected ')'");
      ++i_;
      --depth_;
      out->push_back(std::move(st));
      return close();
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      size_t start = i_++;
      while (i_ < end_ && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      if (i_ < end_ && s_[i_] == ':') return fail("slices are not supported");
      Step st;
      st.kind = Step::Kind::kIndex;
      st.index = std::strtol(s_.substr(start, i_ - start).c_str(), nullptr, 10);
      out->push_back(std::move(st));
      return close();
    }
    return fail(std::string("unexpected '") + c + "' in brackets");
  }
  bool literal(json* out) {
    spaces();
    if (i_ >= end_) return fail("expected a value to compare with");
    if (s_[i_] == '\'' || s_[i_] == '"') {
      std::string v;
      if (!quoted(&v)) return false;
      *out = v;
      return true;
    }
    size_t start = i_;
    while (i_ < end_ && s_[i_] != ')' && s_[i_] != ' ') ++i_;
    std::string word = s_.substr(start, i_ - start);
    if (word == "true" || word == "false") {
      *out = word == "true";
      return true;
    }
    char* endp = nullptr;
    double d = std::strtod(word.c_str(), &endp);
    if (word.empty() || *endp != '\0') return fail("expected a quoted string, a number, true or false");
    *out = d;
    return true;
  }

  static constexpr int kMaxDepth = 16;
  const std::string& s_;
  size_t i_, end_;
  int depth_ = 0;
  std::string error_;
};

void evaluate(const std::vector<Step>& steps, const json* root, std::vector<const json*>* out);

bool compare(const json& a, const std::string& op, const json& b) {
  int c;
  if (a.is_number() && b.is_number()) {
    double x = a.get<double>(), y = b.get<double>();
    c = x < y ? -1 : x > y ? 1 : 0;
  } else if (a.is_string() && b.is_string()) {
    c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
  } else if (a.is_boolean() && b.is_boolean()) {
    if (op != "==" && op != "!=") return false;
    c = a == b ? 0 : 1;
  } else {
    return op == "!=";
  }
  if (op == "==") return c == 0;
  if (op == "!=") return c != 0;
  if (op == "<") return c < 0;
  if (op == "<=") return c <= 0;
  if (op == ">") return c > 0;
  return c >= 0;
}

void apply(const Step& st, const json* in, std::vector<const json*>* out) {
  switch (st.kind) {
    case Step::Kind::kKeys:
      if (!in->is_object()) return;
      for (const auto& k : st.keys)
        if (auto it = in->find(k); it != in->end()) out->push_back(&*it);
      return;
    case Step::Kind::kIndex: {
      if (!in->is_array()) return;
      long n = static_cast<long>(in->size());
      long i = st.index < 0 ? n + st.index : st.index;
      if (i >= 0 && i < n) out->push_back(&(*in)[static_cast<size_t>(i)]);
      return;
    }
    case Step::Kind::kAll:
      if (in->is_array() || in->is_object())
        for (const auto& e : *in) out->push_back(&e);
      return;
    case Step::Kind::kFilter:
      if (!in->is_array()) return;
      for (const auto& e : *in) {
        std::vector<const json*> found;
        evaluate(st.left, &e, &found);
        if (st.op.empty() ? !found.empty() : (!found.empty() && compare(*found[0], st.op, st.literal)))
          out->push_back(&e);
      }
      return;
  }
}

void evaluate(const std::vector<Step>& steps, const json* root, std::vector<const json*>* out) {
  std::vector<const json*> cur{root}, next;
  for (const auto& st : steps) {
    next.clear();
    for (const json* v : cur) apply(st, v, &next);
    cur.swap(next);
    if (cur.empty()) break;
  }
  out->insert(out->end(), cur.begin(), cur.end());
}

}  // namespace

std::optional<KubeJsonPath> KubeJsonPath::parse(const std::string& text, std::string* error) {
  auto pieces = std::make_shared<std::vector<Piece>>();
  auto expression = [&](size_t begin, size_t end) {
    Piece p;
    p.expression = true;
    p.text = text.substr(begin, end - begin);
    size_t b = begin, e = end;
    while (b < e && text[b] == ' ') ++b;
    while (e > b && text[e - 1] == ' ') --e;
    if (text.compare(b, 5, "range") == 0 || text.compare(b, 3, "end") == 0) {
      *error = "range and end are not supported";
      return false;
    }
    Parser parser(text, b, e);
    if (!parser.path(&p.steps, false)) {
      *error = parser.error();
      return false;
    }
    pieces->push_back(std::move(p));
    return true;
  };
  if (text.find('{') == std::string::npos) {
    // A CRD column's path: one expression.
    if (text.empty()) {
      *error = "empty path";
      return std::nullopt;
    }
    if (!expression(0, text.size())) return std::nullopt;
  } else {
    size_t i = 0;
    while (i < text.size()) {
      size_t open = text.find('{', i);
      if (open == std::string::npos) open = text.size();
      if (open > i) pieces->push_back(Piece{false, text.substr(i, open - i), {}});
      if (open == text.size()) break;
      // The closing brace, outside quotes.
      size_t j = open + 1;
      char quote = 0;
      for (; j < text.size(); ++j) {
        char c = text[j];
        if (quote) {
          if (c == '\\') ++j;
          else if (c == quote) quote = 0;
        } else if (c == '\'' || c == '"') {
          quote = c;
        } else if (c == '}') {
          break;
        }
      }
      if (j >= text.size()) {
        *error = "unclosed action";
        return std::nullopt;
      }
      if (!expression(open + 1, j)) return std::nullopt;
      i = j + 1;
    }
  }
  KubeJsonPath p;
  p.pieces_ = std::move(pieces);
  return p;
}

std::vector<std::vector<const json*>> KubeJsonPath::find(const json& root) const {
  std::vector<std::vector<const json*>> out;
  for (const auto& p : *pieces_) {
    if (!p.expression) continue;
    out.emplace_back();
    evaluate(p.steps, &root, &out.back());
  }
  return out;
}

bool KubeJsonPath::single_expression() const { return pieces_->size() == 1 && (*pieces_)[0].expression; }

std::string print_json_value(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    // As Go prints a float64 (%v): integral values without a fraction.
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e21) return std::to_string(static_cast<long long>(d));
  }
  if (v.is_null()) return "<nil>";
  return v.dump();
}

std::optional<std::string> KubeJsonPath::print(const json& root) const {
  std::string out;
  bool found = false;
  for (const auto& p : *pieces_) {
    if (!p.expression) {
      out += p.text;
      continue;
    }
    std::vector<const json*> results;
    evaluate(p.steps, &root, &results);
    for (size_t i = 0; i < results.size(); ++i) {
      if (i) out += ' ';
      out += print_json_value(*results[i]);
    }
    found = found || !results.empty();
  }
  if (!found) return std::nullopt;
  return out;
}

}  // namespace pmesh
