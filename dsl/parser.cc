// The parser drives the PEGTL grammar (grammar.h) one declaration at a time
// and turns each parse tree into AST nodes (class Builder).
#include "dsl/parser.h"

#include <tao/pegtl/contrib/parse_tree.hpp>

#include <charconv>
#include <cstring>

#include "dsl/grammar.h"
#include "dsl/kind_schema.h"
#include "dsl/printer_column.h"

namespace pmesh::dsl {
namespace {

namespace pt = tao::pegtl::parse_tree;
namespace g = grammar;
using Node = pt::node;

// Replaces a node by its only child; keeps a node with several children
// (and its source range, unlike PEGTL's fold_one).
struct fold_keep : pt::apply<fold_keep> {
  template <typename N, typename... States>
  static void transform(std::unique_ptr<N>& n, States&&...) {
    if (n->children.size() == 1) n = std::move(n->children.front());
  }
};

template <typename Rule>
using selector = pt::selector<
    Rule,
    pt::store_content::on<
        g::var_ref, g::var_bind, g::member, g::func_name, g::kind_name, g::rel_name, g::param,
        g::rule_name, g::module_name, g::int_lit, g::float_lit, g::lit_true, g::lit_false,
        g::lit_null, g::str_chars, g::str_escape, g::op_mul, g::op_add, g::op_cmp, g::agg_kind,
        g::set_op, g::bare_word, g::bare_key, g::obj_ref, g::when_op, g::expect_no,
        g::priority_value, g::dl_neg, g::str_lit, g::call, g::list_lit, g::obj_entry, g::obj_lit,
        g::aggregate, g::agg_result, g::field_access, g::safe_access, g::index_access,
        g::neg_expr, g::not_op, g::dyn_kind, g::in_clause, g::ns_clause, g::named_clause,
        g::labels_clause, g::obj_pattern, g::tuple_pattern, g::each_item, g::for_item, g::opt_item, g::on_item, g::admit_op,
        g::let_item, g::where_item, g::not_item, g::body, g::path_member, g::field_path,
        g::editable_mark, g::late_mark, g::field_init, g::derive_obj, g::derive_item, g::set_item, g::refuse_item, g::delete_item, g::set_path, g::rule_decl,
        g::dl_atom, g::dl_rule, g::rel_params, g::relation_key, g::relation_log, g::relation_decl, g::fn_decl, g::data_entry,
        g::data_obj, g::data_list, g::kind_decl, g::module_decl, g::import_decl,
        g::step_tuple, g::step_object, g::given_step, g::when_step, g::step_as, g::expect_error,
        g::expect_step, g::test_decl>,
    fold_keep::on<g::postfix, g::mul_expr, g::add_expr, g::cmp_expr, g::and_expr, g::or_expr,
                  g::coalesce, g::cond_expr>>;

// What stands where the parser failed: a word, a character, or the end.
std::string found_at(const char* p, const char* end) {
  if (p >= end) return "the end of the file";
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  const char* q = p;
  if (word(*q)) {
    while (q < end && word(*q)) ++q;
  } else {
    ++q;
  }
  std::string tok(p, q);
  if (tok == "\n") return "the end of the line";
  return "`" + tok + "`";
}

template <typename Rule>
struct control : tao::pegtl::normal<Rule> {
  template <typename Input, typename... States>
  [[noreturn]] static void raise(const Input& in, States&&...) {
    std::string found = ", found " + found_at(in.current(), in.end());
    if constexpr (g::expected<Rule> != nullptr) {
      throw tao::pegtl::parse_error(std::string("expected ") + g::expected<Rule> + found, in);
    } else {
      throw tao::pegtl::parse_error(
          "unexpected input (in " + std::string(tao::pegtl::demangle<Rule>()) + ")" + found, in);
    }
  }
};

template <typename T>
bool is(const Node& n) {
  return n.is_type<T>();
}

class Builder {
 public:
  Builder(SourceFilePtr file, DiagnosticSink& diags) : file_(std::move(file)), diags_(diags) {}

  Span span(const Node& n) const {
    uint32_t b = offset(n.m_begin.data);
    uint32_t e = offset(n.m_end.data);
    while (e > b && std::isspace(static_cast<unsigned char>(file_->text[e - 1]))) --e;
    return {file_.get(), b, e};
  }
  Span span_at(uint32_t off) const { return {file_.get(), off, off + 1}; }
  uint32_t offset(const char* p) const { return static_cast<uint32_t>(p - file_->text.data()); }

  void decl(const Node& n, Module& m) {
    if (is<g::module_decl>(n)) {
      if (!m.name.empty()) diags_.error(span(n), "a module is named once; it is already `" + m.name + "`");
      m.name = n.children[0]->string();
      m.name_span = span(*n.children[0]);
    } else if (is<g::import_decl>(n)) {
      m.imports.push_back({span(*n.children[0]), n.children[0]->string()});
    } else if (is<g::kind_decl>(n)) {
      m.kinds.push_back(kind_decl(n));
    } else if (is<g::rule_decl>(n)) {
      m.rules.push_back(rule_decl(n));
    } else if (is<g::relation_decl>(n)) {
      relation_decl(n, m);
    } else if (is<g::fn_decl>(n)) {
      FunctionDecl f;
      f.span = span(n);
      f.name = n.children[0]->string();
      for (const auto& c : n.children[1]->children) f.params.push_back(c->string());
      f.body = expr(*n.children[2]);
      m.functions.push_back(std::move(f));
    } else if (is<g::test_decl>(n)) {
      m.tests.push_back(test_decl(n));
    }
  }

  // ---- Expressions ---------------------------------------------------------

  ExprPtr make(ExprKind k, const Node& n) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->span = span(n);
    return e;
  }

  ExprPtr expr(const Node& n) {
    if (is<g::int_lit>(n)) {
      auto e = make(ExprKind::kInt, n);
      std::string s = n.string();
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), e->int_value);
      if (ec != std::errc()) diags_.error(e->span, "integer literal out of range: " + s);
      return e;
    }
    if (is<g::float_lit>(n)) {
      auto e = make(ExprKind::kFloat, n);
      e->float_value = std::strtod(n.string().c_str(), nullptr);
      return e;
    }
    if (is<g::lit_true>(n) || is<g::lit_false>(n)) {
      auto e = make(ExprKind::kBool, n);
      e->bool_value = is<g::lit_true>(n);
      return e;
    }
    if (is<g::lit_null>(n)) return make(ExprKind::kNull, n);
    if (is<g::str_lit>(n)) return string_lit(n);
    if (is<g::bare_word>(n) || is<g::bare_key>(n)) {
      auto e = make(ExprKind::kString, n);
      e->text = n.string();
      return e;
    }
    if (is<g::var_ref>(n)) {
      auto e = make(ExprKind::kVar, n);
      e->text = n.string();
      return e;
    }
    if (is<g::call>(n)) {
      auto e = make(ExprKind::kCall, n);
      e->text = n.children[0]->string();
      for (size_t i = 1; i < n.children.size(); ++i) e->args.push_back(expr(*n.children[i]));
      return e;
    }
    if (is<g::list_lit>(n) || is<g::data_list>(n)) {
      auto e = make(ExprKind::kList, n);
      for (const auto& c : n.children) e->args.push_back(expr(*c));
      return e;
    }
    if (is<g::obj_lit>(n) || is<g::data_obj>(n)) {
      auto e = make(ExprKind::kObject, n);
      for (const auto& entry : n.children) {
        const Node& key = *entry->children[0];
        bool quoted = is<g::str_lit>(key);
        std::string k = quoted ? plain_string(key) : key.string();
        for (const auto& existing : e->keys)
          if (existing == k) diags_.error(span(key), "duplicate key `" + k + "`");
        e->keys.push_back(k);
        e->key_is_quoted.push_back(quoted);
        e->args.push_back(expr(*entry->children[1]));
      }
      return e;
    }
    if (is<g::aggregate>(n)) {
      auto e = make(ExprKind::kAggregate, n);
      std::string k = n.children[0]->string();
      e->agg = k == "count" ? AggKind::kCount
               : k == "any" ? AggKind::kAny
               : k == "all" ? AggKind::kAll
                            : AggKind::kCollect;
      e->body = body(*n.children[1]);
      if (n.children.size() > 2) e->args.push_back(expr(*n.children[2]->children[0]));
      return e;
    }
    if (is<g::postfix>(n)) {
      ExprPtr base = expr(*n.children[0]);
      for (size_t i = 1; i < n.children.size(); ++i) {
        const Node& s = *n.children[i];
        ExprPtr e;
        if (is<g::index_access>(s)) {
          e = make(ExprKind::kIndex, s);
          e->args.push_back(std::move(base));
          e->args.push_back(expr(*s.children[0]));
        } else {
          e = make(ExprKind::kField, s);
          e->text = s.children[0]->string();
          e->safe = is<g::safe_access>(s);
          e->args.push_back(std::move(base));
        }
        e->span.begin = e->args[0]->span.begin;
        base = std::move(e);
      }
      return base;
    }
    if (is<g::neg_expr>(n) || is<g::not_op>(n)) {
      auto e = make(ExprKind::kUnary, n);
      e->text = is<g::neg_expr>(n) ? "-" : "not";
      e->args.push_back(expr(*n.children[0]));
      return e;
    }
    if (is<g::mul_expr>(n) || is<g::add_expr>(n) || is<g::cmp_expr>(n)) {
      ExprPtr left = expr(*n.children[0]);
      for (size_t i = 1; i + 1 < n.children.size(); i += 2) {
        auto e = make(ExprKind::kBinary, n);
        std::string op = n.children[i]->string();
        if (op.rfind("not", 0) == 0) op = "not in";
        e->text = op;
        e->span.begin = left->span.begin;
        e->span.end = span(*n.children[i + 1]).end;
        e->args.push_back(std::move(left));
        e->args.push_back(expr(*n.children[i + 1]));
        left = std::move(e);
      }
      return left;
    }
    if (is<g::and_expr>(n) || is<g::or_expr>(n) || is<g::coalesce>(n)) {
      const char* op = is<g::and_expr>(n) ? "and" : is<g::or_expr>(n) ? "or" : "??";
      ExprPtr left = expr(*n.children[0]);
      for (size_t i = 1; i < n.children.size(); ++i) {
        auto e = make(ExprKind::kBinary, n);
        e->text = op;
        e->span.begin = left->span.begin;
        e->span.end = span(*n.children[i]).end;
        e->args.push_back(std::move(left));
        e->args.push_back(expr(*n.children[i]));
        left = std::move(e);
      }
      return left;
    }
    if (is<g::cond_expr>(n)) {
      auto e = make(ExprKind::kCond, n);
      for (const auto& c : n.children) e->args.push_back(expr(*c));
      return e;
    }
    diags_.error(span(n), "internal: unexpected node " + std::string(n.type));
    return make(ExprKind::kNull, n);
  }

  // Decodes escapes; `{` starts an interpolation unless escaped.
  ExprPtr string_lit(const Node& n) {
    auto e = make(ExprKind::kString, n);
    std::vector<ExprPtr> parts;
    std::string current;
    auto flush = [&](const Node& at) {
      if (current.empty()) return;
      auto s = make(ExprKind::kString, at);
      s->text = std::move(current);
      current.clear();
      parts.push_back(std::move(s));
    };
    for (const auto& c : n.children) {
      if (is<g::str_chars>(*c)) {
        current += c->string();
      } else if (is<g::str_escape>(*c)) {
        char ch = c->string()[1];
        switch (ch) {
          case 'n': current += '\n'; break;
          case 't': current += '\t'; break;
          case 'r': current += '\r'; break;
          case '\\': case '"': case '{': case '}': current += ch; break;
          default:
            diags_.error(span(*c), std::string("unknown escape `\\") + ch +
                                       "`; known: \\n \\t \\r \\\\ \\\" \\{ \\}");
        }
      } else {
        flush(*c);
        parts.push_back(expr(*c));
      }
    }
    bool interp = false;
    for (const auto& p : parts) interp |= p->kind != ExprKind::kString;
    if (!interp) {
      for (const auto& p : parts) current += p->text;
      e->text = std::move(current);
      return e;
    }
    flush(n);
    e->kind = ExprKind::kInterp;
    e->args = std::move(parts);
    return e;
  }

  std::string plain_string(const Node& n) {
    ExprPtr e = string_lit(n);
    if (e->kind != ExprKind::kString) diags_.error(e->span, "interpolation is not allowed here");
    return e->text;
  }

  // ---- Bodies and patterns -------------------------------------------------

  std::unique_ptr<Body> body(const Node& n) {
    auto b = std::make_unique<Body>();
    for (const auto& c : n.children) b->items.push_back(body_item(*c));
    return b;
  }

  KindRef kind_ref(const Node& n) {
    KindRef k;
    k.span = span(n);
    if (is<g::dyn_kind>(n)) {
      k.group = expr(*n.children[0]);
      k.resource = expr(*n.children[1]);
    } else {
      k.name = n.string();
    }
    return k;
  }

  // Fills cluster/namespace/name/labels from clause nodes.
  template <typename Target>
  void clause(const Node& c, Target& t) {
    if (is<g::in_clause>(c)) set_once(t.cluster, c, "in");
    else if (is<g::ns_clause>(c)) set_once(t.ns, c, "namespace");
    else if (is<g::named_clause>(c)) set_once(t.name, c, "named");
  }
  void set_once(ExprPtr& slot, const Node& c, const char* what) {
    if (slot) diags_.error(span(c), std::string("`") + what + "` is given twice");
    slot = expr(*c.children[0]);
  }

  ObjectPattern object_pattern(const Node& n, bool optional) {
    ObjectPattern p;
    p.span = span(n);
    p.var = n.children[0]->string();
    p.var_span = span(*n.children[0]);
    p.kind = kind_ref(*n.children[1]);
    p.optional = optional;
    for (size_t i = 2; i < n.children.size(); ++i) {
      const Node& c = *n.children[i];
      if (is<g::labels_clause>(c)) {
        ExprPtr obj = expr(*c.children[0]);
        for (size_t j = 0; j < obj->keys.size(); ++j)
          p.labels.emplace_back(obj->keys[j], std::move(obj->args[j]));
      } else {
        clause(c, p);
      }
    }
    return p;
  }

  TuplePattern tuple_pattern(const Node& n) {
    TuplePattern t;
    t.span = span(n);
    t.relation = n.children[0]->string();
    t.relation_span = span(*n.children[0]);
    for (size_t i = 1; i < n.children.size(); ++i) t.args.push_back(expr(*n.children[i]));
    return t;
  }

  BodyItem body_item(const Node& n) {
    BodyItem item;
    item.span = span(n);
    if (is<g::on_item>(n)) {
      item.kind = BodyItemKind::kObject;
      for (size_t i = 0; i + 1 < n.children.size(); ++i) item.object.on_ops.push_back(n.children[i]->string());
      std::vector<std::string> ops = std::move(item.object.on_ops);
      item.object = object_pattern(*n.children.back(), false);
      item.object.on_ops = std::move(ops);
    } else if (is<g::for_item>(n) || is<g::opt_item>(n)) {
      const Node& c = *n.children[0];
      if (is<g::tuple_pattern>(c)) {
        item.kind = BodyItemKind::kTuple;
        item.tuple = tuple_pattern(c);
      } else {
        item.kind = BodyItemKind::kObject;
        item.object = object_pattern(c, is<g::opt_item>(n));
      }
    } else if (is<g::let_item>(n) || is<g::each_item>(n)) {
      item.kind = BodyItemKind::kLet;
      item.each = is<g::each_item>(n);
      item.var = n.children[0]->string();
      item.var_span = span(*n.children[0]);
      item.expr = expr(*n.children[1]);
    } else if (is<g::where_item>(n)) {
      item.kind = BodyItemKind::kWhere;
      item.expr = expr(*n.children[0]);
    } else {  // not_item
      item.kind = BodyItemKind::kNot;
      const Node& c = *n.children[0];
      if (is<g::body>(c)) {
        item.negated = body(c);
      } else {
        item.negated = std::make_unique<Body>();
        BodyItem inner;
        inner.span = span(c);
        if (is<g::tuple_pattern>(c)) {
          inner.kind = BodyItemKind::kTuple;
          inner.tuple = tuple_pattern(c);
        } else {
          inner.kind = BodyItemKind::kObject;
          inner.object = object_pattern(c, false);
        }
        item.negated->items.push_back(std::move(inner));
      }
    }
    return item;
  }

  // ---- Heads and declarations -------------------------------------------------

  PathSeg path_seg(const Node& n) {
    PathSeg s;
    s.span = span(n);
    if (is<g::index_access>(n)) {
      s.key = expr(*n.children[0]);
    } else {
      s.field = n.children[0]->string();
      s.span = span(*n.children[0]);
    }
    return s;
  }

  Head head(const Node& n) {
    Head h;
    h.span = span(n);
    if (is<g::delete_item>(n)) {
      h.kind = HeadKind::kDelete;
      h.target = n.children[0]->string();
      h.target_span = span(*n.children[0]);
      return h;
    }
    if (is<g::refuse_item>(n)) {
      h.kind = HeadKind::kRefuse;
      h.value = expr(*n.children[0]);
      return h;
    }
    if (is<g::set_item>(n)) {
      h.kind = HeadKind::kSet;
      h.target = n.children[0]->string();
      h.target_span = span(*n.children[0]);
      for (const auto& s : n.children[1]->children) h.path.push_back(path_seg(*s));
      const std::string op = n.children[2]->string();
      h.op = op == "+=" ? SetOp::kAdd : op == "=" ? SetOp::kAssign : SetOp::kOrder;
      h.value = expr(*n.children[3]);
      return h;
    }
    const Node& t = *n.children[0];  // derive_item
    if (is<g::tuple_pattern>(t)) {
      h.kind = HeadKind::kDeriveTuple;
      h.tuple = tuple_pattern(t);
      return h;
    }
    h.kind = HeadKind::kDeriveObject;
    h.object_kind = kind_ref(*t.children[0]);
    for (size_t i = 1; i < t.children.size(); ++i) {
      const Node& c = *t.children[i];
      if (is<g::field_init>(c)) {
        FieldInit f;
        f.span = span(c);
        const Node& path = *c.children[0];
        PathSeg first;
        first.span = span(*path.children[0]);
        first.field = path.children[0]->string();
        f.path.push_back(std::move(first));
        for (size_t j = 1; j < path.children.size(); ++j) f.path.push_back(path_seg(*path.children[j]));
        f.editable = is<g::editable_mark>(*c.children[1]);
        f.value = expr(*c.children[f.editable ? 2 : 1]);
        h.fields.push_back(std::move(f));
      } else {
        clause(c, h);
      }
    }
    return h;
  }

  Rule rule_decl(const Node& n) {
    Rule r;
    r.span = span(n);
    r.name = n.children[0]->string();
    r.name_span = span(*n.children[0]);
    size_t i = 1;
    if (i < n.children.size() && is<g::priority_value>(*n.children[i])) {
      int64_t v = 0;
      std::string s = n.children[i]->string();
      std::from_chars(s.data(), s.data() + s.size(), v);
      r.priority = v;
      ++i;
    }
    if (i < n.children.size() && is<g::late_mark>(*n.children[i])) {
      r.late = true;
      ++i;
    }
    for (; i < n.children.size(); ++i) {
      const Node& c = *n.children[i];
      if (is<g::derive_item>(c) || is<g::set_item>(c) || is<g::refuse_item>(c) || is<g::delete_item>(c)) r.heads.push_back(head(c));
      else r.body.items.push_back(body_item(c));
    }
    return r;
  }

  void relation_decl(const Node& n, Module& m) {
    std::string name = n.children[0]->string();
    std::vector<std::string> params;
    for (const auto& c : n.children[1]->children) params.push_back(c->string());
    size_t next = 2;
    size_t key = 0;
    if (n.children.size() > next && is<g::relation_key>(*n.children[next])) {
      const Node& k = *n.children[next++];
      for (const auto& c : k.children) {
        if (key >= params.size() || c->string() != params[key]) {
          diags_.error(span(*c), "a relation's key is its first parameters, in order: `" + c->string() +
                                     "` is not parameter " + std::to_string(key + 1) + " of " + name);
          break;
        }
        ++key;
      }
      if (key == params.size())
        diags_.error(span(k), "a key of every parameter says nothing: leave it out");
    }
    bool log = false;
    if (n.children.size() > next && is<g::relation_log>(*n.children[next])) {
      log = true;
      ++next;
    }
    bool declared = false;
    for (auto& r : m.relations)
      if (r.name == name && r.params.size() == params.size()) {
        declared = true;
        if (key) r.key = key;
        r.log = r.log || log;
      }
    if (!declared) m.relations.push_back({span(n), name, params, key, log});
    if (n.children.size() <= next) return;
    // `relation r(a, b) :- s(a, c), t(c, b).` is a rule deriving r from s and t.
    Rule r;
    r.span = span(n);
    r.from_relation = true;
    int k = 1;
    for (const auto& other : m.rules) k += other.from_relation && other.heads[0].tuple.relation == name;
    r.name = name + "/" + std::to_string(k);
    r.name_span = span(*n.children[0]);
    for (const auto& atom : n.children[next]->children) {
      BodyItem item;
      item.span = span(*atom);
      bool neg = is<g::dl_neg>(*atom->children[0]);
      BodyItem t;
      t.span = item.span;
      t.kind = BodyItemKind::kTuple;
      t.tuple = tuple_pattern(*atom->children[neg ? 1 : 0]);
      if (neg) {
        item.kind = BodyItemKind::kNot;
        item.negated = std::make_unique<Body>();
        item.negated->items.push_back(std::move(t));
        r.body.items.push_back(std::move(item));
      } else {
        r.body.items.push_back(std::move(t));
      }
    }
    Head h;
    h.kind = HeadKind::kDeriveTuple;
    h.span = span(*n.children[0]);
    h.tuple.span = h.span;
    h.tuple.relation = name;
    h.tuple.relation_span = h.span;
    for (const auto& c : n.children[1]->children) {
      auto v = make(ExprKind::kVar, *c);
      v->text = c->string();
      h.tuple.args.push_back(std::move(v));
    }
    r.heads.push_back(std::move(h));
    m.rules.push_back(std::move(r));
  }

  static std::vector<std::string> string_list(const Expr& e) {
    std::vector<std::string> out;
    for (const auto& a : e.args) out.push_back(a->text);
    return out;
  }

  KindDecl kind_decl(const Node& n) {
    KindDecl k;
    k.span = span(n);
    k.name = n.children[0]->string();
    ExprPtr data = expr(*n.children[1]);
    for (size_t i = 0; i < data->keys.size(); ++i) {
      const std::string& key = data->keys[i];
      const Expr& v = *data->args[i];
      auto want = [&](ExprKind kind, const char* what) {
        bool ok = v.kind == kind;
        if (ok && kind == ExprKind::kList)
          for (const auto& a : v.args) ok &= a->kind == ExprKind::kString;
        if (!ok) diags_.error(v.span, "`" + key + "` takes " + what);
        return ok;
      };
      if (key == "group") { if (want(ExprKind::kString, "a string")) k.group = v.text; }
      else if (key == "version") { if (want(ExprKind::kString, "a string")) k.version = v.text; }
      else if (key == "plural") { if (want(ExprKind::kString, "a string")) k.plural = v.text; }
      else if (key == "storageVersion") { if (want(ExprKind::kString, "a version")) k.storage_version = v.text; }
      else if (key == "conversion") { if (want(ExprKind::kString, "a converter's name")) k.conversion = v.text; }
      else if (key == "singular") { if (want(ExprKind::kString, "a string")) k.singular = v.text; }
      else if (key == "shortNames") { if (want(ExprKind::kList, "a list of names")) k.short_names = string_list(v); }
      else if (key == "categories") { if (want(ExprKind::kList, "a list of names")) k.categories = string_list(v); }
      else if (key == "sections") { if (want(ExprKind::kList, "a list of names")) k.sections = string_list(v); }
      else if (key == "scope") {
        if (want(ExprKind::kString, "Cluster or Namespaced")) {
          if (v.text == "Cluster") k.scope = Scope::kCluster;
          else if (v.text == "Namespaced") k.scope = Scope::kNamespaced;
          else diags_.error(v.span, "scope is `Cluster` or `Namespaced`, not `" + v.text + "`");
        }
      } else if (key == "subresources") {
        if (want(ExprKind::kList, "a list of names")) {
          for (const auto& a : v.args) {
            if (a->text == "status") k.status_subresource = true;
            else diags_.error(a->span, "unknown subresource `" + a->text + "`; known: status");
          }
        }
      } else if (key == "unconditionalUpdate") {
        if (v.kind != ExprKind::kBool) diags_.error(v.span, "`unconditionalUpdate` takes true or false");
        else k.unconditional_update = v.bool_value;
      } else if (key == "createOnUpdate") {
        if (v.kind != ExprKind::kBool) diags_.error(v.span, "`createOnUpdate` takes true or false");
        else k.create_on_update = v.bool_value;
      } else if (key == "systemFields") {
        if (want(ExprKind::kList, "a list of dotted paths")) k.system_fields = string_list(v);
      } else if (key == "fieldLabels") {
        if (want(ExprKind::kList, "a list of dotted paths")) k.field_labels = string_list(v);
      } else if (key == "nameValidation") {
        if (want(ExprKind::kString, "DNS1123Subdomain, DNS1123Label or PathSegment")) {
          if (v.text == "DNS1123Label") k.names = NameValidation::kDNS1123Label;
          else if (v.text == "PathSegment") k.names = NameValidation::kPathSegment;
          else if (v.text != "DNS1123Subdomain")
            diags_.error(v.span, "nameValidation is `DNS1123Subdomain`, `DNS1123Label` or `PathSegment`, not `" + v.text + "`");
        }
      } else if (key == "printerColumns") {
        if (v.kind != ExprKind::kList) diags_.error(v.span, "`printerColumns` takes a list of columns");
        else
          for (const auto& c : v.args) k.printer_columns.push_back(printer_column(*c, diags_));
      } else if (key == "schema") {
        k.schema = kind_schema(v, diags_);
        if (k.schema) k.schema_defaults = schema_defaults(*k.schema);
      } else if (key == "listKeys") {
        if (v.kind != ExprKind::kObject) diags_.error(v.span, "`listKeys` takes an object { path: keyField }");
        else
          for (size_t j = 0; j < v.keys.size(); ++j) k.list_keys[v.keys[j]] = v.args[j]->text;
      } else {
        diags_.error(span_of_key(*data, i),
                     "unknown kind attribute `" + key +
                         "`; known: group, version, plural, singular, shortNames, categories, "
                         "scope, sections, subresources, unconditionalUpdate, createOnUpdate, listKeys, systemFields, fieldLabels, nameValidation, "
                         "printerColumns, schema, storageVersion, conversion");
      }
    }
    if (k.version.empty()) diags_.error(k.span, "kind " + k.name + " needs a `version`");
    if (k.plural.empty()) diags_.error(k.span, "kind " + k.name + " needs a `plural`");
    if (k.singular.empty()) {
      for (char c : k.name) k.singular += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (!k.conversion.empty() && k.storage_version.empty())
      diags_.error(k.span, "kind " + k.name + " names a `conversion` but no `storageVersion`");
    if (k.status_subresource && !k.has_section("status"))
      diags_.error(k.span, "kind " + k.name + " has a status subresource but no `status` section");
    return k;
  }

  Span span_of_key(const Expr& obj, size_t i) const {
    // Keys carry no node of their own; point at the start of the value's line.
    Span s = obj.args[i]->span;
    uint32_t b = s.begin;
    while (b > 0 && file_->text[b - 1] != '\n' && file_->text[b - 1] != '{' &&
           file_->text[b - 1] != ',')
      --b;
    while (b < s.begin && std::isspace(static_cast<unsigned char>(file_->text[b]))) ++b;
    return {file_.get(), b, s.begin};
  }

  // ---- Tests ---------------------------------------------------------------------

  void step_target(const Node& n, TestStep& s) {
    if (is<g::step_tuple>(n)) {
      s.is_tuple = true;
      s.relation = n.children[0]->string();
      for (size_t i = 1; i < n.children.size(); ++i) s.tuple_args.push_back(expr(*n.children[i]));
      return;
    }
    s.kind_name = n.children[0]->string();
    s.kind_span = span(*n.children[0]);
    s.ref = n.children[1]->string();
    size_t slashes = std::count(s.ref.begin(), s.ref.end(), '/');
    if (slashes < 1 || slashes > 2 || s.ref.front() == '/' || s.ref.back() == '/')
      diags_.error(span(*n.children[1]),
                   "object reference `" + s.ref + "` is not `cluster/name` or `cluster/namespace/name`");
    if (n.children.size() > 2) s.data = expr(*n.children[2]);
  }

  TestDecl test_decl(const Node& n) {
    TestDecl t;
    t.span = span(n);
    t.name = plain_string(*n.children[0]);
    for (size_t i = 1; i < n.children.size(); ++i) {
      const Node& c = *n.children[i];
      TestStep s;
      s.span = span(c);
      if (is<g::given_step>(c)) {
        s.kind = StepKind::kGiven;
        step_target(*c.children[0], s);
        if (c.children.size() > 1) s.as = expr(*c.children[1]->children[0]);
      } else if (is<g::when_step>(c)) {
        std::string op = c.children[0]->string();
        s.kind = op == "create" ? StepKind::kCreate : op == "update" ? StepKind::kUpdate : StepKind::kDelete;
        step_target(*c.children[1], s);
        if (c.children.size() > 2) s.as = expr(*c.children[2]->children[0]);
      } else {  // expect_step
        const Node& w = *c.children[0];
        if (is<g::expect_error>(w)) {
          s.kind = StepKind::kExpectError;
          s.error_text = plain_string(*w.children[0]);
        } else if (is<g::expect_no>(w)) {
          s.kind = StepKind::kExpectNo;
          step_target(*c.children[1], s);
        } else {
          s.kind = StepKind::kExpect;
          step_target(w, s);
        }
      }
      t.steps.push_back(std::move(s));
    }
    return t;
  }

 private:
  SourceFilePtr file_;
  DiagnosticSink& diags_;
};

bool line_starts_declaration(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  static const char* kws[] = {"module", "import", "kind", "rule", "relation", "fn", "test"};
  for (const char* kw : kws) {
    size_t n = std::strlen(kw);
    if (line.substr(i, n) == kw && (i + n == line.size() || std::isspace(static_cast<unsigned char>(line[i + n]))))
      return true;
  }
  return false;
}

// Where to resume after an error at `from` in a declaration that started at
// `start`: the first line after `start` that starts a declaration at or after
// `from` (the error may sit on the keyword of the next declaration), or the
// end of the text.
size_t recovery_point(const std::string& text, size_t start, size_t from) {
  size_t line = text.rfind('\n', from == 0 ? 0 : from - 1);
  line = line == std::string::npos ? 0 : line + 1;
  while (line < text.size()) {
    size_t end = text.find('\n', line);
    if (end == std::string::npos) end = text.size();
    std::string_view l(text.data() + line, end - line);
    size_t indent = l.find_first_not_of(" \t");
    if (line > start && indent != std::string_view::npos && line + indent >= from && line_starts_declaration(l))
      return line;
    line = end + 1;
  }
  return text.size();
}

size_t skip_separation(const std::string& text, size_t pos) {
  tao::pegtl::memory_input<> in(text.data() + pos, text.data() + text.size(), "");
  tao::pegtl::parse<g::sep>(in);
  return static_cast<size_t>(in.current() - text.data());
}

template <typename Rule>
std::unique_ptr<Node> parse_at(const SourceFile& file, size_t pos, size_t* end) {
  LineCol lc = file.position(static_cast<uint32_t>(pos));
  tao::pegtl::memory_input<> in(file.text.data() + pos, file.text.data() + file.text.size(), file.path,
                                pos, lc.line, lc.column);
  auto root = pt::parse<Rule, selector, tao::pegtl::nothing, control>(in);
  *end = static_cast<size_t>(in.current() - file.text.data());
  return root;
}

}  // namespace

Module parse_module(SourceFilePtr file, DiagnosticSink& diags) {
  diags.retain(file);
  Module m;
  m.file = file;
  Builder b(file, diags);
  const std::string& text = file->text;
  size_t pos = skip_separation(text, 0);
  while (pos < text.size()) {
    try {
      size_t end = pos;
      auto root = parse_at<g::decl>(*file, pos, &end);
      if (!root || root->children.empty()) {
        diags.error(b.span_at(static_cast<uint32_t>(pos)),
                    "expected a declaration: module, import, kind, rule, relation, fn or test");
        pos = recovery_point(text, pos, pos);
        continue;
      }
      b.decl(*root->children[0], m);
      pos = end;
    } catch (const tao::pegtl::parse_error& e) {
      size_t at = e.positions().empty() ? pos : e.positions().front().byte;
      diags.error(b.span_at(static_cast<uint32_t>(at)), std::string(e.message()));
      pos = recovery_point(text, pos, std::max(at, pos));
    }
  }
  if (m.name.empty()) {
    // A file without `module` is named after its path: policies/accounts.rules -> accounts.
    std::string p = file->path;
    size_t slash = p.find_last_of('/');
    std::string base = slash == std::string::npos ? p : p.substr(slash + 1);
    m.name = base.substr(0, base.find('.'));
  }
  return m;
}

ExprPtr parse_expression(SourceFilePtr file, DiagnosticSink& diags) {
  diags.retain(file);
  Builder b(file, diags);
  try {
    size_t end = 0;
    auto root = parse_at<tao::pegtl::seq<g::sep, g::expr, tao::pegtl::eof>>(*file, 0, &end);
    if (root && !root->children.empty()) return b.expr(*root->children[0]);
    diags.error(b.span_at(static_cast<uint32_t>(end)), "expected an expression");
  } catch (const tao::pegtl::parse_error& e) {
    size_t at = e.positions().empty() ? 0 : e.positions().front().byte;
    diags.error(b.span_at(static_cast<uint32_t>(at)), std::string(e.message()));
  }
  return nullptr;
}

}  // namespace pmesh::dsl
