#include "server/openfga/fga_store.h"

#include <array>
#include <chrono>
#include <openssl/rand.h>

#include "fga/dsl_parser.h"
#include "fga/validate.h"
#include "server/openfga/platform_model.h"
#include "stdlib/builtins.h"

namespace pmesh::server {

using engine::Op;
using fga::FgaError;
using nlohmann::json;

namespace {

std::vector<std::string> args_of(std::string_view fact) { return engine::parse_tuple_fact(fact).second; }

// A model as the API returns it, with its id: the same model, the same id.
std::pair<json, std::string> identified(json model) {
  std::string id = call_builtin(*find_builtin("ulid_of"), {model.dump()}).get<std::string>();
  model["id"] = id;
  return {std::move(model), id};
}

}  // namespace

std::string fga_timestamp() {
  auto t = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() % 1000000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06lldZ", static_cast<long long>(micros));
  return std::string(buf) + frac;
}

std::string new_ulid() {
  static const char* kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  static uint64_t last_ms = 0;
  static std::array<uint8_t, 10> last_rand{};
  uint64_t ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  std::array<uint8_t, 10> rnd{};
  if (ms <= last_ms) {
    // The same millisecond (or a clock that went back): one more than the last.
    ms = last_ms;
    rnd = last_rand;
    for (int i = 9; i >= 0 && ++rnd[static_cast<size_t>(i)] == 0; --i) {
    }
  } else if (RAND_bytes(rnd.data(), static_cast<int>(rnd.size())) != 1) {
    throw std::runtime_error("no randomness for an id");
  }
  last_ms = ms;
  last_rand = rnd;
  std::string out(26, '0');
  for (int i = 9; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kAlphabet[ms & 31];
    ms >>= 5;
  }
  // 80 random bits as 16 characters.
  unsigned __int128 r = 0;
  for (uint8_t b : rnd) r = (r << 8) | b;
  for (int i = 25; i >= 10; --i) {
    out[static_cast<size_t>(i)] = kAlphabet[static_cast<unsigned>(r & 31)];
    r >>= 5;
  }
  return out;
}

void FgaStore::set_platform_model(const std::vector<std::pair<std::string, std::string>>& files) {
  fga::Model m = fga::parse_dsl(files);
  fga::validate(m);
  platform_files_ = files;
  platform_base_ = std::make_shared<const std::pair<json, std::string>>(identified(fga::to_json(m)));
  platform_models_.clear();
}

const FgaStore::PlatformModel& FgaStore::platform_model(const std::string& store) const {
  if (auto it = platform_models_.find(store); it != platform_models_.end()) return it->second;
  std::vector<std::pair<std::string, std::string>> files = platform_files_;
  engine_.state().scan_tuples_with("org_bound_resource", {store}, [&](const engine::FactKey& f) {
    const engine::TupleEntry* t = engine_.state().tuple(f);
    auto a = args_of(f);  // store, group, plural, singular, scope
    if (t && t->exists() && a.size() == 5) files.push_back({"<bound>/" + a[2] + "." + a[1] + ".fga", bound_api_module(a[1], a[2], a[3], a[4])});
    return true;
  });
  // Most organizations bind nothing: they share the core model, read once.
  if (files.size() == platform_files_.size()) return platform_models_[store] = platform_base_;
  try {
    return platform_models_[store] =
               std::make_shared<const std::pair<json, std::string>>(identified(fga::to_json(fga::parse_dsl(files))));
  } catch (const FgaError&) {
    // A bound API whose names make no valid module (two bindings generating
    // one type): the core model alone.
    return platform_models_[store] = platform_base_;
  }
}

bool FgaStore::is_platform(const std::string& store) const {
  bool derived = false;
  engine_.state().scan_tuples_with("fga_store", {store}, [&](const engine::FactKey& f) {
    const engine::TupleEntry* t = engine_.state().tuple(f);
    derived = derived || (t && t->exists() && !t->base());
    return true;
  });
  return derived && !platform_files_.empty();
}

std::string FgaStore::platform_store_named(const std::string& name) {
  // By name: an index no rule needs, made on first use.
  int by_name = engine_.mutable_state().add_index({true, "fga_store", {"1"}});
  std::string out;
  engine_.state().lookup_tuples(by_name, engine::State::index_key({engine::Json(name)}), [&](const engine::FactKey& f) {
    std::string id = args_of(f)[0];
    if (is_platform(id)) out = id;
    return out.empty();
  });
  return out;
}

FgaStore::FgaStore(engine::Engine& engine) : engine_(engine) {
  engine_.set_before_commit([this](const std::vector<engine::TupleChange>& tuples) { return changelog(tuples); });
}

FgaStore::~FgaStore() { engine_.set_before_commit(nullptr); }

std::vector<Op> FgaStore::changelog(const std::vector<engine::TupleChange>& tuples) const {
  // What the platform's rules derived into stores, logged as the API logs
  // its writes, in the same transaction: a crash cannot commit one without
  // the other. A transaction that logs already is the API's write, which
  // logs its own: nothing (fga_change's changes come before fga_tuple's,
  // in key order, so little is made to be dropped).
  std::vector<Op> log;
  std::string at;
  for (const auto& c : tuples) {
    const engine::TupleView t = c.view();
    if (t.relation == "fga_change") return {};
    if (t.relation != "fga_tuple" || t.args.size() != 4) continue;
    const engine::TupleEntry* e = engine_.state().tuple(c.fact);
    if (c.added && (!e || e->base())) continue;
    const std::string store(t.args[0]);
    if (!is_platform(store)) continue;  // a store that went, or a user's store (the API logs its writes)
    if (at.empty()) at = fga_timestamp();
    log.push_back(Op::add_tuple("fga_change", {store, new_ulid(), c.added ? "TUPLE_OPERATION_WRITE" : "TUPLE_OPERATION_DELETE",
                                               std::string(t.args[1]), std::string(t.args[2]), std::string(t.args[3]), at}));
  }
  return log;
}

void FgaStore::committed(const engine::Result& r) {
  for (const auto& c : r.tuples) {
    const engine::TupleView t = c.view();
    if (t.relation == "org_bound_resource" && !t.args.empty()) {
      // An API bound or unbound in an organization: its model changes.
      const std::string org(t.args[0]);
      platform_models_.erase(org);
      activate(org);
      continue;
    }
    if (t.relation != "fga_store" || t.args.empty()) continue;
    const std::string store(t.args[0]);
    if (c.added) {
      activate(store);
      continue;
    }
    deactivate(store);
    const std::string prefix = store + "/";
    absl::erase_if(cache_, [&](const auto& entry) { return entry.first.starts_with(prefix); });
    // A platform store that went takes what users wrote into it along.
    if (!this->store(store)) {
      std::vector<Op> ops = delete_store(store);
      if (!ops.empty()) engine_.apply(ops);
    }
  }
}

std::vector<std::string> FgaStore::load() {
  std::vector<std::string> problems;
  // A model's rule set is derived for every store whose fga_loaded row
  // names it (they are durable) when the first of them is activated.
  for (const auto& s : stores()) {
    try {
      if (!latest_model(s.id).empty()) {
        engine::Result r = activate(s.id);
        if (!r.ok) problems.push_back("store " + s.id + ": " + r.message);
      }
    } catch (const FgaError& e) {
      problems.push_back("store " + s.id + ": " + e.what());
    }
  }
  // Rows of stores that went while the server stopped on the way.
  std::vector<Op> stale;
  engine_.state().scan_tuples(fga::kLoadedRelation, [&](const engine::FactKey& f) {
    const engine::TupleEntry* t = engine_.state().tuple(f);
    auto a = args_of(f);
    if (t && t->exists() && !active_.count(a[0])) stale.push_back(Op::remove_tuple(fga::kLoadedRelation, a));
    return true;
  });
  if (!stale.empty()) engine_.apply(stale);
  return problems;
}

std::optional<FgaStore::StoreInfo> FgaStore::store(const std::string& id) const {
  std::optional<StoreInfo> out;
  engine_.state().scan_tuples_with("fga_store", {id}, [&](const engine::FactKey& f) {
    const engine::TupleEntry* t = engine_.state().tuple(f);
    auto a = args_of(f);
    if (t && t->exists() && a.size() == 4) out = StoreInfo{a[0], a[1], a[2], a[3]};
    return !out;
  });
  return out;
}

std::vector<FgaStore::StoreInfo> FgaStore::stores() const {
  std::vector<StoreInfo> out;
  engine_.state().scan_tuples("fga_store", [&](const engine::FactKey& f) {
    const engine::TupleEntry* t = engine_.state().tuple(f);
    auto a = args_of(f);
    if (t && t->exists() && a.size() == 4) out.push_back({a[0], a[1], a[2], a[3]});
    return true;
  });
  return out;
}

std::vector<Op> FgaStore::create_store(const StoreInfo& s) const {
  return {Op::add_tuple("fga_store", {s.id, s.name, s.created_at, s.creator})};
}

std::vector<Op> FgaStore::delete_store(const std::string& id) const {
  std::vector<Op> ops;
  // The changelog included, which is on disk (a log relation).
  for (const char* rel : {"fga_store", "fga_model", "fga_tuple", "fga_written", "fga_change", "fga_assertions", fga::kLoadedRelation})
    engine_.scan_written(rel, {id}, [&](std::string_view f) {
      ops.push_back(Op::remove_tuple(rel, args_of(f)));
      return true;
    });
  return ops;
}

std::vector<std::string> FgaStore::models(const std::string& store) const {
  std::vector<std::string> out;
  engine_.state().scan_tuples_with("fga_model", {store}, [&](const engine::FactKey& f) {
    out.push_back(args_of(f)[1]);
    return true;
  });
  std::reverse(out.begin(), out.end());
  if (is_platform(store)) out.push_back(platform_model(store)->second);
  return out;
}

std::string FgaStore::latest_model(const std::string& store) const {
  auto m = models(store);
  return m.empty() ? "" : m.front();
}

std::optional<json> FgaStore::model_json(const std::string& store, const std::string& model) const {
  std::shared_ptr<const json> j = model_value(store, model);
  if (!j) return std::nullopt;
  return *j;
}

std::shared_ptr<const json> FgaStore::model_value(const std::string& store, const std::string& model) const {
  if (is_platform(store)) {
    const PlatformModel& shared = platform_model(store);
    if (model == shared->second) return std::shared_ptr<const json>(shared, &shared->first);
  }
  std::shared_ptr<const json> out;
  engine_.state().scan_tuples_with("fga_model", {store}, [&](const engine::FactKey& f) {
    auto a = args_of(f);
    if (a[1] != model) return true;
    out = std::make_shared<const json>(json::parse(a[2]));
    return false;
  });
  return out;
}

std::shared_ptr<const fga::CompiledModel> FgaStore::model(const std::string& store, const std::string& model) {
  std::string id = model.empty() ? latest_model(store) : model;
  if (id.empty()) throw FgaError("latest_authorization_model_not_found", "No authorization models found for store '" + store + "'");
  std::string key = store + "/" + id;
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  // The store's own model, or none: another store's id is not found here.
  std::shared_ptr<const json> j = model_value(store, id);
  if (!j) throw FgaError("authorization_model_not_found", "Authorization Model '" + id + "' not found");
  std::shared_ptr<const fga::CompiledModel> c = compiled(id, std::move(j));
  // Models are immutable; those loaded stay compiled, and a few others
  // (old ones are asked for rarely).
  if (cache_.size() > 64 + active_.size())
    for (auto it = cache_.begin(); it != cache_.end(); ++it) {
      std::string s = it->first.substr(0, it->first.find('/'));
      auto loaded = active_.find(s);
      if (loaded == active_.end() || loaded->second != it->first.substr(s.size() + 1)) {
        cache_.erase(it);
        break;
      }
    }
  cache_[key] = c;
  return c;
}

std::shared_ptr<const fga::CompiledModel> FgaStore::compiled(const std::string& id, std::shared_ptr<const json> stored) {
  // Ids are unique to a model's content (a platform model's is its
  // content's hash, a written one's a fresh ULID): stores with the same id
  // share the compiled model and its rule set (named by the id). The content
  // is compared all the same: two models never share rules by a coincidence
  // of ids.
  if (auto it = compiled_.find(id); it != compiled_.end())
    if (auto c = it->second.model.lock()) {
      // The same value (organizations sharing the platform model) needs no
      // comparison.
      if (it->second.json == stored || *it->second.json == *stored) return c;
      throw FgaError("internal_error", "model id " + id + " names two different models");
    }
  auto c = std::make_shared<const fga::CompiledModel>(fga::compile_model(fga::from_json(*stored), std::string(fga::kStoreRelationPrefix) + id + "_"));
  if (compiled_.size() > 2 * cache_.size() + 16)
    for (auto it = compiled_.begin(); it != compiled_.end();) it = it->second.model.expired() ? compiled_.erase(it) : std::next(it);
  compiled_[id] = {c, std::move(stored)};
  return c;
}

std::vector<Op> FgaStore::write_model(const std::string& store, const std::string& id, const fga::Model& model) {
  json stored = fga::to_json(model);
  stored["id"] = id;
  cache_[store + "/" + id] = compiled(id, std::make_shared<const json>(stored));
  return {Op::add_tuple("fga_model", {store, id, stored.dump()})};
}

std::vector<std::string> FgaStore::loaded_models(const std::string& store) const {
  std::vector<std::string> out;
  engine_.state().scan_tuples_with(fga::kLoadedRelation, {store}, [&](const engine::FactKey& f) {
    const engine::TupleEntry* t = engine_.state().tuple(f);
    if (t && t->exists()) out.push_back(args_of(f)[1]);
    return true;
  });
  return out;
}

engine::Result FgaStore::activate(const std::string& store) {
  std::string latest = latest_model(store);
  auto it = active_.find(store);
  if (latest.empty() || (it != active_.end() && it->second == latest)) return {};
  auto c = model(store, latest);
  // The store's row in fga_loaded names its model's module, and no other.
  std::vector<Op> ops;
  bool present = false;
  for (const auto& m : loaded_models(store)) {
    if (m == c->lowered.module) present = true;
    else ops.push_back(Op::remove_tuple(fga::kLoadedRelation, {store, m}));
  }
  if (!present) ops.push_back(Op::add_tuple(fga::kLoadedRelation, c->lowered.loaded(store)));
  engine::Result r;
  if (!engine_.has_rule_set(rule_set_id(latest))) r = engine_.add_rule_set(rule_set_id(latest), c->program, false, nullptr, ops);
  else if (!ops.empty()) r = engine_.apply(ops);
  if (!r.ok) return r;
  // Found again: what the engine ran may have activated other stores (a
  // hashed map moves its entries when it grows), and so may `release`.
  std::string previous = std::exchange(active_[store], latest);
  if (!previous.empty()) release(previous);
  ++users_[latest];
  return r;
}

void FgaStore::release(const std::string& model) {
  if (--users_[model] > 0) return;
  users_.erase(model);
  engine_.remove_rule_set(rule_set_id(model));
}

void FgaStore::deactivate(const std::string& store) {
  auto it = active_.find(store);
  if (it == active_.end()) return;
  std::vector<Op> ops;
  for (const auto& m : loaded_models(store)) ops.push_back(Op::remove_tuple(fga::kLoadedRelation, {store, m}));
  if (!ops.empty()) engine_.apply(ops);
  it = active_.find(store);  // (again, as in activate)
  if (it == active_.end()) return;
  std::string model = std::move(it->second);
  active_.erase(it);
  release(model);
}

bool FgaStore::ask(const std::string& store, const std::string& user, const std::string& relation,
                   const std::string& object, bool* defined) {
  if (defined) *defined = false;
  auto it = active_.find(store);
  if (it == active_.end()) return false;
  auto c = model(store, it->second);
  fga::Subject o;
  if (!fga::parse_subject(object, &o) || !c->model.find(o.type, relation)) return false;
  if (defined) *defined = true;
  try {
    // The platform's own decisions ask the relation alone: an account tree
    // deeper than OpenFGA's resolution limit still works for its people.
    return fga::check(engine_, fga::ModelView{c->model, c->lowered, store}, user, relation, object, /*depth_limit=*/0);
  } catch (const FgaError&) {
    return false;
  }
}

bool FgaStore::has_tuple(const std::string& store, const std::string& object, const std::string& rel,
                         const std::string& user) const {
  const engine::TupleEntry* t = engine_.state().tuple(engine::tuple_fact("fga_tuple", {store, object, rel, user}));
  return t && t->exists();
}

void FgaStore::with_model(const std::string& store, const std::string& model,
                          const std::vector<std::vector<std::string>>& contextual,
                          const std::function<void(engine::Engine&, const fga::ModelView&)>& ask) {
  std::string id = model.empty() ? latest_model(store) : model;
  auto c = this->model(store, id);
  fga::ModelView view{c->model, c->lowered, store};
  std::vector<Op> ops;
  for (const auto& t : contextual) {
    fga::validate_tuple(c->model, t[2], t[1], t[0]);
    if (!has_tuple(store, t[0], t[1], t[2])) ops.push_back(Op::add_tuple("fga_tuple", view.tuple(t[0], t[1], t[2])));
  }
  auto loaded = active_.find(store);
  bool is_active = loaded != active_.end() && loaded->second == id;
  if (is_active && ops.empty()) return ask(engine_, view);
  // Contextual tuples, or a model that is not loaded for the store: a dry
  // run holds them (and the model's rule set, if no store has it) while the
  // question is asked, and takes them away after.
  if (!is_active) ops.push_back(Op::add_tuple(fga::kLoadedRelation, c->lowered.loaded(store)));
  std::optional<FgaError> failed;
  auto inspect = [&](engine::Result&) {
    try {
      ask(engine_, view);
    } catch (const FgaError& e) {
      failed = e;
    }
  };
  engine::Result r = engine_.has_rule_set(rule_set_id(id)) ? engine_.apply(ops, true, inspect)
                                                            : engine_.add_rule_set(rule_set_id(id), c->program, true, inspect, ops);
  if (failed) throw *failed;
  if (!r.ok) throw FgaError("internal_error", r.message);
}

}  // namespace pmesh::server
