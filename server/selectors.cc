#include "server/selectors.h"

#include <cctype>

namespace pmesh::server {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

bool valid_label_key(const std::string& k) {
  if (k.empty() || k.size() > 317) return false;
  for (char c : k)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' && c != '/') return false;
  return true;
}

// Splits on commas that are not inside parentheses.
std::vector<std::string> split_top(const std::string& s) {
  std::vector<std::string> out;
  int depth = 0;
  std::string cur;
  for (char c : s) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

}  // namespace

std::optional<Selector> Selector::parse_labels(const std::string& text, std::string* error) {
  Selector sel;
  if (trim(text).empty()) return sel;
  for (const auto& raw : split_top(text)) {
    std::string r = trim(raw);
    Requirement req;
    auto fail = [&](const std::string& why) {
      *error = "unable to parse requirement: " + why + ": \"" + r + "\"";
      return std::nullopt;
    };
    size_t sp;
    if (!r.empty() && r[0] == '!') {
      req.key = trim(r.substr(1));
      req.op = Op::kNotExists;
    } else if ((sp = r.find(" notin ")) != std::string::npos || (sp = r.find(" in ")) != std::string::npos) {
      bool notin = r.find(" notin ") != std::string::npos;
      req.key = trim(r.substr(0, sp));
      req.op = notin ? Op::kNotIn : Op::kIn;
      std::string rest = trim(r.substr(sp + (notin ? 7 : 4)));
      if (rest.size() < 2 || rest.front() != '(' || rest.back() != ')') return fail("found '" + rest + "', expected: '('");
      for (const auto& v : split_top(rest.substr(1, rest.size() - 2))) req.values.insert(trim(v));
    } else if ((sp = r.find("!=")) != std::string::npos) {
      req.key = trim(r.substr(0, sp));
      req.op = Op::kNotEq;
      req.values.insert(trim(r.substr(sp + 2)));
    } else if ((sp = r.find("==")) != std::string::npos) {
      req.key = trim(r.substr(0, sp));
      req.op = Op::kEq;
      req.values.insert(trim(r.substr(sp + 2)));
    } else if ((sp = r.find('=')) != std::string::npos) {
      req.key = trim(r.substr(0, sp));
      req.op = Op::kEq;
      req.values.insert(trim(r.substr(sp + 1)));
    } else {
      req.key = r;
      req.op = Op::kExists;
    }
    if (!valid_label_key(req.key)) return fail("invalid label key");
    sel.reqs_.push_back(std::move(req));
  }
  return sel;
}

std::optional<Selector> Selector::parse_fields(const std::string& text, std::string* error) {
  Selector sel;
  sel.fields_ = true;
  if (trim(text).empty()) return sel;
  for (const auto& raw : split_top(text)) {
    std::string r = trim(raw);
    Requirement req;
    size_t sp;
    if ((sp = r.find("!=")) != std::string::npos) {
      req.op = Op::kNotEq;
      req.values.insert(trim(r.substr(sp + 2)));
    } else if ((sp = r.find("==")) != std::string::npos) {
      req.op = Op::kEq;
      req.values.insert(trim(r.substr(sp + 2)));
    } else if ((sp = r.find('=')) != std::string::npos) {
      req.op = Op::kEq;
      req.values.insert(trim(r.substr(sp + 1)));
    } else {
      *error = "invalid selector: '" + r + "'; can't understand '" + r + "'";
      return std::nullopt;
    }
    req.key = trim(r.substr(0, sp));
    if (req.key != "metadata.name" && req.key != "metadata.namespace") {
      *error = "\"" + req.key + "\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"";
      return std::nullopt;
    }
    sel.reqs_.push_back(std::move(req));
  }
  return sel;
}

bool Selector::matches(const nlohmann::json& object) const {
  const nlohmann::json& md = object.contains("metadata") ? object["metadata"] : nlohmann::json::object();
  for (const auto& r : reqs_) {
    std::optional<std::string> value;
    if (fields_) {
      std::string f = r.key.substr(9);  // after "metadata."
      value = md.contains(f) && md[f].is_string() ? md[f].get<std::string>() : std::string();
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
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace pmesh::server
