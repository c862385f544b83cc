#include "fga/dsl_parser.h"
#include "stdlib/text.h"

#include <algorithm>
#include <map>
#include <sstream>

namespace pmesh::fga {

namespace {

struct Where {
  std::string file;
  int line = 0;
};

[[noreturn]] void syntax(const Where& w, const std::string& what) {
  throw FgaError("validation_error", w.file + ":" + std::to_string(w.line) + ": " + what);
}

// Tokens of a relation's definition: words, and [ ] ( ) , as their own.
std::vector<std::string> tokenize(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) out.push_back(cur);
    cur.clear();
  };
  for (char c : s) {
    if (c == ' ' || c == '\t') flush();
    else if (c == '[' || c == ']' || c == '(' || c == ')' || c == ',') {
      flush();
      out.push_back(std::string(1, c));
    } else cur += c;
  }
  flush();
  return out;
}

// Recursive descent over one definition's tokens.
class ExprParser {
 public:
  ExprParser(std::vector<std::string> toks, Where w, RelationDef* rel) : t_(std::move(toks)), w_(std::move(w)), rel_(rel) {}

  Rewrite parse() {
    Rewrite r = expr(0);
    if (pos_ != t_.size()) syntax(w_, "unexpected '" + t_[pos_] + "' in the definition of '" + rel_->name + "'");
    return r;
  }

 private:
  bool at(const std::string& s) const { return pos_ < t_.size() && t_[pos_] == s; }
  bool at_but_not() const { return at("but") && pos_ + 1 < t_.size() && t_[pos_ + 1] == "not"; }
  std::string take(const std::string& what) {
    if (pos_ >= t_.size()) syntax(w_, "expected " + what + " at the end of the definition of '" + rel_->name + "'");
    return t_[pos_++];
  }
  static bool keyword(const std::string& s) {
    return s == "or" || s == "and" || s == "but" || s == "not" || s == "from" || s == "[" || s == "]" || s == "(" ||
           s == ")" || s == ",";
  }
  std::string name(const std::string& what) {
    std::string n = take(what);
    if (keyword(n)) syntax(w_, "expected " + what + ", found '" + n + "'");
    return n;
  }

  Rewrite expr(int depth) {
    if (depth > 32) syntax(w_, "the definition of '" + rel_->name + "' nests too deeply");
    Rewrite first = term(depth);
    if (at("or") || at("and")) {
      std::string op = t_[pos_];
      Rewrite set;
      set.kind = op == "or" ? Rewrite::Kind::kUnion : Rewrite::Kind::kIntersection;
      set.children.push_back(std::move(first));
      while (at(op)) {
        ++pos_;
        set.children.push_back(term(depth));
      }
      if (at("or") || at("and") || at_but_not())
        syntax(w_, "mixing operators in the definition of '" + rel_->name + "' needs parentheses");
      return set;
    }
    if (at_but_not()) {
      pos_ += 2;
      Rewrite diff;
      diff.kind = Rewrite::Kind::kDifference;
      diff.children.push_back(std::move(first));
      diff.children.push_back(term(depth));
      if (at("or") || at("and") || at_but_not())
        syntax(w_, "mixing operators in the definition of '" + rel_->name + "' needs parentheses");
      return diff;
    }
    return first;
  }

  Rewrite term(int depth) {
    Rewrite r;
    if (at("(")) {
      ++pos_;
      r = expr(depth + 1);
      if (take("')'") != ")") syntax(w_, "expected ')' in the definition of '" + rel_->name + "'");
      return r;
    }
    if (at("[")) {
      ++pos_;
      if (direct_seen_) syntax(w_, "the definition of '" + rel_->name + "' has more than one list of types");
      direct_seen_ = true;
      while (true) {
        TypeRestriction tr;
        std::string ref = name("a type");
        size_t hash = ref.find('#');
        if (hash != std::string::npos) {
          tr.relation = ref.substr(hash + 1);
          ref = ref.substr(0, hash);
        }
        if (ref.size() > 2 && ref.compare(ref.size() - 2, 2, ":*") == 0) {
          tr.wildcard = true;
          ref = ref.substr(0, ref.size() - 2);
        }
        tr.type = ref;
        if (at("with")) {
          ++pos_;
          tr.condition = name("a condition");
        }
        rel_->directly_related.push_back(tr);
        std::string sep = take("']'");
        if (sep == "]") break;
        if (sep != ",") syntax(w_, "expected ',' or ']' in the types of '" + rel_->name + "', found '" + sep + "'");
      }
      r.kind = Rewrite::Kind::kThis;
      return r;
    }
    std::string rel = name("a relation");
    if (at("from")) {
      ++pos_;
      r.kind = Rewrite::Kind::kTupleToUserset;
      r.relation = rel;
      r.tupleset = name("a relation after 'from'");
      return r;
    }
    r.kind = Rewrite::Kind::kComputed;
    r.relation = rel;
    return r;
  }

  std::vector<std::string> t_;
  size_t pos_ = 0;
  Where w_;
  RelationDef* rel_;
  bool direct_seen_ = false;
};

std::string strip_comment(const std::string& line) {
  for (size_t i = 0; i < line.size(); ++i)
    if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) return line.substr(0, i);
  return line;
}

// A line's surrounding blanks (a CR of a CRLF file among them).
constexpr std::string_view kBlank = " \t\r";

struct FileParse {
  bool header = false;  // `model` / `schema`
  std::string schema;
  std::vector<TypeDef> types;
  std::vector<std::pair<TypeDef, Where>> extensions;
};

FileParse parse_file(const std::string& file, const std::string& text) {
  FileParse out;
  std::istringstream in(text);
  std::string raw;
  Where w{file, 0};
  TypeDef* current = nullptr;
  bool in_relations = false, expect_schema = false;
  while (std::getline(in, raw)) {
    ++w.line;
    std::string line = trim(strip_comment(raw), kBlank);
    if (line.empty()) continue;
    std::vector<std::string> words = tokenize(line);
    const std::string& head = words[0];
    if (expect_schema) {
      if (head != "schema" || words.size() != 2) syntax(w, "expected 'schema 1.1' after 'model'");
      out.schema = words[1];
      expect_schema = false;
      continue;
    }
    if (head == "model" && words.size() == 1) {
      if (out.header || !out.types.empty()) syntax(w, "'model' must open the file, once");
      out.header = expect_schema = true;
      continue;
    }
    if (head == "module") {
      if (words.size() != 2) syntax(w, "expected 'module NAME'");
      continue;
    }
    if (head == "condition") syntax(w, "conditions are not supported: pmesh evaluates no CEL");
    if (head == "type" || (head == "extend" && words.size() == 3 && words[1] == "type")) {
      if (head == "type" && words.size() != 2) syntax(w, "expected 'type NAME'");
      TypeDef t;
      t.name = words.back();
      if (head == "type") {
        out.types.push_back(std::move(t));
        current = &out.types.back();
      } else {
        out.extensions.push_back({std::move(t), w});
        current = &out.extensions.back().first;
      }
      in_relations = false;
      continue;
    }
    if (head == "relations" && words.size() == 1) {
      if (!current) syntax(w, "'relations' outside a type");
      in_relations = true;
      continue;
    }
    if (head == "define") {
      if (!current || !in_relations) syntax(w, "'define' outside a type's relations");
      size_t colon = line.find(':');
      if (colon == std::string::npos) syntax(w, "expected 'define NAME: ...'");
      RelationDef r;
      r.name = trim(line.substr(6, colon - 6), kBlank);
      if (r.name.empty() || r.name.find_first_of(" \t") != std::string::npos) syntax(w, "expected 'define NAME: ...'");
      std::vector<std::string> toks = tokenize(line.substr(colon + 1));
      if (toks.empty()) syntax(w, "the definition of '" + r.name + "' is empty");
      r.rewrite = ExprParser(std::move(toks), w, &r).parse();
      if (current->find(r.name)) syntax(w, "relation '" + r.name + "' is defined twice in type '" + current->name + "'");
      current->relations.push_back(std::move(r));
      continue;
    }
    syntax(w, "unexpected '" + line + "'");
  }
  if (expect_schema) syntax(w, "expected 'schema 1.1' after 'model'");
  return out;
}

void sort_relations(TypeDef& t) {
  std::sort(t.relations.begin(), t.relations.end(), [](const RelationDef& a, const RelationDef& b) { return a.name < b.name; });
}

void write_rewrite(std::ostream& o, const Rewrite& r, const RelationDef& rel, bool nested) {
  auto set = [&](const char* op) {
    if (nested) o << "(";
    for (size_t i = 0; i < r.children.size(); ++i) {
      if (i) o << " " << op << " ";
      write_rewrite(o, r.children[i], rel, true);
    }
    if (nested) o << ")";
  };
  switch (r.kind) {
    case Rewrite::Kind::kThis: {
      o << "[";
      for (size_t i = 0; i < rel.directly_related.size(); ++i) o << (i ? ", " : "") << rel.directly_related[i].to_string();
      o << "]";
      break;
    }
    case Rewrite::Kind::kComputed:
      o << r.relation;
      break;
    case Rewrite::Kind::kTupleToUserset:
      o << r.relation << " from " << r.tupleset;
      break;
    case Rewrite::Kind::kUnion:
      set("or");
      break;
    case Rewrite::Kind::kIntersection:
      set("and");
      break;
    case Rewrite::Kind::kDifference:
      set("but not");
      break;
  }
}

}  // namespace

Model parse_dsl(const std::vector<std::pair<std::string, std::string>>& files) {
  Model m;
  m.schema_version.clear();
  std::vector<std::pair<TypeDef, Where>> extensions;
  std::map<std::string, Where> declared;
  for (const auto& [name, text] : files) {
    FileParse f = parse_file(name, text);
    if (f.header) {
      if (!m.schema_version.empty()) syntax({name, 1}, "only one file may hold the 'model' header");
      m.schema_version = f.schema;
    }
    for (auto& t : f.types) {
      if (m.find(t.name)) throw FgaError("validation_error", name + ": type '" + t.name + "' is declared twice");
      m.types.push_back(std::move(t));
    }
    for (auto& e : f.extensions) extensions.push_back(std::move(e));
  }
  if (m.schema_version.empty()) m.schema_version = "1.2";  // modular models are schema 1.2
  for (auto& [ext, where] : extensions) {
    TypeDef* target = nullptr;
    for (auto& t : m.types)
      if (t.name == ext.name) target = &t;
    if (!target) syntax(where, "'extend type " + ext.name + "': no module declares type '" + ext.name + "'");
    for (auto& r : ext.relations) {
      if (target->find(r.name)) syntax(where, "relation '" + r.name + "' already exists in type '" + ext.name + "'");
      target->relations.push_back(std::move(r));
    }
  }
  for (auto& t : m.types) sort_relations(t);
  return m;
}

std::string to_dsl(const Model& m) {
  std::ostringstream o;
  o << "model\n  schema " << m.schema_version << "\n";
  for (const auto& t : m.types) {
    o << "\ntype " << t.name << "\n";
    if (t.relations.empty()) continue;
    o << "  relations\n";
    for (const auto& r : t.relations) {
      o << "    define " << r.name << ": ";
      write_rewrite(o, r.rewrite, r, false);
      o << "\n";
    }
  }
  return o.str();
}

}  // namespace pmesh::fga
