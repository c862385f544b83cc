// The PEGTL grammar of the rules language.
//
// Included only by parser.cc: the grammar is a tree of templates, and keeping
// it out of every other translation unit keeps builds fast. The parse tree it
// produces (nodes selected in parser.cc) is turned into the AST by the
// builder there. docs/language.md describes the language these rules accept.
//
// Conventions: every rule consumes the separation (white space and `#`
// comments) that follows it, so a rule never starts with separation. Rules
// that are stored as parse-tree nodes capture their text without the trailing
// separation where the builder reads that text. After a keyword commits to a
// construct, `must<>` turns a failure into an error naming what was expected
// (see `expected<>`).
#pragma once

#include <tao/pegtl.hpp>

namespace pmesh::dsl::grammar {

using namespace tao::pegtl;  // NOLINT: the grammar reads better unqualified.

// ---- Lexical -------------------------------------------------------------

struct comment : seq<one<'#'>, until<eolf>> {};
struct ws : sor<space, comment> {};
struct sep : star<ws> {};
template <typename R>
struct tk : seq<R, sep> {};  // a token and the separation after it
template <char C>
struct p : tk<one<C>> {};  // punctuation

struct ident_first : ranges<'a', 'z', 'A', 'Z', '_'> {};
struct ident_other : ranges<'a', 'z', 'A', 'Z', '0', '9', '_'> {};
template <typename S>
struct word : seq<S, not_at<ident_other>> {};

#define PMESH_KW(id) \
  struct kw_##id : word<TAO_PEGTL_STRING(#id)> {}
PMESH_KW(module);
PMESH_KW(import);
PMESH_KW(kind);
PMESH_KW(rule);
PMESH_KW(relation);
PMESH_KW(fn);
PMESH_KW(test);
PMESH_KW(for);
PMESH_KW(on);
PMESH_KW(opt);
PMESH_KW(not);
PMESH_KW(let);
PMESH_KW(where);
PMESH_KW(derive);
PMESH_KW(set);
PMESH_KW(refuse);
PMESH_KW(in);
PMESH_KW(named);
PMESH_KW(namespace);
PMESH_KW(labels);
PMESH_KW(priority);
PMESH_KW(and);
PMESH_KW(or);
PMESH_KW(true);
PMESH_KW(false);
PMESH_KW(null);
PMESH_KW(count);
PMESH_KW(any);
PMESH_KW(all);
PMESH_KW(collect);
PMESH_KW(given);
PMESH_KW(when);
PMESH_KW(expect);
PMESH_KW(editable);
PMESH_KW(key);  // only after a relation's parameters: not reserved
PMESH_KW(log);  // the same
#undef PMESH_KW

struct top_keyword
    : sor<kw_module, kw_import, kw_kind, kw_rule, kw_relation, kw_fn, kw_test> {};
struct keyword
    : sor<top_keyword, kw_for, kw_on, kw_opt, kw_not, kw_let, kw_where, kw_derive, kw_set, kw_refuse, kw_in,
          kw_named, kw_namespace, kw_labels, kw_priority, kw_and, kw_or, kw_true, kw_false,
          kw_null, kw_count, kw_any, kw_all, kw_collect, kw_given, kw_when, kw_expect, kw_editable> {};

struct identifier : seq<not_at<keyword>, ident_first, star<ident_other>> {};
struct any_identifier : seq<ident_first, star<ident_other>> {};

// Stored names; the node type tells the builder what the name names.
struct var_ref : identifier {};       // a variable used in an expression
struct var_bind : identifier {};      // a variable bound by a pattern or let
struct member : any_identifier {};    // a field name after `.`, or an object key
struct func_name : identifier {};     // a function called
struct kind_name : identifier {};     // a kind
struct rel_name : identifier {};      // a relation
struct param : identifier {};         // a parameter of fn or relation
struct rule_name : seq<ident_first, star<sor<ident_other, one<'-'>>>> {};
struct module_name : list<any_identifier, one<'.'>> {};

// ---- Literals --------------------------------------------------------------

struct int_lit : plus<digit> {};
struct float_lit : seq<plus<digit>, one<'.'>, plus<digit>> {};
struct number : seq<sor<float_lit, int_lit>, not_at<ident_other>> {};
struct lit_true : kw_true {};
struct lit_false : kw_false {};
struct lit_null : kw_null {};

struct expr;
struct str_chars : plus<not_one<'"', '\\', '{', '\n'>> {};
struct str_escape : seq<one<'\\'>, any> {};
struct str_close : one<'}'> {};
struct str_interp : seq<one<'{'>, sep, expr, must<str_close>> {};
struct str_end : one<'"'> {};
struct str_lit : seq<one<'"'>, star<sor<str_chars, str_escape, str_interp>>, must<str_end>> {};

// ---- Expressions -----------------------------------------------------------

struct close_paren : p<')'> {};
struct close_bracket : p<']'> {};
struct close_brace : p<'}'> {};
struct comma : p<','> {};
struct colon : p<':'> {};

struct paren : seq<p<'('>, expr, must<close_paren>> {};
struct call : seq<func_name, sep, p<'('>, opt<list_tail<expr, comma>>, must<close_paren>> {};
struct list_lit : seq<p<'['>, opt<list_tail<expr, comma>>, must<close_bracket>> {};
struct obj_key : sor<seq<str_lit, sep>, seq<member, sep>> {};
struct obj_entry : seq<obj_key, colon, must<expr>, opt<comma>> {};
struct obj_lit : seq<p<'{'>, star<obj_entry>, must<close_brace>> {};

struct body;
struct agg_kind : sor<kw_count, kw_any, kw_all, kw_collect> {};
struct agg_result : seq<p<'|'>, must<expr>> {};
struct aggregate : seq<agg_kind, sep, p<'{'>, body, opt<agg_result>, must<close_brace>> {};

struct primary
    : sor<paren, aggregate, list_lit, obj_lit, seq<str_lit, sep>, seq<number, sep>,
          seq<lit_true, sep>, seq<lit_false, sep>, seq<lit_null, sep>, call, seq<var_ref, sep>> {};

struct field_access : seq<one<'.'>, sep, member, sep> {};
struct safe_access : seq<one<'?'>, one<'.'>, sep, member, sep> {};
struct index_access : seq<p<'['>, expr, must<close_bracket>> {};
struct postfix : seq<primary, star<sor<field_access, safe_access, index_access>>> {};

struct operand : seq<postfix> {};
struct neg_expr : seq<one<'-'>, sep, must<operand>> {};
struct unary : sor<neg_expr, postfix> {};

struct op_mul : sor<one<'*'>, one<'/'>, one<'%'>> {};
struct mul_expr : seq<unary, star<op_mul, sep, must<unary>>> {};
struct op_add : sor<one<'+'>, seq<one<'-'>, not_at<one<'='>>>> {};
struct add_expr : seq<mul_expr, star<op_add, sep, must<mul_expr>>> {};
struct op_cmp
    : sor<TAO_PEGTL_STRING("=="), TAO_PEGTL_STRING("!="), TAO_PEGTL_STRING("<="),
          TAO_PEGTL_STRING(">="), one<'<'>, one<'>'>, kw_in, seq<kw_not, sep, kw_in>> {};
struct cmp_expr : seq<add_expr, opt<op_cmp, sep, must<add_expr>>> {};
struct not_expr;
struct not_op : seq<kw_not, sep, must<not_expr>> {};
struct not_expr : sor<not_op, cmp_expr> {};
struct and_expr : seq<not_expr, star<kw_and, sep, must<not_expr>>> {};
struct or_expr : seq<and_expr, star<kw_or, sep, must<and_expr>>> {};
struct coalesce : seq<or_expr, star<TAO_PEGTL_STRING("??"), sep, must<or_expr>>> {};
struct cond_then : seq<expr> {};
struct cond_else : seq<expr> {};
struct cond_expr : seq<coalesce, opt<one<'?'>, sep, must<cond_then>, must<colon>, must<cond_else>>> {};
struct expr : seq<cond_expr> {};

// An expression in a pattern clause (`in`, `named`, `namespace`): no
// comparisons, so that `named x in y` cannot be misread.
struct clause_expr : seq<add_expr> {};

// ---- Patterns (rule bodies) ----------------------------------------------

struct kind_args : seq<p<'('>, expr, comma, expr, close_paren> {};
struct dyn_kind : seq<word<TAO_PEGTL_STRING("resource")>, sep, kind_args> {};
struct kind_ref : sor<dyn_kind, seq<kind_name, sep>> {};

struct in_clause : seq<kw_in, sep, must<clause_expr>> {};
struct ns_clause : seq<kw_namespace, sep, must<clause_expr>> {};
struct named_clause : seq<kw_named, sep, must<clause_expr>> {};
struct labels_clause : seq<kw_labels, sep, must<obj_lit>> {};
struct pattern_clause : sor<in_clause, ns_clause, named_clause, labels_clause> {};

struct pattern_kind : seq<kind_ref> {};
struct obj_pattern : seq<var_bind, sep, colon, must<pattern_kind>, star<pattern_clause>> {};
struct tuple_pattern : seq<rel_name, sep, p<'('>, opt<list<expr, comma>>, must<close_paren>> {};
struct pattern : sor<obj_pattern, tuple_pattern> {};
struct object_pattern : seq<obj_pattern> {};

struct each_item : seq<kw_for, sep, var_bind, sep, kw_in, sep, must<expr>> {};
struct for_item : seq<kw_for, sep, must<pattern>> {};
struct opt_item : seq<kw_opt, sep, must<object_pattern>> {};
struct let_eq : seq<one<'='>, not_at<one<'='>>, sep> {};
struct let_item : seq<kw_let, sep, must<var_bind>, sep, must<let_eq>, must<expr>> {};
struct where_item : seq<kw_where, sep, must<expr>> {};
struct negated : sor<seq<p<'{'>, body, must<close_brace>>, seq<kw_for, sep, must<pattern>>> {};
struct not_item : seq<kw_not, sep, must<negated>> {};
// `on create, update x: Kind ...`: the object a write admits (admission rules).
struct admit_op
    : sor<word<TAO_PEGTL_STRING("create")>, word<TAO_PEGTL_STRING("update")>, word<TAO_PEGTL_STRING("delete")>> {};
struct on_item : seq<kw_on, sep, must<admit_op>, sep, star<comma, must<admit_op>, sep>, must<object_pattern>> {};
struct body_item : sor<each_item, for_item, on_item, opt_item, let_item, where_item, not_item> {};
struct body : star<body_item> {};

// ---- Heads -------------------------------------------------------------------

struct path_member : seq<one<'.'>, sep, member, sep> {};
struct path_seg : sor<path_member, index_access> {};
struct field_path : seq<member, sep, star<path_seg>> {};
// `editable`: users may change the field; their value stays until the
// rule's value of it changes (the api-syncagent's three-way merge).
struct editable_mark : seq<kw_editable, sep> {};
struct field_init : seq<field_path, colon, opt<editable_mark>, must<expr>, opt<comma>> {};
struct derive_clause : sor<in_clause, ns_clause, named_clause> {};
struct derive_obj : seq<kind_ref, star<derive_clause>, p<'{'>, star<field_init>, must<close_brace>> {};
struct derive_target : sor<derive_obj, tuple_pattern> {};
struct derive_item : seq<kw_derive, sep, must<derive_target>> {};
// `ordered by [fields]`: the list is kept sorted by those fields of its
// elements (the api-syncagent keeps its export's claims sorted).
struct order_op : seq<word<TAO_PEGTL_STRING("ordered")>, sep, word<TAO_PEGTL_STRING("by")>> {};
struct set_op : sor<TAO_PEGTL_STRING("+="), seq<one<'='>, not_at<one<'='>>>, order_op> {};
struct set_path : plus<path_seg> {};
struct set_assign : seq<set_op, sep> {};
struct set_item : seq<kw_set, sep, must<var_ref>, sep, must<set_path>, must<set_assign>, must<expr>> {};
struct refuse_item : seq<kw_refuse, sep, must<expr>> {};
struct delete_item : seq<word<TAO_PEGTL_STRING("delete")>, sep, must<var_ref>, sep> {};
struct head_item : sor<derive_item, set_item, refuse_item, delete_item> {};

struct rule_end : sor<eof, at<top_keyword>> {};
struct priority_value : int_lit {};
struct priority_clause : seq<kw_priority, sep, must<priority_value>, sep> {};
// `late`: the rule writes as a controller would, after what it reads has
// settled; its writes make no cycle (docs/language.md, "Late rules").
struct late_mark : seq<word<TAO_PEGTL_STRING("late")>, sep> {};
struct rule_decl
    : seq<kw_rule, sep, must<rule_name>, sep, opt<priority_clause>, opt<late_mark>, star<sor<body_item, head_item>>,
          must<rule_end>> {};

// ---- Relations, functions, kinds, modules ----------------------------------

struct dl_neg : seq<kw_not, sep> {};
struct dl_atom : seq<opt<dl_neg>, tuple_pattern> {};
struct dl_body : list<dl_atom, comma> {};
struct dl_end : p<'.'> {};
struct dl_rule : seq<tk<TAO_PEGTL_STRING(":-")>, must<dl_body>, must<dl_end>> {};
struct rel_params : seq<p<'('>, opt<list<seq<param, sep>, comma>>, must<close_paren>> {};
// `key(a, b)`: the first arguments determine the rest (one tuple per key).
struct key_open : p<'('> {};
struct key_params : list<seq<param, sep>, comma> {};
struct relation_key : seq<kw_key, sep, must<key_open>, must<key_params>, must<close_paren>> {};
// `log`: the engine writes the relation's tuples and does not hold them
// (ast.h, RelationDecl::log).
struct relation_log : seq<kw_log, sep> {};
struct relation_decl
    : seq<kw_relation, sep, must<rel_name>, sep, must<rel_params>, opt<relation_key>, opt<relation_log>, opt<dl_rule>> {};

struct fn_eq : seq<one<'='>, sep> {};
struct fn_decl : seq<kw_fn, sep, must<func_name>, sep, must<rel_params>, must<fn_eq>, must<expr>> {};

// Data: YAML flow style with bare words, for kind declarations and tests.
struct bare_char : sor<ident_other, one<'.', '/', ':', '-'>> {};
struct bare_word : plus<bare_char> {};
struct bare_key : plus<sor<ident_other, one<'.', '/', '-'>>> {};
struct data_value;
struct data_key : sor<seq<str_lit, sep>, seq<bare_key, sep>> {};
struct data_entry : seq<data_key, colon, must<data_value>, opt<comma>> {};
struct data_obj : seq<p<'{'>, star<data_entry>, must<close_brace>> {};
struct data_list : seq<p<'['>, opt<list_tail<data_value, comma>>, must<close_bracket>> {};
template <typename R>
struct data_atom : seq<R, not_at<bare_char>, sep> {};
struct data_value
    : sor<data_obj, data_list, seq<str_lit, sep>, data_atom<sor<float_lit, int_lit>>,
          data_atom<lit_true>, data_atom<lit_false>, data_atom<lit_null>, seq<bare_word, sep>> {};

struct kind_decl : seq<kw_kind, sep, must<kind_name>, sep, must<data_obj>> {};
struct module_decl : seq<kw_module, sep, must<module_name>, sep> {};
struct import_decl : seq<kw_import, sep, must<module_name>, sep> {};

// ---- Tests -------------------------------------------------------------------

struct obj_ref : bare_word {};
struct step_tuple : seq<rel_name, sep, p<'('>, opt<list<data_value, comma>>, must<close_paren>> {};
struct step_object : seq<kind_name, sep, must<obj_ref>, sep, opt<data_obj>> {};
struct step_target : sor<step_tuple, step_object> {};
struct when_op
    : sor<word<TAO_PEGTL_STRING("create")>, word<TAO_PEGTL_STRING("update")>,
          word<TAO_PEGTL_STRING("delete")>> {};
struct expect_no : word<TAO_PEGTL_STRING("no")> {};
struct error_text : seq<str_lit> {};
struct expect_error : seq<word<TAO_PEGTL_STRING("error")>, sep, must<error_text>, sep> {};
// `as alice` or `as { username: alice, groups: [...] }`: who writes (admission rules see it).
struct step_as : seq<word<TAO_PEGTL_STRING("as")>, sep, must<data_value>> {};
struct given_step : seq<kw_given, sep, must<step_target>, opt<step_as>> {};
struct when_step : seq<kw_when, sep, must<when_op>, sep, must<step_target>, opt<step_as>> {};
struct expect_what : sor<expect_error, seq<expect_no, sep, must<step_target>>, step_target> {};
struct expect_step : seq<kw_expect, sep, must<expect_what>> {};
struct test_step : sor<given_step, when_step, expect_step> {};
struct test_name : seq<str_lit> {};
struct test_open : p<'{'> {};
struct test_close : p<'}'> {};
struct test_decl : seq<kw_test, sep, must<test_name>, sep, must<test_open>, star<test_step>, must<test_close>> {};

struct decl : sor<module_decl, import_decl, kind_decl, rule_decl, relation_decl, fn_decl, test_decl> {};

// ---- Error messages ----------------------------------------------------------
// What a `must<R>` says when R does not match: "expected <message>".

template <typename R>
inline constexpr const char* expected = nullptr;
#define PMESH_EXPECTED(rule, text) \
  template <>                      \
  inline constexpr const char* expected<rule> = text
PMESH_EXPECTED(str_close, "`}` closing the interpolation");
PMESH_EXPECTED(str_end, "`\"` closing the string");
PMESH_EXPECTED(close_paren, "`)`");
PMESH_EXPECTED(close_bracket, "`]`");
PMESH_EXPECTED(close_brace, "`}`");
PMESH_EXPECTED(colon, "`:`");
PMESH_EXPECTED(expr, "an expression");
PMESH_EXPECTED(cond_then, "an expression after `?`");
PMESH_EXPECTED(cond_else, "an expression after `:`");
PMESH_EXPECTED(operand, "an expression after `-`");
PMESH_EXPECTED(unary, "an expression after the operator");
PMESH_EXPECTED(mul_expr, "an expression after the operator");
PMESH_EXPECTED(add_expr, "an expression after the comparison");
PMESH_EXPECTED(not_expr, "an expression after `not` / `and`");
PMESH_EXPECTED(and_expr, "an expression after `or`");
PMESH_EXPECTED(or_expr, "an expression after `??`");
PMESH_EXPECTED(clause_expr, "an expression");
PMESH_EXPECTED(obj_lit, "an object `{ key: value }`");
PMESH_EXPECTED(pattern_kind, "a kind name or `resource(group, resource)`");
PMESH_EXPECTED(pattern, "a pattern: `var: Kind ...` or `relation(args)`");
PMESH_EXPECTED(object_pattern, "an object pattern `var: Kind ...`");
PMESH_EXPECTED(var_bind, "a variable name");
PMESH_EXPECTED(var_ref, "a variable name");
PMESH_EXPECTED(let_eq, "`=`");
PMESH_EXPECTED(negated, "`for pattern` or `{ body }` after `not`");
PMESH_EXPECTED(derive_target, "what to derive: `Kind in ... named ... { fields }` or `relation(args)`");
PMESH_EXPECTED(set_path, "a field path such as `.status.phase` after the variable");
PMESH_EXPECTED(set_assign, "`=` or `+=`");
PMESH_EXPECTED(rule_name, "a rule name");
PMESH_EXPECTED(priority_value, "an integer priority");
PMESH_EXPECTED(rule_end,
               "a rule item (for, on, opt, not, let, where, derive, set, refuse, delete) or the next declaration");
PMESH_EXPECTED(dl_body, "relation atoms `name(args)` after `:-`");
PMESH_EXPECTED(dl_end, "`.` ending the relation rule");
PMESH_EXPECTED(rel_name, "a relation name");
PMESH_EXPECTED(key_open, "`(` after `key`: `key(a)`");
PMESH_EXPECTED(key_params, "the parameters the key is made of: `key(a)`");
PMESH_EXPECTED(rel_params, "a parameter list `(a, b)`");
PMESH_EXPECTED(func_name, "a function name");
PMESH_EXPECTED(fn_eq, "`=` before the function body");
PMESH_EXPECTED(data_value, "a value");
PMESH_EXPECTED(kind_name, "a kind name");
PMESH_EXPECTED(data_obj, "an object `{ key: value }`");
PMESH_EXPECTED(module_name, "a module name such as `stdlib.kinds.kcp`");
PMESH_EXPECTED(obj_ref, "an object reference `cluster/name` or `cluster/namespace/name`");
PMESH_EXPECTED(step_target, "an object `Kind cluster/name { ... }` or a tuple `relation(args)`");
PMESH_EXPECTED(when_op, "`create`, `update` or `delete`");
PMESH_EXPECTED(admit_op, "`create`, `update` or `delete` after `on`");
PMESH_EXPECTED(error_text, "the expected error text as a string");
PMESH_EXPECTED(expect_what, "`no`, `error`, an object or a tuple");
PMESH_EXPECTED(test_name, "the test's name as a string");
PMESH_EXPECTED(test_open, "`{` opening the test");
PMESH_EXPECTED(test_close, "a test step (given, when, expect) or `}`");
#undef PMESH_EXPECTED

}  // namespace pmesh::dsl::grammar
