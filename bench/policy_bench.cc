// Policies benchmark: Platform Mesh's rules (policies/, as compiled into the
// binary) in the engine, without HTTP.
//
//   build/bench/pmesh-policy-bench [--orgs 10,100,1000] [--accounts 3] [--samples 50] [--reopen N] [--profile N]
//                                  [--cold-after N] [--durable 1] [--keys 1] [--heap-profile PREFIX]
//   (--reopen-from DIR: one reopen, which --reopen runs as a process of its own)
//
// From the bootstrap, for each size: create that many organizations with
// `--accounts` accounts each (the cold load), then time `--samples` more of
// each operation at that size: creating an organization (its workspace
// types, workspace, logical cluster, AccountInfo, tuples and conditions in
// one transaction), creating an account in an organization, and creating a
// ConfigMap, which no rule reads (the baseline of the same run). Then the
// authorization decision of a request (server/auth/authz.h, in-process) for an
// owner, a member of the parent org and a stranger, in an account's
// workspace. Prints JSON with medians, p99 and the ratio of each to the
// baseline and to the smallest size. With --reopen N the bootstrap and the
// cold load are also written to a data directory (LevelDB, a group commit
// per organization; `flush_ms` is their sum, left out of `cold_ms`) and, after the cold load, read back into a fresh engine as
// `pmesh serve` does on a restart, in a process of its own (since
// 2026-12-05: in the cold load's, the reopened engine shared that one's
// fact keys and reused what it had freed): the time to load the records and to
// load the organizations' models again, before a first request is served
// (medians of N reopens of the same directory; `load_cpu_ms` is the CPU
// time of the records' load on all its threads, `load_engine_cpu_ms` on the
// engine's, which puts what the decoders read), and five account creates
// in the reopened engine (`account_create_after`). `--durable 1` writes the
// data directory as --reopen does but reopens nothing: a store's memory
// as a server holds it (log relations' tuples go once written) at sizes
// where a second engine would not fit beside the first.
// `kib_per_account` is what the cold load left resident (/proc/self/statm
// before and after it) over the organizations and accounts it made, each
// an Account; `anon_kib_per_account` the same of the process's own memory
// (RssAnon), without the pages of the files it maps (LevelDB reads its
// tables through mmap: after a reopen, the tables' pages it read, which the
// kernel may drop at any time, are a quarter of what is resident);
// `allocated_kib_per_account` the same by jemalloc's count of what is
// allocated and not freed: what the engine holds, which resident memory
// tells only roughly (freed pages stay resident, allocator_options.cc);
// `peak_rss_mb` is the process's peak so far (sizes run in one
// process, so it is the largest size's when that runs last).
// With --keys 1, each size also counts the tuples the cold load left, and
// the bytes of their keys' text, by relation (`tuple_keys`: what interning
// each key's text costs, which facts as rows of symbol ids would replace).
// With --profile N, each size also lists, for each operation, the time its
// rules took in all and the N rules that cost most, in µs per sample.
// --cold-after N sets how many commits must leave an object unchanged
// before the engines hold it as its CBOR (Engine::Options::cold_after_transactions,
// the engine's default unless given; 0: never). As in `pmesh serve`
// (Engine::set_cold_scheduler), objects whose window a write ended go cold
// after it, not inside it: untimed after each timed write, reported as
// `cold_drain` (µs per sample; since 2026-12-06, before which each create's
// figure included it), and within `cold_ms` during the cold load. A
// reopened engine freezes inline, as before.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "dsl/compiler.h"
#include "dsl/program.h"
#include "engine/documents.h"
#include "engine/durable_store.h"
#include "bench/bench_util.h"
#include "bench/cold_drain.h"
#include "engine/engine.h"
#include "server/auth/authz.h"
#include "server/openfga/fga_store.h"
#include "server/openfga/platform_model.h"
#include "stdlib/embedded.h"

using pmesh::engine::Engine;
using pmesh::engine::Json;
using pmesh::engine::Op;

namespace {

using pmesh::bench::Clock;
using pmesh::bench::us;

Json org(const std::string& name) {
  return {{"apiVersion", "core.platform-mesh.io/v1alpha1"}, {"kind", "Account"},
          {"metadata", {{"name", name}, {"cluster", "root:orgs"}}},
          {"spec", {{"type", "org"}, {"creator", "alice@example.com"}}}};
}
Json account(const std::string& org_name, const std::string& name) {
  return {{"apiVersion", "core.platform-mesh.io/v1alpha1"}, {"kind", "Account"},
          {"metadata", {{"name", name}, {"cluster", "root:orgs:" + org_name}}},
          {"spec", {{"type", "account"}, {"creator", "bob@example.com"}}}};
}
Json configmap(const std::string& name) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "default"}, {"cluster", "root"}}},
          {"data", {{"k", "v"}}}};
}

// Where committed transactions go next, as in the server: organizations'
// stores load their model.
pmesh::server::FgaStore* fga = nullptr;

void apply(Engine& e, Json o) {
  auto r = e.apply({Op::create(std::move(o))});
  if (!r.ok) {
    std::cerr << "pmesh-policy-bench: " << r.reason << ": " << r.message << "\n";
    std::exit(1);
  }
  if (fga) fga->committed(r);
}

// The first argument that pairs with `key` in `relation`.
std::string lookup(const Engine& e, const std::string& relation, const std::string& key) {
  std::string out;
  e.state().scan_tuples_with(relation, {key}, [&](const pmesh::engine::FactKey& f) {
    out = pmesh::engine::parse_tuple_fact(f).second[1];
    return false;
  });
  return out;
}

// The tuples in memory by relation: how many, and their keys' text in all
// and per Account made (`per_account` of them), largest first.
Json tuple_keys(const Engine& e, double per_account) {
  std::map<std::string, std::pair<size_t, size_t>> by;  // relation -> count, bytes
  size_t count = 0, bytes = 0;
  for (const auto& [key, tuple] : e.state().tuples()) {
    auto& [n, b] = by[std::string(pmesh::engine::view_tuple_fact(key.str()).relation)];
    ++n, ++count;
    b += key.str().size(), bytes += key.str().size();
  }
  std::vector<std::pair<std::string, std::pair<size_t, size_t>>> sorted(by.begin(), by.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& x, const auto& y) { return x.second.second > y.second.second; });
  Json relations = Json::array();
  for (const auto& [relation, nb] : sorted)
    relations.push_back({{"relation", relation}, {"tuples", nb.first}, {"bytes", nb.second},
                         {"bytes_per_account", std::round(static_cast<double>(nb.second) / per_account)}});
  return {{"tuples", count},
          {"bytes", bytes},
          {"bytes_per_tuple", count ? std::round(static_cast<double>(bytes) / static_cast<double>(count)) : 0.0},
          {"bytes_per_account", std::round(static_cast<double>(bytes) / per_account)},
          {"relations", relations}};
}

Json stats(const std::vector<double>& v) {
  return {{"median_us", pmesh::bench::percentile(v, 0.5)}, {"p99_us", pmesh::bench::percentile(v, 0.99)}};
}

// --reopen-from DIR (main runs it so): DIR's state loaded into a fresh
// engine, as JSON: the load's times, what this process holds after it
// (resident, its own, allocated: KiB), the state's size, and five account
// creates in organizations nothing has touched since, whose objects are
// read for the first time (nothing reaches the directory).
int reopen_from(const pmesh::dsl::CompiledProgram& program, const std::string& dir, int size, int cold_after) {
  Engine::Options options;
  options.cold_after_transactions = cold_after;
  const long resident0 = pmesh::bench::resident_kib(), anon0 = pmesh::bench::resident_anon_kib();
  const long allocated0 = pmesh::bench::allocated_kib();
  auto r0 = Clock::now();
  const double cpu0 = pmesh::bench::cpu_us(), thread0 = pmesh::bench::thread_cpu_us();
  std::string err;
  auto store = pmesh::engine::DurableStore::open(dir, &err);
  Engine e(std::shared_ptr<const pmesh::dsl::CompiledProgram>(&program, [](auto*) {}), options);
  if (!store || !store->load(e, &err)) {
    std::cerr << "pmesh-policy-bench: reopen: " << err << "\n";
    return 1;
  }
  Json out = {{"load_us", us(Clock::now() - r0)},
              {"load_cpu_us", pmesh::bench::cpu_us() - cpu0},
              {"load_engine_cpu_us", pmesh::bench::thread_cpu_us() - thread0}};
  auto m0 = Clock::now();
  pmesh::server::FgaStore models(e);
  models.set_platform_model(pmesh::server::platform_model_files(*program.program));
  models.load();
  out["models_us"] = us(Clock::now() - m0);
  // As a server holds it once a user has listed organizations.
  auto i0 = Clock::now();
  pmesh::server::Authorizer::index_tuples_by_user(e);
  out["user_index_us"] = us(Clock::now() - i0);
  out["resident_kib"] = pmesh::bench::resident_kib() - resident0;
  out["anon_kib"] = pmesh::bench::resident_anon_kib() - anon0;
  out["allocated_kib"] = pmesh::bench::allocated_kib() - allocated0;
  out["objects"] = e.state().objects().size();
  out["tuples"] = e.state().tuples().size();
  fga = &models;
  Json creates = Json::array();
  for (int k = 0; k < 5; ++k) {
    auto a = Clock::now();
    apply(e, account("org" + std::to_string(k * std::max(1, size / 5) % size), "after-reopen" + std::to_string(k)));
    creates.push_back(us(Clock::now() - a));
  }
  out["creates_after_us"] = creates;
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes = {10, 100, 1000};
  int per_org = 3, samples = 50;
  int reopen = 0;  // how many times the data directory is reopened
  int durable = 0;  // the cold load written to a data directory (implied by reopen)
  int profile = 0;
  int keys = 0;
  int cold_after = Engine::Options().cold_after_transactions;
  std::string reopen_dir;  // set: this process is one reopen of that directory (reopen_from)
  std::string heap_profile;  // set: jemalloc's heap profile written there after each cold load
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--orgs") sizes = pmesh::bench::counts_arg("--orgs", argv[i + 1]);
    else if (a == "--accounts") per_org = pmesh::bench::count_arg("--accounts", argv[i + 1]);
    else if (a == "--samples") samples = pmesh::bench::count_arg("--samples", argv[i + 1]);
    else if (a == "--reopen") reopen = pmesh::bench::count_arg("--reopen", argv[i + 1]);
    else if (a == "--durable") durable = pmesh::bench::count_arg("--durable", argv[i + 1]);
    else if (a == "--profile") profile = pmesh::bench::count_arg("--profile", argv[i + 1]);
    else if (a == "--keys") keys = pmesh::bench::count_arg("--keys", argv[i + 1]);
    else if (a == "--cold-after") cold_after = pmesh::bench::count_arg("--cold-after", argv[i + 1]);
    else if (a == "--reopen-from") reopen_dir = argv[i + 1];
    else if (a == "--heap-profile") heap_profile = argv[i + 1];
  }
  if (samples < 1) {
    // Every figure is a median of samples, and the ratios divide by them.
    std::cerr << "--samples: want at least 1\n";
    return 2;
  }
  pmesh::dsl::DiagnosticSink diags;
  auto program = pmesh::dsl::compile(pmesh::dsl::load_embedded_program(diags), diags);
  if (!program || diags.error_count()) {
    std::cerr << "pmesh-policy-bench: the embedded policies do not compile\n";
    return 1;
  }
  if (!reopen_dir.empty()) return reopen_from(*program, reopen_dir, sizes.at(0), cold_after);
  Json out = {{"orgs", Json::array()}};
  for (int size : sizes) {
    Engine::Options options;
    options.cold_after_transactions = cold_after;
    Engine e(std::shared_ptr<const pmesh::dsl::CompiledProgram>(program.get(), [](auto*) {}), options);
    std::string dir = (std::filesystem::temp_directory_path() / ("pmesh-policy-bench-" + std::to_string(getpid()))).string();
    std::unique_ptr<pmesh::engine::DurableStore> disk;
    if (reopen || durable) {
      std::filesystem::remove_all(dir);
      std::string err;
      disk = pmesh::engine::DurableStore::open(dir, &err);
      if (!disk) {
        std::cerr << "pmesh-policy-bench: " << err << "\n";
        return 1;
      }
      // Loaded, empty as it is, as `pmesh serve` loads its directory: the
      // load is what tells the store the rules' fingerprint, which its
      // commits write (without it a reopen took the stored matches for
      // another program's).
      if (!disk->load(e, &err)) {
        std::cerr << "pmesh-policy-bench: " << err << "\n";
        return 1;
      }
      disk->set_deferred(true);
      e.set_persistence(disk.get());
    }
    std::vector<pmesh::engine::Document> docs;
    std::string err;
    for (const auto& f : pmesh::embedded_policies())
      if (std::string(f.path).ends_with("bootstrap.yaml") && !pmesh::engine::parse_documents(f.text, f.path, &docs, &err))
        return 1;
    std::vector<Op> boot;
    for (auto& d : docs) boot.push_back(Op::create(d.object));
    if (!e.apply(boot).ok) return 1;
    pmesh::server::FgaStore store(e);
    store.set_platform_model(pmesh::server::platform_model_files(*program->program));
    store.load();
    fga = &store;
    // The index a server adds on its first list of organizations by a
    // user (who is no administrator), kept up from the start.
    pmesh::server::Authorizer::index_tuples_by_user(e);
    // Objects go cold between writes, as the server's handlers hold them.
    pmesh::bench::ColdDrain cold_drain(e);

    // With a data directory, each organization's transactions are written
    // as one group commit, as a server's burst of requests is: LevelDB then
    // holds most of the state in its tables, and a restart replays only its
    // last log (one batch for everything would be replayed whole).
    double write = 0;
    long resident_before = pmesh::bench::resident_kib(), anon_before = pmesh::bench::resident_anon_kib();
    long allocated_before = pmesh::bench::allocated_kib();
    auto t0 = Clock::now();
    for (int i = 0; i < size; ++i) {
      apply(e, org("org" + std::to_string(i)));
      cold_drain.drain();
      for (int j = 0; j < per_org; ++j) {
        apply(e, account("org" + std::to_string(i), "acc" + std::to_string(j)));
        cold_drain.drain();
      }
      if (disk) {
        auto w = Clock::now();
        std::string err;
        if (!disk->flush(&err)) {
          std::cerr << "pmesh-policy-bench: " << err << "\n";
          return 1;
        }
        write += us(Clock::now() - w);
      }
    }
    double cold = us(Clock::now() - t0) - write;
    // What the cold load keeps resident, per organization or account it made.
    long loaded_kib = pmesh::bench::resident_kib() - resident_before;
    long loaded_anon_kib = pmesh::bench::resident_anon_kib() - anon_before;
    long loaded_allocated_kib = pmesh::bench::allocated_kib() - allocated_before;
    if (!heap_profile.empty() && !pmesh::bench::dump_heap_profile(heap_profile + "." + std::to_string(size) + ".heap"))
      std::cerr << "pmesh-policy-bench: no heap profile (run with MALLOC_CONF=prof:true)\n";
    // Organizations and accounts made, each an Account: what memory is per.
    const double made = static_cast<double>(size) * (per_org + 1);
    Json key_census;
    if (keys) key_census = tuple_keys(e, made);
    Json reopened;
    if (disk) {
      e.set_persistence(nullptr);
      disk.reset();
      // Each reopen is a process of its own, as a restart is: in this one
      // the cold load's engine would lend the reopened one every fact key
      // they share (the keys are interned process-wide), and the reopen
      // would reuse first what the cold load freed. The medians of
      // `reopen` runs; what the first keeps resident.
      std::vector<double> loads, load_cpus, load_engine_cpus, model_loads, user_indexes, firsts, creates_after;
      bool same = true;
      Json first;
      reopened = {{"flush_ms", write / 1000}};  // what the reopens add follows
      for (int n = 0; n < reopen; ++n) {
        std::string out;
        if (!pmesh::bench::run_captured({"/proc/self/exe", "--reopen-from", dir, "--orgs", std::to_string(size), "--accounts",
                                         std::to_string(per_org), "--cold-after", std::to_string(cold_after)},
                                        &out)) {
          std::cerr << "pmesh-policy-bench: the reopen's process failed\n";
          return 1;
        }
        Json r = Json::parse(out);
        loads.push_back(r["load_us"]);
        load_cpus.push_back(r["load_cpu_us"]);
        load_engine_cpus.push_back(r["load_engine_cpu_us"]);
        model_loads.push_back(r["models_us"]);
        user_indexes.push_back(r["user_index_us"]);
        firsts.push_back(loads.back() + model_loads.back());
        for (const auto& c : r["creates_after_us"]) creates_after.push_back(c);
        same = same && r["objects"] == e.state().objects().size() && r["tuples"] == e.state().tuples().size();
        if (n == 0) first = r;
      }
      auto median_ms = [](const std::vector<double>& v) { return stats(v)["median_us"].get<double>() / 1000; };
      auto per_account = [&](const char* kib) { return std::round(first[kib].get<double>() / made * 10) / 10; };
      if (reopen)
        reopened.update({{"load_ms", median_ms(loads)}, {"load_cpu_ms", median_ms(load_cpus)},
                         {"load_engine_cpu_ms", median_ms(load_engine_cpus)},
                         {"models_ms", median_ms(model_loads)},
                         {"user_index_ms", median_ms(user_indexes)},
                         {"first_request_after_ms", median_ms(firsts)}, {"reopens", reopen}, {"same_state", same},
                         {"kib_per_account", per_account("resident_kib")},
                         {"anon_kib_per_account", per_account("anon_kib")},
                         {"allocated_kib_per_account", per_account("allocated_kib")},
                         {"account_create_after", stats(creates_after)}});
      std::filesystem::remove_all(dir);
    }

    // Rules of rule sets (a model per organization) are counted together,
    // and each operation's costs apart (a snapshot of the costs around it).
    using Costs = std::map<std::string, pmesh::engine::RuleStats>;
    std::map<std::string, std::map<std::string, pmesh::engine::RuleStats>> spent;  // op -> rule -> cost
    std::vector<double> drains;
    auto timed = [&](const char* op, Json o, std::vector<double>& into) {
      Costs before;
      if (profile) before = e.costs_by_rule();
      auto a = Clock::now();
      apply(e, std::move(o));
      into.push_back(us(Clock::now() - a));
      drains.push_back(cold_drain.drain());
      if (!profile) return;
      for (const auto& [r, st] : e.costs_by_rule()) {
        const auto& b = before[r];
        auto& acc = spent[op][r];
        acc.evaluations += st.evaluations - b.evaluations;
        acc.candidates += st.candidates - b.candidates;
        acc.nanoseconds += st.nanoseconds - b.nanoseconds;
      }
    };
    std::vector<double> orgs, accounts, baseline;
    for (int s = 0; s < samples; ++s) {
      timed("configmap_create", configmap("cm" + std::to_string(s)), baseline);
      timed("org_create", org("extra" + std::to_string(s)), orgs);
      timed("account_create", account("org" + std::to_string(s % size), "extra" + std::to_string(s)), accounts);
    }
    Json costs = Json::object();
    for (const auto& [op, rules] : spent) {
      std::vector<std::pair<uint64_t, Json>> rows;
      uint64_t total = 0;
      for (const auto& [r, st] : rules) {
        if (!st.nanoseconds) continue;
        total += st.nanoseconds;
        rows.push_back({st.nanoseconds,
                        {{"rule", r}, {"evaluations_per_sample", static_cast<double>(st.evaluations) / samples},
                         {"candidates_per_sample", static_cast<double>(st.candidates) / samples},
                         {"us_per_sample", st.nanoseconds / 1000.0 / samples}}});
      }
      std::sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
      Json top = Json::array();
      for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(profile); ++i) top.push_back(rows[i].second);
      costs[op] = {{"rules_us_per_sample", total / 1000.0 / samples}, {"rules", top}};
    }
    // Authorization decisions, each a question to the organization's model:
    // the owner of an account, a member of its org (not a member of the
    // account: members are not inherited), a stranger (NotFound).
    pmesh::server::Authorizer authz(e, [&](const std::string& st, const std::string& u, const std::string& rel,
                                          const std::string& object, bool* defined) {
      return store.ask(st, u, rel, object, defined);
    });
    pmesh::server::RequestInfo info;
    info.kind = pmesh::server::RequestInfo::Kind::kObject;
    info.group = "core.platform-mesh.io";
    info.resource = "accounts";
    for (int i = 0; i < size; i += std::max(1, size / 10)) {
      // The IAM service's grant of the organization's member role.
      std::string acct = lookup(e, "workspace_account", "root:orgs:org" + std::to_string(i));
      std::string st = lookup(e, "account_store", acct);
      std::string role = "role:" + acct.substr(0, acct.find(':')) + "/" + acct.substr(acct.find(':') + 1) + "/member";
      e.apply({Op::add_tuple("fga_tuple", {st, role, "assignee", "user:carol"}),
               Op::add_tuple("fga_tuple", {st, acct, "member", role + "#assignee"})});
    }
    std::vector<double> decisions;
    int allowed = 0;
    const char* users[] = {"bob@example.com", "carol", "mallory"};
    for (int s = 0; s < samples * 20; ++s) {
      int i = (s * 7919) % size;
      info.cluster = "root:orgs:org" + std::to_string(i) + ":acc" + std::to_string(s % std::max(1, per_org));
      pmesh::server::UserInfo u{users[s % 3], "", {}, {}};
      auto a = Clock::now();
      auto d = authz.decide(u, s % 2 ? "list" : "delete", info);
      decisions.push_back(us(Clock::now() - a));
      allowed += d.allowed;
    }
    Json row = {{"orgs", size},
                {"accounts", size * per_org},
                {"objects", e.state().objects().size()},
                {"tuples", e.state().tuples().size()},
                {"matches", e.state().match_count()},
                {"interned_keys", pmesh::engine::FactKey::interned()},
                {"cold_ms", cold / 1000},
                {"resident_after_cold_mb", pmesh::bench::resident_kib() / 1024},
                {"kib_per_account", static_cast<double>(loaded_kib) / made},
                {"anon_kib_per_account", static_cast<double>(loaded_anon_kib) / made},
                {"allocated_kib_per_account", static_cast<double>(loaded_allocated_kib) / made},
                {"peak_rss_mb", pmesh::bench::peak_rss_kib() / 1024},
                {"configmap_create", stats(baseline)},
                {"org_create", stats(orgs)},
                {"account_create", stats(accounts)},
                {"cold_drain", stats(drains)},
                {"authorization_decision", stats(decisions)},
                {"decisions_allowed", allowed},
                {"decisions", decisions.size()}};
    if (!reopened.is_null()) row["reopen"] = reopened;
    if (profile) row["rules_by_cost"] = costs;
    if (keys) row["tuple_keys"] = key_census;
    row["org_vs_configmap"] = row["org_create"]["median_us"].get<double>() / row["configmap_create"]["median_us"].get<double>();
    row["account_vs_configmap"] = row["account_create"]["median_us"].get<double>() / row["configmap_create"]["median_us"].get<double>();
    out["orgs"].push_back(row);
    fga = nullptr;
  }
  auto& rows = out["orgs"];
  for (auto& r : rows) {
    r["org_create_vs_smallest"] = r["org_create"]["median_us"].get<double>() / rows[0]["org_create"]["median_us"].get<double>();
    r["account_create_vs_smallest"] =
        r["account_create"]["median_us"].get<double>() / rows[0]["account_create"]["median_us"].get<double>();
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}
