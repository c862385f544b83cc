#include "cli/engine_commands.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include "dsl/compiler.h"
#include "engine/documents.h"
#include "engine/durable_store.h"
#include "engine/engine.h"
#include "engine/json_path.h"

namespace pmesh::cli {

namespace {

using engine::Engine;
using engine::Json;

struct Flags {
  std::vector<std::string> policies;
  std::vector<std::string> files;
  std::vector<std::string> rest;
  std::string data_dir;
  std::string output = "text";
  std::string cluster = "root";
  bool explain = false;
  bool profile = false;
};

int usage(const std::string& msg) {
  std::cerr << "pmesh: " << msg << "\n(see `pmesh help`)\n";
  return 2;
}

bool parse(const std::vector<std::string>& args, Flags& f, std::string& err) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) {
        err = a + " needs a value";
        return false;
      }
      out = args[++i];
      return true;
    };
    std::string v;
    if (a == "--policies") {
      if (!value(v)) return false;
      f.policies.push_back(v);
    } else if (a == "-f" || a == "--filename") {
      if (!value(v)) return false;
      f.files.push_back(v);
    } else if (a == "--data-dir") {
      if (!value(f.data_dir)) return false;
    } else if (a == "-o" || a == "--output") {
      if (!value(f.output)) return false;
    } else if (a == "--cluster") {
      if (!value(f.cluster)) return false;
    } else if (a == "--explain") {
      f.explain = true;
    } else if (a == "--profile") {
      f.profile = true;
    } else if (a.size() > 1 && a[0] == '-') {
      err = "unknown flag " + a;
      return false;
    } else {
      f.rest.push_back(a);
    }
  }
  return true;
}

// The rules: the given files and folders, or the stdlib compiled into the binary.
std::shared_ptr<const dsl::CompiledProgram> compile_policies(const Flags& f) {
  dsl::DiagnosticSink diags;
  std::unique_ptr<dsl::CompiledProgram> p;
  if (!f.policies.empty()) {
    p = dsl::compile_paths(f.policies, diags);
  } else {
    p = dsl::compile(dsl::load_embedded_program(diags), diags);
  }
  std::cerr << diags.format();
  if (diags.has_errors()) return nullptr;
  return std::shared_ptr<const dsl::CompiledProgram>(std::move(p));
}

struct Loaded {
  std::unique_ptr<Engine> engine;
  std::unique_ptr<engine::DurableStore> store;
};

bool load(const Flags& f, Loaded& out, bool need_dir) {
  auto program = compile_policies(f);
  if (!program) return false;
  out.engine = std::make_unique<Engine>(program);
  if (f.data_dir.empty()) {
    if (need_dir) std::cerr << "pmesh: --data-dir is required\n";
    return !need_dir;
  }
  std::string err;
  // The same layout as `pmesh serve`: the store is DIR/store.
  std::error_code ec;
  std::filesystem::create_directories(f.data_dir, ec);
  out.store = engine::DurableStore::open(f.data_dir + "/store", &err);
  if (!out.store || !out.store->load(*out.engine, &err)) {
    std::cerr << "pmesh: " << err << "\n";
    return false;
  }
  out.engine->set_persistence(out.store.get());
  return true;
}

// The objects of -f files as create or update operations; errors name the document.
bool operations(const Flags& f, const Engine& e, std::vector<engine::Op>& ops) {
  std::vector<engine::Document> docs;
  std::string err;
  if (f.files.empty()) {
    std::cerr << "pmesh: name the objects with -f FILE_OR_DIR\n";
    return false;
  }
  if (!engine::read_documents(f.files, &docs, &err)) {
    std::cerr << err << "\n";
    return false;
  }
  bool ok = true;
  for (auto& d : docs) {
    auto key = e.key_of(d.object, f.cluster, &err);
    if (!key) {
      std::cerr << d.source << ": " << err << "\n";
      ok = false;
      continue;
    }
    d.object["metadata"]["cluster"] = key->cluster;
    ops.push_back(e.get(*key) ? engine::Op::update(d.object) : engine::Op::create(d.object));
  }
  return ok;
}

Json strip_store_metadata(Json o) {
  if (o.is_null()) return o;
  for (const char* k : {"resourceVersion", "uid", "creationTimestamp", "generation"}) o["metadata"].erase(k);
  return o;
}

const char* op_name(engine::ObjectChange::Kind k) {
  return k == engine::ObjectChange::Kind::kCreated ? "create" : k == engine::ObjectChange::Kind::kUpdated ? "update" : "delete";
}

Json changes_json(engine::Result& r, const Engine& e, bool explain) {
  Json changes = Json::array(), tuples = Json::array(), conflicts = Json::array(), errors = Json::array();
  for (const auto& c : r.objects) {
    Json before = strip_store_metadata(*c.before), after = strip_store_metadata(*c.after);
    Json ch = {{"op", op_name(c.op)},
               {"object", c.op == engine::ObjectChange::Kind::kDeleted ? *c.before : *c.after},
               {"diff", Json::diff(before.is_null() ? Json::object() : before, after.is_null() ? Json::object() : after)},
               {"rules", c.rules}};
    if (explain && c.op != engine::ObjectChange::Kind::kDeleted) ch["explain"] = e.explain(engine::object_fact(c.key));
    changes.push_back(ch);
  }
  for (const auto& t : r.tuples) {
    const engine::TupleView v = t.view();
    Json args = Json::array();
    for (std::string_view a : v.args) args.push_back(std::string(a));
    tuples.push_back({{"op", t.added ? "add" : "remove"}, {"relation", std::string(v.relation)}, {"args", std::move(args)},
                      {"rules", t.rule_names()}});
  }
  for (const auto& w : r.warnings) errors.push_back({{"message", w}});
  return {{"changes", changes}, {"tuples", tuples}, {"conflicts", conflicts}, {"errors", errors}};
}

void print_text(const Json& plan) {
  int created = 0, updated = 0, deleted = 0;
  for (const auto& c : plan["changes"]) {
    std::string op = c["op"];
    (op == "create" ? created : op == "update" ? updated : deleted)++;
    const Json& o = c["object"];
    const Json& md = o.contains("metadata") ? o["metadata"] : Json();
    std::string ns = engine::string_field(md, "namespace");
    std::cout << op << " " << engine::string_field(o, "kind") << " " << engine::string_field(md, "cluster") << "/"
              << (ns.empty() ? "" : ns + "/") << engine::string_field(md, "name");
    if (!c["rules"].empty()) {
      std::cout << "  (rule" << (c["rules"].size() > 1 ? "s " : " ");
      for (size_t i = 0; i < c["rules"].size(); ++i) std::cout << (i ? ", " : "") << c["rules"][i].get<std::string>();
      std::cout << ")";
    }
    std::cout << "\n";
    for (const auto& d : c["diff"]) {
      std::string dop = d["op"];
      char mark = dop == "add" ? '+' : dop == "remove" ? '-' : '~';
      // One line per leaf: `+ /spec/type/name: "acme-org"`.
      Json leaves = d.contains("value") && (d["value"].is_object() || d["value"].is_array()) && !d["value"].empty()
                        ? d["value"].flatten()
                        : Json{{"", d.contains("value") ? d["value"] : Json()}};
      for (const auto& [sub, v] : leaves.items()) {
        std::cout << "    " << mark << " " << d["path"].get<std::string>() << sub;
        if (d.contains("value")) std::cout << ": " << v.dump();
        std::cout << "\n";
      }
    }
    if (c.contains("explain")) {
      std::string text = c["explain"];
      std::cout << "    why:\n";
      size_t start = 0;
      while (start < text.size()) {
        size_t nl = text.find('\n', start);
        std::cout << "      " << text.substr(start, nl - start) << "\n";
        if (nl == std::string::npos) break;
        start = nl + 1;
      }
    }
  }
  int added = 0, removed = 0;
  for (const auto& t : plan["tuples"]) {
    bool add = t["op"] == "add";
    (add ? added : removed)++;
    std::cout << (add ? "tuple + " : "tuple - ") << t["relation"].get<std::string>() << "(";
    for (size_t i = 0; i < t["args"].size(); ++i) std::cout << (i ? ", " : "") << t["args"][i].get<std::string>();
    std::cout << ")";
    if (!t["rules"].empty()) std::cout << "  (rule " << t["rules"][0].get<std::string>() << ")";
    std::cout << "\n";
  }
  for (const auto& e : plan["errors"]) std::cout << "error: " << e["message"].get<std::string>() << "\n";
  std::cout << created << " created, " << updated << " updated, " << deleted << " deleted; " << added
            << " tuples added, " << removed << " removed\n";
}

// What each rule cost from `before` to now, costliest first: the rules'
// share of a workload (--profile).
using RuleCosts = std::map<std::string, engine::RuleStats>;

Json profile_json(const RuleCosts& before, const RuleCosts& after) {
  Json rows = Json::array();
  for (const auto& [rule, s] : after) {
    engine::RuleStats b = before.count(rule) ? before.at(rule) : engine::RuleStats{};
    if (s.evaluations == b.evaluations && s.candidates == b.candidates) continue;
    rows.push_back({{"rule", rule},
                    {"evaluations", s.evaluations - b.evaluations},
                    {"matchesMade", s.matches_made - b.matches_made},
                    {"matchesDropped", s.matches_dropped - b.matches_dropped},
                    {"candidates", s.candidates - b.candidates},
                    {"microseconds", static_cast<double>(s.nanoseconds - b.nanoseconds) / 1000.0}});
  }
  std::sort(rows.begin(), rows.end(), [](const Json& a, const Json& b) { return a["microseconds"].get<double>() > b["microseconds"].get<double>(); });
  return rows;
}

void print_profile(const Json& rows) {
  std::printf("\n%-48s %12s %8s %8s %11s %12s\n", "RULE", "EVALUATIONS", "MADE", "DROPPED", "CANDIDATES", "TIME (µs)");
  for (const auto& r : rows)
    std::printf("%-48s %12llu %8llu %8llu %11llu %12.1f\n", r["rule"].get<std::string>().c_str(),
                static_cast<unsigned long long>(r["evaluations"].get<uint64_t>()),
                static_cast<unsigned long long>(r["matchesMade"].get<uint64_t>()),
                static_cast<unsigned long long>(r["matchesDropped"].get<uint64_t>()),
                static_cast<unsigned long long>(r["candidates"].get<uint64_t>()), r["microseconds"].get<double>());
}

int run_transaction(const std::vector<std::string>& args, bool dry_run) {
  Flags f;
  std::string err;
  if (!parse(args, f, err)) return usage(err);
  if (f.output != "text" && f.output != "json" && f.output != "yaml") return usage("-o is text, json or yaml");
  Loaded l;
  if (!load(f, l, !dry_run)) return 1;
  std::vector<engine::Op> ops;
  if (!operations(f, *l.engine, ops)) return 1;
  Json plan;
  RuleCosts before = l.engine->costs_by_rule();
  engine::Result r = l.engine->apply(ops, dry_run, [&](engine::Result& res) { plan = changes_json(res, *l.engine, f.explain); });
  if (!r.ok) {
    Json conflicts = Json::array(), errors = Json::array();
    Json entry = {{"reason", r.reason}, {"message", r.message}, {"rules", r.rules}};
    (r.reason == "Conflict" ? conflicts : errors).push_back(entry);
    plan = {{"changes", Json::array()}, {"tuples", Json::array()}, {"conflicts", conflicts}, {"errors", errors}};
  }
  Json profile = f.profile ? profile_json(before, l.engine->costs_by_rule()) : Json();
  if (f.profile) plan["profile"] = profile;
  if (f.output == "json") std::cout << plan.dump(2) << "\n";
  else if (f.output == "yaml") std::cout << engine::to_yaml(plan);
  else if (r.ok) print_text(plan);
  if (f.profile && f.output == "text") {
    std::cout << std::flush;
    print_profile(profile);
    std::fflush(stdout);
  }
  if (!r.ok) {
    std::cerr << "pmesh: the transaction is refused: " << r.reason << ": " << r.message << "\n";
    return 1;
  }
  return 0;
}

// "Kind cluster/[ns/]name" as an object key.
bool object_ref(const Engine& e, const std::vector<std::string>& rest, engine::ObjectKey& key) {
  if (rest.size() != 2) return false;
  auto ref = engine::parse_object_ref(rest[0], rest[1]);
  const dsl::KindDecl* d = ref ? e.kinds().by_name(ref->cluster, rest[0]) : nullptr;
  if (!d) {
    std::cerr << "pmesh: unknown kind " << rest[0] << "\n";
    return false;
  }
  auto parsed = engine::parse_object_ref(d->key(), rest[1]);
  if (!parsed) return false;
  key = *parsed;
  return true;
}

}  // namespace

int cmd_apply(const std::vector<std::string>& args) { return run_transaction(args, false); }
int cmd_dry_run(const std::vector<std::string>& args) { return run_transaction(args, true); }

int cmd_explain(const std::vector<std::string>& args) {
  Flags f;
  std::string err;
  if (!parse(args, f, err)) return usage(err);
  Loaded l;
  if (!load(f, l, true)) return 1;
  engine::ObjectKey key;
  if (!object_ref(*l.engine, f.rest, key)) return usage("name the object as KIND CLUSTER/[NAMESPACE/]NAME");
  if (!l.engine->get(key)) {
    std::cout << l.engine->explain_absent(key);
    return 1;
  }
  std::cout << l.engine->explain(engine::object_fact(key));
  return 0;
}

int cmd_verify(const std::vector<std::string>& args) {
  Flags f;
  std::string err;
  if (!parse(args, f, err)) return usage(err);
  Loaded l;
  if (!load(f, l, true)) return 1;
  std::string diff = l.engine->verify();
  if (!diff.empty()) {
    std::cout << diff << "pmesh: the stored state differs from a recomputation\n";
    return 1;
  }
  size_t objects = 0;
  for (const auto& [k, e] : l.engine->state().objects()) objects += !e.effective.is_null();
  std::cout << "ok: " << objects << " objects and " << l.engine->state().tuples().size()
            << " tuples equal a recomputation from scratch\n";
  return 0;
}

}  // namespace pmesh::cli
