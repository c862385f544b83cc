// The engine: compiled rules evaluated incrementally over the state.
//
// A transaction applies user operations (create, update, delete objects; add
// or remove tuples), then runs the rules to their fixpoint: a changed fact
// finds, through the delta plans, the matches it can start or end; each such
// match is re-evaluated as a whole, and what its heads contribute changes by
// the difference. Work goes stratum by stratum, lowest first; in a recursive
// stratum, a fact that loses one support but keeps others is re-checked by
// delete-and-rederive, so support on a cycle does not keep it alive. The
// result is the net change set. A transaction that is refused (a conflict,
// bad input, rules that do not converge) leaves the state as it was; so does
// a dry run.
//
// Ownership: a rule owns the objects it derives and the fields it sets. A
// user write that changes an owned field to another value is refused with
// the owning rule named; a write that leaves it out keeps the rule's value.
//
// Thread safety: none; callers serialize transactions and reads.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dsl/compiler.h"
#include "engine/evaluator.h"
#include "engine/kinds.h"
#include "engine/engine_stats.h"
#include "engine/state.h"
#include "engine/transaction.h"
#include "engine/value_pool.h"
#include "stdlib/field_error.h"

namespace pmesh::engine {

struct Op {
  enum class Type { kCreate, kUpdate, kDelete, kAddTuple, kRemoveTuple, kRestore };
  Type type = Type::kCreate;
  Json object;    // create, update, restore: the object as written (apiVersion, kind, metadata...)
  ObjectKey key;  // delete; restore: the key it was stored under (else found from the object)
  std::string relation;
  std::vector<std::string> args;
  bool overlay = false;  // restore: the fields a user wrote on a derived object
  // Who asks for the write, as admission rules see it (`request.userInfo`):
  // {"username", "uid", "groups"}; null for the system (bootstrap, restores).
  Json requester;
  // restore: what the user saw of the object's editable fields when they
  // wrote it (ObjectEntry::editable_seen).
  std::shared_ptr<const Json> editable_seen;

  static Op create(Json o) { return {Type::kCreate, std::move(o), {}, {}, {}, false, nullptr, nullptr}; }
  static Op update(Json o) { return {Type::kUpdate, std::move(o), {}, {}, {}, false, nullptr, nullptr}; }
  static Op remove(ObjectKey k) { return {Type::kDelete, nullptr, std::move(k), {}, {}, false, nullptr, nullptr}; }
  static Op add_tuple(std::string r, std::vector<std::string> a) { return {Type::kAddTuple, nullptr, {}, std::move(r), std::move(a), false, nullptr, nullptr}; }
  static Op remove_tuple(std::string r, std::vector<std::string> a) { return {Type::kRemoveTuple, nullptr, {}, std::move(r), std::move(a), false, nullptr, nullptr}; }
  static Op restore(Json o, bool overlay, std::shared_ptr<const Json> editable_seen = nullptr) {
    return {Type::kRestore, std::move(o), {}, {}, {}, overlay, nullptr, std::move(editable_seen)};
  }
  Op as(Json who) && {
    requester = std::move(who);
    return std::move(*this);
  }
};

struct ObjectChange {
  enum class Kind { kCreated, kUpdated, kDeleted };
  Kind op = Kind::kCreated;
  ObjectKey key;
  // The committed forms, shared with the engine's state (immutable: a
  // change of the object later makes a new value).
  SharedJson before;  // null when created
  SharedJson after;   // null when deleted
  std::vector<std::string> rules;  // the rules that changed it; empty: only the user's write
  int64_t resource_version = 0;    // of this change
};

// A tuple a transaction added or removed: its interned key, read as its
// relation and arguments through view(). A transaction that derives a
// million tuples lists a million of these: with its relation, arguments
// and rules' names as strings of its own, a change took 240 bytes and four
// allocations (docs/performance.md).
struct TupleChange {
  bool added = true;
  FactKey fact;
  // The rules that changed it (none: only the user's write), one list
  // shared by the changes the same rules made.
  std::shared_ptr<const std::vector<std::string>> rules;
  // Views of the key: valid while this change (or another holder of the
  // key) is.
  TupleView view() const { return view_tuple_fact(fact.str()); }
  const std::vector<std::string>& rule_names() const;
};

struct Result {
  bool ok = true;
  std::string reason;   // AlreadyExists, NotFound, Conflict, Invalid (a rule refused), FieldInvalid, NotConverged, InternalError
  std::string message;  // for people
  std::vector<std::string> rules;  // rules the error names
  std::string name;                // the object an admission rule refused, when one did
  // Reason FieldInvalid: what `refuse` rules found invalid of the written
  // objects, each a field error (stdlib/validation.rules), all of them.
  FieldErrors field_errors;
  std::vector<ObjectChange> objects;
  std::vector<TupleChange> tuples;
  std::vector<std::string> warnings;  // evaluation errors that dropped a match
  int64_t resource_version = 0;       // after the commit
};

// What a transaction changed of rule sets' state (matches and the tuples
// they derive), for a durable store to keep under each set's own names: a
// match's key and rule counted from the set's first rule, since the rules'
// numbers depend on the order in which sets are added.
struct RuleSetChanges {
  struct Set {
    std::string id, fingerprint;
    int first_rule = 0;
    // Keys in the state (changed or gone).
    std::vector<MatchKey> matches;
    std::vector<FactKey> tuples;
    bool removed = false;  // the set went in this transaction: nothing of it stays stored
  };
  std::vector<Set> sets;
  // Sets whose stored state is stale: it goes before anything is written.
  std::vector<std::string> dropped;
  // Matches of rules numbered below it are the program's own, stored with
  // the other records; from it on, the rule sets'.
  int program_rules = 0;
};

// A rule set's state as a durable store read it back (RuleSetChanges'
// form): handed to the engine, which takes it up when the set is added
// again instead of deriving it (Engine::park_rule_set).
struct StoredRuleSet {
  std::string fingerprint;
  std::vector<std::pair<FactKey, TupleEntry>> tuples;  // supports counted from the set's first rule
  std::vector<std::pair<MatchKey, Match>> matches;         // keys and rules counted from it
};

// The CBOR of the forms one transaction committed, written once for both
// a durable store's records and the objects the engine holds as their
// CBOR later (cold_objects.cc). Only forms that read_cbor reads back are
// here (CborWriter::readable); a store writes the others itself.
//
// Thread safety: made, read and emptied on the engine's thread within one
// transaction (Engine::transact).
class CommittedForms {
 public:
  void add(SharedJson form, std::string cbor);
  // The CBOR of `form` (this very value, SharedJson::same), or null.
  const std::string* find(const SharedJson& form) const;
  // Moves the CBOR of `form` out (empty when it is not here).
  std::string take(const SharedJson& form);

 private:
  absl::flat_hash_map<const void*, size_t> by_form_;
  // The forms are held so that the identities above stay theirs.
  std::vector<std::pair<SharedJson, std::string>> forms_;
};

// Where committed transactions go: a durable store writes the state that a
// transaction touched as one atomic batch. A commit that fails refuses the
// transaction, and the engine rolls back.
class Persistence {
 public:
  virtual ~Persistence() = default;
  virtual bool commit(const State& state, const State::Dirty& dirty, const RuleSetChanges& sets,
                      const Result& result, const CommittedForms& forms, std::string* error) = 0;
  // The stored tuples whose fact keys start with `prefix`, in key order,
  // from the first not below `from` (REQUIRES: `from` starts with
  // `prefix`), committed ones included that are not written yet. For log
  // relations (Engine::scan_log), which memory does not hold. `fn` returns
  // false to stop.
  using FactVisitor = absl::FunctionRef<bool(std::string_view fact)>;
  virtual void scan_tuples(std::string_view prefix, std::string_view from, FactVisitor fn) const = 0;
};

class Engine {
 public:
  struct Options {
    // The time stamps of a transaction ("2026-01-01T00:00:00Z"); the default reads the clock.
    std::function<std::string()> clock;
    // Evaluations of one match in one transaction before it counts as a loop.
    int max_evaluations_per_match = 50;
    // An object no committed transaction has changed in this many is held
    // as its CBOR until something reads it (cold_objects.cc); 0: never.
    // A quarter less memory per account. Writes were as fast from 3,000
    // organizations up; at 300 they took a tenth longer in the engine alone,
    // which writes the CBOR that a server shares with its store
    // (docs/performance.md, "Cold objects on by default").
    int cold_after_transactions = 256;
  };

  // REQUIRES: `program` compiled without errors.
  Engine(std::shared_ptr<const dsl::CompiledProgram> program, Options options);
  explicit Engine(std::shared_ptr<const dsl::CompiledProgram> program) : Engine(std::move(program), Options()) {}

  // `inspect`, if given, sees the result while the state still holds the
  // transaction (before a dry run rolls back): for explaining a plan.
  Result apply(const std::vector<Op>& ops, bool dry_run = false,
               const std::function<void(Result&)>& inspect = nullptr);

  const State& state() const { return state_; }
  State& mutable_state() { return state_; }
  const dsl::CompiledProgram& program() const { return *program_; }
  int64_t resource_version() const { return rv_; }
  void set_resource_version(int64_t rv) { rv_ = rv; }
  // Changes at the start and at the end of every transaction, a dry run's
  // included: a cache of reads keyed by it is never used across a change,
  // nor outside the dry run it was made in.
  uint64_t epoch() const { return epoch_; }

  // What transactions and rules have cost since the engine started
  // (engine_stats.h). Rules of rule sets are reported together, under
  // `in_rule_set`, so that per-store models do not multiply the rules.
  const TransactionStats& transaction_stats() const { return txn_stats_; }
  void for_each_rule_stats(const std::function<void(const std::string& rule, bool in_rule_set, const RuleStats&)>& fn) const;
  // The same by rule name, rule sets' rules added up under kRuleSetsLabel.
  std::map<std::string, RuleStats> costs_by_rule() const;
  // Asked once a transaction's rules are at rest, before it commits (not in
  // dry runs), with the tuples it changed: the operations it returns are
  // applied in the same transaction, and the rules run again (what those
  // change is not shown to it again). For what must commit atomically with
  // a change, such as a changelog of it.
  using BeforeCommit = std::function<std::vector<Op>(const std::vector<TupleChange>&)>;
  void set_before_commit(BeforeCommit fn) { before_commit_ = std::move(fn); }
  // Committed transactions are written there. REQUIRES: outlives the engine.
  void set_persistence(Persistence* p) { persistence_ = p; }
  // Told of every committed transaction (not dry runs, not refused ones),
  // once the engine is done with it and may be read.
  void set_commit_listener(std::function<void(const Result&)> fn) { commit_listener_ = std::move(fn); }
  // Objects go cold (Options::cold_after_transactions) in the commit that
  // ends their window, unless a scheduler is set. After a transaction of
  // many objects, that one commit pays for them all: some 15 us an object,
  // 45 ms for a bulk write of 3,000, charged to whichever small write
  // comes 256 commits later. With a scheduler, a commit that leaves objects
  // due calls it instead, and they go cold when hold_cold_due() is called:
  // a server calls it from handlers of their own, a few objects at a time,
  // after the requests at hand (cold_objects.cc).
  // REQUIRES: `schedule` only arranges the call (it runs inside a commit).
  // Once it was called, it is not called again before hold_cold_due()
  // returns false: the caller keeps calling until then.
  void set_cold_scheduler(std::function<void()> schedule);
  // Holds up to `at_most` of the objects whose window has ended as their
  // CBOR, oldest first; returns whether any are still due. Between
  // transactions, on the engine's thread.
  bool hold_cold_due(size_t at_most);
  // A fingerprint of the compiled rules: stored bookkeeping is valid only
  // for the rules that made it.
  std::string fingerprint() const;
  // Recomputes every match from what users own, as after a change of the
  // rules; commits the difference.
  Result rebuild();

  // The kinds every cluster serves and those bound into clusters.
  const Kinds& kinds() const { return kinds_; }
  // The kind of an object identity, or null when its cluster does not serve it.
  const dsl::KindDecl* decl_of(const ObjectKey& key) const { return kinds_.by_key(key.cluster, key.kind); }
  const dsl::KindDecl* decl_of(ObjectKeyView key) const {
    return kinds_.by_key(std::string(key.cluster), std::string(key.kind));
  }
  // Re-reads which clusters serve which run-time kinds (after loading a store).
  void refresh_kinds() { kinds_.refresh(state_); }
  // The identity of an object written as JSON: its kind, `metadata.cluster`
  // (or `default_cluster`), namespace and name.
  std::optional<ObjectKey> key_of(const Json& object, const std::string& default_cluster, std::string* error) const;
  const Json* get(const ObjectKey& key) const;
  // The rules that own the object or some of its fields, by name.
  std::vector<std::string> owners(const ObjectKey& key) const;
  bool has_tuple(const std::string& relation, const std::vector<std::string>& args) const;

  // ---- Log relations (dsl: `relation r(...) log`)
  // Their names, from the program.
  const std::vector<std::string>& log_relations() const { return log_relations_; }
  bool is_log(std::string_view relation) const;
  // The tuples of log relation `relation` whose first arguments are
  // `first`, in key order, from the first whose next argument is not below
  // `from` ("": all). With persistence they are read from it: memory holds
  // a log's tuples only while the transaction that writes them runs.
  // Throws std::invalid_argument for a relation that is not a log.
  void scan_log(const std::string& relation, const std::vector<std::string>& first, std::string_view from,
                Persistence::FactVisitor fn) const;
  // The tuples of `relation` that operations wrote (not those rules alone
  // derive) whose first arguments are `first`, in key order, wherever they
  // are kept: a log's through scan_log. Between transactions (a log's
  // tuples that the running one wrote are not on disk yet).
  void scan_written(const std::string& relation, const std::vector<std::string>& first, Persistence::FactVisitor fn) const;

  // Recomputes everything from what users wrote and compares it with the
  // incrementally maintained state; returns the differences, empty if none.
  std::string verify() const;

  // ---- Rule sets that come and go while the engine runs (rule_sets.cc)
  //
  // A rule set is a program compiled on its own whose rules derive
  // relations only: an OpenFGA model lowered to rules, later a policy
  // bundle. It reads whatever the engine holds; what it derives is its own
  // (no other rules read it), so its strata sit above all others and adding
  // or removing it evaluates its own rules and nothing else. Adding one is a
  // transaction: its relations are computed from the state as it is and
  // committed, or, if anything fails, the set is not there and nothing
  // changed. Whoever adds sets adds them again after a restart; what a set
  // derived is stored with the transactions (RuleSetChanges) and taken up
  // again then (park_rule_set) if nothing was committed since it was stored
  // and the set's rules are the same, else recomputed.
  // `dry_run` adds, evaluates, lets `inspect` see the state, and takes the
  // set away again (a question to a model that is not loaded).
  // REQUIRES: `program` compiled without errors; no set named `id`.
  // `ops` are applied in the same transaction, before the set's matches are found.
  Result add_rule_set(const std::string& id, std::shared_ptr<const dsl::CompiledProgram> program,
                      bool dry_run = false, const std::function<void(Result&)>& inspect = nullptr,
                      const std::vector<Op>& ops = {});
  // Retracts everything the set derived, as one transaction.
  Result remove_rule_set(const std::string& id);
  bool has_rule_set(const std::string& id) const { return rule_sets_.count(id) > 0; }
  // A set's state as a durable store read it (REQUIRES: before any
  // transaction): taken up when add_rule_set adds the set with rules of the
  // same fingerprint, unless a transaction that changed anything committed
  // first, which makes every set's stored state stale (it is dropped from the
  // store in that transaction).
  void park_rule_set(const std::string& id, StoredRuleSet stored) { parked_[id] = std::move(stored); }
  // What a set's stored state is valid for: its rules and the program's.
  std::string rule_set_fingerprint(const dsl::CompiledProgram& program) const;

  // The provenance of a fact: which rule matched which inputs, recursively.
  std::string explain(std::string_view fact) const;
  // Why no rule derives `key`: for each rule deriving its kind, the first
  // step of its plan that found nothing.
  std::string explain_absent(const ObjectKey& key) const;

 private:
  struct Reader {
    int rule;
    // What the rule reads of an object of this kind: sections, and of a
    // section it reads only some fields of, those fields (a section absent
    // from `members` is read whole).
    std::set<std::string> sections;
    std::map<std::string, std::set<std::string>> members;
    std::vector<const dsl::BoundPlan*> plans;  // delta plans triggered by this kind or relation
    bool reads(const ChangedParts& c) const;
  };
  static ChangedParts changed_sections(const Json& before, const Json& after);
  struct TxnError {
    TxnError(std::string reason, std::string message, std::vector<std::string> rules, std::string name = {},
             FieldErrors fields = {})
        : reason(std::move(reason)),
          message(std::move(message)),
          rules(std::move(rules)),
          name(std::move(name)),
          fields(std::move(fields)) {}
    std::string reason, message;
    std::vector<std::string> rules;
    std::string name;  // the object it is about, where the thrower knows it
    FieldErrors fields;  // reason FieldInvalid
  };
  // A transaction's refusals: the field errors among them, if any, as
  // kube's validation reports them before any admission plugin runs
  // (FieldInvalid, all of them); else the messages (Invalid).
  // REQUIRES: `refusals` not empty.
  [[noreturn]] static void throw_refusals(const std::vector<Refusal>& refusals, const std::string& name);
  // Between a relation, an argument's position and its literal in a readers_ key.
  static constexpr char kArgSep = '\x1f';
  // The readers_ key of patterns of `relation_key` ("rel:" + relation)
  // whose argument at `position` is the literal `arg`.
  static std::string arg_reader_key(const std::string& relation_key, size_t position, std::string_view arg);
  struct RuleSet {
    std::shared_ptr<const dsl::CompiledProgram> program;
    int first_rule = 0;  // its rules are rules_[first_rule, first_rule + count)
    int count = 0;
    int first_stratum = 0;
    std::vector<std::string> relations;  // those it derives
    std::string fingerprint;             // rule_set_fingerprint of its program
    bool removing = false;               // in remove_rule_set's transaction: nothing of it is stored
  };

  // The readers_ entries of one rule: which facts wake it; and what it
  // reads and writes of objects (object_reads_, object_writes_).
  void register_readers(const RuleRuntime& rt);
  // apply() with `seed` run after the ops, before the fixpoint: how a rule
  // set's matches are found or retracted inside one transaction.
  Result transact(const std::vector<Op>& ops, bool dry_run, const std::function<void(Result&)>& inspect,
                  const std::function<void()>& seed);
  // REQUIRES: the checks of add_rule_set passed. rule_sets.cc.
  void install_rule_set(const std::string& id, std::shared_ptr<const dsl::CompiledProgram> program);
  void uninstall_rule_set(const std::string& id);
  // Removes the readers_ entries of rules_[first, last).
  void detach_readers(int first, int last);
  // What a rule set's match would be for each fact of its first positive pattern.
  void seed_rule_set(const RuleSet& set);
  // The recursive stratum a fact's data belongs to, in the base program or a set; -1 if none.
  int recursive_stratum_of(const dsl::DataNode& node) const;
  // Moves out of `dirty` what rule sets derive, placed under their names.
  RuleSetChanges take_rule_set_changes(State::Dirty& dirty);
  // Puts a parked state of `set` into the state (as loading does: no undo,
  // nothing dirty); false if there is none valid for it.
  bool restore_rule_set(const std::string& id, const RuleSet& set);
  // Takes a restored set's state out again (its adding failed).
  void discard_rule_set_state(const RuleSet& set);
  void count_transaction(const Result& r, bool dry_run, std::chrono::steady_clock::duration took);

  // The write `op` once the admission rules of its kind have seen it:
  // mutating rules' `set` heads applied to its object, then validating
  // rules' `refuse` heads checked (a TxnError). admission.cc.
  Op admit(const Op& op);
  void user_op(const Op& op);
  // Log relations (log_relations.cc): an operation's tuple of a log noted,
  // the transaction's logged tuples added to what its commit writes, and
  // dropped from memory once it committed.
  void note_logged(std::string_view relation, const FactKey& fact);
  void store_logged(State::Dirty& dirty) const;
  void drop_logged();
  // `op` with its object in its kind's storage version, when it was written
  // in another served one (conversion.h); a failed conversion is BadRequest.
  Op stored_form(const Op& op) const;
  void recompute_object(const FactKey& fact, ObjectEntry e);
  // A change of the parts of an existing object that `rule` made, kept
  // with its effective form left as it was, when nothing but what the
  // rule's heads write can change (false: recompute it now).
  bool settle_later(int rule, const FactKey& fact, ObjectEntry& e);
  // Recomputes the unsettled objects of the kinds whose unsettled parts
  // `rule` reads (every kind's for -1), in key order; false if there were none.
  bool settle_objects(int rule = -1);
  // Drops from the user's part of `e` what the rules changed since the user
  // wrote their editable fields (the api-syncagent's three-way merge).
  void settle_editable(ObjectEntry& e) const;
  Json build_effective(const FactKey& fact, const ObjectEntry& e, const Json& prev);
  // Throws the Conflict of an object whose rules still disagree now that
  // they are at rest (build_effective noted those that disagreed on the way).
  void check_conflicts();
  void fact_changed(const FactKey& fact, const Json& before, const Json& after);
  void tuple_changed(const FactKey& fact);
  // `tuple`: a tuple fact's parts, when the caller has read them already.
  // REQUIRES: the caller charges its time (a ChargeRun or SelfTimeCharge).
  void discover(const RuleRuntime& rt, const dsl::BoundPlan& plan, const FactKey& fact, const Json* object,
                const TupleView* tuple = nullptr);
  void evaluate(int rule, std::vector<FactKey> positives);
  std::optional<std::vector<Contribution>> contributions(const RuleRuntime& rt, Bindings& b);
  void apply_contributions(int rule, const MatchKey& key, std::span<const Contribution> before,
                           std::span<const Contribution> after);
  void run_to_fixpoint();
  void rederive(int stratum);
  // `keys`: the bound forms of `path`'s key segments (BoundHead::PathKeys).
  JsonPath resolve_path(const dsl::KindDecl* decl, const dsl::Path& path, const dsl::BoundHead::PathKeys& keys,
                        const RuleRuntime& rt, Bindings& b, bool set_head);
  void delete_cluster_contents(const std::string& cluster);
  void note_before(const FactKey& fact);
  void lost_support(const FactKey& fact);
  // `tuples`: the transaction's tuple changes when they were taken already
  // and nothing changed since (null: taken here).
  Result collect_changes(std::vector<TupleChange>* tuples = nullptr);
  // What rules derive must satisfy its kind's schema, as what users write
  // must (the server's strategies check that): the first object of the
  // transaction that does not is a TxnError naming the rules that built it.
  // effective.cc.
  void check_derived_schemas();
  // A relation's declared key holds one tuple for each of its values: the
  // first new tuple that makes two is a TxnError (relation_keys.cc).
  void check_relation_keys();
  // The tuples the transaction changed so far, in key order; `facts`, when
  // given, gets their keys. With `earlier` (a list taken before, and its
  // keys, with txn_.changed_by marked then), its entries are moved into
  // the new list where no rule changed their tuple since: the OpenFGA
  // hook's changes come after a list of some tens that would be read again.
  struct EarlierTuples {
    std::vector<TupleChange> changes;
    std::vector<FactKey> facts;
  };
  std::vector<TupleChange> tuple_changes(std::vector<FactKey>* facts = nullptr,
                                         EarlierTuples* earlier = nullptr) const;
  // Refuses (InternalError) a change set that holds what cannot be encoded:
  // a string that is not UTF-8. The objects whose forms `forms` holds were
  // checked as they were encoded (encode_committed), and are not walked again.
  void check_encodable(const Result& r, const CommittedForms& forms) const;
  const Json* committed(std::string_view fact) const;
  std::string make_uid(std::string_view fact) const;

  std::shared_ptr<const dsl::CompiledProgram> program_;
  mutable std::string fingerprint_;  // of program_, once computed
  Options options_;
  State state_;
  Kinds kinds_;
  std::vector<RuleRuntime> rules_;
  // Kind name, "rel:" + relation, or arg_reader_key() for a pattern with a literal argument.
  std::unordered_map<std::string, std::vector<Reader>> readers_;
  // "rel:" + relation -> the argument positions some reader's key names.
  std::unordered_map<std::string, std::set<size_t>> keyed_args_;
  // By rule: what it reads of objects of each kind (its readers_ entries),
  // and what its heads can change of existing objects of each kind (the
  // sections they set, and metadata for the generation when one is not
  // status or a part of metadata). Empty for rules that read or write none.
  std::vector<std::map<std::string, Reader>> object_reads_;
  std::vector<std::map<std::string, ChangedParts>> object_writes_;
  std::map<std::string, std::vector<int>> admission_;    // kind name -> admission rules, in order
  std::unique_ptr<Evaluator> evaluator_;
  ValuePool values_;  // what heads contribute, one copy of each equal value
  int64_t rv_ = 0;
  uint64_t epoch_ = 0;
  TransactionStats txn_stats_;
  SelfTimeCharge* charging_ = nullptr;  // the rule whose work the engine is doing (engine_stats.h)
  // What discover() binds in, reused from one search to the next (a
  // search never starts another: it only queues what it finds).
  Bindings discover_bindings_;
  // What evaluate() binds in, likewise: its search is over before what it
  // changes is applied (which only queues more).
  Bindings evaluate_bindings_;
  // fact_changed's readers_ key for a tuple, kept for its capacity (used
  // only while fact_changed collects the readers, before any search).
  std::string reader_key_;
  // Objects committed recently, oldest first: each held as its CBOR once
  // Options::cold_after_transactions transactions have committed after it,
  // unless it changed again (its form is no longer `form`; cold_objects.cc).
  struct Committed {
    uint64_t commit;  // the number of the transaction that committed it
    FactKey fact;
    // Held, not pointed at: a form freed and another made at its address
    // would pass for it (and be replaced by the bytes of the first).
    SharedJson form;
    std::string cbor;  // of the form
  };
  // The CBOR of what `r` committed, for the store and for cold objects.
  CommittedForms encode_committed(const Result& r) const;
  void hold_cold_objects(const Result& r, CommittedForms& forms);
  void hold_cold_parts(const FactKey& fact, const ObjectEntry& e);
  bool cold_due() const;
  std::deque<Committed> committed_;
  uint64_t commits_ = 0;  // transactions committed
  std::function<void()> cold_scheduler_;
  bool cold_scheduled_ = false;  // the scheduler was called; hold_cold_due() has not returned false since
  std::function<void(const Result&)> commit_listener_;
  BeforeCommit before_commit_;
  Persistence* persistence_ = nullptr;
  std::vector<std::string> log_relations_;

  // The transaction in progress (a fresh one for each).
  Transaction txn_;
  // For verify(): an engine that recomputes reads history and identities from another.
  const Engine* history_ = nullptr;

  // Rule sets added at run time, and the relations each derives.
  std::map<std::string, RuleSet> rule_sets_;
  std::map<std::string, std::string> rule_set_of_relation_;
  std::map<int, std::string> rule_set_by_first_rule_;  // a rule's set: the greatest first rule not above it
  size_t base_rules_ = 0;  // rules_[0, base_rules_) are the program's
  // Stored states of sets not added again yet, and the sets whose stored
  // state goes with the next commit.
  std::map<std::string, StoredRuleSet> parked_;
  std::vector<std::string> drop_stored_;
  int next_stratum_ = 0;
};

}  // namespace pmesh::engine
