// The grammar (namespace grammar) is the specification's executable subset;
// PEGTL builds a parse tree of the selected rules, and Builder turns that
// tree into the document (document.h).
#include "server/graphql/parser.h"

#include <tao/pegtl.hpp>
#include <tao/pegtl/contrib/parse_tree.hpp>

#include <cstdint>
#include <string>

#include "stdlib/text.h"

namespace pmesh::graphql {
namespace grammar {

using namespace tao::pegtl;  // NOLINT: the grammar reads better unqualified.

// ---- Lexical: every token consumes the ignored text after it.
struct comment : seq<one<'#'>, until<eolf>> {};
struct bom : string<'\xEF', '\xBB', '\xBF'> {};
struct ignored : sor<one<' ', '\t', '\n', '\r', ','>, bom, comment> {};
struct sep : star<ignored> {};
template <typename R>
struct tk : seq<R, sep> {};
template <char C>
struct p : tk<one<C>> {};

struct name_first : ranges<'a', 'z', 'A', 'Z', '_'> {};
struct name_other : ranges<'a', 'z', 'A', 'Z', '0', '9', '_'> {};
struct name : seq<name_first, star<name_other>> {};
template <typename S>
struct kw : seq<S, not_at<name_other>> {};
struct kw_on : kw<TAO_PEGTL_STRING("on")> {};
struct kw_fragment : kw<TAO_PEGTL_STRING("fragment")> {};
struct kw_query : kw<TAO_PEGTL_STRING("query")> {};
struct kw_mutation : kw<TAO_PEGTL_STRING("mutation")> {};
struct kw_subscription : kw<TAO_PEGTL_STRING("subscription")> {};

struct variable : seq<one<'$'>, name> {};
struct int_part : seq<opt<one<'-'>>, sor<one<'0'>, seq<range<'1', '9'>, star<digit>>>> {};
struct fraction : seq<one<'.'>, plus<digit>> {};
struct exponent : seq<one<'e', 'E'>, opt<one<'+', '-'>>, plus<digit>> {};
// A number may not run into a name, a dot or (after 0) a digit: "0x1", "1.", "01".
struct number_end : not_at<sor<name_first, one<'.'>, digit>> {};
struct float_value : seq<int_part, sor<seq<fraction, opt<exponent>>, exponent>, number_end> {};
struct int_value : seq<int_part, number_end> {};
struct escaped_unicode : seq<one<'u'>, rep<4, xdigit>> {};
struct str_escape : seq<one<'\\'>, sor<escaped_unicode, one<'"', '\\', '/', 'b', 'f', 'n', 'r', 't'>>> {};
struct str_char : sor<str_escape, not_one<'"', '\\', '\n', '\r'>> {};
struct string_value : seq<one<'"'>, star<str_char>, one<'"'>> {};
struct triple : string<'"', '"', '"'> {};
struct block_string : seq<triple, star<sor<string<'\\', '"', '"', '"'>, seq<not_at<triple>, any>>>, triple> {};
struct lit_true : kw<TAO_PEGTL_STRING("true")> {};
struct lit_false : kw<TAO_PEGTL_STRING("false")> {};
struct lit_null : kw<TAO_PEGTL_STRING("null")> {};
struct enum_value : name {};

// ---- Values and types.
struct value;
struct list_value : seq<p<'['>, star<value>, p<']'>> {};
struct field_name;
struct object_field : seq<tk<field_name>, p<':'>, value> {};
struct object_value : seq<p<'{'>, star<object_field>, p<'}'>> {};
struct value : sor<tk<variable>, tk<float_value>, tk<int_value>, tk<block_string>, tk<string_value>, tk<lit_true>,
                   tk<lit_false>, tk<lit_null>, tk<enum_value>, list_value, object_value> {};

struct type_ref;
struct named_type : name {};
struct list_type : seq<p<'['>, type_ref, p<']'>> {};
struct non_null : p<'!'> {};
struct type_ref : seq<sor<list_type, tk<named_type>>, opt<non_null>> {};

// ---- Selections.
struct field_name : name {};
struct alias_name : name {};
struct arg_name : name {};
struct directive_name : name {};
struct argument : seq<tk<arg_name>, p<':'>, value> {};
struct arguments : seq<p<'('>, plus<argument>, p<')'>> {};
struct directive : seq<p<'@'>, tk<directive_name>, opt<arguments>> {};
struct directives : star<directive> {};
struct selection_set;
struct field : seq<opt<tk<alias_name>, p<':'>>, tk<field_name>, opt<arguments>, directives, opt<selection_set>> {};
struct dots : tk<string<'.', '.', '.'>> {};
struct fragment_name : seq<not_at<kw_on>, name> {};
struct cond_type : name {};
struct type_condition : seq<tk<kw_on>, tk<cond_type>> {};
struct fragment_spread : seq<dots, tk<fragment_name>, directives> {};
struct inline_fragment : seq<dots, opt<type_condition>, directives, selection_set> {};
struct selection : sor<fragment_spread, inline_fragment, field> {};
struct selection_set : seq<p<'{'>, plus<selection>, p<'}'>> {};

// ---- Definitions.
struct operation_type : sor<kw_query, kw_mutation, kw_subscription> {};
struct op_name : name {};
struct default_value : seq<p<'='>, value> {};
struct variable_definition : seq<tk<variable>, p<':'>, type_ref, opt<default_value>, directives> {};
struct variable_definitions : seq<p<'('>, plus<variable_definition>, p<')'>> {};
struct operation_definition
    : sor<selection_set, seq<tk<operation_type>, opt<tk<op_name>>, opt<variable_definitions>, directives, selection_set>> {};
struct fragment_definition : seq<tk<kw_fragment>, tk<fragment_name>, type_condition, directives, selection_set> {};
struct definition : sor<operation_definition, fragment_definition> {};
struct document : seq<sep, definition, star<definition>, eof> {};

}  // namespace grammar

namespace {

namespace pt = tao::pegtl::parse_tree;
namespace g = grammar;
using Node = pt::node;

template <typename Rule>
using selector = pt::selector<
    Rule,
    pt::store_content::on<g::variable, g::float_value, g::int_value, g::string_value, g::block_string, g::lit_true,
                          g::lit_false, g::lit_null, g::enum_value, g::list_value, g::object_field, g::object_value,
                          g::named_type, g::list_type, g::non_null, g::type_ref, g::field_name, g::alias_name,
                          g::arg_name, g::directive_name, g::argument, g::directive, g::field, g::fragment_name,
                          g::cond_type, g::fragment_spread, g::inline_fragment, g::selection_set, g::operation_type,
                          g::op_name, g::default_value, g::variable_definition, g::operation_definition,
                          g::fragment_definition>>;

Location loc_of(const Node& n) {
  auto pos = n.begin();
  return {static_cast<int>(pos.line), static_cast<int>(pos.column)};
}

void put_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A quoted string's value (the grammar has checked its escapes).
std::string unquote(std::string_view s) {
  std::string out;
  s = s.substr(1, s.size() - 2);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    char c = s[++i];
    switch (c) {
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        uint32_t cp = std::stoul(std::string(s.substr(i + 1, 4)), nullptr, 16);
        i += 4;
        // A surrogate pair is one code point; a lone surrogate is U+FFFD.
        if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < s.size() + 1 && s.substr(i + 1, 2) == "\\u") {
          uint32_t lo = std::stoul(std::string(s.substr(i + 3, 4)), nullptr, 16);
          if (lo >= 0xDC00 && lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          }
        }
        if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;
        put_utf8(cp, out);
        break;
      }
      default: out += c;
    }
  }
  return out;
}

// The specification's BlockStringValue: common indentation and blank first
// and last lines removed, \""" unescaped.
std::string block_value(std::string_view s) {
  std::string raw(s.substr(3, s.size() - 6));
  for (size_t at; (at = raw.find("\\\"\"\"")) != std::string::npos;) raw.replace(at, 4, "\"\"\"");
  std::vector<std::string> lines;
  std::string cur;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r' || raw[i] == '\n') {
      if (raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
      lines.push_back(cur);
      cur.clear();
    } else {
      cur += raw[i];
    }
  }
  lines.push_back(cur);
  size_t common = std::string::npos;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t indent = lines[i].find_first_not_of(" \t");
    if (indent != std::string::npos) common = std::min(common, indent);
  }
  if (common != std::string::npos)
    for (size_t i = 1; i < lines.size(); ++i) lines[i] = lines[i].size() >= common ? lines[i].substr(common) : "";
  auto blank = [](const std::string& l) { return l.find_first_not_of(" \t") == std::string::npos; };
  while (!lines.empty() && blank(lines.front())) lines.erase(lines.begin());
  while (!lines.empty() && blank(lines.back())) lines.pop_back();
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) out += (i ? "\n" : "") + lines[i];
  return out;
}

class Builder {
 public:
  Value value(const Node& n) {
    Value v;
    v.loc = loc_of(n);
    if (n.is_type<g::variable>()) {
      v.kind = Value::Kind::kVariable;
      v.text = n.string().substr(1);
    } else if (n.is_type<g::int_value>()) {
      v.kind = Value::Kind::kInt;
      v.text = n.string();
    } else if (n.is_type<g::float_value>()) {
      v.kind = Value::Kind::kFloat;
      v.text = n.string();
    } else if (n.is_type<g::string_value>()) {
      v.kind = Value::Kind::kString;
      v.text = unquote(n.string_view());
    } else if (n.is_type<g::block_string>()) {
      v.kind = Value::Kind::kString;
      v.text = block_value(n.string_view());
    } else if (n.is_type<g::lit_true>() || n.is_type<g::lit_false>()) {
      v.kind = Value::Kind::kBoolean;
      v.boolean = n.is_type<g::lit_true>();
    } else if (n.is_type<g::lit_null>()) {
      v.kind = Value::Kind::kNull;
    } else if (n.is_type<g::enum_value>()) {
      v.kind = Value::Kind::kEnum;
      v.text = n.string();
    } else if (n.is_type<g::list_value>()) {
      v.kind = Value::Kind::kList;
      for (const auto& c : n.children) v.list.push_back(value(*c));
    } else if (n.is_type<g::object_value>()) {
      v.kind = Value::Kind::kObject;
      for (const auto& f : n.children) v.fields.push_back({f->children[0]->string(), value(*f->children[1])});
    }
    return v;
  }

  TypeRef type(const Node& n) {  // a type_ref
    const Node& inner = *n.children[0];
    TypeRef t = inner.is_type<g::list_type>() ? TypeRef::list(type(*inner.children[0])) : TypeRef::named(inner.string());
    return n.children.size() > 1 ? TypeRef::non_null(std::move(t)) : t;
  }

  std::vector<Argument> arguments(const Node& n, size_t& i) {
    std::vector<Argument> out;
    for (; i < n.children.size() && n.children[i]->is_type<g::argument>(); ++i) {
      const Node& a = *n.children[i];
      out.push_back({a.children[0]->string(), value(*a.children[1]), loc_of(a)});
    }
    return out;
  }

  std::vector<Directive> directives(const Node& n, size_t& i) {
    std::vector<Directive> out;
    for (; i < n.children.size() && n.children[i]->is_type<g::directive>(); ++i) {
      const Node& d = *n.children[i];
      size_t j = 1;
      out.push_back({d.children[0]->string(), arguments(d, j), loc_of(d)});
    }
    return out;
  }

  SelectionSet selections(const Node& set) {
    SelectionSet out;
    for (const auto& c : set.children) {
      const Node& n = *c;
      Selection s;
      s.loc = loc_of(n);
      size_t i = 0;
      if (n.is_type<g::field>()) {
        s.kind = Selection::Kind::kField;
        if (n.children[i]->is_type<g::alias_name>()) s.alias = n.children[i++]->string();
        s.name = n.children[i++]->string();
        s.args = arguments(n, i);
      } else if (n.is_type<g::fragment_spread>()) {
        s.kind = Selection::Kind::kFragmentSpread;
        s.name = n.children[i++]->string();
      } else {
        s.kind = Selection::Kind::kInlineFragment;
        if (i < n.children.size() && n.children[i]->is_type<g::cond_type>()) s.type_condition = n.children[i++]->string();
      }
      s.directives = directives(n, i);
      if (i < n.children.size() && n.children[i]->is_type<g::selection_set>()) {
        s.has_selections = true;
        s.selections = selections(*n.children[i]);
      }
      out.push_back(std::move(s));
    }
    return out;
  }

  void definition(const Node& n, Document& doc) {
    size_t i = 0;
    if (n.is_type<g::fragment_definition>()) {
      Fragment f;
      f.loc = loc_of(n);
      f.name = n.children[i++]->string();
      f.type_condition = n.children[i++]->string();
      f.directives = directives(n, i);
      f.selections = selections(*n.children[i]);
      doc.fragments.push_back(std::move(f));
      return;
    }
    Operation op;
    op.loc = loc_of(n);
    if (n.children[0]->is_type<g::selection_set>()) {  // the query shorthand
      op.selections = selections(*n.children[0]);
      doc.operations.push_back(std::move(op));
      return;
    }
    std::string op_type = n.children[i++]->string();
    op.type = op_type == "mutation" ? OperationType::kMutation
              : op_type == "subscription" ? OperationType::kSubscription
                                          : OperationType::kQuery;
    if (n.children[i]->is_type<g::op_name>()) op.name = n.children[i++]->string();
    for (; n.children[i]->is_type<g::variable_definition>(); ++i) {
      const Node& d = *n.children[i];
      VariableDefinition v;
      v.loc = loc_of(d);
      v.name = d.children[0]->string().substr(1);
      v.type = type(*d.children[1]);
      size_t j = 2;
      if (j < d.children.size() && d.children[j]->is_type<g::default_value>()) v.default_value = value(*d.children[j++]->children[0]);
      directives(d, j);
      op.variables.push_back(std::move(v));
    }
    op.directives = directives(n, i);
    op.selections = selections(*n.children[i]);
    doc.operations.push_back(std::move(op));
  }
};

// What stands at `p`, as graphql-js names a token in its errors.
std::string token_at(const char* p, const char* end) {
  if (p >= end) return "<EOF>";
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (word(*p) && !std::isdigit(static_cast<unsigned char>(*p))) {
    const char* q = p;
    while (q < end && word(*q)) ++q;
    return "Name \"" + std::string(p, q) + "\"";
  }
  if (*p == '"') return "String";
  if (std::isdigit(static_cast<unsigned char>(*p)) || *p == '-') return "Int";
  return "\"" + std::string(1, *p) + "\"";
}

// Records the furthest point of the text any rule was tried at: where a
// document that does not parse goes wrong.
template <typename Rule>
struct furthest : tao::pegtl::normal<Rule> {
  template <typename Input>
  static void start(const Input& in, const char*& far) {
    if (in.current() > far) far = in.current();
  }
};

// The nesting of brackets outside strings and comments: checked before the
// recursive grammar runs, so that no document can exhaust the stack.
bool nesting_within(std::string_view text, int limit, size_t* where) {
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '#') {
      while (i < text.size() && text[i] != '\n' && text[i] != '\r') ++i;
    } else if (c == '"') {
      if (text.compare(i, 3, "\"\"\"") == 0) {
        size_t end = i + 3;
        while (end < text.size() && text.compare(end, 3, "\"\"\"") != 0) end += text[end] == '\\' ? 2 : 1;
        i = end + 2;
      } else {
        ++i;
        while (i < text.size() && text[i] != '"' && text[i] != '\n') i += text[i] == '\\' ? 2 : 1;
      }
    } else if (c == '{' || c == '[' || c == '(') {
      if (++depth > limit) {
        *where = i;
        return false;
      }
    } else if (c == '}' || c == ']' || c == ')') {
      --depth;
    }
  }
  return true;
}

}  // namespace

std::optional<Document> parse_document(std::string_view source, Error* error) {
  // A GraphQL document is Unicode text: a server in JavaScript decodes the
  // request's bytes as UTF-8, each byte that starts no well-formed sequence
  // becoming U+FFFD, before graphql-js sees it. So here, so that no string
  // of the document (a literal printed in a message, a value given to the
  // API) holds what cannot be encoded.
  std::string coerced;
  if (!valid_utf8(source)) coerced = coerce_utf8(source);
  std::string_view text = coerced.empty() ? source : std::string_view(coerced);
  namespace pegtl = tao::pegtl;
  auto fail = [&](size_t at, const std::string& message) {
    int line = 1, column = 1;
    for (size_t i = 0; i < at && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    *error = {message, {{line, column}}, nullptr};
    return std::nullopt;
  };
  size_t deep = 0;
  if (!nesting_within(text, kMaxNesting, &deep))
    return fail(deep, "Syntax Error: The document nests deeper than " + std::to_string(kMaxNesting) + " levels.");
  pegtl::memory_input in(text.data(), text.size(), "query");
  std::unique_ptr<Node> root;
  try {
    root = pt::parse<g::document, selector>(in);
  } catch (const pegtl::parse_error& e) {
    size_t at = e.positions().empty() ? 0 : e.positions().front().byte;
    return fail(at, "Syntax Error: " + std::string(e.message()));
  }
  if (!root) {
    // Where the parse stopped: the furthest any rule was tried.
    pegtl::memory_input again(text.data(), text.size(), "query");
    const char* far = text.data();
    pegtl::parse<g::document, pegtl::nothing, furthest>(again, far);
    std::string found = token_at(far, text.data() + text.size());
    return fail(static_cast<size_t>(far - text.data()), "Syntax Error: Unexpected " + found + ".");
  }
  Document doc;
  Builder b;
  for (const auto& c : root->children) b.definition(*c, doc);
  return doc;
}

// ---- document.h

OrderedJson error_json(const Error& e) {
  OrderedJson out = {{"message", e.message}};
  if (!e.locations.empty()) {
    OrderedJson locs = OrderedJson::array();
    for (const auto& l : e.locations) locs.push_back({{"line", l.line}, {"column", l.column}});
    out["locations"] = locs;
  }
  if (!e.path.is_null()) out["path"] = OrderedJson(e.path);
  return out;
}

TypeRef TypeRef::named(std::string n) {
  TypeRef t;
  t.name = std::move(n);
  return t;
}
TypeRef TypeRef::list(TypeRef t) {
  TypeRef out;
  out.wrap = Wrap::kList;
  out.of = std::make_shared<const TypeRef>(std::move(t));
  return out;
}
TypeRef TypeRef::non_null(TypeRef t) {
  TypeRef out;
  out.wrap = Wrap::kNonNull;
  out.of = std::make_shared<const TypeRef>(std::move(t));
  return out;
}
const std::string& TypeRef::named_type() const { return wrap == Wrap::kNamed ? name : of->named_type(); }
std::string TypeRef::to_string() const {
  switch (wrap) {
    case Wrap::kNamed: return name;
    case Wrap::kList: return "[" + of->to_string() + "]";
    case Wrap::kNonNull: return of->to_string() + "!";
  }
  return name;
}
bool TypeRef::operator==(const TypeRef& o) const {
  if (wrap != o.wrap) return false;
  return wrap == Wrap::kNamed ? name == o.name : *of == *o.of;
}

const char* operation_type_name(OperationType t) {
  switch (t) {
    case OperationType::kQuery: return "query";
    case OperationType::kMutation: return "mutation";
    case OperationType::kSubscription: return "subscription";
  }
  return "query";
}

const Fragment* Document::fragment(const std::string& name) const {
  for (const auto& f : fragments)
    if (f.name == name) return &f;
  return nullptr;
}

}  // namespace pmesh::graphql
