#include "engine/documents.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <iostream>
#include <sstream>

namespace pmesh::engine {

namespace {

Json scalar(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted
  static const std::regex int_re("[-+]?[0-9]+");
  static const std::regex float_re("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  if (s == "null" || s == "Null" || s == "NULL" || s == "~" || s.empty()) return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (std::regex_match(s, int_re)) {
    try {
      return std::stoll(s);
    } catch (...) {
      return s;
    }
  }
  if (std::regex_match(s, float_re)) return std::stod(s);
  return s;
}

Json to_json(const YAML::Node& n, int depth) {
  if (depth > 100) throw YAML::ParserException(n.Mark(), "nesting deeper than 100 levels");
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalar(n);
    case YAML::NodeType::Sequence: {
      Json out = Json::array();
      for (const auto& x : n) out.push_back(to_json(x, depth + 1));
      return out;
    }
    case YAML::NodeType::Map: {
      Json out = Json::object();
      for (const auto& kv : n) {
        if (!kv.first.IsScalar()) throw YAML::ParserException(kv.first.Mark(), "a key must be a string");
        out[kv.first.Scalar()] = to_json(kv.second, depth + 1);
      }
      return out;
    }
  }
  return nullptr;
}

void emit(YAML::Emitter& out, const Json& v) {
  if (v.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [k, x] : v.items()) {
      out << YAML::Key << k << YAML::Value;
      emit(out, x);
    }
    out << YAML::EndMap;
  } else if (v.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& x : v) emit(out, x);
    out << YAML::EndSeq;
  } else if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    // Quote what would read back as another type.
    YAML::Node probe = YAML::Load(s.empty() ? "''" : s);
    bool plain = probe.IsScalar() && scalar(probe).is_string() && probe.Scalar() == s;
    if (plain) out << s;
    else out << YAML::DoubleQuoted << s;
  } else if (v.is_null()) {
    out << YAML::Null;
  } else {
    out << v.dump();
  }
}

}  // namespace

bool parse_documents(const std::string& text, const std::string& file, std::vector<Document>* out,
                     std::string* error) {
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(text);
    for (const auto& d : docs) {
      if (d.IsNull()) continue;
      Json j = to_json(d, 0);
      std::string where = file + ":" + std::to_string(d.Mark().line + 1);
      if (!j.is_object()) {
        *error = where + ": a document must be an object, not " + j.type_name();
        return false;
      }
      if (j.value("kind", "") == "List" && j.contains("items")) {
        for (auto& item : j["items"]) out->push_back({where, item});
      } else {
        out->push_back({where, std::move(j)});
      }
    }
  } catch (const YAML::Exception& e) {
    *error = file + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + ": " + e.msg;
    return false;
  }
  return true;
}

bool read_documents(const std::vector<std::string>& paths, std::vector<Document>* out, std::string* error) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (const auto& e : fs::recursive_directory_iterator(p, ec)) {
        std::string ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json")) found.push_back(e.path().string());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(p, ec) || p == "-") {
      files.push_back(p);
    } else {
      *error = "no such file or folder: " + p;
      return false;
    }
  }
  for (const auto& f : files) {
    std::ostringstream ss;
    if (f == "-") {
      ss << std::cin.rdbuf();
    } else {
      std::ifstream in(f, std::ios::binary);
      if (!in) {
        *error = "cannot read " + f;
        return false;
      }
      ss << in.rdbuf();
    }
    if (!parse_documents(ss.str(), f, out, error)) return false;
  }
  return true;
}

std::string to_yaml(const Json& value) {
  YAML::Emitter out;
  emit(out, value);
  return std::string(out.c_str()) + "\n";
}

}  // namespace pmesh::engine
