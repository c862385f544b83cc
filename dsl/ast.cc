#include "dsl/ast.h"

#include <algorithm>

namespace pmesh::dsl {

bool KindDecl::has_section(const std::string& s) const {
  return std::find(sections.begin(), sections.end(), s) != sections.end();
}

namespace {

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\' || c == '{' || c == '}') out += '\\';
    if (c == '\n') { out += "\\n"; continue; }
    out += c;
  }
  return out + "\"";
}

const char* agg_name(AggKind k) {
  switch (k) {
    case AggKind::kCount: return "count";
    case AggKind::kAny: return "any";
    case AggKind::kAll: return "all";
    case AggKind::kCollect: return "collect";
  }
  return "?";
}

}  // namespace

std::optional<nlohmann::json> literal_json(const Expr& e, BareWords bare) {
  switch (e.kind) {
    case ExprKind::kNull: return nlohmann::json(nullptr);
    case ExprKind::kBool: return nlohmann::json(e.bool_value);
    case ExprKind::kInt: return nlohmann::json(e.int_value);
    case ExprKind::kFloat: return nlohmann::json(e.float_value);
    case ExprKind::kString: return nlohmann::json(e.text);
    case ExprKind::kVar: return bare == BareWords::kStrings ? nlohmann::json(e.text) : nlohmann::json(nullptr);
    case ExprKind::kList: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& a : e.args) {
        auto v = literal_json(*a, bare);
        if (!v) return std::nullopt;
        out.push_back(std::move(*v));
      }
      return out;
    }
    case ExprKind::kObject: {
      nlohmann::json out = nlohmann::json::object();
      for (size_t i = 0; i < e.keys.size(); ++i) {
        auto v = literal_json(*e.args[i], bare);
        if (!v) return std::nullopt;
        out[e.keys[i]] = std::move(*v);
      }
      return out;
    }
    default:
      return std::nullopt;
  }
}

std::string to_string(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kNull: return "null";
    case ExprKind::kBool: return e.bool_value ? "true" : "false";
    case ExprKind::kInt: return std::to_string(e.int_value);
    case ExprKind::kFloat: {
      std::string s = std::to_string(e.float_value);
      while (s.size() > 1 && s.back() == '0' && s[s.size() - 2] != '.') s.pop_back();
      return s;
    }
    case ExprKind::kString: return quote(e.text);
    case ExprKind::kInterp: {
      std::string out = "\"";
      for (const auto& p : e.args) {
        if (p->kind == ExprKind::kString) out += quote(p->text).substr(1, quote(p->text).size() - 2);
        else out += "{" + to_string(*p) + "}";
      }
      return out + "\"";
    }
    case ExprKind::kVar: return e.text;
    case ExprKind::kField: return to_string(*e.args[0]) + (e.safe ? "?." : ".") + e.text;
    case ExprKind::kIndex: return to_string(*e.args[0]) + "[" + to_string(*e.args[1]) + "]";
    case ExprKind::kCall: {
      std::string out = e.text + "(";
      for (size_t i = 0; i < e.args.size(); ++i) out += (i ? ", " : "") + to_string(*e.args[i]);
      return out + ")";
    }
    case ExprKind::kList: {
      std::string out = "[";
      for (size_t i = 0; i < e.args.size(); ++i) out += (i ? ", " : "") + to_string(*e.args[i]);
      return out + "]";
    }
    case ExprKind::kObject: {
      std::string out = "{";
      for (size_t i = 0; i < e.args.size(); ++i)
        out += (i ? ", " : " ") + (e.key_is_quoted[i] ? quote(e.keys[i]) : e.keys[i]) + ": " +
               to_string(*e.args[i]);
      return out + (e.args.empty() ? "}" : " }");
    }
    case ExprKind::kUnary:
      return e.text == "not" ? "not " + to_string(*e.args[0]) : "-" + to_string(*e.args[0]);
    case ExprKind::kBinary:
      return "(" + to_string(*e.args[0]) + " " + e.text + " " + to_string(*e.args[1]) + ")";
    case ExprKind::kCond:
      return "(" + to_string(*e.args[0]) + " ? " + to_string(*e.args[1]) + " : " +
             to_string(*e.args[2]) + ")";
    case ExprKind::kAggregate:
      return std::string(agg_name(e.agg)) + " { ... " +
             (e.args.empty() ? "" : "| " + to_string(*e.args[0]) + " ") + "}";
  }
  return "?";
}

std::string to_string(const Path& p) {
  std::string out;
  for (const auto& s : p) {
    if (s.is_key()) out += "[" + to_string(*s.key) + "]";
    else out += (out.empty() ? "" : ".") + s.field;
  }
  return out;
}

}  // namespace pmesh::dsl
