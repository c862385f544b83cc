#include "engine/documents.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <optional>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <iostream>
#include <sstream>

#include "engine/json_path.h"
#include "stdlib/text.h"

namespace pmesh::engine {

namespace {

Json plain_scalar(const std::string& s) {
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

// yaml-cpp writes the escapes \N and \_ as the single bytes 0x85 and 0xA0
// instead of as UTF-8. The text itself is UTF-8 (checked before parsing), so
// a byte that starts no sequence is one of those; anything else would be
// replaced as Go replaces what is not UTF-8.
std::string escapes_as_utf8(const std::string& s) {
  if (valid_utf8(s)) return s;
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (size_t n = utf8_sequence_length(s, i)) {
      out.append(s, i, n);
      i += n;
      continue;
    }
    unsigned char c = static_cast<unsigned char>(s[i++]);
    if (c == 0x85 || c == 0xA0) out += '\xC2', out += static_cast<char>(c);
    else out += "\xEF\xBF\xBD";
  }
  return out;
}

// YAML events to JSON, without recursion and with go-yaml's defenses: a
// bound on nesting, and on how much of a document may come from expanding
// aliases (a kilobyte of nested anchors can otherwise stand for millions of
// nodes). Anchored values are copied where aliases name them.
class JsonBuilder : public YAML::EventHandler {
 public:
  explicit JsonBuilder(const YamlLimits& limits) : limits_(limits) {}

  std::vector<std::pair<YAML::Mark, Json>> documents;

  void OnDocumentStart(const YAML::Mark& mark) override {
    stack_.clear();
    root_ = nullptr;
    mark_ = mark;
  }
  void OnDocumentEnd() override { documents.emplace_back(mark_, std::move(root_)); }
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (key_expected()) return set_key(mark, "null");
    add(mark, nullptr, anchor, 1);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) throw YAML::ParserException(mark, "unknown anchor");
    size_t nodes = it->second.second;
    aliased_ += nodes;
    count(mark, nodes);
    if (key_expected()) {
      if (!it->second.first.is_string()) throw YAML::ParserException(mark, "a key must be a string");
      return set_key(mark, it->second.first.get<std::string>());
    }
    // What an alias stands for counts as much as its anchor's nodes, in
    // the containers around it too.
    add(mark, it->second.first, 0, nodes, false);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor, const std::string& raw) override {
    const std::string value = escapes_as_utf8(raw);
    if (key_expected()) {
      count(mark, 1);
      if (anchor) anchors_[anchor] = {Json(value), 1};
      return set_key(mark, value);
    }
    // Quoted scalars ("!") and those tagged as strings stay strings.
    Json v;
    try {
      v = tag == "!" || tag == "tag:yaml.org,2002:str" ? Json(value) : plain_scalar(value);
    } catch (const std::out_of_range&) {
      // 1e999: a number JSON cannot hold, as Go's encoder refuses +Inf.
      throw YAML::ParserException(mark, "number out of range: " + value);
    }
    add(mark, std::move(v), anchor, 1);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    open(mark, Json::array(), anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    open(mark, Json::object(), anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Frame {
    Json value;
    YAML::anchor_t anchor;
    size_t nodes;  // decoded nodes inside, for anchors
    YAML::Mark mark;
    std::optional<std::string> key;
  };

  bool key_expected() const { return !stack_.empty() && stack_.back().value.is_object() && !stack_.back().key; }
  void set_key(const YAML::Mark&, std::string key) { stack_.back().key = std::move(key); }

  void count(const YAML::Mark& mark, size_t n) {
    decoded_ += n;
    // go-yaml's rule: past 100 aliased nodes, a document may take only so
    // much of itself from aliases (99% when small, 10% when huge).
    double ratio = decoded_ <= 400000 ? 0.99 : decoded_ >= 4000000 ? 0.10
                                                                    : 0.99 - 0.89 * (static_cast<double>(decoded_ - 400000) / 3600000.0);
    if ((aliased_ > 100 && decoded_ > 1000 && static_cast<double>(aliased_) / static_cast<double>(decoded_) > ratio) ||
        decoded_ > limits_.max_nodes)
      throw YAML::ParserException(mark, "document contains excessive aliasing");
  }

  void open(const YAML::Mark& mark, Json value, YAML::anchor_t anchor) {
    if (key_expected()) throw YAML::ParserException(mark, "a key must be a string");
    if (stack_.size() >= limits_.max_depth)
      throw YAML::ParserException(mark, "nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
    count(mark, 1);
    stack_.push_back(Frame{std::move(value), anchor, 1, mark, std::nullopt});
  }

  void close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    add(f.mark, std::move(f.value), f.anchor, f.nodes, false);
  }

  void add(const YAML::Mark& mark, Json value, YAML::anchor_t anchor, size_t nodes, bool counted = true) {
    if (counted && nodes) count(mark, nodes);
    if (anchor) anchors_[anchor] = {value, std::max<size_t>(nodes, 1)};
    if (stack_.empty()) {
      root_ = std::move(value);
      return;
    }
    Frame& top = stack_.back();
    top.nodes += nodes;
    if (top.value.is_array()) {
      top.value.push_back(std::move(value));
    } else {
      top.value[*top.key] = std::move(value);
      top.key.reset();
    }
  }

  YamlLimits limits_;
  std::vector<Frame> stack_;
  Json root_;
  YAML::Mark mark_;
  std::map<YAML::anchor_t, std::pair<Json, size_t>> anchors_;
  size_t decoded_ = 0, aliased_ = 0;
};

// YAML's c-printable, as go-yaml's reader checks it.
bool yaml_printable(uint32_t c) {
  return c == 0x09 || c == 0x0A || c == 0x0D || (c >= 0x20 && c <= 0x7E) || c == 0x85 || (c >= 0xA0 && c <= 0xD7FF) ||
         (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

// What go-yaml says of text that is not UTF-8 or holds control characters
// (which yaml-cpp would let through, some of them re-encoded as bytes that
// are not UTF-8), or "": the first problem, reading from the start.
std::string text_problem(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8_sequence_length(text, i);
    if (n == 0) {
      unsigned char c = static_cast<unsigned char>(text[i]);
      size_t want = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
      if (want == 0) return "invalid leading UTF-8 octet";
      return i + want > text.size() ? "incomplete UTF-8 octet sequence" : "invalid trailing UTF-8 octet";
    }
    if (!yaml_printable(utf8_code_point(text, i, n))) return "control characters are not allowed";
    i += n;
  }
  return "";
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
    bool plain = !s.empty() && plain_scalar(s).is_string() && s.find_first_of(":#{}[],&*!|>'\"%@`\n") == std::string::npos &&
                 s.front() != ' ' && s.back() != ' ' && s.front() != '-' && s.front() != '?';
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
                     std::string* error, const YamlLimits& limits) {
  if (std::string why = text_problem(text); !why.empty()) {
    *error = file + ": " + why;
    return false;
  }
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    JsonBuilder builder(limits);
    // yaml-cpp 0.7 can report a document without consuming a token (a stray
    // ',' at the top, jbeder/yaml-cpp#1040) and would do so forever; two
    // documents cannot start at one position, so that is where it stops.
    while (parser.HandleNextDocument(builder)) {
      const auto& docs = builder.documents;
      if (docs.size() >= 2 && docs[docs.size() - 1].first.pos == docs[docs.size() - 2].first.pos) {
        const YAML::Mark& at = docs.back().first;
        *error = file + ":" + std::to_string(at.line + 1) + ":" + std::to_string(at.column + 1) +
                 ": did not find expected node content";
        return false;
      }
    }
    for (auto& [mark, j] : builder.documents) {
      if (j.is_null()) continue;
      std::string where = file + ":" + std::to_string(mark.line + 1);
      if (!j.is_object()) {
        *error = where + ": a document must be an object, not " + j.type_name();
        return false;
      }
      if (string_field(j, "kind") == "List" && j.contains("items") && j["items"].is_array()) {
        for (auto& item : j["items"]) out->push_back({where, std::move(item)});
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
