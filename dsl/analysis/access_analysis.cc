#include "dsl/analysis/access_analysis.h"

#include <algorithm>

#include "dsl/list_order.h"
#include "dsl/object_model.h"
#include "stdlib/text.h"

namespace pmesh::dsl {
namespace {

std::string sections_note(const KindDecl& k) {
  std::vector<std::string> s = {"metadata"};
  s.insert(s.end(), k.sections.begin(), k.sections.end());
  return "sections of " + k.name + ": " + join(s, ", ") + "; shorthands: " + join(shorthand_names(), ", ");
}

// "an Account", "a Workspace"
std::string with_article(const std::string& noun) {
  bool vowel = !noun.empty() && std::string("AEIOUaeiou").find(noun[0]) != std::string::npos;
  return (vowel ? "an " : "a ") + noun;
}

}  // namespace

const Expr* AccessAnalysis::Env::arg(const std::string& name) const {
  for (size_t i = 0; i < fn->params.size() && i < args.size(); ++i)
    if (fn->params[i] == name) return args[i];
  return nullptr;
}

std::string AccessAnalysis::kind_of(const VarInfo& v) const {
  if (v.decl) return v.decl->name;
  return v.pattern && v.pattern->kind.dynamic() ? "*" : "";
}

const VarInfo* AccessAnalysis::root(const Expr& e, const Env* env, bool& old, std::vector<std::string>& segs,
                                    std::vector<std::pair<const Expr*, const Env*>>& keys) {
  switch (e.kind) {
    case ExprKind::kField: {
      const VarInfo* v = root(*e.args[0], env, old, segs, keys);
      if (v) segs.push_back(e.text);
      return v;
    }
    case ExprKind::kIndex: {
      const VarInfo* v = root(*e.args[0], env, old, segs, keys);
      if (v) {
        const Expr& k = *e.args[1];
        segs.push_back(k.kind == ExprKind::kString ? k.text : "*");
        keys.emplace_back(&k, env);
      }
      return v;
    }
    case ExprKind::kVar: {
      if (env) {
        const Expr* a = env->arg(e.text);
        return a ? root(*a, env->caller, old, segs, keys) : nullptr;
      }
      const VarInfo* v = info_->var_of(e);
      return v && v->kind == VarInfo::Kind::kObject ? v : nullptr;
    }
    case ExprKind::kCall:
      if (e.text == "old" && e.args.size() == 1) {
        old = true;
        return root(*e.args[0], env, old, segs, keys);
      }
      return nullptr;
    default:
      return nullptr;
  }
}

void AccessAnalysis::read(const VarInfo& v, const std::vector<std::string>& segs, Span span, bool negated,
                          bool old) {
  std::string kind = kind_of(v);
  if (kind.empty()) return;  // unknown kind, already reported
  std::vector<std::string> sections;
  std::string member;  // of the first section, when the read reaches a field of a top-level section
  if (segs.empty()) {
    sections = all_sections(v.decl);
  } else {
    auto path = canonical_path(v.decl, segs);
    if (!path) {
      diags_.error(span, v.decl->name + " has no section `" + segs[0] + "`", {sections_note(*v.decl)});
      return;
    }
    if (path->size() == 1 && (*path)[0] == "metadata") {
      for (const auto& s : all_sections(v.decl))
        if (s.rfind("metadata", 0) == 0) sections.push_back(s);
    } else {
      sections.push_back(section_of(v.decl, *path));
      // A computed key ("*") reaches any field of the section.
      if (path->size() >= 2 && sections[0] == (*path)[0] && (*path)[1] != "*") member = (*path)[1];
      for (const auto& f : system_fields_under(v.decl, *path)) sections.push_back(f);
    }
  }
  if (old) return;
  for (size_t i = 0; i < sections.size(); ++i)
    info_->reads.push_back({{kind, sections[i]}, negated, span, i == 0 ? member : std::string()});
}

void AccessAnalysis::existence(const VarInfo& v, Span span, bool negated) {
  // An object's existence is its metadata's, which a derive of its kind writes.
  std::string kind = kind_of(v);
  if (!kind.empty()) info_->reads.push_back({{kind, "metadata"}, negated, span, {}});
}

void AccessAnalysis::expr(const Expr& e, bool negated, bool old, const Env* env) {
  if (++depth_ > 64) {  // only reachable through recursive functions, reported elsewhere
    --depth_;
    return;
  }
  bool o = old;
  std::vector<std::string> segs;
  std::vector<std::pair<const Expr*, const Env*>> keys;
  // `x == null` and `x != null` of an object variable (an `opt` pattern's)
  // read whether the object exists, not what it holds.
  if (e.kind == ExprKind::kBinary && (e.text == "==" || e.text == "!=") && e.args.size() == 2) {
    const Expr* x = e.args[1]->kind == ExprKind::kNull   ? e.args[0].get()
                    : e.args[0]->kind == ExprKind::kNull ? e.args[1].get()
                                                         : nullptr;
    const VarInfo* v = x ? root(*x, env, o, segs, keys) : nullptr;
    if (v && segs.empty()) {
      if (!o) existence(*v, e.span, negated);
      --depth_;
      return;
    }
    o = old;
    segs.clear();
    keys.clear();
  }
  if (const VarInfo* v = root(e, env, o, segs, keys)) {
    read(*v, segs, e.span, negated, o);
    for (auto [k, kenv] : keys) expr(*k, negated, old, kenv);
    --depth_;
    return;
  }
  switch (e.kind) {
    case ExprKind::kVar:
      if (env)
        if (const Expr* a = env->arg(e.text)) expr(*a, negated, old, env->caller);
      break;
    case ExprKind::kCall:
      if (const FunctionDecl* f = program_.find_function(*info_->module, e.text)) {
        Env inner{f, {}, env};
        for (const auto& a : e.args) inner.args.push_back(a.get());
        expr(*f->body, negated, old, &inner);
      } else {
        for (const auto& a : e.args) expr(*a, negated, old, env);
      }
      break;
    case ExprKind::kAggregate:
      body(*e.body, true);
      for (const auto& a : e.args) expr(*a, true, old, env);
      break;
    default:
      for (const auto& a : e.args) expr(*a, negated, old, env);
  }
  --depth_;
}

void AccessAnalysis::body(const Body& b, bool negated) {
  for (const auto& item : b.items) {
    switch (item.kind) {
      case BodyItemKind::kObject: {
        const ObjectPattern& p = item.object;
        bool neg = negated || p.optional;
        std::string kind = p.kind.dynamic() ? "*" : (program_.find_kind(*info_->module, p.kind.name) ? p.kind.name : "");
        if (!kind.empty()) {
          info_->reads.push_back({{kind, "metadata"}, neg, p.span, {}});
          if (!p.labels.empty()) info_->reads.push_back({{kind, "metadata.labels"}, neg, p.span, {}});
        }
        if (p.kind.dynamic()) {
          expr(*p.kind.group, neg, false, nullptr);
          expr(*p.kind.resource, neg, false, nullptr);
        }
        for (const ExprPtr* c : {&p.cluster, &p.ns, &p.name})
          if (*c) expr(**c, neg, false, nullptr);
        for (const auto& [k, v] : p.labels) expr(*v, neg, false, nullptr);
        break;
      }
      case BodyItemKind::kTuple:
        info_->reads.push_back({{"", item.tuple.relation}, negated, item.tuple.span, {}});
        for (const auto& a : item.tuple.args)
          if (!(a->kind == ExprKind::kVar && a->text == "_")) expr(*a, negated, false, nullptr);
        break;
      case BodyItemKind::kLet:
      case BodyItemKind::kWhere:
        expr(*item.expr, negated, false, nullptr);
        break;
      case BodyItemKind::kNot:
        body(*item.negated, true);
        break;
    }
  }
}

std::vector<std::string> AccessAnalysis::literal_path(const Path& p) {
  std::vector<std::string> out;
  for (const auto& s : p) {
    if (!s.is_key()) out.push_back(s.field);
    else out.push_back(s.key->kind == ExprKind::kString ? s.key->text : "*");
  }
  return out;
}

void AccessAnalysis::head(const Head& h) {
  const std::string& rule = info_->rule->name;
  switch (h.kind) {
    case HeadKind::kDeriveObject: {
      const KindDecl* d = h.object_kind.dynamic() ? nullptr : program_.find_kind(*info_->module, h.object_kind.name);
      if (!d && !h.object_kind.dynamic()) return;  // unknown kind, already reported
      std::string kind = d ? d->name : "*";
      info_->writes.push_back({{kind, "metadata"}, false, h.span, {}});
      for (const ExprPtr* c : {&h.cluster, &h.ns, &h.name})
        if (*c) expr(**c, false, false, nullptr);
      for (const auto& f : h.fields) {
        std::vector<std::string> path = literal_path(f.path);
        bool ok = path[0] == "metadata"
                      ? path.size() > 1 && section_of(path) != "metadata"
                      : (!d || d->has_section(path[0]));
        if (!ok) {
          if (path[0] == "metadata")
            diags_.error(f.path[0].span, "a derive sets metadata.labels, annotations, finalizers and ownerReferences; the name, namespace and cluster come from `named`, `namespace` and `in`");
          else
            diags_.error(f.path[0].span, d->name + " has no section `" + path[0] + "`", {sections_note(*d)});
          continue;
        }
        info_->writes.push_back({{kind, section_of(d, path)}, false, f.span, {}});
        info_->field_writes.push_back({kind, path, false, true, f.span});
        for (const auto& s : f.path)
          if (s.key) expr(*s.key, false, false, nullptr);
        expr(*f.value, false, false, nullptr);
      }
      break;
    }
    case HeadKind::kRefuse:
      expr(*h.value, false, false, nullptr);
      break;
    case HeadKind::kDelete:
      // Deletions run after the fixpoint, as a user's delete would: no
      // edge inside it.
      break;
    case HeadKind::kDeriveTuple:
      info_->writes.push_back({{"", h.tuple.relation}, false, h.span, {}});
      for (const auto& a : h.tuple.args) expr(*a, false, false, nullptr);
      break;
    case HeadKind::kSet: {
      auto it = info_->set_targets.find(&h);
      if (it != info_->set_targets.end()) {
        const VarInfo& v = *it->second;
        std::string kind = kind_of(v);
        auto path = canonical_path(v.decl, literal_path(h.path));
        if (kind.empty()) {
          // unknown kind, already reported
        } else if (!path) {
          diags_.error(h.path[0].span, v.decl->name + " has no section `" + literal_path(h.path)[0] + "`",
                       {sections_note(*v.decl)});
        } else if (info_->rule->admitted()) {
          // A mutating admission rule writes the object it admits, as a
          // defaulting webhook does: any section.
        } else if (!writable_by_non_owner(section_of(v.decl, *path)) &&
                   !(v.decl && section_of(v.decl, *path) != section_of(*path))) {
          diags_.error(h.path[0].span,
                       "rule `" + rule + "` sets `" + join(*path, ".") + "` of `" + v.name + "`, " +
                           with_article(v.decl ? v.decl->name : std::string("object")) + " it does not own",
                       {"a rule owns the objects it derives; of other objects it may set status, "
                        "metadata.labels, annotations, finalizers and ownerReferences, and the kind's systemFields"});
        } else {
          info_->writes.push_back({{kind, section_of(v.decl, *path)}, false, h.span, {}});
          info_->field_writes.push_back({kind, *path, h.op == SetOp::kAdd, false, h.span, h.op == SetOp::kOrder});
        }
      }
      // What an order sorts by is field names, or a template of them; a
      // literal says so before anything runs (a computed one is checked
      // when it applies).
      if (h.op == SetOp::kOrder) {
        const Expr& v = *h.value;
        bool other_literal = v.kind == ExprKind::kNull || v.kind == ExprKind::kBool || v.kind == ExprKind::kInt ||
                             v.kind == ExprKind::kFloat || v.kind == ExprKind::kObject;
        if (other_literal || (v.kind == ExprKind::kString && !list_order(nlohmann::json(v.text))))
          diags_.error(v.span, kListOrderExpected);
        if (v.kind == ExprKind::kList)
          for (const auto& e : v.args)
            if (e->kind != ExprKind::kString && e->kind != ExprKind::kInterp)
              diags_.error(e->span, "`ordered by` takes field names: strings");
      }
      for (const auto& s : h.path)
        if (s.key) expr(*s.key, false, false, nullptr);
      expr(*h.value, false, false, nullptr);
      break;
    }
  }
}

void AccessAnalysis::analyze(RuleInfo& info) {
  info_ = &info;
  body(info.rule->body, false);
  for (const auto& h : info.rule->heads) head(h);
  // A late rule writes as a controller patches what it watches: fields of
  // objects that exist. What it would derive, refuse or delete would have
  // to be undone when it runs again.
  if (info.rule->late) {
    if (info.rule->admitted())
      diags_.error(info.rule->name_span, "rule `" + info.rule->name + "`: an admission rule cannot be late");
    for (const auto& h : info.rule->heads)
      if (h.kind != HeadKind::kSet)
        diags_.error(h.span, "rule `" + info.rule->name + "` is late: it may only `set` fields",
                     {"a late rule writes as a controller does, after what it reads has settled"});
  }
  // An admission rule runs on writes, before they are applied, and derives
  // nothing: it is no part of the dependency graph.
  if (info.rule->admitted()) {
    info.reads.clear();
    info.writes.clear();
    info.field_writes.clear();
  }
  info_ = nullptr;
}

}  // namespace pmesh::dsl
