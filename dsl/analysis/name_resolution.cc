#include "dsl/analysis/name_resolution.h"

#include <algorithm>
#include <functional>
#include <set>

#include "stdlib/builtins.h"

namespace pmesh::dsl {

VarInfo* NameResolution::Scope::lookup(const std::string& name) const {
  for (const Scope* s = this; s; s = s->parent) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return it->second;
  }
  return nullptr;
}

VarInfo* NameResolution::add_var(VarInfo v, Scope& scope) {
  if (v.name == "_") {
    diags_.error(v.span, "`_` cannot be bound; give the variable a name (a leading `_` marks it unused)");
    return nullptr;
  }
  if (VarInfo* prev = scope.lookup(v.name)) {
    LineCol lc = prev->span.file ? prev->span.file->position(prev->span.begin) : LineCol{};
    diags_.error(v.span, "variable `" + v.name + "` is already bound",
                 {"first bound at line " + std::to_string(lc.line) + ", column " + std::to_string(lc.column)});
    return nullptr;
  }
  v.scope = scope.body;
  v.index = static_cast<int>(info_->vars.size());
  info_->vars.push_back(std::make_unique<VarInfo>(std::move(v)));
  VarInfo* p = info_->vars.back().get();
  scope.vars[p->name] = p;
  return p;
}

const KindDecl* NameResolution::resolve_kind(const KindRef& k, const Scope& scope) {
  if (k.dynamic()) {
    resolve_expr(*k.group, scope);
    resolve_expr(*k.resource, scope);
    return nullptr;
  }
  const KindDecl* d = program_.find_kind(*module_, k.name);
  if (!d) {
    std::vector<std::string> notes;
    if (program_.kinds().count(k.name))
      notes.push_back("kind " + k.name + " is declared in " + program_.kinds().at(k.name)->span.file->path +
                      "; import its module");
    diags_.error(k.span, "unknown kind `" + k.name + "`", notes);
  }
  return d;
}

void NameResolution::declare(const Body& body, Scope& scope) {
  for (const auto& item : body.items) {
    if (item.kind == BodyItemKind::kObject) {
      VarInfo v;
      v.kind = VarInfo::Kind::kObject;
      v.name = item.object.var;
      v.span = item.object.var_span;
      v.pattern = &item.object;
      v.optional = item.object.optional;
      if (!item.object.kind.dynamic()) v.decl = resolve_kind(item.object.kind, scope);
      add_var(std::move(v), scope);
    } else if (item.kind == BodyItemKind::kLet) {
      VarInfo v;
      v.kind = VarInfo::Kind::kLet;
      v.name = item.var;
      v.span = item.var_span;
      v.let = &item;
      add_var(std::move(v), scope);
    }
  }
  // A bare name in a tuple pattern that nothing else binds is bound by it.
  for (const auto& item : body.items) {
    if (item.kind != BodyItemKind::kTuple) continue;
    for (const auto& a : item.tuple.args) {
      if (a->kind != ExprKind::kVar || a->text == "_" || scope.lookup(a->text)) continue;
      VarInfo v;
      v.kind = VarInfo::Kind::kTuple;
      v.name = a->text;
      v.span = a->span;
      add_var(std::move(v), scope);
    }
  }
}

void NameResolution::resolve_body(const Body& body, Scope& scope) {
  for (const auto& item : body.items) {
    switch (item.kind) {
      case BodyItemKind::kObject: resolve_pattern(item.object, scope); break;
      case BodyItemKind::kTuple: resolve_tuple(item.tuple, scope, true); break;
      case BodyItemKind::kLet:
      case BodyItemKind::kWhere: resolve_expr(*item.expr, scope); break;
      case BodyItemKind::kNot: {
        Scope inner{item.negated.get(), {}, &scope};
        declare(*item.negated, inner);
        resolve_body(*item.negated, inner);
        break;
      }
    }
  }
}

void NameResolution::resolve_pattern(const ObjectPattern& p, Scope& scope) {
  if (p.kind.dynamic()) resolve_kind(p.kind, scope);
  auto check = [&](const ExprPtr& e) {
    if (!e) return;
    resolve_expr(*e, scope);
    std::function<void(const Expr&)> self = [&](const Expr& x) {
      if (x.kind == ExprKind::kVar && x.text == p.var)
        diags_.error(x.span, "a pattern's clauses cannot refer to its own variable `" + p.var + "`");
      for (const auto& a : x.args) self(*a);
    };
    self(*e);
  };
  check(p.cluster);
  check(p.ns);
  check(p.name);
  for (const auto& [k, v] : p.labels) check(v);
  if (VarInfo* v = scope.lookup(p.var); p.ns && v && v->decl && v->decl->scope == dsl::Scope::kCluster)
    diags_.error(p.ns->span, "kind " + p.kind.name + " is cluster-scoped; it has no namespace");
}

void NameResolution::resolve_tuple(const TuplePattern& t, Scope& scope, bool binding) {
  const RelationDecl* r = program_.find_relation(*module_, t.relation);
  if (!r) {
    diags_.error(t.relation_span, "unknown relation `" + t.relation + "`");
  } else if (r->params.size() != t.args.size()) {
    diags_.error(t.span, "relation `" + t.relation + "` takes " + std::to_string(r->params.size()) +
                             " arguments, not " + std::to_string(t.args.size()));
  } else if (r->log) {
    // Its tuples are on disk once committed: a match would have to be
    // remade from there, and a derived tuple would be read back by nothing.
    diags_.error(t.relation_span, "relation `" + t.relation + "` is a log: the engine does not hold its tuples, so no rule " +
                                      (binding ? "reads" : "derives") + " them");
  }
  for (const auto& a : t.args) {
    if (a->kind == ExprKind::kVar && a->text == "_") {
      if (!binding) diags_.error(a->span, "`_` matches anything in a pattern; a head needs a value");
      continue;
    }
    resolve_expr(*a, scope);
  }
}

void NameResolution::check_call(const Expr& e) {
  auto arity = [&](size_t min, size_t max, const std::string& what) {
    if (e.args.size() < min || e.args.size() > max) {
      std::string want = min == max ? std::to_string(min) : std::to_string(min) + " to " + std::to_string(max);
      diags_.error(e.span, what + " takes " + want + " argument" + (max == 1 ? "" : "s") + ", not " +
                               std::to_string(e.args.size()));
    }
  };
  if (is_special_form(e.text)) {
    arity(1, 1, "`old`");
    if (params_) diags_.error(e.span, "`old` reads the store; it cannot be used in a function");
    if (!e.args.empty() && e.args[0]->kind != ExprKind::kVar)
      diags_.error(e.args[0]->span, "`old` takes an object variable");
    return;
  }
  if (const FunctionDecl* f = program_.find_function(*module_, e.text)) {
    arity(f->params.size(), f->params.size(), "function `" + e.text + "`");
    return;
  }
  if (const Builtin* b = find_builtin(e.text)) {
    arity(static_cast<size_t>(b->min_args), static_cast<size_t>(b->max_args), "`" + std::string(b->signature) + "`");
    return;
  }
  diags_.error(e.span, "unknown function `" + e.text + "`");
}

void NameResolution::resolve_expr(const Expr& e, const Scope& scope) {
  switch (e.kind) {
    case ExprKind::kVar: {
      if (e.text == "_") {
        diags_.error(e.span, "`_` can only stand as an argument of a tuple pattern");
        return;
      }
      if (params_) {
        if (std::find(params_->begin(), params_->end(), e.text) == params_->end())
          diags_.error(e.span, "unbound variable `" + e.text + "`: a function sees only its parameters");
        return;
      }
      VarInfo* v = scope.lookup(e.text);
      if (!v && e.text == "request") {
        diags_.error(e.span, "`request` is known only in admission rules",
                     {"an admission rule names the object a write admits: `on create x: Kind`"});
        return;
      }
      if (!v) {
        diags_.error(e.span, "unbound variable `" + e.text + "`",
                     {"bind it with `for " + e.text + ": Kind`, `let " + e.text + " = ...` or a tuple pattern"});
        return;
      }
      info_->refs[&e] = v;
      ++v->occurrences;
      return;
    }
    case ExprKind::kCall:
      check_call(e);
      break;
    case ExprKind::kAggregate: {
      if (params_) {
        diags_.error(e.span, "a function cannot read the store; move the aggregate into a rule");
        return;
      }
      Scope inner{e.body.get(), {}, &scope};
      declare(*e.body, inner);
      resolve_body(*e.body, inner);
      for (const auto& a : e.args) resolve_expr(*a, inner);
      if (e.agg == AggKind::kAll && e.args.empty())
        diags_.error(e.span, "`all { ... | condition }` needs the condition after `|`");
      if (e.agg == AggKind::kCollect && e.args.empty())
        diags_.error(e.span, "`collect { ... | value }` needs the value after `|`");
      if ((e.agg == AggKind::kCount || e.agg == AggKind::kAny) && !e.args.empty())
        diags_.error(e.args[0]->span, "`count` and `any` take no `| value`");
      return;
    }
    default:
      break;
  }
  for (const auto& a : e.args) resolve_expr(*a, scope);
}

void NameResolution::resolve_head(const Head& h, Scope& scope) {
  switch (h.kind) {
    case HeadKind::kDeriveObject: {
      const KindDecl* d = resolve_kind(h.object_kind, scope);
      if (!h.cluster) diags_.error(h.span, "derive needs `in <cluster>`: the logical cluster the object lives in");
      if (!h.name) diags_.error(h.span, "derive needs `named <name>`");
      if (d && d->scope == dsl::Scope::kNamespaced && !h.ns)
        diags_.error(h.span, "kind " + d->name + " is namespaced; derive needs `namespace <ns>`");
      if (d && d->scope == dsl::Scope::kCluster && h.ns)
        diags_.error(h.ns->span, "kind " + d->name + " is cluster-scoped; it has no namespace");
      for (const ExprPtr* e : {&h.cluster, &h.ns, &h.name})
        if (*e) resolve_expr(**e, scope);
      for (const auto& f : h.fields) {
        for (const auto& s : f.path)
          if (s.key) resolve_expr(*s.key, scope);
        resolve_expr(*f.value, scope);
      }
      break;
    }
    case HeadKind::kDeriveTuple:
      resolve_tuple(h.tuple, scope, false);
      break;
    case HeadKind::kRefuse:
      resolve_expr(*h.value, scope);
      break;
    case HeadKind::kDelete: {
      VarInfo* v = scope.lookup(h.target);
      if (!v) diags_.error(h.target_span, "unbound variable `" + h.target + "`");
      else if (v->kind != VarInfo::Kind::kObject || v->optional)
        diags_.error(h.target_span, "`delete` needs a variable bound by a `for` pattern; `" + h.target + "` is not");
      else {
        info_->set_targets[&h] = v;
        ++v->occurrences;
      }
      break;
    }
    case HeadKind::kSet: {
      VarInfo* v = scope.lookup(h.target);
      if (!v) {
        diags_.error(h.target_span, "unbound variable `" + h.target + "`");
      } else if (v->kind != VarInfo::Kind::kObject) {
        diags_.error(h.target_span, "`set` writes fields of an object; `" + h.target + "` is not bound to one");
      } else if (v->optional) {
        diags_.error(h.target_span, "`set` cannot write an optional match (`opt " + h.target + "`)");
      } else {
        info_->set_targets[&h] = v;
        ++v->occurrences;
      }
      for (const auto& s : h.path)
        if (s.key) resolve_expr(*s.key, scope);
      resolve_expr(*h.value, scope);
      break;
    }
  }
}

RuleInfo NameResolution::resolve(const Module& m, const Rule& r) {
  RuleInfo info;
  info.module = &m;
  info.rule = &r;
  module_ = &m;
  info_ = &info;
  params_ = nullptr;
  Scope outer{&r.body, {}, nullptr};
  const ObjectPattern* admitted = r.admitted();
  if (admitted) {
    // The write an admission rule admits: who asks, and for what.
    VarInfo req;
    req.kind = VarInfo::Kind::kRequest;
    req.name = "request";
    req.span = admitted->span;
    req.occurrences = 1;
    add_var(std::move(req), outer);
  }
  declare(r.body, outer);
  resolve_body(r.body, outer);
  for (const auto& h : r.heads) resolve_head(h, outer);
  check_admission(r, outer);
  if (r.heads.empty())
    diags_.error(r.name_span, "rule `" + r.name + "` has no head: add `derive`, `set` or `refuse`");
  for (const auto& v : info.vars) {
    int needed = v->kind == VarInfo::Kind::kTuple ? 2 : 1;  // a tuple variable's binding mention counts
    if (v->name[0] != '_' && v->occurrences < needed)
      diags_.error(v->span, "variable `" + v->name + "` is bound but never used",
                   {"name it `_" + v->name + "` if it is there only to match"});
  }
  info_ = nullptr;
  return info;
}

void NameResolution::check_admission(const Rule& r, const Scope& scope) {
  // `on` stands once, at the top of a rule's body.
  int on_items = 0;
  std::function<void(const Body&, bool)> walk = [&](const Body& b, bool top) {
    for (const auto& item : b.items) {
      if (item.kind == BodyItemKind::kObject && !item.object.on_ops.empty()) {
        if (!top) diags_.error(item.span, "`on` names the object a write admits; it stands at the top of a rule's body");
        else if (++on_items == 2) diags_.error(item.span, "an admission rule admits one object: one `on` per rule");
      }
      if (item.kind == BodyItemKind::kNot) walk(*item.negated, false);
    }
  };
  walk(r.body, true);
  const ObjectPattern* admitted = r.admitted();
  if (!admitted) return;
  if (admitted->kind.dynamic()) diags_.error(admitted->kind.span, "an admission rule admits a declared kind, not `resource(...)`");
  const VarInfo* target = scope.lookup(admitted->var);
  for (const auto& h : r.heads) {
    if (h.kind == HeadKind::kRefuse) continue;
    if (h.kind == HeadKind::kSet) {
      auto it = info_->set_targets.find(&h);
      if (it != info_->set_targets.end() && it->second != target)
        diags_.error(h.target_span, "an admission rule sets fields of the object it admits (`" + admitted->var + "`), not `" + h.target + "`");
      continue;
    }
    diags_.error(h.span, "an admission rule may only `set` fields of the object it admits and `refuse` the write",
                 {"what holds while objects hold is a rule without `on`"});
  }
}

namespace {

void collect_calls(const Expr& e, std::set<std::string>& out) {
  if (e.kind == ExprKind::kCall) out.insert(e.text);
  for (const auto& a : e.args) collect_calls(*a, out);
}

}  // namespace

void NameResolution::check_function(const Module& m, const FunctionDecl& f) {
  module_ = &m;
  RuleInfo scratch;
  info_ = &scratch;
  params_ = &f.params;
  Scope none;
  resolve_expr(*f.body, none);
  params_ = nullptr;
  info_ = nullptr;
  // Functions are inlined by the analyses; a cycle of calls has no meaning.
  std::set<const FunctionDecl*> seen;
  std::function<bool(const FunctionDecl&)> reaches = [&](const FunctionDecl& g) {
    std::set<std::string> calls;
    collect_calls(*g.body, calls);
    for (const auto& c : calls) {
      const FunctionDecl* h = program_.find_function(m, c);
      if (!h) continue;
      if (h == &f) return true;
      if (seen.insert(h).second && reaches(*h)) return true;
    }
    return false;
  };
  if (reaches(f)) diags_.error(f.span, "function `" + f.name + "` calls itself; functions cannot recurse");
}

namespace {

// The kinds a test's objects may bring into being (the values of `kind`
// keys in their data: an APIResourceSchema or CustomResourceDefinition
// defines one, a PublishedResource's projection renames one): steps may use
// them once something serves them.
void schema_kinds(const Expr& e, bool under_kind, std::set<std::string>& out) {
  if (under_kind && (e.kind == ExprKind::kString || e.kind == ExprKind::kVar)) out.insert(e.text);
  if (e.kind != ExprKind::kObject && e.kind != ExprKind::kList) return;
  for (size_t i = 0; i < e.args.size(); ++i) {
    bool k = e.kind == ExprKind::kObject && i < e.keys.size() &&
             (e.keys[i] == "kind" || (e.keys[i].size() >= 5 && e.keys[i].compare(e.keys[i].size() - 5, 5, ".kind") == 0));
    schema_kinds(*e.args[i], k, out);
  }
}

}  // namespace

void NameResolution::check_test(const Module& m, const TestDecl& t) {
  module_ = &m;
  std::set<std::string> bound_kinds;
  for (const auto& s : t.steps)
    if (!s.is_tuple && s.data) schema_kinds(*s.data, false, bound_kinds);
  for (const auto& s : t.steps) {
    if (s.kind == StepKind::kExpectError) continue;
    if (s.is_tuple) {
      const RelationDecl* r = program_.find_relation(m, s.relation);
      if (!r) diags_.error(s.span, "unknown relation `" + s.relation + "`");
      else if (r->params.size() != s.tuple_args.size())
        diags_.error(s.span, "relation `" + s.relation + "` takes " + std::to_string(r->params.size()) +
                                 " arguments, not " + std::to_string(s.tuple_args.size()));
      continue;
    }
    const KindDecl* k = program_.find_kind(m, s.kind_name);
    if (!k) {
      // A kind an APIResourceSchema of the test defines is bound at run
      // time; the test fails if no binding serves it in that cluster.
      if (!bound_kinds.count(s.kind_name)) diags_.error(s.kind_span, "unknown kind `" + s.kind_name + "`");
      continue;
    }
    size_t slashes = std::count(s.ref.begin(), s.ref.end(), '/');
    if (k->scope == dsl::Scope::kNamespaced && slashes != 2)
      diags_.error(s.span, k->name + " is namespaced: refer to it as `cluster/namespace/name`");
    if (k->scope == dsl::Scope::kCluster && slashes != 1)
      diags_.error(s.span, k->name + " is cluster-scoped: refer to it as `cluster/name`");
  }
}

}  // namespace pmesh::dsl
