// The engine's state: objects, relation tuples, rule matches, and the
// indexes over them.
//
// An object is identified by (logical cluster, kind, namespace, name); a
// tuple by its relation and arguments. Both are "facts" with a string key
// (fact_key), ordered so that the objects of one kind in one cluster are one
// range. An object keeps what users wrote (`base`) apart from what rules
// contribute (derived fields, set fields); `effective` is what readers see.
// A Match is one assignment of a rule's positive patterns with the
// contributions its heads made.
//
// Every mutation goes through State's methods, which keep the indexes and
// record how to undo it: a transaction that is refused, or a dry run, rolls
// back to exactly the state it started from.
//
// Thread safety: not synchronized; the engine serializes transactions.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <absl/functional/function_ref.h>
#include <boost/container/flat_map.hpp>
#include <boost/container/small_vector.hpp>
#include <boost/smart_ptr/intrusive_ptr.hpp>

#include "dsl/ast.h"
#include "dsl/planner.h"
#include "engine/cbor.h"
#include "engine/fact_bucket.h"
#include "engine/fact_key.h"
#include "engine/json_path.h"
#include "engine/keyed_map.h"
#include "engine/tuple_table.h"
#include "engine/match_key.h"
#include "engine/match_key_set.h"
#include "engine/match_readers.h"

namespace pmesh::engine {

struct ObjectKey {
  std::string kind;  // the kind's name, e.g. Workspace
  std::string cluster;
  std::string ns;
  std::string name;
  bool operator<(const ObjectKey& o) const;
  bool operator==(const ObjectKey& o) const;
  std::string to_string() const;  // Kind cluster/[ns/]name
};

// An ObjectKey as views of the text that holds it (an object's fact key):
// valid while that text is.
struct ObjectKeyView {
  std::string_view kind, cluster, ns, name;
  ObjectKey owned() const { return {std::string(kind), std::string(cluster), std::string(ns), std::string(name)}; }
  std::string to_string() const;  // as ObjectKey's
  // Sets the name, the namespace (when it has one) and the cluster in an
  // object's `metadata`, as the store names the object.
  void name_in(Json& metadata) const;
};

// Fact keys: "o\x1fKind\x1fcluster\x1fns\x1fname" and "t\x1frelation\x1farg\x1f...".
inline constexpr char kFactSep = '\x1f';
std::string object_fact(const ObjectKey& k);
std::string object_prefix(const std::string& kind, const std::string* cluster = nullptr,
                          const std::string* ns = nullptr);
std::string tuple_fact(const std::string& relation, const std::vector<std::string>& args);
bool is_object_fact(std::string_view fact);
ObjectKey parse_object_fact(std::string_view fact);
// The same as views of `fact`. REQUIRES: `fact` outlives the view.
ObjectKeyView view_object_fact(std::string_view fact);
std::pair<std::string, std::vector<std::string>> parse_tuple_fact(std::string_view fact);
// The same without copies, for the engine's hot paths: views into `fact`.
// REQUIRES: `fact` outlives the view.
// (Arguments inline up to six: a view is made for every tuple a step
// visits, and an allocation per view was a tenth of its cost.)
struct TupleView {
  std::string_view relation;
  boost::container::small_vector<std::string_view, 6> args;
};
TupleView view_tuple_fact(std::string_view fact);
std::string describe_fact(std::string_view fact);  // for people
// "cluster/name" or "cluster/namespace/name", as tests and the CLI name objects.
std::optional<ObjectKey> parse_object_ref(const std::string& kind, const std::string& ref);

// An immutable JSON value shared by whoever holds it: what a rule's head
// contributes, the object part or set field it becomes, an object's
// effective form, the undo log's and the transaction's copies of them. A
// copy copies a pointer; equality compares values.
//
// A value may also be held as the CBOR it was stored as, read into JSON
// the first time anyone looks at it (from_cbor): a reopen's objects, most
// of which nothing reads before they change, stay as their records' bytes,
// a fifth of the memory of the tree and none of its decoding. A cold
// object's form and parts are held so too, packed (cold_codec.h): a sixth
// of their CBOR again.
//
// Thread safety: a SharedJson is a value (as std::shared_ptr); looking at
// one held as CBOR from several threads at once reads it once.
class SharedJson {
 public:
  SharedJson() : p_(null_value()) {}
  // REQUIRES: `v` is not discarded (a parser's "no value").
  SharedJson(Json v);  // NOLINT: a value is a SharedJson
  // The value held as a copy of `cbor`, in a buffer of its size.
  // REQUIRES: cbor_readable(cbor).
  static SharedJson from_cbor(std::string_view cbor);
  // The same, packed when that makes it smaller: for values held long and
  // seldom read (each read unpacks it first).
  static SharedJson from_cbor_packed(std::string_view cbor);
  const Json& operator*() const { return p_->is_discarded() ? read() : *p_; }
  const Json* operator->() const { return &**this; }
  // Compares without keeping what it reads: a value held as CBOR that a
  // comparison reads (a match evaluated again to the same contributions)
  // stays its bytes.
  bool operator==(const SharedJson& o) const { return p_ == o.p_ || equal_values(o); }
  bool operator<(const SharedJson& o) const { return **this < *o; }
  // Whether both hold the one same value (not only equal ones).
  bool same(const SharedJson& o) const { return p_ == o.p_; }
  // What same() compares, as a value to hash (valid while this value lives).
  const void* identity() const { return p_.get(); }
  // Whether the value is null, without reading CBOR.
  bool is_null() const;
  // Whether the value is held as CBOR (packed or not).
  bool held_as_cbor() const { return p_->is_discarded(); }
  // fn on the CBOR the value is held as (unpacked first when packed).
  // REQUIRES: held_as_cbor().
  void with_cbor(absl::FunctionRef<void(std::string_view)> fn) const;
  // Whether it is held as CBOR and was read since, so that it keeps both.
  bool cbor_and_read() const { return held_as_cbor() && !unread(); }
  // The same bytes (packed, if they are) held anew, without what was read
  // from them. REQUIRES: held_as_cbor().
  SharedJson held_again() const;
  // fn(const Json&) on the value, and what it returns. A value held as
  // CBOR that nobody has read yet is read for the call and not kept: for
  // scans that read many objects once (a list, a watch's first events),
  // which would otherwise leave each object's JSON beside its bytes.
  template <class F>
  decltype(auto) visit(const F& fn) const {
    if (unread()) {
      const Json once = parse();
      return fn(once);
    }
    return fn(**this);
  }
  // The value as a Json of the caller's own: read from the bytes into it
  // when held as CBOR and not read yet (not kept), copied otherwise.
  Json copy() const {
    if (unread()) return parse();
    return **this;
  }
  // The value to change in place: this holder's own while nobody else
  // holds it, a copy of it otherwise (copy on write).
  // REQUIRES: no other thread holds this value.
  Json& mutate();

 private:
  static const std::shared_ptr<const Json>& null_value() {
    static const std::shared_ptr<const Json> kNull = std::make_shared<const Json>();
    return kNull;
  }
  // The JSON of a value held as CBOR, read on the first call.
  const Json& read() const;
  bool equal_values(const SharedJson& o) const;
  // Whether the value is held as CBOR and nobody has read it yet.
  bool unread() const;
  // The value read from its CBOR, not kept. REQUIRES: held_as_cbor().
  Json parse() const;
  // A value held as `bytes`, its CBOR or (`packed`) what cold_codec packed it to.
  static SharedJson held(std::string_view bytes, bool packed);
  // Points at a Json, or at the discarded placeholder that starts a
  // LazyCbor (state.cc) for a value held as CBOR.
  std::shared_ptr<const Json> p_;
};

// What one match of a rule contributes: a fact (`target`) and what it sets
// there. A match holds one per head, and there are tens of them per account,
// two thirds of them tuples, which are their target alone. So the rest (a
// value, a path, a priority, flags) is a Detail of its own behind one
// pointer, shared by the contribution's copies (a match copied whole, the
// undo log's), and a contribution that sets nothing (a tuple, a delete)
// points at one shared per kind: 16 bytes where a contribution holding its
// members was 56.
//
// Thread safety: as a shared_ptr's: copies may be made and dropped on any
// thread; one contribution is changed (set_value) by one thread.
class Contribution {
 public:
  enum class Kind : uint8_t { kObject, kField, kTuple, kRefuse, kDelete };
  // kField's flags.
  static constexpr uint8_t kAdd = 1;       // `+=`
  static constexpr uint8_t kEditable = 2;  // a derive's `editable` field (ObjectEntry::editable_seen)
  static constexpr uint8_t kOrder = 4;     // `ordered by`: the value names the fields

  Contribution() : d_(plain(Kind::kObject)) {}
  // `value`: kObject, the fields the derive sets; kField, the value;
  // kRefuse, the message or field error. `path`, `priority` and `flags`: kField.
  // REQUIRES: `path` is not null.
  Contribution(Kind kind, FactKey target, SharedJson value = {}, SharedPath path = empty_path(),
               int64_t priority = 0, uint8_t flags = 0);
  Contribution(const Contribution& o) : target(o.target), d_(o.d_) { retain(d_); }
  Contribution(Contribution&& o) noexcept : target(std::move(o.target)), d_(std::exchange(o.d_, plain(Kind::kObject))) {}
  Contribution& operator=(Contribution o) noexcept {
    std::swap(target, o.target);
    std::swap(d_, o.d_);
    return *this;
  }
  ~Contribution() { release(d_); }

  FactKey target;

  Kind kind() const { return d_->kind; }
  const SharedJson& value() const { return d_->value; }
  const SharedPath& path() const { return d_->path; }
  int64_t priority() const { return d_->priority; }
  bool add() const { return (d_->flags & kAdd) != 0; }
  bool editable() const { return (d_->flags & kEditable) != 0; }
  bool order() const { return (d_->flags & kOrder) != 0; }
  uint8_t flags() const { return d_->flags; }
  // Whether `o` holds this contribution's detail itself (a copy of it).
  bool same_detail(const Contribution& o) const { return d_ == o.d_; }
  // The same contribution with `value` (a cold object's part, held as
  // bytes): in place when this contribution alone holds its detail.
  void set_value(SharedJson value);

  bool operator==(const Contribution& o) const {
    if (target != o.target) return false;
    if (d_ == o.d_) return true;
    return d_->kind == o.d_->kind && d_->flags == o.d_->flags && d_->priority == o.d_->priority &&
           d_->path == o.d_->path && d_->value == o.d_->value;
  }

 private:
  struct Detail {
    // Atomic: a reopen's decoder threads make the contributions that the
    // loading thread then holds. The shared ones (plain) are never counted.
    mutable std::atomic<uint32_t> refs{1};
    Kind kind = Kind::kObject;
    uint8_t flags = 0;
    bool shared_by_kind = false;
    int64_t priority = 0;
    SharedJson value;
    SharedPath path = empty_path();
  };
  // The detail of a contribution of `kind` that sets nothing.
  static const Detail* plain(Kind kind);
  static void retain(const Detail* d) {
    if (!d->shared_by_kind) d->refs.fetch_add(1, std::memory_order_relaxed);
  }
  static void release(const Detail* d) {
    if (!d->shared_by_kind && d->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete d;
  }
  const Detail* d_;
};

// One match of a rule: its key, the facts of its top-level positive
// patterns, in body order, and what it contributes. A state holds tens of
// matches per account: the key and both lists live in one allocation
// behind one pointer. The key is in the block, not beside it in the
// state's table, so that the table's slot is the pointer alone and the
// key's address (which readers of a fact keep) is the block's: a table
// with nodes of their own for stable keys cost 32 bytes and an allocation
// more per match than the key's 16 more bytes here.
// A match is made whole and replaced whole, so its lists keep the lengths
// they were made with; their elements may change in place (a reopen puts
// interned keys there, a cold object's part is held as bytes).
class Match {
 public:
  Match() = default;
  // Throws std::length_error for 2^16 positives or contributions or more
  // (a rule's patterns and heads; a rule has tens at most). Its key is
  // rule `rule`'s with no digest until the state files it under its own
  // (State::put_match).
  Match(int rule, std::vector<FactKey> positives, std::vector<Contribution> contributions);
  Match(const Match& o);
  Match(Match&& o) noexcept : b_(std::exchange(o.b_, nullptr)) {}
  Match& operator=(Match o) noexcept {
    std::swap(b_, o.b_);
    return *this;
  }
  ~Match();

  // Index into CompiledProgram::rules (0 for a match made empty or moved from).
  int rule() const { return b_ ? b_->key.rule() : 0; }
  // Moves the match to another rule's number (a rule set's stored matches
  // count rules from the set's first).
  void set_rule(int rule);
  // The key the state holds the match under. REQUIRES: a match not made
  // empty or moved from.
  const MatchKey& key() const { return b_->key; }

  std::span<FactKey> positives() { return {first_positive(), b_ ? b_->positives : 0u}; }
  std::span<const FactKey> positives() const { return {first_positive(), b_ ? b_->positives : 0u}; }
  std::span<Contribution> contributions() { return {first_contribution(), b_ ? b_->contributions : 0u}; }
  std::span<const Contribution> contributions() const { return {first_contribution(), b_ ? b_->contributions : 0u}; }

 private:
  friend class State;
  // REQUIRES: key.rule() == rule(), and a match not made empty.
  void set_key(const MatchKey& key) { b_->key = key; }

  // Followed by the positives, then the contributions (both aligned to 8).
  struct alignas(8) Block {
    MatchKey key;
    uint16_t positives = 0;
    uint16_t contributions = 0;
  };
  static_assert(sizeof(Block) == 24);
  static_assert(alignof(FactKey) <= alignof(Block) && alignof(Contribution) <= alignof(Block) &&
                sizeof(FactKey) % alignof(Contribution) == 0);
  FactKey* first_positive() const { return b_ ? reinterpret_cast<FactKey*>(b_ + 1) : nullptr; }
  Contribution* first_contribution() const {
    return b_ ? reinterpret_cast<Contribution*>(first_positive() + b_->positives) : nullptr;
  }
  // A block for this rule and these lengths, its elements not made yet.
  static Block* allocate(int rule, size_t positives, size_t contributions);
  Block* b_ = nullptr;
};

// A field a rule sets on an object: the contribution of the match that
// sets it, the same one the match holds (its detail shared, not copied:
// a part was 48 bytes, and an object has one per field a rule sets), and
// the match's rule. The contribution's target is not kept (the object is).
class FieldPart {
 public:
  FieldPart() = default;
  // REQUIRES: c.kind() is kField.
  FieldPart(const Contribution& c, int rule) : c_(c), rule_(rule) { c_.target = FactKey(); }
  // What a field contribution of rule `rule`'s match sets.
  static FieldPart of(const Contribution& c, int rule) { return FieldPart(c, rule); }

  const SharedPath& path() const { return c_.path(); }
  const SharedJson& value() const { return c_.value(); }  // the contribution's own
  int64_t priority() const { return c_.priority(); }
  int rule() const { return rule_; }
  bool add() const { return c_.add(); }
  bool editable() const { return c_.editable(); }  // a derive's `editable` field
  // `ordered by`: sorts the list at `path` by the fields `value` names; the
  // list's elements stay their writers' (a user may still write it).
  bool order() const { return c_.order(); }
  uint8_t flags() const { return c_.flags(); }
  // Whether `c` sets the field this part sets, as this part does (its
  // path, priority and flags; the value aside).
  bool sets_like(const Contribution& c) const {
    return (path() == c.path() || *path() == *c.path()) && priority() == c.priority() && flags() == c.flags();
  }
  // Whether this part is what `c` sets (its value the same one).
  bool is(const Contribution& c) const { return c_.same_detail(c) || (value().same(c.value()) && sets_like(c)); }

 private:
  Contribution c_;  // (a placeholder's sets nothing, and allocates nothing)
  int rule_ = 0;
};
static_assert(sizeof(FieldPart) == 24);

struct ObjectEntry {
  // The object's fact key (object_fact), in the state the key it is held
  // under (State sets it). Its kind, cluster, namespace and name are read
  // from its text: an ObjectKey of the entry's own was a third of the entry
  // and a second copy of that text.
  FactKey fact;
  ObjectKeyView key() const { return view_object_fact(fact.str()); }
  const dsl::KindDecl* decl = nullptr;
  // The parts are immutable and shared: a copy of an entry (what a change
  // of one part starts from, and what the undo log keeps) copies pointers.
  // What users wrote, without store metadata; null when nobody did. Held as
  // CBOR with the effective form once the object goes cold (cold_objects.cc).
  SharedJson base;
  bool has_base() const { return !base.is_null(); }
  bool user_owned = false;  // created by a user; otherwise `base` only overlays a derived object
  // By match, in key order, as sorted vectors: an object has a few parts
  // (one per rule that derives or sets it), and every change of one copies
  // them all, one allocation each rather than one per part.
  boost::container::flat_map<MatchKey, SharedJson> derived;  // match -> fields of a derive (the contribution's own, when one)
  boost::container::flat_map<MatchKey, std::vector<FieldPart>> fields;  // match -> fields it sets
  SharedJson effective;  // null while the object does not exist
  // The values of the object's editable fields (by path) when a user last
  // wrote it: the api-syncagent's "last known state". A value the user
  // wrote there stays while the rules' value is still the one they saw;
  // once the rules' value changes, it wins (Engine::settle_editable).
  std::shared_ptr<const Json> editable_seen;
  // Store-owned metadata: uid, creationTimestamp, and deletionTimestamp
  // (non-empty while terminating).
  int64_t resource_version = 0;
  int64_t generation = 0;
  std::string_view uid() const { return stamps_.uid(); }
  std::string_view created() const { return stamps_.created(); }
  std::string_view deleting() const { return stamps_.deleting(); }
  // Throws std::length_error for a text of 4 GiB or more. The texts may be
  // views of this entry's own stamps.
  void set_stamps(std::string_view uid, std::string_view created, std::string_view deleting) {
    stamps_ = Stamps(uid, created, deleting);
  }
  void set_uid(std::string_view uid) { set_stamps(uid, created(), deleting()); }
  void set_created(std::string_view created) { set_stamps(uid(), created, deleting()); }
  void set_deleting(std::string_view deleting) { set_stamps(uid(), created(), deleting); }

 private:
  // The three stamps one after another in one immutable block, with their
  // lengths, shared by the entry's copies (a change starts from a copy of
  // the entry, and the undo log keeps one): three strings were a quarter
  // of the entry and two allocations; one string with its lengths beside
  // it, 40 bytes of the entry, put a node of the objects' tree in the
  // 224-byte size class, where a pointer puts it in the 192.
  class Stamps {
   public:
    Stamps() = default;
    Stamps(std::string_view uid, std::string_view created, std::string_view deleting);
    std::string_view uid() const { return b_ ? std::string_view(text(), b_->uid) : std::string_view(); }
    std::string_view created() const { return b_ ? std::string_view(text() + b_->uid, b_->created) : std::string_view(); }
    std::string_view deleting() const {
      return b_ ? std::string_view(text() + b_->uid + b_->created, b_->deleting) : std::string_view();
    }

   private:
    // Followed by the text, in the same allocation (hence the count of
    // its own rather than boost::intrusive_ref_counter, which deletes a
    // block of the struct's size).
    struct Block {
      mutable std::atomic<uint32_t> refs{0};
      uint32_t uid = 0, created = 0, deleting = 0;
      friend void intrusive_ptr_add_ref(const Block* b) { b->refs.fetch_add(1, std::memory_order_relaxed); }
      friend void intrusive_ptr_release(const Block* b) {
        if (b->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
          b->~Block();
          ::operator delete(const_cast<Block*>(b));
        }
      }
    };
    const char* text() const { return reinterpret_cast<const char*>(b_.get() + 1); }
    boost::intrusive_ptr<const Block> b_;  // null: no stamps
  };
  Stamps stamps_;
};

// A tuple: whether it was written (not derived) and the matches that
// derive it. 24 bytes, the flag in the set's spare byte: with the tuple's
// key, a node of the tuple table is 32 bytes (it was 48).
struct TupleEntry {
  MatchKeySet supports;  // the matches that derive it
  bool base() const { return supports.flag(); }
  void set_base(bool on) { supports.set_flag(on); }
  bool exists() const { return base() || !supports.empty(); }
};
static_assert(sizeof(TupleEntry) == 24);

class State {
 public:
  explicit State(std::vector<dsl::IndexSpec> indexes);
  // Not copied: its readers and buckets point at its own matches' and
  // entries' keys. A move keeps those where they are.
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  State(State&&) = default;
  State& operator=(State&&) = default;

  // ---- Objects
  // (Each lookup by fact also takes the interned key, whose hash is kept.)
  const ObjectEntry* object(std::string_view fact) const;
  const ObjectEntry* object(const FactKey& fact) const;
  // The entry of `fact` with the state's own key for it (valid while the
  // entry is): {null, null} when there is none.
  std::pair<const FactKey*, const ObjectEntry*> find_object(std::string_view fact) const;
  // The entry for `fact`, created empty if absent (its parts and effective
  // form are shared, so a copy copies pointers). Record-keeping is the
  // caller's: call put_object after changing the copy.
  ObjectEntry object_copy(std::string_view fact) const;
  // Both return the entry they replaced, kept in the undo log until the
  // transaction ends (null when there was none, or while undoing): a caller
  // reads the old version there instead of copying it first.
  const ObjectEntry* put_object(std::string_view fact, ObjectEntry entry);
  // The same with the key interned already (its hash kept): a reopen's
  // decoders intern the records' keys on their own threads.
  const ObjectEntry* put_object(const FactKey& fact, ObjectEntry entry);
  const ObjectEntry* erase_object(std::string_view fact);
  // Whether changes are being recorded for undo (not while undoing, nor
  // in bulk).
  bool recording() const { return !undoing_ && !bulk_; }
  // Stamps a committed object with its resource version (not an index key).
  void set_resource_version(std::string_view fact, int64_t rv);
  // Holds an object's effective form as `same`, the same value held
  // otherwise (as its CBOR): no index, undo record or dirty mark changes.
  // REQUIRES: no transaction in progress; `same` equals the object's form.
  void hold_effective_as(const FactKey& fact, SharedJson same);
  // The same for a part of an object that a match derives: the object's
  // part from match `mk` and the match's contributions that are that part
  // (`was`, by identity) become `same`.
  // REQUIRES: no transaction in progress; `same` equals `was`.
  void hold_part_as(const FactKey& fact, const MatchKey& mk, const SharedJson& was, const SharedJson& same);
  // The same for the fields match `mk` sets on the object: its field
  // parts and the match's contributions whose value is `was`.
  // REQUIRES: no transaction in progress; `same` equals `was`.
  void hold_field_as(const FactKey& fact, const MatchKey& mk, const SharedJson& was, const SharedJson& same);
  // The same for what users wrote of it.
  void hold_base_as(const FactKey& fact, SharedJson same);
  // What scans and lookups call for each object found, with its fact key
  // (the state's own: valid while the object is, and copied by retaining
  // it, not by interning its text again); returns false to stop. A
  // reference to the caller's callable (a std::function was allocated for
  // every lookup a rule's search made).
  using ObjectVisitor = absl::FunctionRef<bool(const FactKey& fact, const ObjectEntry&)>;
  // The same for tuples, but the key may be a group's copy of the state's
  // (FactBucket): valid until the state next changes, and copied by
  // retaining it all the same.
  using TupleVisitor = absl::FunctionRef<bool(const FactKey& fact)>;
  // Live objects (effective non-null) whose fact key starts with `prefix`,
  // in key order; with `after`, those whose key sorts after it.
  void scan_objects(const std::string& prefix, const ObjectVisitor& fn, std::string_view after = {}) const;
  // Live objects in the secondary index `index` with these values, and
  // perhaps others: the caller checks each candidate's values, as it must
  // for a value of another type with the same text (index_key), and for
  // values whose keys' hashes collide (indexes_). Reading an object's
  // values here would read a cold one's CBOR twice.
  void lookup_index(int index, const std::string& values, const ObjectVisitor& fn) const;
  const KeyedMap<ObjectEntry>::Map& objects() const { return objects_.ordered(); }

  // ---- Tuples
  const TupleEntry* tuple(std::string_view fact) const;
  const TupleEntry* tuple(const FactKey& fact) const;
  std::pair<const FactKey*, const TupleEntry*> find_tuple(std::string_view fact) const;
  void put_tuple(std::string_view fact, TupleEntry entry);
  void put_tuple(const FactKey& fact, TupleEntry entry);
  // Adds (`keep`) or withdraws match `match`'s support of tuple `fact` in
  // place; the undo record is the inverse change, not a copy of the entry,
  // and a change that changes nothing records nothing. Returns whether the
  // match supported the tuple before.
  bool support_tuple(const FactKey& fact, const MatchKey& match, bool keep);
  void scan_tuples(const std::string& relation, const TupleVisitor& fn) const;
  // `from`: the first fact key not before it (a skip past a group of keys).
  void lookup_tuples(int index, const std::string& values, const TupleVisitor& fn, std::string_view from = {}) const;
  // Tuples of `relation` whose first arguments are `first`, in order: one range.
  void scan_tuples_with(const std::string& relation, const std::vector<std::string>& first,
                        const TupleVisitor& fn) const;
  // A relation that maps its first argument to its second, read as a map:
  // the second argument of the first existing tuple whose first is `first`,
  // or "" when there is none.
  std::string second_arg(const std::string& relation, const std::string& first) const;
  // Every tuple, in no order (tuples_in_order() sorts them).
  const TupleTable<TupleEntry>& tuples() const { return tuples_; }
  std::vector<const TupleTable<TupleEntry>::value_type*> tuples_in_order() const { return tuples_.in_order(); }

  // The index `spec` names, built from the state if no plan asked for it:
  // for lookups that queries make and no rule does. Returns its number.
  // REQUIRES: spec.relation (an index of tuples).
  int add_index(const dsl::IndexSpec& spec);

  // ---- Matches
  const Match* match(const MatchKey& key) const;
  // Both return the match they replaced, kept in the undo log until the
  // transaction ends (null when there was none, or while undoing).
  // REQUIRES: m.rule == key.rule() (readers pass over other rules' matches
  // by their keys).
  const Match* put_match(const MatchKey& key, Match m);
  const Match* erase_match(const MatchKey& key);
  // For loads that put many entries one after another: brings into the
  // cache the places that putting this match (its table's, and each of its
  // facts' readers list) or this tuple will look at, so that the lookups of
  // the next few entries wait for memory together, not one after another.
  // Nothing else; any state, any time.
  void prefetch(const MatchKey& key, const Match& m) const;
  void prefetch(const FactKey& tuple) const { tuples_.prefetch(tuple); }
  // How many entries ahead of the one it puts a load fetches.
  static constexpr size_t kPrefetchAhead = 8;
  // The keys of the matches that use `fact` as a positive pattern, in no
  // order (each points at its match's key in the state; valid until the
  // state changes).
  const MatchReaders::List* matches_using(std::string_view fact) const;
  const MatchReaders::List* matches_using(const FactKey& fact) const;
  size_t match_count() const { return match_count_; }
  // Every rule with matches is numbered below this.
  int match_rules() const { return static_cast<int>(matches_.size()); }
  // Every match, in key order: for dumps and checks (it sorts; not for hot
  // paths).
  void for_each_match(const std::function<void(const MatchKey&, const Match&)>& fn) const;
  // The keys of rule `rule`'s matches (one map of them).
  std::vector<MatchKey> match_keys_of(int rule) const;

  // ---- What changed since the last take_dirty(): for durable commits.
  // Facts in key order (by their interned keys: a mark copies a pointer);
  // matches unordered, since a commit writes each under its own key.
  struct Dirty {
    std::set<FactKey> objects, tuples;
    std::unordered_set<MatchKey, MatchKeyHash> matches;
  };
  Dirty take_dirty() { return std::exchange(dirty_, Dirty{}); }
  // Whether changes are marked dirty at all (on by default): the engine
  // turns it off for transactions whose changes nothing will store.
  void set_dirty_tracking(bool on) { track_dirty_ = on; }

  // ---- Loading a store
  // While bulk is on, changes are neither recorded for undo nor marked
  // dirty: for reading records that are already durable, which no
  // transaction will roll back.
  void set_bulk(bool on) { bulk_ = on; }
  // How many entries the state's hash tables hold. A bulk load that knows
  // its size (a store's last shape, a rule set's stored state) reserves
  // room first, so that each table is allocated once: grown by doubling,
  // every doubling of a table of millions rehashed all its entries, a
  // cache miss each (a fifth of a reopen's time on the engine's thread).
  struct Shape {
    size_t objects = 0;
    size_t tuples = 0;
    std::vector<size_t> matches;  // by rule
    size_t readers = 0;           // facts that some match reads
    std::vector<size_t> indexes;  // values of each secondary index
  };
  Shape shape() const;
  // Room for at least `s` (a table already larger is left as it is).
  // Only capacity changes: nothing a reader sees.
  void reserve(const Shape& s);

  // ---- Undo
  size_t undo_mark() const { return undo_.size(); }
  void undo_to(size_t mark);
  void forget_undo() { undo_.clear(); }

  // The index key of `values`, in the index's key order: each as a tuple
  // would hold it (a string's text, anything else as JSON), so that a key
  // read from a tuple finds a number or a boolean. A bucket may hold values
  // of two types with one text (3 and "3"): lookups check each candidate.
  static std::string index_key(const std::vector<Json>& values);
  static std::string index_key(std::span<const Json* const> values);
  // For tests: while one lives, every index values key has one hash, so
  // that an index is one bucket and every lookup passes over what it holds
  // of other values. REQUIRES: the state is empty when one is made or
  // dropped (buckets are found by the hash they were put under).
  class CollidingIndexKeysForTesting {
   public:
    CollidingIndexKeysForTesting();
    ~CollidingIndexKeysForTesting();
    CollidingIndexKeysForTesting(const CollidingIndexKeysForTesting&) = delete;
    CollidingIndexKeysForTesting& operator=(const CollidingIndexKeysForTesting&) = delete;
  };
  const std::vector<dsl::IndexSpec>& index_specs() const { return specs_; }

 private:
  // `K`: the fact's text, or its interned key.
  template <class K>
  const ObjectEntry* put_object_as(const K& fact, ObjectEntry entry);
  template <class K>
  void put_tuple_as(const K& fact, TupleEntry entry);
  void index_object(const FactKey& fact, const ObjectEntry& e, bool add);
  // The key of `e` in each index of its kind, in specs_of_ order (none
  // while it does not exist).
  std::vector<std::string> object_index_keys(const ObjectEntry& e) const;
  // Moves `fact` from the buckets of `before` to those of `after` (keys as
  // object_index_keys makes them; empty: in none).
  void reindex_object(const FactKey& fact, std::string_view kind, const std::vector<std::string>& before,
                      const std::vector<std::string>& after);
  void index_tuple(const FactKey& fact, bool add);
  // The key of a tuple with these arguments in relation index `i`, into
  // `out` (cleared first): a tuple change makes one per index of its
  // relation, into the same buffer, not a string each.
  void tuple_index_key(size_t i, const decltype(TupleView::args)& args, std::string* out) const;
  // `fact` is the key of the entry in objects_ or tuples_: a bucket of
  // one fact points at that key. REQUIRES: the entry exists.
  void update_bucket(size_t index, std::string_view key, const FactKey& fact, bool add);
  // That key of a fact that index `index` holds (an object or a tuple, as
  // the index is of a kind or a relation). REQUIRES: the entry exists.
  const FactKey* home_key(size_t index, const FactKey& fact) const;
  // Whether a tuple with these arguments has the values key `values` in
  // relation index `i` (a bucket also holds the tuples of keys that share
  // its hash).
  bool tuple_has_index_key(size_t i, const decltype(TupleView::args)& args, std::string_view values) const;

  // Records index `i` in specs_of_.
  void note_spec(size_t i);

  std::vector<dsl::IndexSpec> specs_;
  // Of each relation index, its key's argument positions (specs_ spell them as text).
  std::vector<std::vector<size_t>> positions_;
  // The indexes of each kind and of each relation ("\x1f" + relation): a
  // change updates its own, however many rule sets brought indexes.
  // Looked up by views (a tuple's relation is read from its key's text).
  std::unordered_map<std::string, std::vector<size_t>, KeyedTextHash, std::equal_to<>> specs_of_;
  std::string index_key_buffer_;  // index_tuple's keys
  KeyedMap<ObjectEntry> objects_;
  TupleTable<TupleEntry> tuples_;
  // Matches by rule, then by key (a key names its rule): nothing needs them
  // in order but dumps, so an insert hashes a short key instead of walking
  // a tree of hundreds of thousands (a cache miss per level). Open-addressed
  // (a probe is a group of control bytes, then the match's block, which
  // holds its key); a slot is the match's pointer, so the key's address,
  // kept in readers_, is stable while the match is (put_match keeps it so
  // when it replaces one). `mutable`: a slot's match changes in place
  // under the same key, which its hash and equality read.
  struct MatchSlot {
    mutable Match match;
  };
  struct MatchSlotHash {
    using is_transparent = void;
    size_t operator()(const MatchKey& k) const { return k.hash(); }
    size_t operator()(const MatchSlot& s) const { return s.match.key().hash(); }
  };
  struct MatchSlotEq {
    using is_transparent = void;
    bool operator()(const MatchSlot& a, const MatchSlot& b) const { return a.match.key() == b.match.key(); }
    bool operator()(const MatchSlot& a, const MatchKey& b) const { return a.match.key() == b; }
    bool operator()(const MatchKey& a, const MatchSlot& b) const { return a == b.match.key(); }
  };
  using RuleMatches = absl::flat_hash_set<MatchSlot, MatchSlotHash, MatchSlotEq>;
  std::vector<RuleMatches> matches_;
  size_t match_count_ = 0;
  RuleMatches* matches_of(int rule, bool grow);
  const RuleMatches* matches_of(int rule) const;
  // Fact -> the keys (in matches_) of the matches that read it.
  MatchReaders readers_;
  // Index -> the keyed hash of a values key (keyed_text_hash: index values
  // are tenants' text) -> bucket. A bucket's facts, in key order: one by
  // pointer to the key its entry has in objects_ or tuples_ (an entry
  // leaves its buckets before it goes), more as copies of their keys
  // (FactBucket). The values' text is not kept: it was a string
  // per fact and index, most of them past the inline size, for text each
  // fact's key holds already. A bucket holds the facts of every values key
  // with its hash, so lookups pass over the others' (one pair in 2^64 under
  // a key nobody outside the process knows, hence none aimed at).
  std::vector<absl::flat_hash_map<uint64_t, FactBucket>> indexes_;
  template <typename Set>
  void mark_dirty(Set& set, const typename Set::key_type& key) {
    if (!bulk_ && track_dirty_) set.insert(key);
  }

  // How to undo one change: the inverse operation, with what it needs.
  // Records are values, not closures: a closure that held them was an
  // allocation per change, and a transaction that derives a million
  // tuples makes millions of changes.
  struct UndoPutObject {  // put `prev` back (an entry replaced or erased)
    FactKey fact;
    std::shared_ptr<ObjectEntry> prev;
  };
  struct UndoEraseObject {  // an entry that was added
    FactKey fact;
  };
  struct UndoResourceVersion {
    FactKey fact;
    int64_t resource_version;
    Json text;  // metadata.resourceVersion as it was (null: absent)
  };
  struct UndoPutTuple {  // the entry as it was (none: absent)
    FactKey fact;
    std::optional<TupleEntry> prev;
  };
  struct UndoSupport {  // a support changed in place; `keep` is what to restore
    FactKey fact;
    MatchKey match;
    bool keep;
  };
  struct UndoPutMatch {  // put `prev` back (a match replaced or erased)
    MatchKey key;
    std::shared_ptr<Match> prev;
  };
  struct UndoEraseMatch {  // a match that was added
    MatchKey key;
  };
  using Undo = std::variant<UndoPutObject, UndoEraseObject, UndoResourceVersion, UndoPutTuple, UndoSupport,
                            UndoPutMatch, UndoEraseMatch>;
  std::vector<Undo> undo_;
  bool undoing_ = false;
  bool bulk_ = false;
  bool track_dirty_ = true;
  Dirty dirty_;
};

// The value at a canonical dotted path of an object ("metadata.cluster",
// "spec.reference.export.name"), or null. After metadata.labels or
// metadata.annotations, the rest of the path is one key (keys hold dots).
Json value_at(const Json& object, const std::string& dotted_path);
// The same without a copy: null when absent.
const Json* find_at(const Json& object, std::string_view dotted_path);
// The same in an object held as CBOR: the value's bytes, empty when absent.
// REQUIRES: cbor_readable(object).
std::string_view cbor_find_at(std::string_view object, std::string_view dotted_path);

}  // namespace pmesh::engine
