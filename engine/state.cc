#include "engine/state.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <tuple>
#include <type_traits>

#include "dsl/object_model.h"
#include "engine/cbor.h"
#include "engine/cold_codec.h"
#include "stdlib/text.h"

namespace pmesh::engine {

namespace {
constexpr char kSep = kFactSep;

}  // namespace

namespace {

// A value held as CBOR (SharedJson::from_cbor). SharedJson points at the
// placeholder, its first member, which tells it apart: a discarded value
// is no value a SharedJson holds otherwise.
struct LazyCbor {
  const Json placeholder = Json(Json::value_t::discarded);  // (braces would make a list of it)
  mutable std::atomic<const Json*> value{nullptr};  // once read
  // The CBOR, or what cold_codec packed it to: in a buffer of its size,
  // not a string (whose 32 bytes put the holder in the 80-byte size
  // class, where it is in the 64 now; a store holds one per cold value).
  std::unique_ptr<char[]> data;
  uint32_t size = 0;
  bool packed = false;
  LazyCbor(std::string_view b, bool p) : size(checked_size(b)), packed(p) {
    data.reset(new char[b.size()]);
    std::copy(b.begin(), b.end(), data.get());
  }
  static uint32_t checked_size(std::string_view b) {
    if (b.size() > UINT32_MAX) throw std::length_error("a value of 4 GiB or more held as CBOR");
    return static_cast<uint32_t>(b.size());
  }
  ~LazyCbor() { delete value.load(std::memory_order_acquire); }
  std::string_view bytes() const { return {data.get(), size}; }
  // fn(the CBOR), unpacked first when packed.
  template <class F>
  decltype(auto) with_cbor(const F& fn) const {
    if (!packed) return fn(bytes());
    std::string cbor;
    cold_codec::unpack(bytes(), cbor);
    return fn(std::string_view(cbor));
  }
  Json parse() const {
    return with_cbor([](std::string_view cbor) { return read_cbor(cbor); });
  }
};
// So that a pointer to the placeholder is one to the LazyCbor.
static_assert(std::is_standard_layout_v<LazyCbor>);

const LazyCbor& lazy_of(const Json* p) { return *reinterpret_cast<const LazyCbor*>(p); }

}  // namespace

SharedJson SharedJson::held(std::string_view bytes, bool packed) {
  auto lazy = std::make_shared<const LazyCbor>(bytes, packed);
  SharedJson s;
  s.p_ = std::shared_ptr<const Json>(lazy, &lazy->placeholder);
  return s;
}

SharedJson::SharedJson(Json v) {
  if (v.is_discarded()) throw std::invalid_argument("SharedJson: a discarded value");
  p_ = std::make_shared<const Json>(std::move(v));
}

SharedJson SharedJson::from_cbor(std::string_view cbor) { return held(cbor, false); }

SharedJson SharedJson::from_cbor_packed(std::string_view cbor) {
  if (std::optional<std::string> packed = cold_codec::pack(cbor)) return held(*packed, true);
  return held(cbor, false);
}

SharedJson SharedJson::held_again() const {
  const LazyCbor& lazy = lazy_of(p_.get());
  return held(lazy.bytes(), lazy.packed);
}

const Json& SharedJson::read() const {
  const LazyCbor& lazy = lazy_of(p_.get());
  if (const Json* v = lazy.value.load(std::memory_order_acquire)) return *v;
  // Readers that race each read it; the first to publish wins.
  auto fresh = std::make_unique<const Json>(lazy.parse());
  const Json* expected = nullptr;
  if (lazy.value.compare_exchange_strong(expected, fresh.get(), std::memory_order_acq_rel)) return *fresh.release();
  return *expected;
}

Json SharedJson::parse() const { return lazy_of(p_.get()).parse(); }

bool SharedJson::equal_values(const SharedJson& o) const {
  // The same bytes are the same value (other bytes may still be: 1 and
  // 1.0), and the same packed bytes the same CBOR (unpacking is a
  // function of them).
  if (unread() && o.unread()) {
    const LazyCbor &a = lazy_of(p_.get()), &b = lazy_of(o.p_.get());
    if (a.packed == b.packed && a.bytes() == b.bytes()) return true;
  }
  return visit([&](const Json& x) { return o.visit([&](const Json& y) { return x == y; }); });
}

bool SharedJson::is_null() const {
  if (!held_as_cbor()) return p_->is_null();
  // Null's CBOR is one byte, which packs to no fewer.
  const LazyCbor& lazy = lazy_of(p_.get());
  return !lazy.packed && lazy.bytes() == "\xf6";
}

bool SharedJson::unread() const {
  return p_->is_discarded() && !lazy_of(p_.get()).value.load(std::memory_order_acquire);
}

void SharedJson::with_cbor(absl::FunctionRef<void(std::string_view)> fn) const { lazy_of(p_.get()).with_cbor(fn); }

Json& SharedJson::mutate() {
  if (p_->is_discarded() || p_.use_count() != 1) p_ = std::make_shared<const Json>(**this);
  return const_cast<Json&>(*p_);
}

bool ObjectKey::operator<(const ObjectKey& o) const {
  return std::tie(kind, cluster, ns, name) < std::tie(o.kind, o.cluster, o.ns, o.name);
}
bool ObjectKey::operator==(const ObjectKey& o) const {
  return std::tie(kind, cluster, ns, name) == std::tie(o.kind, o.cluster, o.ns, o.name);
}
std::string ObjectKey::to_string() const {
  return kind + " " + cluster + "/" + (ns.empty() ? "" : ns + "/") + name;
}

// Keys are made often (every lookup of one names it): sized once, no
// temporaries.
std::string object_fact(const ObjectKey& k) {
  std::string f;
  f.reserve(5 + k.kind.size() + k.cluster.size() + k.ns.size() + k.name.size());
  f += 'o';
  for (const std::string* part : {&k.kind, &k.cluster, &k.ns, &k.name}) {
    f += kSep;
    f += *part;
  }
  return f;
}

std::string object_prefix(const std::string& kind, const std::string* cluster, const std::string* ns) {
  std::string p;
  p.reserve(3 + kind.size() + (cluster ? cluster->size() + 1 : 0) + (ns ? ns->size() + 1 : 0));
  p += 'o';
  p += kSep;
  p += kind;
  p += kSep;
  if (cluster) {
    p += *cluster;
    p += kSep;
    if (ns) {
      p += *ns;
      p += kSep;
    }
  }
  return p;
}

std::string tuple_fact(const std::string& relation, const std::vector<std::string>& args) {
  size_t n = 2 + relation.size();
  for (const auto& a : args) n += 1 + a.size();
  std::string f;
  f.reserve(n);
  f += 't';
  f += kSep;
  f += relation;
  for (const auto& a : args) {
    f += kSep;
    f += a;
  }
  return f;
}

bool is_object_fact(std::string_view fact) { return !fact.empty() && fact[0] == 'o'; }

ObjectKeyView view_object_fact(std::string_view fact) {
  // The four parts after the "o", each up to the next separator: read in
  // place (the engine reads an object's key for every change it looks at).
  std::string_view parts[5];
  size_t start = 0;
  for (auto& part : parts) {
    size_t p = fact.find(kSep, start);
    part = fact.substr(start, p == std::string_view::npos ? p : p - start);
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return {parts[1], parts[2], parts[3], parts[4]};
}

ObjectKey parse_object_fact(std::string_view fact) { return view_object_fact(fact).owned(); }

std::string ObjectKeyView::to_string() const { return owned().to_string(); }

void ObjectKeyView::name_in(Json& metadata) const {
  set_string(metadata["name"], name);
  if (!ns.empty()) set_string(metadata["namespace"], ns);
  set_string(metadata["cluster"], cluster);
}

ObjectEntry::Stamps::Stamps(std::string_view uid, std::string_view created, std::string_view deleting) {
  const size_t n = uid.size() + created.size() + deleting.size();
  if (n > UINT32_MAX) throw std::length_error("an object's uid and timestamps are over 4 GiB");
  if (n == 0) return;
  // A new block: the texts may be views of another's.
  Block* b = new (::operator new(sizeof(Block) + n)) Block;
  b->uid = static_cast<uint32_t>(uid.size());
  b->created = static_cast<uint32_t>(created.size());
  b->deleting = static_cast<uint32_t>(deleting.size());
  char* out = reinterpret_cast<char*>(b + 1);
  for (std::string_view part : {uid, created, deleting}) out = std::copy(part.begin(), part.end(), out);
  b_.reset(b);
}

TupleView view_tuple_fact(std::string_view fact) {
  TupleView v;
  size_t start = fact.find(kSep);
  if (start == std::string_view::npos) return v;
  ++start;
  size_t p = fact.find(kSep, start);
  v.relation = fact.substr(start, p == std::string_view::npos ? p : p - start);
  while (p != std::string_view::npos) {
    start = p + 1;
    p = fact.find(kSep, start);
    v.args.push_back(fact.substr(start, p == std::string_view::npos ? p : p - start));
  }
  return v;
}

std::pair<std::string, std::vector<std::string>> parse_tuple_fact(std::string_view fact) {
  TupleView v = view_tuple_fact(fact);
  return {std::string(v.relation), std::vector<std::string>(v.args.begin(), v.args.end())};
}

State::Shape State::shape() const {
  Shape s;
  s.objects = objects_.size();
  s.tuples = tuples_.size();
  s.matches.reserve(matches_.size());
  for (const auto& ms : matches_) s.matches.push_back(ms.size());
  s.readers = readers_.size();
  s.indexes.reserve(indexes_.size());
  for (const auto& idx : indexes_) s.indexes.push_back(idx.size());
  return s;
}

void State::reserve(const Shape& s) {
  objects_.reserve(s.objects);
  tuples_.reserve(s.tuples);
  // A rule's table is made here if it has none yet, as its first match
  // would make it.
  for (size_t r = 0; r < s.matches.size(); ++r)
    if (s.matches[r] > 0) matches_of(static_cast<int>(r), true)->reserve(s.matches[r]);
  readers_.reserve(s.readers);
  for (size_t i = 0; i < s.indexes.size() && i < indexes_.size(); ++i) indexes_[i].reserve(s.indexes[i]);
}

std::vector<MatchKey> State::match_keys_of(int rule) const {
  std::vector<MatchKey> out;
  if (const RuleMatches* ms = matches_of(rule)) {
    out.reserve(ms->size());
    for (const auto& slot : *ms) out.push_back(slot.match.key());
  }
  // In key order: the table's order differs from run to run, and what a
  // caller does with each (a rule set's removal undoes its matches one by
  // one) should not.
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<ObjectKey> parse_object_ref(const std::string& kind, const std::string& ref) {
  size_t a = ref.find('/');
  if (a == std::string::npos || a == 0) return std::nullopt;
  ObjectKey k{kind, ref.substr(0, a), "", ref.substr(a + 1)};
  size_t b = k.name.find('/');
  if (b != std::string::npos) {
    k.ns = k.name.substr(0, b);
    k.name = k.name.substr(b + 1);
  }
  if (k.name.empty() || k.name.find('/') != std::string::npos) return std::nullopt;
  return k;
}

std::string describe_fact(std::string_view fact) {
  if (is_object_fact(fact)) return parse_object_fact(fact).to_string();
  auto [rel, args] = parse_tuple_fact(fact);
  std::string out = rel + "(";
  for (size_t i = 0; i < args.size(); ++i) out += (i ? ", " : "") + args[i];
  return out + ")";
}

namespace {

// The walk of a canonical dotted path, over JSON or CBOR: `member(node,
// key)` is the node's member, or a node that tests false (absent, or the
// node is not a map).
template <class Node, class Member>
Node walk_dotted(Node cur, std::string_view dotted_path, const Member& member) {
  size_t start = 0;
  while (start <= dotted_path.size()) {
    size_t dot = dotted_path.find('.', start);
    std::string_view f = dotted_path.substr(start, dot == std::string_view::npos ? dot : dot - start);
    // Label and annotation keys contain dots (dsl::rest_is_one_field).
    bool map_of_strings = dot != std::string_view::npos && dsl::rest_is_one_field(dotted_path.substr(0, dot));
    cur = member(cur, f);
    if (!cur.size() || dot == std::string_view::npos) return cur;
    start = dot + 1;
    if (map_of_strings) return member(cur, dotted_path.substr(start));
  }
  return cur;
}

// A JSON node for walk_dotted: a pointer that is empty when null.
struct JsonNode {
  const Json* p;
  size_t size() const { return p != nullptr; }
};

}  // namespace

const Json* find_at(const Json& object, std::string_view dotted_path) {
  return walk_dotted(JsonNode{&object}, dotted_path, [](JsonNode cur, std::string_view f) {
           if (!cur.p->is_object()) return JsonNode{nullptr};
           auto it = cur.p->find(f);
           return JsonNode{it == cur.p->end() ? nullptr : &*it};
         }).p;
}

std::string_view cbor_find_at(std::string_view object, std::string_view dotted_path) {
  return walk_dotted(object, dotted_path, [](std::string_view cur, std::string_view f) { return cbor_member(cur, f); });
}

Json value_at(const Json& object, const std::string& dotted_path) {
  const Json* v = find_at(object, dotted_path);
  return v ? *v : Json();
}

const Contribution::Detail* Contribution::plain(Kind kind) {
  static const auto* details = [] {
    auto* d = new std::array<Detail, 5>;  // never destroyed: contributions in static objects may outlive main
    for (size_t i = 0; i < d->size(); ++i) {
      (*d)[i].kind = static_cast<Kind>(i);
      (*d)[i].shared_by_kind = true;
    }
    return d;
  }();
  return &(*details)[static_cast<size_t>(kind)];
}

Contribution::Contribution(Kind kind, FactKey of, SharedJson value, SharedPath path, int64_t priority, uint8_t flags)
    : target(std::move(of)) {
  if (static_cast<size_t>(kind) > static_cast<size_t>(Kind::kDelete)) throw std::logic_error("no such contribution kind");
  if (value.is_null() && path == empty_path() && priority == 0 && flags == 0) {
    d_ = plain(kind);
    return;
  }
  auto* d = new Detail;
  d->kind = kind;
  d->flags = flags;
  d->priority = priority;
  d->value = std::move(value);
  d->path = std::move(path);
  d_ = d;
}

void Contribution::set_value(SharedJson value) {
  if (!d_->shared_by_kind && d_->refs.load(std::memory_order_acquire) == 1) {
    const_cast<Detail*>(d_)->value = std::move(value);  // this contribution's own
    return;
  }
  *this = Contribution(d_->kind, std::move(target), std::move(value), d_->path, d_->priority, d_->flags);
}

Match::Block* Match::allocate(int rule, size_t positives, size_t contributions) {
  if (positives > UINT16_MAX || contributions > UINT16_MAX) throw std::length_error("a match of 2^16 facts or contributions");
  void* p = ::operator new(sizeof(Block) + positives * sizeof(FactKey) + contributions * sizeof(Contribution));
  return new (p) Block{MatchKey(rule, {}), static_cast<uint16_t>(positives), static_cast<uint16_t>(contributions)};
}

Match::Match(int of_rule, std::vector<FactKey> positives, std::vector<Contribution> contributions)
    : b_(allocate(of_rule, positives.size(), contributions.size())) {
  // Moves of keys and contributions do not throw.
  std::uninitialized_move(positives.begin(), positives.end(), first_positive());
  std::uninitialized_move(contributions.begin(), contributions.end(), first_contribution());
}

Match::Match(const Match& o) : b_(o.b_ ? allocate(o.rule(), o.positives().size(), o.contributions().size()) : nullptr) {
  if (b_) b_->key = o.b_->key;
  // Nor do their copies (a count, a detail's count).
  std::uninitialized_copy(o.positives().begin(), o.positives().end(), first_positive());
  std::uninitialized_copy(o.contributions().begin(), o.contributions().end(), first_contribution());
}

void Match::set_rule(int rule) {
  if (!b_) b_ = allocate(rule, 0, 0);
  b_->key = b_->key.rebased(rule - b_->key.rule());
}

Match::~Match() {
  if (!b_) return;
  std::destroy(positives().begin(), positives().end());
  std::destroy(contributions().begin(), contributions().end());
  b_->~Block();
  ::operator delete(b_);
}

State::State(std::vector<dsl::IndexSpec> indexes) : specs_(std::move(indexes)), indexes_(specs_.size()) {
  for (size_t i = 0; i < specs_.size(); ++i) note_spec(i);
}

void State::note_spec(size_t i) {
  const auto& s = specs_[i];
  if (positions_.size() <= i) positions_.resize(i + 1);
  if (s.relation)
    for (const auto& pos : s.keys) positions_[i].push_back(std::stoul(pos));
  specs_of_[s.relation ? kSep + s.name : s.name].push_back(i);
}

namespace {

// One value of an index key: a string's text, anything else as JSON.
void append_index_value(std::string& k, const Json& v) {
  if (v.is_string()) k += v.get_ref<const std::string&>();
  else k += v.dump();
  k += kSep;
}

}  // namespace

std::string State::index_key(const std::vector<Json>& values) {
  std::string k;
  for (const auto& v : values) append_index_value(k, v);
  return k;
}

std::string State::index_key(std::span<const Json* const> values) {
  std::string k;
  for (const Json* v : values) append_index_value(k, *v);
  return k;
}

std::vector<std::string> State::object_index_keys(const ObjectEntry& e) const {
  std::vector<std::string> keys;
  if (e.effective.is_null()) return keys;
  auto it = specs_of_.find(e.key().kind);
  if (it == specs_of_.end()) return keys;
  keys.reserve(it->second.size());
  // As index_key makes them, from the values where they are. An object
  // held as CBOR is left so: its index values are read there.
  auto from_cbor = [&](std::string_view cbor) {
    for (size_t i : it->second) {
      std::string& key = keys.emplace_back();
      for (const auto& path : specs_[i].keys) {
        std::string_view v = cbor_find_at(cbor, path);
        append_index_value(key, v.empty() ? kNullJson : read_cbor(v));
      }
    }
  };
  if (e.effective.held_as_cbor()) {
    e.effective.with_cbor(from_cbor);
    return keys;
  }
  for (size_t i : it->second) {
    std::string& key = keys.emplace_back();
    for (const auto& path : specs_[i].keys) {
      const Json* v = find_at(*e.effective, path);
      append_index_value(key, v ? *v : kNullJson);
    }
  }
  return keys;
}

void State::index_object(const FactKey& fact, const ObjectEntry& e, bool add) {
  reindex_object(fact, e.key().kind, add ? std::vector<std::string>() : object_index_keys(e),
                 add ? object_index_keys(e) : std::vector<std::string>());
}

void State::reindex_object(const FactKey& fact, std::string_view kind, const std::vector<std::string>& before,
                           const std::vector<std::string>& after) {
  if (before.empty() && after.empty()) return;
  const std::vector<size_t>& specs = specs_of_.find(kind)->second;  // (there are keys: the kind has indexes)
  for (size_t n = 0; n < specs.size(); ++n) {
    // Most changes of an object leave its index values as they were: its
    // buckets stay as they are (a bucket it left empty would go and be made again).
    if (!before.empty() && !after.empty() && before[n] == after[n]) continue;
    if (!before.empty()) update_bucket(specs[n], before[n], fact, false);
    if (!after.empty()) update_bucket(specs[n], after[n], fact, true);
  }
}

namespace {
std::atomic<bool> colliding_index_keys{false};

uint64_t index_hash(std::string_view values) {
  return colliding_index_keys.load(std::memory_order_relaxed) ? 0 : keyed_text_hash(values);
}
}  // namespace

State::CollidingIndexKeysForTesting::CollidingIndexKeysForTesting() { colliding_index_keys = true; }
State::CollidingIndexKeysForTesting::~CollidingIndexKeysForTesting() { colliding_index_keys = false; }

void State::update_bucket(size_t index, std::string_view key, const FactKey& fact, bool add) {
  auto& idx = indexes_[index];
  uint64_t hash = index_hash(key);
  auto it = idx.find(hash);
  if (add) {
    if (it == idx.end()) it = idx.emplace(hash, FactBucket()).first;
    it->second.insert(&fact);
    return;
  }
  if (it == idx.end()) return;
  it->second.erase(fact, [&](const FactKey& k) { return home_key(index, k); });
  if (it->second.empty()) idx.erase(it);
}

const FactKey* State::home_key(size_t index, const FactKey& fact) const {
  if (specs_[index].relation) return &tuples_.find(fact)->first;
  return &objects_.find(fact)->first;
}

void State::index_tuple(const FactKey& fact, bool add) {
  TupleView t = view_tuple_fact(fact.str());
  // "\x1frelation", as specs_of_ names a relation: the key's own text after its "t".
  auto it = specs_of_.find(fact.str().substr(1, 1 + t.relation.size()));
  if (it == specs_of_.end()) return;
  for (size_t i : it->second) {
    tuple_index_key(i, t.args, &index_key_buffer_);
    update_bucket(i, index_key_buffer_, fact, add);
  }
}

namespace {
// A tuple's value at argument `p` in an index key, as index_key makes it
// from the values: a string's text, a missing one null.
std::string_view tuple_index_value(const decltype(TupleView::args)& args, size_t p) {
  return p < args.size() ? args[p] : std::string_view("null");
}
}  // namespace

void State::tuple_index_key(size_t i, const decltype(TupleView::args)& args, std::string* out) const {
  out->clear();
  for (size_t p : positions_[i]) {
    *out += tuple_index_value(args, p);
    *out += kSep;
  }
}

bool State::tuple_has_index_key(size_t i, const decltype(TupleView::args)& args, std::string_view values) const {
  // tuple_index_key's, compared where it would be appended.
  for (size_t p : positions_[i]) {
    std::string_view v = tuple_index_value(args, p);
    if (!values.starts_with(v) || values.size() == v.size() || values[v.size()] != kSep) return false;
    values.remove_prefix(v.size() + 1);
  }
  return values.empty();
}

const ObjectEntry* State::object(std::string_view fact) const {
  auto it = objects_.find(fact);
  return it == objects_.end() ? nullptr : &it->second;
}

const ObjectEntry* State::object(const FactKey& fact) const {
  auto it = objects_.find(fact);
  return it == objects_.end() ? nullptr : &it->second;
}

ObjectEntry State::object_copy(std::string_view fact) const {
  if (const ObjectEntry* e = object(fact)) return *e;
  ObjectEntry e;
  e.fact = FactKey(fact);
  return e;
}

namespace {
// The interned key of a fact given as text or as its key.
FactKey interned_key(std::string_view fact) { return FactKey(fact); }
const FactKey& interned_key(const FactKey& fact) { return fact; }
}  // namespace

void State::hold_effective_as(const FactKey& fact, SharedJson same) {
  auto it = objects_.find(fact);
  if (it != objects_.end()) it->second.effective = std::move(same);
}

void State::hold_base_as(const FactKey& fact, SharedJson same) {
  auto it = objects_.find(fact);
  if (it != objects_.end()) it->second.base = std::move(same);
}

void State::hold_part_as(const FactKey& fact, const MatchKey& mk, const SharedJson& was, const SharedJson& same) {
  if (auto it = objects_.find(fact); it != objects_.end())
    if (auto part = it->second.derived.find(mk); part != it->second.derived.end() && part->second.same(was))
      part->second = same;
  if (RuleMatches* ms = matches_of(mk.rule(), false))
    if (auto m = ms->find(mk); m != ms->end())
      for (auto& c : m->match.contributions())
        if (c.value().same(was)) c.set_value(same);
}

void State::hold_field_as(const FactKey& fact, const MatchKey& mk, const SharedJson& was, const SharedJson& same) {
  // The match's contribution first: the part then shares its new detail.
  RuleMatches* ms = matches_of(mk.rule(), false);
  if (!ms) return;
  auto m = ms->find(mk);
  if (m == ms->end()) return;
  std::vector<FieldPart>* parts = nullptr;
  if (auto it = objects_.find(fact); it != objects_.end())
    if (auto set = it->second.fields.find(mk); set != it->second.fields.end()) parts = &set->second;
  for (auto& c : m->match.contributions()) {
    if (!c.value().same(was)) continue;
    const Contribution before = c;
    c.set_value(same);
    if (parts)
      for (FieldPart& p : *parts)
        if (p.is(before)) p = FieldPart::of(c, p.rule());
  }
}

const ObjectEntry* State::put_object(std::string_view fact, ObjectEntry entry) {
  return put_object_as(fact, std::move(entry));
}

const ObjectEntry* State::put_object(const FactKey& fact, ObjectEntry entry) {
  return put_object_as(fact, std::move(entry));
}

template <class K>
const ObjectEntry* State::put_object_as(const K& fact, ObjectEntry entry) {
  const ObjectEntry* replaced = nullptr;
  auto it = objects_.find(fact);
  if (it != objects_.end()) {
    mark_dirty(dirty_.objects, it->first);
    // Indexes key objects by their effective forms: the same form (only
    // the parts changed, the form is recomputed later) keeps its buckets.
    bool same_form = it->second.effective.same(entry.effective);
    std::vector<std::string> before = same_form ? std::vector<std::string>() : object_index_keys(it->second);
    // The replaced entry moves into the undo record: no copy.
    if (recording()) {
      auto prev = std::make_shared<ObjectEntry>(std::move(it->second));
      replaced = prev.get();
      undo_.push_back(UndoPutObject{it->first, std::move(prev)});
    }
    it->second = std::move(entry);
    it->second.fact = it->first;
    if (!same_form) reindex_object(it->first, it->second.key().kind, before, object_index_keys(it->second));
    return replaced;
  }
  // Not there: no second lookup, and the entry's own key when it has the
  // text (object_copy interned it).
  const FactKey key = !entry.fact.empty() && entry.fact.str() == std::string_view(fact) ? entry.fact : interned_key(fact);
  it = objects_.emplace(key, std::move(entry)).first;
  it->second.fact = it->first;
  if (recording()) undo_.push_back(UndoEraseObject{it->first});
  mark_dirty(dirty_.objects, it->first);
  index_object(it->first, it->second, true);
  return replaced;
}

const ObjectEntry* State::erase_object(std::string_view fact) {
  auto it = objects_.find(fact);
  if (it == objects_.end()) return nullptr;
  mark_dirty(dirty_.objects, it->first);
  index_object(it->first, it->second, false);
  const ObjectEntry* replaced = nullptr;
  if (recording()) {
    auto prev = std::make_shared<ObjectEntry>(std::move(it->second));
    replaced = prev.get();
    undo_.push_back(UndoPutObject{it->first, std::move(prev)});
  }
  objects_.erase(it);
  return replaced;
}

void State::set_resource_version(std::string_view fact, int64_t rv) {
  auto it = objects_.find(fact);
  if (it == objects_.end()) return;
  mark_dirty(dirty_.objects, it->first);
  ObjectEntry& e = it->second;
  if (recording()) {
    int64_t old = e.resource_version;
    undo_.push_back(UndoResourceVersion{it->first, old, (*e.effective)["metadata"].value("resourceVersion", Json())});
  }
  e.resource_version = rv;
  // In place when the entry alone holds its effective form (it was composed
  // in this transaction), a copy otherwise.
  e.effective.mutate()["metadata"]["resourceVersion"] = std::to_string(rv);
}

void State::scan_objects(const std::string& prefix, const ObjectVisitor& fn, std::string_view after) const {
  auto it = objects_.lower_bound(after > prefix ? after : std::string_view(prefix));
  if (it != objects_.end() && !after.empty() && it->first.str() == after) ++it;
  for (; it != objects_.end() && it->first.str().compare(0, prefix.size(), prefix) == 0; ++it)
    if (!it->second.effective.is_null() && !fn(it->first, it->second)) return;
}

void State::lookup_index(int index, const std::string& values, const ObjectVisitor& fn) const {
  const auto& idx = indexes_[static_cast<size_t>(index)];
  auto it = idx.find(index_hash(values));
  if (it == idx.end()) return;
  it->second.for_each([&](const FactKey* f) {
    // The state's own key, as ObjectVisitor promises (the bucket's may be a copy).
    auto o = objects_.find(*f);
    return o == objects_.end() || o->second.effective.is_null() || fn(o->first, o->second);
  });
}

std::pair<const FactKey*, const ObjectEntry*> State::find_object(std::string_view fact) const {
  auto it = objects_.find(fact);
  if (it == objects_.end()) return {nullptr, nullptr};
  return {&it->first, &it->second};
}

std::pair<const FactKey*, const TupleEntry*> State::find_tuple(std::string_view fact) const {
  auto it = tuples_.find(fact);
  if (it == tuples_.end()) return {nullptr, nullptr};
  return {&it->first, &it->second};
}

const TupleEntry* State::tuple(std::string_view fact) const {
  auto it = tuples_.find(fact);
  return it == tuples_.end() ? nullptr : &it->second;
}

const TupleEntry* State::tuple(const FactKey& fact) const {
  auto it = tuples_.find(fact);
  return it == tuples_.end() ? nullptr : &it->second;
}

void State::put_tuple(std::string_view fact, TupleEntry entry) { put_tuple_as(fact, std::move(entry)); }

void State::put_tuple(const FactKey& fact, TupleEntry entry) { put_tuple_as(fact, std::move(entry)); }

template <class K>
void State::put_tuple_as(const K& fact, TupleEntry entry) {
  auto it = tuples_.find(fact);
  bool existed = it != tuples_.end() && it->second.exists();
  // The key, interned once for the undo record and a new entry both.
  FactKey key = it != tuples_.end() ? it->first : FactKey();
  auto interned = [&]() -> const FactKey& {
    if (key.empty()) key = interned_key(fact);
    return key;
  };
  if (recording()) {
    std::optional<TupleEntry> prev;
    if (it != tuples_.end()) prev = it->second;
    undo_.push_back(UndoPutTuple{interned(), std::move(prev)});
  }
  bool exists = entry.exists();
  if (exists) {
    if (it != tuples_.end()) it->second = std::move(entry);
    else it = tuples_.emplace(interned(), std::move(entry)).first;
    mark_dirty(dirty_.tuples, it->first);
    if (!existed) index_tuple(it->first, true);
  } else if (it != tuples_.end()) {
    mark_dirty(dirty_.tuples, it->first);
    // Out of its buckets while its key is still there.
    if (existed) index_tuple(it->first, false);
    tuples_.erase(it);
  }
}

bool State::support_tuple(const FactKey& fact, const MatchKey& match, bool keep) {
  auto it = tuples_.find(fact);
  bool had = it != tuples_.end() && it->second.supports.count(match) > 0;
  if (had == keep) return had;
  mark_dirty(dirty_.tuples, fact);
  if (recording()) undo_.push_back(UndoSupport{fact, match, !keep});
  if (keep) {
    bool existed = it != tuples_.end() && it->second.exists();
    if (it == tuples_.end()) it = tuples_.emplace(fact, TupleEntry{}).first;
    it->second.supports.insert(match);
    if (!existed) index_tuple(it->first, true);
  } else {
    it->second.supports.erase(match);
    if (!it->second.exists()) {
      // Out of its buckets while its key is still there.
      index_tuple(it->first, false);
      tuples_.erase(it);
    }
  }
  return had;
}

void State::scan_tuples(const std::string& relation, const TupleVisitor& fn) const {
  scan_tuples_with(relation, {}, fn);
}

void State::scan_tuples_with(const std::string& relation, const std::vector<std::string>& first,
                             const TupleVisitor& fn) const {
  tuples_.scan(tuple_fact(relation, first) + kSep, fn);
}

std::string State::second_arg(const std::string& relation, const std::string& first) const {
  std::string out;
  scan_tuples_with(relation, {first}, [&](const FactKey& fact) {
    const TupleEntry* t = tuple(fact);
    if (!t || !t->exists()) return true;
    auto args = view_tuple_fact(fact.str()).args;
    if (args.size() > 1) out = std::string(args[1]);
    return out.empty();
  });
  return out;
}

int State::add_index(const dsl::IndexSpec& spec) {
  if (auto it = specs_of_.find(spec.relation ? kSep + spec.name : spec.name); it != specs_of_.end())
    for (size_t i : it->second)
      if (specs_[i] == spec) return static_cast<int>(i);
  specs_.push_back(spec);
  note_spec(specs_.size() - 1);
  indexes_.emplace_back();
  size_t i = specs_.size() - 1;
  // The tuples' own keys go into the buckets: a scan may hand out its
  // groups' copies.
  std::vector<const FactKey*> keys;
  scan_tuples(spec.name, [&](const FactKey& fact) {
    if (auto it = tuples_.find(fact); it != tuples_.end() && it->second.exists()) keys.push_back(&it->first);
    return true;
  });
  for (const FactKey* fact : keys) {
    tuple_index_key(i, view_tuple_fact(fact->str()).args, &index_key_buffer_);
    update_bucket(i, index_key_buffer_, *fact, true);
  }
  return static_cast<int>(i);
}

void State::lookup_tuples(int index, const std::string& values, const TupleVisitor& fn, std::string_view from) const {
  auto i = static_cast<size_t>(index);
  const auto& idx = indexes_[i];
  auto it = idx.find(index_hash(values));
  if (it == idx.end()) return;
  // REQUIRES (of fn): no change to the state while it runs, as for every read.
  it->second.for_each_from(from, [&](const FactKey* f) {
    return !tuple_has_index_key(i, view_tuple_fact(f->str()).args, values) || fn(*f);
  });
}

State::RuleMatches* State::matches_of(int rule, bool grow) {
  if (rule < 0) return nullptr;
  auto r = static_cast<size_t>(rule);
  if (r >= matches_.size()) {
    if (!grow) return nullptr;
    matches_.resize(r + 1);
  }
  return &matches_[r];
}

const State::RuleMatches* State::matches_of(int rule) const {
  return rule < 0 || static_cast<size_t>(rule) >= matches_.size() ? nullptr : &matches_[static_cast<size_t>(rule)];
}

const Match* State::match(const MatchKey& key) const {
  const RuleMatches* ms = matches_of(key.rule());
  if (!ms) return nullptr;
  auto it = ms->find(key);
  return it == ms->end() ? nullptr : &it->match;
}

void State::prefetch(const MatchKey& key, const Match& m) const {
  if (const RuleMatches* ms = matches_of(key.rule())) ms->prefetch(key);
  for (const auto& f : m.positives()) readers_.prefetch(f);
}

// Calls fn once for each distinct fact among `m`'s positives (a match may
// read one fact twice; it is on that fact's list once).
template <class F>
static void for_each_distinct_positive(const Match& m, const F& fn) {
  std::span<const FactKey> positives = m.positives();
  for (auto it = positives.begin(); it != positives.end(); ++it)
    if (std::find(positives.begin(), it, *it) == it) fn(*it);
}

const Match* State::put_match(const MatchKey& key, Match m) {
  mark_dirty(dirty_.matches, key);
  RuleMatches* found = matches_of(key.rule(), true);
  // Only a key that no rule made (a default MatchKey, rule -1) has no
  // table: stored keys are parsed (and refused when damaged) before this.
  if (!found) throw std::invalid_argument("not a match key: " + key.str());
  if (m.rule() != key.rule()) throw std::invalid_argument("a match filed under another rule's key: " + key.str());
  m.set_key(key);
  RuleMatches& ms = *found;
  if (auto it = ms.find(key); it != ms.end()) {
    // The same key is the same rule and positives: only what it contributes
    // changes. The held block stays where it is when the new contributions
    // fit it (the rule's heads are the same; they almost always do), so
    // that the key readers_ point at does too; otherwise the new block
    // takes its place, and its key the old one's on each fact's list. The
    // replaced match moves into the undo record.
    Match& held = it->match;
    if (held.contributions().size() == m.contributions().size()) {
      std::swap_ranges(held.contributions().begin(), held.contributions().end(), m.contributions().begin());
    } else {
      for_each_distinct_positive(held, [&](const FactKey& f) {
        readers_.remove(f, &held.key());
        readers_.add(f, &m.key());
      });
      std::swap(held, m);
    }
    // `m` holds what was there now.
    if (!recording()) return nullptr;
    auto prev = std::make_shared<Match>(std::move(m));
    const Match* replaced = prev.get();
    undo_.push_back(UndoPutMatch{key, std::move(prev)});
    return replaced;
  }
  if (recording()) undo_.push_back(UndoEraseMatch{key});
  // The block's key stays where it is until the match is erased.
  const Match& added = ms.insert(MatchSlot{std::move(m)}).first->match;
  ++match_count_;
  for_each_distinct_positive(added, [&](const FactKey& f) { readers_.add(f, &added.key()); });
  return nullptr;
}

const Match* State::erase_match(const MatchKey& key) {
  mark_dirty(dirty_.matches, key);
  RuleMatches* ms = matches_of(key.rule(), false);
  if (!ms) return nullptr;
  auto it = ms->find(key);
  if (it == ms->end()) return nullptr;
  for_each_distinct_positive(it->match, [&](const FactKey& f) { readers_.remove(f, &it->match.key()); });
  const Match* replaced = nullptr;
  if (recording()) {
    auto prev = std::make_shared<Match>(std::move(it->match));
    replaced = prev.get();
    undo_.push_back(UndoPutMatch{key, std::move(prev)});
  }
  // A slot moved from holds no block; the table erases by position.
  ms->erase(it);
  --match_count_;
  return replaced;
}

void State::for_each_match(const std::function<void(const MatchKey&, const Match&)>& fn) const {
  std::vector<const Match*> all;
  all.reserve(match_count_);
  for (const auto& ms : matches_)
    for (const auto& slot : ms) all.push_back(&slot.match);
  std::sort(all.begin(), all.end(), [](const Match* a, const Match* b) { return a->key() < b->key(); });
  for (const Match* m : all) fn(m->key(), *m);
}

const MatchReaders::List* State::matches_using(std::string_view fact) const {
  return readers_.find(fact);
}

const MatchReaders::List* State::matches_using(const FactKey& fact) const { return readers_.find(fact); }

void State::undo_to(size_t mark) {
  undoing_ = true;
  struct Apply {
    State& s;
    void operator()(UndoPutObject& u) const { s.put_object(u.fact, std::move(*u.prev)); }
    void operator()(UndoEraseObject& u) const { s.erase_object(u.fact); }
    void operator()(UndoResourceVersion& u) const {
      auto i = s.objects_.find(u.fact);
      if (i == s.objects_.end()) return;
      i->second.resource_version = u.resource_version;
      Json& meta = i->second.effective.mutate()["metadata"];
      if (u.text.is_null()) meta.erase("resourceVersion");
      else meta["resourceVersion"] = std::move(u.text);
    }
    void operator()(UndoPutTuple& u) const { s.put_tuple(u.fact, u.prev ? std::move(*u.prev) : TupleEntry{}); }
    void operator()(UndoSupport& u) const { s.support_tuple(u.fact, u.match, u.keep); }
    void operator()(UndoPutMatch& u) const { s.put_match(u.key, std::move(*u.prev)); }
    void operator()(UndoEraseMatch& u) const { s.erase_match(u.key); }
  };
  while (undo_.size() > mark) {
    Undo u = std::move(undo_.back());
    undo_.pop_back();
    std::visit(Apply{*this}, u);
  }
  undoing_ = false;
}

}  // namespace pmesh::engine
