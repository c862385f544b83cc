#include "fga/lower.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <sstream>
#include <string_view>
#include <stdexcept>
#include <vector>

namespace pmesh::fga {

namespace {

using Kind = Rewrite::Kind;

// A string literal of the rules language.
std::string lit(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\' || c == '{' || c == '}') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string ident(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return out;
}

struct Info {
  std::set<std::string> wild;
  bool cofinite = false;
  // What a union of this and `o` can hold.
  void add(const Info& o) {
    wild.insert(o.wild.begin(), o.wild.end());
    cofinite = cofinite || o.cofinite;
  }
  bool operator==(const Info& o) const { return wild == o.wild && cofinite == o.cofinite; }
};

struct Node {
  std::string name;
  Info info;
  // A view (RelationPart): the tuples of `type#rel` as written, those
  // `admitted` admits. Its name is no identifier, so that no rule can name it.
  std::string type{}, rel{};
  std::vector<TypeRestriction> admitted{};
  bool view() const { return !rel.empty(); }
};

// Where a union's subjects come from.
struct Source {
  // kComputed: `or R`, another relation of this object (a kNode that a
  // relation read at check time does not copy).
  enum class K { kNode, kComputed, kPlain, kWild, kUserset, kTupleToUserset } k;
  std::string type;      // plain, wild: U; userset: G; tuple-to-userset: the related object's type
  std::string relation;  // userset: the `#m` of G#m
  Node node;             // node; userset: G#m; tuple-to-userset: the related object's relation
  Node tupleset;         // tuple-to-userset: the relation on this object holding the related objects
};

// A tuple-to-userset of a union: the tupleset's relation, the type of the
// objects it names, the relation asked of them.
struct Ttu {
  std::string tupleset, type, target;
};

// The most parts a relation is read as (LoweredRelation::parts).
constexpr size_t kMaxParts = 8;

class Lowerer {
 public:
  Lowerer(const Model& m, const std::string& prefix) : m_(m), prefix_(prefix) {}

  LoweredModel run() {
    out_.module = prefix_.empty() ? "fga" : prefix_.substr(0, prefix_.find_last_not_of('_') + 1);
    names_.insert(kTupleRelation);
    names_.insert(kLoadedRelation);
    // A relation that only names another of its type (`define get: member`)
    // is that relation: it gets no rules and no facts of its own. Most of
    // Platform Mesh's model is such aliases.
    for (const auto& t : m_.types)
      for (const auto& r : t.relations)
        if (r.rewrite.kind != Kind::kComputed)
          out_.relations[relation_ref(t.name, r.name)].name = unique(prefix_ + ident(t.name) + "_" + ident(r.name));
    for (const auto& t : m_.types)
      for (const auto& r : t.relations)
        if (r.rewrite.kind == Kind::kComputed) out_.relations[relation_ref(t.name, r.name)].name = out_.relations.at(relation_ref(t.name, target(t, r))).name;
    analyze();
    split_unions();
    decl_ << "# Generated from an OpenFGA model by `pmesh fga compile`.\nmodule " << out_.module << "\n\n"
          << "# Every store's tuples, as written, and the stores this model is loaded for:\n"
          << "# it reads the tuples of those, and every relation below has the store first.\nrelation "
          << kTupleRelation << "(store, object, rel, user)\nrelation " << kLoadedRelation << "(store, model)\n";
    for (const auto& t : m_.types)
      for (const auto& r : t.relations) {
        LoweredRelation& lr = out_.relations[relation_ref(t.name, r.name)];
        const Info& i = info_[relation_ref(t.name, r.name)];
        lr.wild = i.wild;
        lr.cofinite = i.cofinite;
        for (const Node& p : parts_of({lr.name, i})) lr.parts.push_back({p.name, p.info.wild, p.info.cofinite, p.rel, p.admitted});
        if (r.rewrite.kind == Kind::kComputed) {
          body_ << "\n# " << t.name << "#" << r.name << " is " << t.name << "#" << target(t, r) << "\n";
          continue;
        }
        body_ << "\n# " << t.name << "#" << r.name << "\n";
        auto split = parts_.find(lr.name);
        if (split == parts_.end()) {
          emit({lr.name, i}, t, r, r.rewrite);
        } else {
          std::string also;
          const Node* own = nullptr;
          for (const Node& p : split->second)
            if (p.name == lr.name) own = &p;
            else also += (also.empty() ? "" : ", ") + p.name;
          body_ << "# (with " << also << ", read where it is asked: not copied)\n";
          if (own) emit(*own, t, r, r.rewrite);
        }
      }
    out_.rules = decl_.str() + body_.str();
    return std::move(out_);
  }

 private:

  // The relation an alias chain (`a: b`, `b: c`) ends at; validation rules
  // out a chain that comes back to where it started.
  std::string target(const TypeDef& t, const RelationDef& r) const {
    const RelationDef* cur = &r;
    for (int hops = 0; cur->rewrite.kind == Kind::kComputed && hops <= static_cast<int>(t.relations.size()); ++hops)
      cur = t.find(cur->rewrite.relation);
    return cur->name;
  }

  std::string unique(std::string base) {
    std::string name = base;
    for (int n = 2; !names_.insert(name).second; ++n) name = base + "_" + std::to_string(n);
    return name;
  }

  Node relation_node(const std::string& type, const std::string& rel) {
    return {out_.relations.at(relation_ref(type, rel)).name, info_[relation_ref(type, rel)]};
  }

  // ---- What each relation can hold: a fixpoint, since relations recurse.

  void analyze() {
    for (bool changed = true; changed;) {
      changed = false;
      for (const auto& t : m_.types)
        for (const auto& r : t.relations) {
          Info i = eval(t, r, r.rewrite);
          Info& cur = info_[relation_ref(t.name, r.name)];
          if (!(i == cur)) {
            cur = std::move(i);
            changed = true;
          }
        }
    }
  }

  Info eval(const TypeDef& t, const RelationDef& def, const Rewrite& rw) {
    Info i;
    auto add = [&](const Info& o) { i.add(o); };
    switch (rw.kind) {
      case Kind::kThis:
        for (const auto& tr : def.directly_related) {
          if (tr.wildcard) i.wild.insert(tr.type);
          else if (!tr.relation.empty()) add(info_[relation_ref(tr.type, tr.relation)]);
        }
        break;
      case Kind::kComputed:
        add(info_[relation_ref(t.name, rw.relation)]);
        break;
      case Kind::kTupleToUserset:
        for (const auto& tr : t.find(rw.tupleset)->directly_related)
          if (m_.find(tr.type, rw.relation)) add(info_[relation_ref(tr.type, rw.relation)]);
        break;
      case Kind::kUnion:
        for (const auto& c : rw.children) add(eval(t, def, c));
        break;
      case Kind::kIntersection: {
        i = eval(t, def, rw.children[0]);
        for (size_t k = 1; k < rw.children.size(); ++k) i = intersect(i, eval(t, def, rw.children[k]));
        break;
      }
      case Kind::kDifference:
        i.wild = eval(t, def, rw.children[0]).wild;
        i.cofinite = true;
        break;
    }
    if (i.wild.empty()) i.cofinite = false;
    return i;
  }

  // ---- Unions whose computed usersets are read where they are asked.
  //
  // `define member: [role#assignee] or owner` would copy every owner into
  // member. Instead member's own relation holds what its other sources give,
  // and member is read as the union of its parts: its own relation and
  // owner's parts. OpenFGA answers such a union at check time too. Left
  // materialized: a relation that can be cofinite (its exceptions are
  // computed over all its sources).

  // The relations a union names directly (`or R`), as the names they have.
  void computed_sources(const TypeDef& t, const Rewrite& rw, std::vector<std::string>* out) const {
    if (rw.kind == Kind::kComputed) out->push_back(out_.relations.at(relation_ref(t.name, rw.relation)).name);
    if (rw.kind == Kind::kUnion)
      for (const auto& c : rw.children) computed_sources(t, c, out);
  }

  // A union's tuple-to-usersets (not those under an intersection or an
  // exclusion: their subjects are not all the union's).
  void direct_ttus(const TypeDef& t, const Rewrite& rw, std::vector<Ttu>* out) const {
    if (rw.kind == Kind::kTupleToUserset)
      for (const auto& tr : t.find(rw.tupleset)->directly_related)
        if (m_.find(tr.type, rw.relation))
          out->push_back({out_.relations.at(relation_ref(t.name, rw.tupleset)).name, tr.type,
                          out_.relations.at(relation_ref(tr.type, rw.relation)).name});
    if (rw.kind == Kind::kUnion)
      for (const auto& c : rw.children) direct_ttus(t, c, out);
  }

  // Whether another part of the split relation `n` already holds what a
  // tuple-to-userset of `n`'s own (tupleset `ts` naming objects of type
  // `type`) gets from `part`. Platform Mesh's namespaces have `member:
  // [role#assignee] or owner or member from parent` and `owner: ... or
  // owner from parent`: the parent's owners are a part of the parent's
  // member, and owner holds them already. Another part may skip it in turn
  // only for a part of its own, and parts do not reach back, so one of
  // them holds it.
  bool held_by_other_part(const std::string& n, const std::string& ts, const std::string& type, const std::string& part) const {
    for (const Node& x : parts_.at(n)) {
      if (x.name == n) continue;
      auto ttus = ttus_.find(x.name);
      if (ttus == ttus_.end()) continue;
      for (const Ttu& u : ttus->second) {
        if (u.tupleset != ts || u.type != type) continue;
        for (const Node& p : parts_of({u.target, {}}))
          if (p.name == part) return true;
      }
    }
    return false;
  }

  // The relation's tuples as written, when its rewrite is `this` or a
  // union with `this` in it.
  std::optional<Node> view_of(const TypeDef& t, const RelationDef& def) const {
    std::function<bool(const Rewrite&)> has_this = [&](const Rewrite& rw) {
      return rw.kind == Kind::kThis || (rw.kind == Kind::kUnion && std::any_of(rw.children.begin(), rw.children.end(), has_this));
    };
    if (!has_this(def.rewrite) || def.directly_related.empty() || tuplesets_.count(relation_ref(t.name, def.name))) return std::nullopt;
    Info info;
    for (const auto& tr : def.directly_related)
      if (tr.wildcard) info.wild.insert(tr.type);
    return Node{"(" + relation_ref(t.name, def.name) + " as written)", std::move(info), t.name, def.name, def.directly_related};
  }

  // What a union's sources other than its computed usersets (and, when
  // `viewed`, its tuples as written) can hold, and whether there are any.
  std::optional<Info> own_info(const TypeDef& t, const RelationDef& def, const Rewrite& rw, bool viewed) {
    if (rw.kind == Kind::kComputed) return std::nullopt;
    if (rw.kind == Kind::kThis && viewed) {
      // What the usersets among them hold.
      std::optional<Info> out;
      for (const auto& tr : def.directly_related)
        if (!tr.relation.empty()) (out ? *out : out.emplace()).add(info_[relation_ref(tr.type, tr.relation)]);
      return out;
    }
    if (rw.kind != Kind::kUnion) return eval(t, def, rw);
    std::optional<Info> out;
    for (const auto& c : rw.children)
      if (auto i = own_info(t, def, c, viewed)) (out ? *out : out.emplace()).add(*i);
    return out;
  }

  void split_unions() {
    std::function<void(const TypeDef&, const Rewrite&)> note_tuplesets = [&](const TypeDef& t, const Rewrite& rw) {
      if (rw.kind == Kind::kTupleToUserset) tuplesets_.insert(relation_ref(t.name, rw.tupleset));
      for (const auto& c : rw.children) note_tuplesets(t, c);
    };
    for (const auto& t : m_.types)
      for (const auto& r : t.relations) note_tuplesets(t, r.rewrite);
    std::map<std::string, std::vector<std::string>> edges;  // a union's name -> its computed usersets' names
    std::map<std::string, std::pair<const TypeDef*, const RelationDef*>> defs;  // name -> not an alias
    for (const auto& t : m_.types)
      for (const auto& r : t.relations) {
        if (r.rewrite.kind == Kind::kComputed) continue;
        const std::string& name = out_.relations.at(relation_ref(t.name, r.name)).name;
        defs[name] = {&t, &r};
        bool union_like = r.rewrite.kind != Kind::kIntersection && r.rewrite.kind != Kind::kDifference;
        if (union_like && !info_[relation_ref(t.name, r.name)].cofinite) computed_sources(t, r.rewrite, &edges[name]);
        if (union_like) direct_ttus(t, r.rewrite, &ttus_[name]);
      }
    // Parts, sources first. validate() refuses a relation that reaches
    // itself through computed usersets, so this ends. A relation of more
    // than kMaxParts parts is derived whole instead: a rule that reads two
    // relations is written once per pair of their parts, and a tenant
    // writes the model.
    std::map<std::string, std::vector<Node>> done;
    std::set<std::string> open;
    std::function<std::vector<Node>(const std::string&)> parts = [&](const std::string& name) -> std::vector<Node> {
      if (auto it = done.find(name); it != done.end()) return it->second;
      auto [type, def] = defs.at(name);
      Node whole{name, info_.at(relation_ref(type->name, def->name))};
      if (whole.info.cofinite) return done[name] = {whole};  // its exceptions are over all its sources
      auto sources = edges.find(name);
      std::optional<Node> view = view_of(*type, *def);
      if (!view && (sources == edges.end() || sources->second.empty())) return done[name] = {whole};
      if (!open.insert(name).second) throw std::logic_error("lower: " + name + " reaches itself through computed usersets");
      std::optional<Info> own = own_info(*type, *def, def->rewrite, view.has_value());
      std::vector<Node> out;
      if (view) out.push_back(*view);
      if (own) out.push_back({name, *own});
      for (const auto& m : sources->second)
        for (const Node& p : parts(m))
          if (std::none_of(out.begin(), out.end(), [&](const Node& x) { return x.name == p.name; })) out.push_back(p);
      if (out.size() > kMaxParts) return done[name] = {whole};
      parts_[name] = out;
      return done[name] = std::move(out);
    };
    for (const auto& [name, sources] : edges) parts(name);
  }

  // The materialized relations whose union is `m`.
  std::vector<Node> parts_of(const Node& m) const {
    auto it = parts_.find(m.name);
    return it == parts_.end() ? std::vector<Node>{m} : it->second;
  }

  // Whether variable `subj` is a user view `v` admits, as fga::admits
  // decides it.
  static std::string admitted(const Node& v, const std::string& subj) {
    std::string out;
    for (const auto& tr : v.admitted) {
      std::string one = tr.wildcard            ? subj + " == " + lit(tr.type + ":*")
                        : tr.relation.empty() ? concrete(subj, tr.type)
                                              : userset(subj, tr.type, tr.relation);
      out += (out.empty() ? "(" : " or (") + one + ")";
    }
    return out;
  }

  // Part p's pattern: `p(st, obj, subj)`, or a view's tuple as written.
  static std::string pattern(const Node& p, const std::string& obj, const std::string& subj) {
    return p.view() ? std::string(kTupleRelation) + "(st, " + obj + ", " + lit(p.rel) + ", " + subj + ")"
                    : p.name + "(st, " + obj + ", " + subj + ")";
  }

  // `for p(st, obj, subj)` of one part, `subj` a variable: a view reads the
  // store's tuples, of its object's type, that it admits, in a store this
  // model is loaded for.
  std::string read(const Node& p, const std::string& obj, const std::string& subj) const {
    if (!p.view()) return "for " + pattern(p, obj, subj);
    return tuple(obj, p.rel, subj) + "\n  where starts_with(" + obj + ", " + lit(p.type + ":") + ")\n  where " + admitted(p, subj);
  }

  // `for p(st, obj, "U:*")` of a part that can hold it.
  std::string read_wild(const Node& p, const std::string& obj, const std::string& u) const {
    if (!p.view()) return "for " + pattern(p, obj, lit(u + ":*"));
    return tuple(obj, p.rel, lit(u + ":*")) + "\n  where starts_with(" + obj + ", " + lit(p.type + ":") + ")";
  }

  // `for m(st, obj, subj)`, one alternative per part.
  std::vector<std::string> reads(const Node& m, const std::string& obj, const std::string& subj) const {
    std::vector<std::string> out;
    for (const Node& p : parts_of(m)) out.push_back(read(p, obj, subj));
    return out;
  }

  // `for m(st, obj, "U:*")`, one alternative per part that can hold it.
  std::vector<std::string> reads_wild(const Node& m, const std::string& obj, const std::string& u) const {
    std::vector<std::string> out;
    for (const Node& p : parts_of(m))
      if (p.info.wild.count(u)) out.push_back(read_wild(p, obj, u));
    return out;
  }

  // That bound `subj` is in none of `m`'s parts on bound `obj`: one line
  // per part. A view's line has two alternatives, since a tuple it does
  // not admit counts for nothing: no such tuple, or not admitted.
  std::vector<std::vector<std::string>> none_of(const Node& m, const std::string& obj, const std::string& subj) const {
    std::vector<std::vector<std::string>> out;
    for (const Node& p : parts_of(m)) {
      out.push_back({"not for " + pattern(p, obj, subj)});
      if (p.view()) out.back().push_back("where not (" + admitted(p, subj) + ")");
    }
    return out;
  }

  // That no part of `m` holds `U:*` on bound `obj`: one line (none is no line).
  std::vector<std::vector<std::string>> none_wild(const Node& m, const std::string& obj, const std::string& u) const {
    std::string out;
    for (const Node& p : parts_of(m))
      if (p.info.wild.count(u)) out += (out.empty() ? "not for " : "\n  not for ") + pattern(p, obj, lit(u + ":*"));
    return {{out}};
  }

  // Lines one after another.
  static std::vector<std::vector<std::string>> cat(std::initializer_list<std::vector<std::vector<std::string>>> parts) {
    std::vector<std::vector<std::string>> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  }

  static Info intersect(const Info& a, const Info& b) {
    Info i;
    for (const auto& w : a.wild)
      if (b.wild.count(w)) i.wild.insert(w);
    i.cofinite = (a.cofinite || b.cofinite) && !i.wild.empty();
    return i;
  }

  // ---- Rules

  void declare(const Node& n) {
    decl_ << "relation " << n.name << "(store, object, subject)\n";
    if (n.info.cofinite) decl_ << "relation " << n.name << "__x(store, object, subject)\n";
  }

  void rule(const std::vector<std::string>& body, const std::string& head) {
    body_ << "rule " << prefix_ << "r" << ++rules_ << "\n";
    // A line twice (two views' `for fga_loaded`) once; and no `for
    // fga_loaded` where the body reads one of the model's relations, which
    // hold loaded stores' subjects only.
    static const std::string for_tuple = std::string("for ") + kTupleRelation + "(", for_loaded = std::string("for ") + kLoadedRelation + "(";
    auto starts = [](std::string_view line, std::string_view with) { return line.substr(0, with.size()) == with; };
    std::vector<std::string_view> lines;
    bool reads_own = false;
    for (const auto& b : body)
      for (size_t at = 0; at < b.size();) {
        size_t end = std::min(b.find("\n  ", at), b.size());
        std::string_view line = std::string_view(b).substr(at, end - at);
        if (std::find(lines.begin(), lines.end(), line) == lines.end()) lines.push_back(line);
        reads_own = reads_own || (starts(line, "for ") && !starts(line, for_tuple) && !starts(line, for_loaded));
        at = end + 3;
      }
    for (std::string_view line : lines)
      if (!reads_own || !starts(line, for_loaded)) body_ << "  " << line << "\n";
    body_ << "  derive " << head << "\n";
  }

  // One rule per choice of one alternative from each line: how a body that
  // reads a union of parts is written.
  void rules(const std::vector<std::vector<std::string>>& lines, const std::string& head) {
    std::vector<std::string> body(lines.size());
    std::function<void(size_t)> choose = [&](size_t i) {
      if (i == lines.size()) return rule(body, head);
      for (const auto& alt : lines[i]) {
        body[i] = alt;
        choose(i + 1);
      }
    };
    choose(0);
  }

  static std::string concrete(const std::string& var, const std::string& type) {
    return "starts_with(" + var + ", " + lit(type + ":") + ") and not contains(" + var + ", \"#\") and " + var +
           " != " + lit(type + ":*");
  }

  // A store's tuple, in a store this model is loaded for.
  std::string tuple(const std::string& obj, const std::string& rel, const std::string& user) const {
    return std::string("for ") + kTupleRelation + "(st, " + obj + ", " + lit(rel) + ", " + user + ")\n  for " +
           kLoadedRelation + "(st, " + lit(out_.module) + ")";
  }

  // That `var` is a userset `G:id#m`.
  static std::string userset(const std::string& var, const std::string& type, const std::string& relation) {
    return "starts_with(" + var + ", " + lit(type + ":") + ") and ends_with(" + var + ", " + lit("#" + relation) + ")";
  }

  std::string userset_filter(const TypeDef& t, const std::string& var, const Source& s) const {
    return "where starts_with(o, " + lit(t.name + ":") + ") and " + userset(var, s.type, s.relation);
  }

  std::string userset_object(const std::string& var, const Source& s) const {
    return "replace(" + var + ", " + lit("#" + s.relation) + ", \"\")";
  }

  // `for p(st, obj, "U:*")` of a part that can hold it, with its exceptions
  // left out for `subj`.
  std::string wild_of(const Node& p, const std::string& obj, const std::string& u, const std::string& subj) const {
    std::string out = read_wild(p, obj, u);
    if (p.info.cofinite) out += "\n  not for " + p.name + "__x(st, " + obj + ", " + subj + ")";
    return out;
  }

  // `for m(st, obj, "U:*")` of each part that can hold it, as wild_of.
  std::vector<std::string> wilds_of(const Node& m, const std::string& obj, const std::string& u, const std::string& subj) const {
    std::vector<std::string> out;
    for (const Node& p : parts_of(m))
      if (p.info.wild.count(u)) out.push_back(wild_of(p, obj, u, subj));
    return out;
  }

  // Bodies that hold when subject `s` belongs to node `m` on object `obj`.
  std::vector<std::vector<std::string>> member_of(const Node& m, const std::string& obj) const {
    std::vector<std::vector<std::string>> alts;
    for (const Node& p : parts_of(m)) {
      alts.push_back({read(p, obj, "s")});
      for (const auto& u : p.info.wild) alts.push_back({"where starts_with(s, " + lit(u + ":") + ")", wild_of(p, obj, u, "s")});
    }
    return alts;
  }

  void emit(const Node& n, const TypeDef& t, const RelationDef& def, const Rewrite& rw) {
    declare(n);
    switch (rw.kind) {
      case Kind::kIntersection: {
        Node acc = child_node(n, t, def, rw.children[0]);
        for (size_t k = 1; k < rw.children.size(); ++k) {
          Node next = child_node(n, t, def, rw.children[k]);
          Info both = intersect(acc.info, next.info);
          Node target = k + 1 == rw.children.size() ? n : Node{unique(n.name + "__and"), both};
          if (k + 1 != rw.children.size()) declare(target);
          intersection(target, acc, next);
          acc = target;
        }
        return;
      }
      case Kind::kDifference:
        difference(n, child_node(n, t, def, rw.children[0]), child_node(n, t, def, rw.children[1]));
        return;
      default: {
        std::vector<Source> sources;
        collect(t, def, rw, n, &sources);
        union_of(n, t, def, sources);
      }
    }
  }

  Node child_node(const Node& parent, const TypeDef& t, const RelationDef& def, const Rewrite& child) {
    if (child.kind == Kind::kComputed) return relation_node(t.name, child.relation);
    Node aux{unique(parent.name + "__" + std::to_string(++aux_)), eval(t, def, child)};
    emit(aux, t, def, child);
    return aux;
  }

  void collect(const TypeDef& t, const RelationDef& def, const Rewrite& rw, const Node& n, std::vector<Source>* out) {
    switch (rw.kind) {
      case Kind::kThis:
        for (const auto& tr : def.directly_related) {
          if (tr.wildcard) out->push_back({Source::K::kWild, tr.type, "", {}, {}});
          else if (tr.relation.empty()) out->push_back({Source::K::kPlain, tr.type, "", {}, {}});
          else out->push_back({Source::K::kUserset, tr.type, tr.relation, relation_node(tr.type, tr.relation), {}});
        }
        return;
      case Kind::kComputed:
        out->push_back({Source::K::kComputed, "", "", relation_node(t.name, rw.relation), {}});
        return;
      case Kind::kTupleToUserset:
        for (const auto& tr : t.find(rw.tupleset)->directly_related)
          if (m_.find(tr.type, rw.relation))
            out->push_back({Source::K::kTupleToUserset, tr.type, "", relation_node(tr.type, rw.relation), relation_node(t.name, rw.tupleset)});
        return;
      case Kind::kUnion:
        for (const auto& c : rw.children) {
          if (c.kind == Kind::kIntersection || c.kind == Kind::kDifference) out->push_back({Source::K::kNode, "", "", child_node(n, t, def, c), {}});
          else collect(t, def, c, n, out);
        }
        return;
      default:
        out->push_back({Source::K::kNode, "", "", child_node(n, t, def, rw), {}});
    }
  }

  // N holds what any source holds; a subject one source's wildcard leaves
  // out is left out of N only if no other source has it. A split N's
  // computed usersets are its other parts, not sources, and so are its
  // tuples as written when they are a view.
  void union_of(const Node& n, const TypeDef& t, const RelationDef& def, const std::vector<Source>& sources) {
    const std::string head = n.name + "(st, o, s)", obj_is_t = "where starts_with(o, " + lit(t.name + ":") + ")";
    const bool split = parts_.count(n.name) > 0;
    // Its tuples as written are a part of its own (view_of): not copied.
    const bool viewed = split && std::any_of(parts_.at(n.name).begin(), parts_.at(n.name).end(),
                                             [&](const Node& p) { return p.view() && p.type == t.name && p.rel == def.name; });
    // A userset's object (`group:eng` of `group:eng#member`) as a relation
    // of its own, so that joining it with what the userset holds is a
    // lookup both ways (a string function of the tuple's user is not).
    std::vector<std::string> usersets(sources.size());
    for (size_t i = 0; i < sources.size(); ++i) {
      const Source& s = sources[i];
      if (s.k != Source::K::kUserset) continue;
      usersets[i] = unique(n.name + "__" + ident(s.type) + "_" + ident(s.relation));
      decl_ << "relation " << usersets[i] << "(store, object, userset_object)\n";
      rule({tuple("o", def.name, "u"), userset_filter(t, "u", s)}, usersets[i] + "(st, o, " + userset_object("u", s) + ")");
    }
    for (size_t i = 0; i < sources.size(); ++i) {
      const Source& s = sources[i];
      switch (s.k) {
        case Source::K::kComputed:
          if (split) break;
          [[fallthrough]];
        case Source::K::kNode:
          rules({reads(s.node, "o", "s")}, head);
          break;
        case Source::K::kPlain:
          if (!viewed) rule({tuple("o", def.name, "s"), obj_is_t + " and " + concrete("s", s.type)}, head);
          break;
        case Source::K::kWild:
          if (!viewed) rule({tuple("o", def.name, lit(s.type + ":*")), obj_is_t}, n.name + "(st, o, " + lit(s.type + ":*") + ")");
          break;
        case Source::K::kUserset:
          if (!viewed) rule({tuple("o", def.name, "s"), userset_filter(t, "s", s)}, head);
          rules({{"for " + usersets[i] + "(st, o, g)"}, reads(s.node, "g", "s")}, head);
          break;
        case Source::K::kTupleToUserset: {
          std::vector<std::string> from;
          for (const Node& p : parts_of(s.node))
            if (!split || !held_by_other_part(n.name, s.tupleset.name, s.type, p.name)) from.push_back(read(p, "p", "s"));
          rules({reads(s.tupleset, "o", "p"), {"where starts_with(p, " + lit(s.type + ":") + ")"}, from}, head);
          break;
        }
      }
    }
    if (!n.info.cofinite) return;
    // Cofinite: never split (split_unions), so every source is here.
    const std::string cand = unique(n.name + "__c"), in = unique(n.name + "__in");
    decl_ << "relation " << cand << "(store, object, subject)\nrelation " << in << "(store, object, subject)\n";
    const std::string from_cand = "for " + cand + "(st, o, s)";
    for (size_t i = 0; i < sources.size(); ++i) {
      const Source& s = sources[i];
      std::vector<std::vector<std::string>> reach;  // binds what the source's node is asked about
      std::string obj = "o";
      switch (s.k) {
        case Source::K::kPlain:
          rule({from_cand, tuple("o", def.name, "s"), "where starts_with(s, " + lit(s.type + ":") + ")"}, in + "(st, o, s)");
          continue;
        case Source::K::kWild:
          rule({from_cand, "where starts_with(s, " + lit(s.type + ":") + ")", tuple("o", def.name, lit(s.type + ":*"))}, in + "(st, o, s)");
          continue;
        case Source::K::kNode:
        case Source::K::kComputed:
          break;
        case Source::K::kUserset:
          reach = {{"for " + usersets[i] + "(st, o, g)"}};
          obj = "g";
          break;
        case Source::K::kTupleToUserset:
          reach = {reads(s.tupleset, "o", "p"), {"where starts_with(p, " + lit(s.type + ":") + ")"}};
          obj = "p";
          break;
      }
      if (s.node.info.cofinite) {
        auto b = reach;
        b.push_back({"for " + s.node.name + "__x(st, " + obj + ", s)"});
        rules(b, cand + "(st, o, s)");
      }
      for (const auto& alt : member_of(s.node, obj)) {
        std::vector<std::vector<std::string>> b = {{from_cand}};
        b.insert(b.end(), reach.begin(), reach.end());
        for (const auto& line : alt) b.push_back({line});
        rules(b, in + "(st, o, s)");
      }
    }
    rule({from_cand, "not for " + in + "(st, o, s)"}, n.name + "__x(st, o, s)");
  }

  // N = A and B: subjects both hold, one of them perhaps through a wildcard.
  void intersection(const Node& n, const Node& a, const Node& b) {
    const std::string head = n.name + "(st, o, s)";
    rules({reads(a, "o", "s"), reads(b, "o", "s")}, head);
    for (const auto& [x, y] : {std::pair{a, b}, std::pair{b, a}})
      for (const auto& u : y.info.wild) rules({reads(x, "o", "s"), {"where " + concrete("s", u)}, wilds_of(y, "o", u, "s")}, head);
    if (!n.info.cofinite) return;
    for (const auto& side : {a, b})
      if (side.info.cofinite)  // then not split: one part
        for (const auto& u : n.info.wild)
          rule({"for " + side.name + "__x(st, o, s)", "where starts_with(s, " + lit(u + ":") + ")", "for " + n.name + "(st, o, " + lit(u + ":*") + ")"},
               n.name + "__x(st, o, s)");
  }

  // N = A but not B. A cofinite A or B is not split: it is its one part.
  void difference(const Node& n, const Node& a, const Node& b) {
    const std::string head = n.name + "(st, o, s)";
    // Subjects A names: those of no type B has a wildcard of ...
    std::string other = "where not ends_with(s, \":*\")";
    for (const auto& u : b.info.wild) other += " and not (" + concrete("s", u) + ")";
    rules(cat({{reads(a, "o", "s"), {other}}, none_of(b, "o", "s")}), head);
    // ... those of a type B has a wildcard of, when B has no wildcard here
    // or leaves them out ...
    for (const auto& u : b.info.wild) {
      rules(cat({{reads(a, "o", "s"), {"where " + concrete("s", u)}}, none_of(b, "o", "s"), none_wild(b, "o", u)}), head);
      if (b.info.cofinite) rules({reads(a, "o", "s"), {"for " + b.name + "__x(st, o, s)"}}, head);
    }
    // ... and those A's wildcard holds but B's leaves out.
    if (b.info.cofinite)
      for (const auto& u : a.info.wild) {
        if (!b.info.wild.count(u)) continue;
        rules({{"for " + b.name + "__x(st, o, s)"}, {"where starts_with(s, " + lit(u + ":") + ")"}, wilds_of(a, "o", u, "s")}, head);
      }
    // A's wildcard stays where B has none; B's members are its exceptions.
    for (const auto& u : a.info.wild) {
      rules(cat({{reads_wild(a, "o", u)}, none_wild(b, "o", u)}), n.name + "(st, o, " + lit(u + ":*") + ")");
      rules({reads(b, "o", "s"), {"where " + concrete("s", u)}, {"for " + n.name + "(st, o, " + lit(u + ":*") + ")"}}, n.name + "__x(st, o, s)");
      if (a.info.cofinite)
        rule({"for " + a.name + "__x(st, o, s)", "where starts_with(s, " + lit(u + ":") + ")", "for " + n.name + "(st, o, " + lit(u + ":*") + ")"},
             n.name + "__x(st, o, s)");
    }
  }

  const Model& m_;
  std::string prefix_;
  LoweredModel out_;
  std::map<std::string, Info> info_;
  // Split unions (split_unions): relation name -> its parts, among them its
  // own relation (under its name) unless it has no sources but computed
  // usersets.
  std::map<std::string, std::vector<Node>> parts_;
  // Relations a tuple-to-userset reads (`parent` of `owner from parent`):
  // materialized, not views. A view is the store's tuples of that name for
  // every type, and `parent` is every bound kind's: a parent tuple would
  // wake every type's tuple-to-usersets where its copy wakes its type's.
  std::set<std::string> tuplesets_;
  std::map<std::string, std::vector<Ttu>> ttus_;  // every union's tuple-to-usersets, by the union's name
  std::set<std::string> names_;
  std::ostringstream decl_, body_;
  int rules_ = 0, aux_ = 0;
};

}  // namespace

const LoweredRelation* LoweredModel::find(const std::string& type, const std::string& relation) const {
  auto it = relations.find(type + "#" + relation);
  return it == relations.end() ? nullptr : &it->second;
}

LoweredModel lower(const Model& m, const std::string& prefix) {
  LoweredModel out = Lowerer(m, prefix).run();
  out.graph = dispatch_graph(m);
  return out;
}

}  // namespace pmesh::fga
