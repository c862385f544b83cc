#include "server/graphql/validation.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "server/graphql/values.h"

namespace pmesh::graphql {
namespace {

// The gateway's walker: depth and complexity through fragments, stopping
// as soon as a limit is passed (so a fragment bomb costs no more than the
// limit).
struct LimitWalker {
  const Document& doc;
  const Limits& limits;
  std::set<std::string> visiting;
  void walk(const SelectionSet& set, int depth, int* max_depth, int* complexity) {
    *max_depth = std::max(*max_depth, depth);
    if (limits.max_depth > 0 && depth > limits.max_depth) return;
    for (const auto& s : set) {
      if (limits.max_complexity > 0 && *complexity > limits.max_complexity) return;
      if (s.kind == Selection::Kind::kField) {
        ++*complexity;
        if (s.has_selections) walk(s.selections, depth + 1, max_depth, complexity);
      } else if (s.kind == Selection::Kind::kInlineFragment) {
        walk(s.selections, depth, max_depth, complexity);
      } else if (const Fragment* f = doc.fragment(s.name); f && visiting.insert(s.name).second) {
        walk(f->selections, depth, max_depth, complexity);
        visiting.erase(s.name);
      }
    }
  }
};

constexpr size_t kMaxFragments = 500;

class Validator {
 public:
  Validator(const Schema& s, const Document& d) : schema_(s), doc_(d) {}

  std::vector<Error> run() {
    // Bounds the walks below (a fragment chain is walked recursively).
    if (doc_.fragments.size() > kMaxFragments || doc_.operations.size() > kMaxFragments) {
      error("The document defines more than " + std::to_string(kMaxFragments) + " fragments or operations.", {1, 1});
      return std::move(errors_);
    }
    operations();
    std::map<std::string, int> fragment_names;
    for (const auto& f : doc_.fragments) {
      if (++fragment_names[f.name] == 2) error("There can be only one fragment named \"" + f.name + "\".", f.loc);
      const Type* t = schema_.type(f.type_condition);
      if (!t) {
        error("Unknown type \"" + f.type_condition + "\".", f.loc);
        continue;
      }
      if (t->kind != Type::Kind::kObject) {
        error("Fragment \"" + f.name + "\" cannot condition on non composite type \"" + f.type_condition + "\".", f.loc);
        continue;
      }
      Usage& u = fragment_usage_[f.name];
      directives(f.directives, "FRAGMENT_DEFINITION", u);
      selections(*t, f.selections, u);
    }
    cycles();
    // Variables, used fragments: through the fragments each operation spreads.
    std::set<std::string> used_fragments;
    for (size_t i = 0; i < doc_.operations.size(); ++i) {
      const Operation& op = doc_.operations[i];
      std::set<std::string> vars;
      std::vector<std::pair<std::string, Location>> uses = operation_usage_[i].variables;
      std::vector<std::string> todo(operation_usage_[i].spreads.begin(), operation_usage_[i].spreads.end());
      std::set<std::string> seen;
      while (!todo.empty()) {
        std::string f = todo.back();
        todo.pop_back();
        if (!seen.insert(f).second) continue;
        used_fragments.insert(f);
        auto it = fragment_usage_.find(f);
        if (it == fragment_usage_.end()) continue;
        uses.insert(uses.end(), it->second.variables.begin(), it->second.variables.end());
        todo.insert(todo.end(), it->second.spreads.begin(), it->second.spreads.end());
      }
      for (const auto& v : op.variables) vars.insert(v.name);
      std::set<std::string> used, reported;
      for (const auto& [name, loc] : uses) {
        used.insert(name);
        if (!vars.count(name) && reported.insert(name).second)
          error(op.name.empty() ? "Variable \"$" + name + "\" is not defined."
                                : "Variable \"$" + name + "\" is not defined by operation \"" + op.name + "\".",
                loc);
      }
      for (const auto& v : op.variables)
        if (!used.count(v.name))
          error(op.name.empty() ? "Variable \"$" + v.name + "\" is never used."
                                : "Variable \"$" + v.name + "\" is never used in operation \"" + op.name + "\".",
                v.loc);
    }
    for (const auto& f : doc_.fragments)
      if (!used_fragments.count(f.name)) error("Fragment \"" + f.name + "\" is never used.", f.loc);
    return std::move(errors_);
  }

 private:
  struct Usage {
    std::vector<std::pair<std::string, Location>> variables;
    std::set<std::string> spreads;
  };

  void error(std::string message, Location loc) { errors_.push_back({std::move(message), {loc}, nullptr}); }

  void operations() {
    std::map<std::string, int> names;
    size_t anonymous = 0;
    for (const auto& op : doc_.operations) anonymous += op.name.empty();
    operation_usage_.resize(doc_.operations.size());
    for (size_t i = 0; i < doc_.operations.size(); ++i) {
      const Operation& op = doc_.operations[i];
      if (op.name.empty() && doc_.operations.size() > 1)
        error("This anonymous operation must be the only defined operation.", op.loc);
      if (!op.name.empty() && ++names[op.name] == 2) error("There can be only one operation named \"" + op.name + "\".", op.loc);
      std::string root = op.type == OperationType::kQuery ? schema_.query
                         : op.type == OperationType::kMutation ? schema_.mutation
                                                                : schema_.subscription;
      const Type* t = root.empty() ? nullptr : schema_.type(root);
      if (!t) {
        error(std::string("Schema is not configured to execute ") + operation_type_name(op.type) + " operation.", op.loc);
        continue;
      }
      std::map<std::string, int> var_names;
      for (const auto& v : op.variables) {
        if (++var_names[v.name] == 2) error("There can be only one variable named \"$" + v.name + "\".", v.loc);
        if (!schema_.type(v.type.named_type())) {
          error("Unknown type \"" + v.type.named_type() + "\".", v.loc);
        } else if (!schema_.is_input(v.type)) {
          error("Variable \"$" + v.name + "\" cannot be non-input type \"" + v.type.to_string() + "\".", v.loc);
        } else if (v.default_value) {
          std::string why;
          if (!coerce_literal(schema_, *v.default_value, v.type, nullptr, &why) && !why.empty()) error(why, v.default_value->loc);
        }
      }
      Usage& u = operation_usage_[i];
      directives(op.directives, op.type == OperationType::kQuery ? "QUERY" : op.type == OperationType::kMutation ? "MUTATION" : "SUBSCRIPTION", u);
      if (op.type == OperationType::kSubscription) {
        size_t fields = 0;
        bool introspection = false;
        count_root_fields(op.selections, &fields, &introspection, 0);
        std::string who = op.name.empty() ? "Anonymous Subscription" : "Subscription \"" + op.name + "\"";
        if (fields != 1) error(who + " must select only one top level field.", op.loc);
        else if (introspection) error(who + " must not select an introspection top level field.", op.loc);
      }
      selections(*t, op.selections, u);
    }
  }

  void count_root_fields(const SelectionSet& set, size_t* n, bool* introspection, int depth) {
    for (const auto& s : set) {
      if (s.kind == Selection::Kind::kField) {
        ++*n;
        *introspection |= s.name.rfind("__", 0) == 0;
      } else if (s.kind == Selection::Kind::kInlineFragment) {
        count_root_fields(s.selections, n, introspection, depth);
      } else if (const Fragment* f = doc_.fragment(s.name); f && depth < 8) {
        count_root_fields(f->selections, n, introspection, depth + 1);
      }
    }
  }

  void arguments(const std::vector<Argument>& given, const std::vector<InputValue>& defs, const std::string& owner,
                 bool directive, Location at, Usage& u) {
    std::map<std::string, int> seen;
    for (const auto& a : given) {
      if (++seen[a.name] == 2) error("There can be only one argument named \"" + a.name + "\".", a.loc);
      variables_in(a.value, u);
      const InputValue* def = nullptr;
      for (const auto& d : defs)
        if (d.name == a.name) def = &d;
      if (!def) {
        error("Unknown argument \"" + a.name + "\" on " + (directive ? "directive \"@" : "field \"") + owner + "\".", a.loc);
        continue;
      }
      std::string why;
      if (!coerce_literal(schema_, a.value, def->type, nullptr, &why) && !why.empty()) error(why, a.value.loc);
    }
    for (const auto& d : defs) {
      if (!d.type.non_null_() || d.default_value || seen.count(d.name)) continue;
      error(std::string(directive ? "Directive \"@" : "Field \"") + (directive ? owner : owner.substr(owner.find('.') + 1)) +
                "\" argument \"" + d.name + "\" of type \"" + d.type.to_string() + "\" is required, but it was not provided.",
            at);
    }
  }

  void variables_in(const Value& v, Usage& u) {
    if (v.kind == Value::Kind::kVariable) u.variables.emplace_back(v.text, v.loc);
    for (const auto& x : v.list) variables_in(x, u);
    for (const auto& [k, x] : v.fields) variables_in(x, u);
  }

  void directives(const std::vector<Directive>& ds, const char* location, Usage& u) {
    for (const auto& d : ds) {
      const DirectiveDef* def = schema_.directive(d.name);
      if (!def) {
        error("Unknown directive \"@" + d.name + "\".", d.loc);
        continue;
      }
      if (std::find(def->locations.begin(), def->locations.end(), location) == def->locations.end())
        error("Directive \"@" + d.name + "\" may not be used on " + location + ".", d.loc);
      arguments(d.args, def->args, d.name, true, d.loc, u);
    }
  }

  void selections(const Type& t, const SelectionSet& set, Usage& u) {
    for (const auto& s : set) {
      if (s.kind == Selection::Kind::kFragmentSpread) {
        directives(s.directives, "FRAGMENT_SPREAD", u);
        const Fragment* f = doc_.fragment(s.name);
        if (!f) {
          error("Unknown fragment \"" + s.name + "\".", s.loc);
          continue;
        }
        u.spreads.insert(s.name);
        if (schema_.type(f->type_condition) && f->type_condition != t.name)
          error("Fragment \"" + s.name + "\" cannot be spread here as objects of type \"" + t.name +
                    "\" can never be of type \"" + f->type_condition + "\".",
                s.loc);
        continue;
      }
      if (s.kind == Selection::Kind::kInlineFragment) {
        directives(s.directives, "INLINE_FRAGMENT", u);
        const Type* on = &t;
        if (!s.type_condition.empty()) {
          on = schema_.type(s.type_condition);
          if (!on) {
            error("Unknown type \"" + s.type_condition + "\".", s.loc);
            continue;
          }
          if (on->kind != Type::Kind::kObject) {
            error("Fragment cannot condition on non composite type \"" + s.type_condition + "\".", s.loc);
            continue;
          }
          if (on->name != t.name)
            error("Fragment cannot be spread here as objects of type \"" + t.name + "\" can never be of type \"" + on->name + "\".", s.loc);
        }
        selections(*on, s.selections, u);
        continue;
      }
      directives(s.directives, "FIELD", u);
      const Field* f = schema_.field(t, s.name);
      if (!f) {
        error("Cannot query field \"" + s.name + "\" on type \"" + t.name + "\".", s.loc);
        continue;
      }
      const TypeRef& type = f->type;
      const std::vector<InputValue>& args = f->args;
      arguments(s.args, args, t.name + "." + s.name, false, s.loc, u);
      const Type* inner = schema_.type(type.named_type());
      if (!inner) continue;
      bool leaf = inner->kind == Type::Kind::kScalar || inner->kind == Type::Kind::kEnum;
      if (leaf && s.has_selections) leaf_error(s, type.to_string());
      if (!leaf && !s.has_selections)
        error("Field \"" + s.name + "\" of type \"" + type.to_string() + "\" must have a selection of subfields. Did you mean \"" +
                  s.name + " { ... }\"?",
              s.loc);
      if (!leaf && s.has_selections) selections(*inner, s.selections, u);
    }
  }

  void leaf_error(const Selection& s, const std::string& type) {
    error("Field \"" + s.name + "\" must not have a selection since type \"" + type + "\" has no subfields.", s.loc);
  }

  // Fragments that spread themselves, directly or through others: one
  // depth-first walk over all of them, as graphql-js's NoFragmentCycles.
  void cycles() {
    std::set<std::string> visited;
    std::vector<std::string> path;
    std::map<std::string, size_t> on_path;
    std::function<void(const std::string&)> dfs = [&](const std::string& name) {
      if (!visited.insert(name).second) return;
      auto it = fragment_usage_.find(name);
      if (it == fragment_usage_.end()) return;
      on_path[name] = path.size();
      for (const auto& next : it->second.spreads) {
        auto at = on_path.find(next);
        path.push_back(next);
        if (at == on_path.end()) {
          dfs(next);
        } else {
          std::string via;
          for (size_t i = at->second; i + 1 < path.size(); ++i) via += (via.empty() ? "\"" : ", \"") + path[i] + "\"";
          const Fragment* f = doc_.fragment(next);
          error("Cannot spread fragment \"" + next + "\" within itself" + (via.empty() ? "." : " via " + via + "."),
                f ? f->loc : Location{});
        }
        path.pop_back();
      }
      on_path.erase(name);
    };
    for (const auto& f : doc_.fragments) dfs(f.name);
  }

  const Schema& schema_;
  const Document& doc_;
  std::vector<Error> errors_;
  std::vector<Usage> operation_usage_;
  std::map<std::string, Usage> fragment_usage_;
};

}  // namespace

std::string check_limits(const Document& doc, const Limits& limits) {
  if (limits.max_depth <= 0 && limits.max_complexity <= 0) return "";
  LimitWalker w{doc, limits, {}};
  int depth = 0, complexity = 0;
  for (const auto& op : doc.operations) {
    int d = 0;
    w.walk(op.selections, 1, &d, &complexity);
    depth = std::max(depth, d);
  }
  if (limits.max_depth > 0 && depth > limits.max_depth)
    return "query depth " + std::to_string(depth) + " exceeds maximum allowed depth of " + std::to_string(limits.max_depth);
  if (limits.max_complexity > 0 && complexity > limits.max_complexity)
    return "query complexity " + std::to_string(complexity) + " exceeds maximum allowed complexity of " +
           std::to_string(limits.max_complexity);
  return "";
}

std::vector<Error> validate(const Schema& schema, const Document& doc) { return Validator(schema, doc).run(); }

}  // namespace pmesh::graphql
