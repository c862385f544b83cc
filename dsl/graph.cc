#include "dsl/graph.h"

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/graphviz.hpp>
#include <boost/graph/strong_components.hpp>

#include <map>
#include <nlohmann/json.hpp>
#include <queue>
#include <set>
#include <sstream>

namespace pmesh::dsl {

namespace {

// kLateWrite: what a late rule writes, shown but no part of the strata.
enum class EdgeLabel { kRead, kNegated, kWrite, kLateWrite };

const char* label_name(EdgeLabel l) {
  return l == EdgeLabel::kRead ? "read" : l == EdgeLabel::kNegated ? "negated" : l == EdgeLabel::kWrite ? "write" : "late write";
}

struct VertexProp {
  const RuleInfo* rule = nullptr;  // null for a data node
  DataNode data;
  std::string name;
  int stratum = -1;
};

struct EdgeProp {
  EdgeLabel label = EdgeLabel::kRead;
  Span span;
};

using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, VertexProp, EdgeProp>;
using Vertex = Graph::vertex_descriptor;

std::string dot_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

struct DependencyGraph::Impl {
  Graph g;
  std::vector<int> component;
  std::vector<Stratum> strata;
  std::map<const Rule*, int> stratum_of;
  std::map<DataNode, int> recursive_data;
};

DependencyGraph::DependencyGraph(const std::vector<RuleInfo>& rules, DiagnosticSink& diags)
    : impl_(std::make_unique<Impl>()) {
  Graph& g = impl_->g;
  std::map<const RuleInfo*, Vertex> rule_vertex;
  std::map<DataNode, Vertex> data_vertex;
  for (const auto& r : rules) {
    Vertex v = boost::add_vertex(g);
    g[v].rule = &r;
    g[v].name = r.rule->name;
    rule_vertex[&r] = v;
  }
  auto data = [&](const DataNode& d) {
    auto it = data_vertex.find(d);
    if (it != data_vertex.end()) return it->second;
    Vertex v = boost::add_vertex(g);
    g[v].data = d;
    g[v].name = d.label();
    data_vertex[d] = v;
    return v;
  };
  // One edge per (rule, data).
  auto add_writes = [&](const RuleInfo& r, EdgeLabel label) {
    std::set<Vertex> writes;
    for (const auto& w : r.writes) {
      Vertex d = data(w.node);
      if (writes.insert(d).second) boost::add_edge(rule_vertex[&r], d, EdgeProp{label, w.span}, g);
    }
  };
  for (const auto& r : rules) {
    Vertex rv = rule_vertex[&r];
    // One edge per (data, rule, label); a negated read subsumes a plain one.
    std::map<Vertex, const Access*> reads;
    for (const auto& a : r.reads) {
      Vertex d = data(a.node);
      auto it = reads.find(d);
      if (it == reads.end() || (a.negated && !it->second->negated)) reads[d] = &a;
    }
    for (const auto& [d, a] : reads)
      boost::add_edge(d, rv, EdgeProp{a->negated ? EdgeLabel::kNegated : EdgeLabel::kRead, a->span}, g);
    // A late rule's writes are read as later changes, as a controller's
    // are: they close no cycle and order nothing (added below, for display).
    if (!r.rule->late) add_writes(r, EdgeLabel::kWrite);
  }

  size_t n = boost::num_vertices(g);
  impl_->component.assign(n, 0);
  int ncomp = boost::strong_components(
      g, boost::make_iterator_property_map(impl_->component.begin(), boost::get(boost::vertex_index, g)));
  const auto& comp = impl_->component;

  // Negation inside a component: report the cycle it closes.
  std::set<int> reported;
  for (auto [ei, ee] = boost::edges(g); ei != ee; ++ei) {
    if (g[*ei].label != EdgeLabel::kNegated) continue;
    Vertex from = boost::source(*ei, g), to = boost::target(*ei, g);
    if (comp[from] != comp[to] || !reported.insert(comp[from]).second) continue;
    // Shortest path from the reading rule back to the data it reads, within the component.
    std::map<Vertex, Vertex> pred;
    std::queue<Vertex> q;
    q.push(to);
    pred[to] = to;
    while (!q.empty() && !pred.count(from)) {
      Vertex u = q.front();
      q.pop();
      for (auto [oi, oe] = boost::out_edges(u, g); oi != oe; ++oi) {
        Vertex w = boost::target(*oi, g);
        if (comp[w] == comp[from] && !pred.count(w)) {
          pred[w] = u;
          q.push(w);
        }
      }
    }
    std::vector<Vertex> path;
    for (Vertex v = from;; v = pred[v]) {
      path.push_back(v);
      if (v == to) break;
    }
    std::reverse(path.begin(), path.end());  // to ... from
    std::string rule_cycle, full;
    for (Vertex v : path) {
      if (g[v].rule) rule_cycle += g[v].name + " -> ";
      full += (g[v].rule ? "rule " : "") + g[v].name + " -> ";
    }
    rule_cycle += g[to].name;
    full += "(not) rule " + g[to].name;
    diags.error(g[*ei].span, "negation or aggregation through a cycle: " + rule_cycle,
                {"the cycle: " + full,
                 "a rule cannot depend on the absence of what it derives; break the cycle, read the "
                 "previous state with old(x), or write as a controller does with a `late` rule"});
  }

  // Strata: components holding rules, in topological order (Kahn's algorithm,
  // smallest vertex first, so that the order follows the program's order).
  std::vector<std::set<int>> succ(ncomp);
  std::vector<int> indegree(ncomp, 0);
  std::vector<Vertex> first_vertex(ncomp, n);
  for (Vertex v = 0; v < n; ++v) first_vertex[comp[v]] = std::min(first_vertex[comp[v]], v);
  for (auto [ei, ee] = boost::edges(g); ei != ee; ++ei) {
    int a = comp[boost::source(*ei, g)], b = comp[boost::target(*ei, g)];
    if (a != b && succ[a].insert(b).second) ++indegree[b];
  }
  std::priority_queue<std::pair<Vertex, int>, std::vector<std::pair<Vertex, int>>, std::greater<>> ready;
  for (int c = 0; c < ncomp; ++c)
    if (indegree[c] == 0) ready.push({first_vertex[c], c});
  std::vector<int> comp_stratum(ncomp, -1);
  std::vector<std::vector<Vertex>> members(ncomp);
  for (Vertex v = 0; v < n; ++v) members[comp[v]].push_back(v);
  while (!ready.empty()) {
    int c = ready.top().second;
    ready.pop();
    Stratum s;
    for (Vertex v : members[c])
      if (g[v].rule) s.rules.push_back(g[v].rule);
    if (!s.rules.empty()) {
      s.index = static_cast<int>(impl_->strata.size());
      s.recursive = members[c].size() > 1;
      comp_stratum[c] = s.index;
      impl_->strata.push_back(std::move(s));
    }
    for (int d : succ[c])
      if (--indegree[d] == 0) ready.push({first_vertex[d], d});
  }
  for (Vertex v = 0; v < n; ++v) {
    g[v].stratum = comp_stratum[comp[v]];
    if (g[v].rule) impl_->stratum_of[g[v].rule->rule] = g[v].stratum;
    else if (g[v].stratum >= 0 && impl_->strata[static_cast<size_t>(g[v].stratum)].recursive)
      impl_->recursive_data[g[v].data] = g[v].stratum;
  }
  for (const auto& r : rules)
    if (r.rule->late) add_writes(r, EdgeLabel::kLateWrite);
}

DependencyGraph::~DependencyGraph() = default;

const std::vector<Stratum>& DependencyGraph::strata() const { return impl_->strata; }
int DependencyGraph::stratum_of(const Rule* rule) const { return impl_->stratum_of.at(rule); }
int DependencyGraph::recursive_stratum_of(const DataNode& node) const {
  auto it = impl_->recursive_data.find(node);
  return it == impl_->recursive_data.end() ? -1 : it->second;
}

size_t DependencyGraph::node_count() const { return boost::num_vertices(impl_->g); }
size_t DependencyGraph::edge_count() const { return boost::num_edges(impl_->g); }

std::string DependencyGraph::to_dot() const {
  const Graph& g = impl_->g;
  std::ostringstream out;
  auto vertex_writer = [&](std::ostream& os, Vertex v) {
    if (g[v].rule)
      os << "[shape=box, style=filled, fillcolor=\"#dbe8fb\", label=\"" << dot_escape(g[v].name) << "\\nstratum "
         << g[v].stratum << "\"]";
    else
      os << "[shape=ellipse, label=\"" << dot_escape(g[v].name) << "\"]";
  };
  auto edge_writer = [&](std::ostream& os, Graph::edge_descriptor e) {
    switch (g[e].label) {
      case EdgeLabel::kRead: os << "[label=\"read\"]"; break;
      case EdgeLabel::kNegated: os << "[label=\"not\", style=dashed, color=red]"; break;
      case EdgeLabel::kWrite: os << "[label=\"write\", color=blue, penwidth=2]"; break;
      case EdgeLabel::kLateWrite: os << "[label=\"late write\", style=dashed, color=blue]"; break;
    }
  };
  auto graph_writer = [](std::ostream& os) { os << "rankdir=LR;\nnode [fontname=\"Helvetica\"];\n"; };
  boost::write_graphviz(out, g, vertex_writer, edge_writer, graph_writer);
  return out.str();
}

std::string DependencyGraph::to_json() const {
  const Graph& g = impl_->g;
  nlohmann::json nodes = nlohmann::json::array(), edges = nlohmann::json::array(), strata = nlohmann::json::array();
  for (Vertex v = 0; v < boost::num_vertices(g); ++v) {
    nlohmann::json node = {{"id", v}, {"name", g[v].name}};
    if (g[v].rule) {
      node["type"] = "rule";
      node["module"] = g[v].rule->module->name;
      node["stratum"] = g[v].stratum;
    } else if (g[v].data.kind.empty()) {
      node["type"] = "relation";
      node["relation"] = g[v].data.section;
    } else {
      node["type"] = "data";
      node["kind"] = g[v].data.kind;
      node["section"] = g[v].data.section;
    }
    nodes.push_back(node);
  }
  for (auto [ei, ee] = boost::edges(g); ei != ee; ++ei)
    edges.push_back({{"from", boost::source(*ei, g)},
                     {"to", boost::target(*ei, g)},
                     {"label", label_name(g[*ei].label)}});
  for (const auto& s : impl_->strata) {
    nlohmann::json rules = nlohmann::json::array();
    for (const auto* r : s.rules) rules.push_back(r->rule->name);
    strata.push_back({{"index", s.index}, {"rules", rules}, {"recursive", s.recursive}});
  }
  return nlohmann::json{{"nodes", nodes}, {"edges", edges}, {"strata", strata}}.dump(2) + "\n";
}

}  // namespace pmesh::dsl
