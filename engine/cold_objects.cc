// Objects nothing has changed for a while, held as their CBOR, packed.
//
// An object's effective form is a JSON tree: at some 40 values an object,
// about four times the bytes of its CBOR. Most objects are written once
// and then only sit there (an account's namespace, service account,
// logical cluster), read again only when something near them changes. So
// once Options::cold_after_transactions transactions have committed after
// an object's last change, its form is held as its CBOR, packed
// (SharedJson::from_cbor_packed, cold_codec.h: a sixth of the CBOR), the
// same value: whoever reads it next reads it into JSON once, and keeps
// both while it stays unchanged. The window
// keeps the objects a burst of writes works on as trees; an object read
// by every write (an organization's) is read into JSON again at most once
// per window after each of its changes.
//
// What a user wrote of the object (its base) goes cold with it too: a
// ConfigMap's data is in its base and its form alike.
//
// A derive's fields, the object's part from the rule that derives it, are
// most of the object, and the rule's match holds the same value for as
// long as the object exists: held as a tree, the part kept a tree the
// form no longer did. So the parts go cold with their object (all but
// the smallest, ValuePool::kTreeMaxBytes), the match's contribution and
// the part one SharedJson still; and so do the fields rules set on it (a
// condition). An object recomputed later is hot again: it reads its
// base and parts into JSON once and keeps both; once a change of its form
// has gone cold in turn, they are its bytes alone again. What reads a part
// otherwise (a match evaluated again compares its values,
// SharedJson::operator==) does not keep what it read. (Read without keeping, they would be read again
// at every recompute of a hot object: an organization's objects, which
// every account create in it recomputes.)
//
// The trees they replace are dropped here, on the engine's thread. With
// jemalloc keeping freed pages (allocator_options.cc), what they free is
// what the next transactions allocate from, warm in this thread's cache;
// dropped on a thread of their own, every write paid
// for the frees crossing threads: at 90,000 accounts an account create
// took 1,550 us instead of 1,060, a ConfigMap create 88 us instead of 39
// (docs/performance.md, "Cold objects on by default"). A thread that only
// freed them (stop 80) cost the same way: at 10,000 x 9, account creates
// took 1,026 and 883 us against 808 (docs/performance.md, stop 81).
//
// When: by default in the commit that ends an object's window. A bulk
// write's objects all share one window, so the write that ends it paid for
// them all (3,000 objects, some 45 ms, on a single account's update). A
// server sets a scheduler (Engine::set_cold_scheduler) and holds them cold
// in handlers of their own, a few at a time, between its requests; a
// request then waits for at most one such handler.
//
// Runs on the engine's thread between transactions; readers on other
// threads hold their own SharedJson of the form and never see the swap.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/cbor.h"
#include "engine/engine.h"

namespace pmesh::engine {

void CommittedForms::add(SharedJson form, std::string cbor) {
  by_form_.emplace(form.identity(), forms_.size());
  forms_.emplace_back(std::move(form), std::move(cbor));
}

const std::string* CommittedForms::find(const SharedJson& form) const {
  auto it = by_form_.find(form.identity());
  return it == by_form_.end() ? nullptr : &forms_[it->second].second;
}

std::string CommittedForms::take(const SharedJson& form) {
  auto it = by_form_.find(form.identity());
  return it == by_form_.end() ? std::string() : std::move(forms_[it->second].second);
}

// Written at the commit, while the forms are in the cache (the transaction
// just made them): written when they went cold, each was a walk of cold
// memory, and a durable store wrote the same bytes in its records. The
// walk checks that their strings are UTF-8 on the way (check_encodable
// does not walk a form found here again).
CommittedForms Engine::encode_committed(const Result& r) const {
  CommittedForms out;
  for (const auto& c : r.objects) {
    if (c.op == ObjectChange::Kind::kDeleted || c.after.held_as_cbor() || c.after.is_null()) continue;
    std::string bytes;
    CborWriter w(bytes);
    w.check_utf8();
    w.value(*c.after);
    // A value the fast reader leaves to nlohmann's (an infinity) stays JSON;
    // one that is not UTF-8 fails the commit (check_encodable says where).
    if (w.readable() && w.utf8()) out.add(c.after, std::move(bytes));
  }
  return out;
}

void Engine::hold_cold_objects(const Result& r, CommittedForms& forms) {
  if (!options_.cold_after_transactions) return;
  ++commits_;
  for (const auto& c : r.objects)
    if (std::string bytes = forms.take(c.after); !bytes.empty())
      committed_.push_back({commits_, FactKey(object_fact(c.key)), c.after, std::move(bytes)});
  if (!cold_scheduler_) {
    hold_cold_due(committed_.size());
  } else if (!cold_scheduled_ && cold_due()) {
    cold_scheduled_ = true;
    cold_scheduler_();
  }
}

bool Engine::cold_due() const {
  const uint64_t after = static_cast<uint64_t>(options_.cold_after_transactions);
  return after && !committed_.empty() && committed_.front().commit + after <= commits_;
}

void Engine::set_cold_scheduler(std::function<void()> schedule) {
  cold_scheduler_ = std::move(schedule);
  cold_scheduled_ = false;
}

bool Engine::hold_cold_due(size_t at_most) {
  for (size_t n = 0; n < at_most && cold_due(); ++n) {
    Committed c = std::move(committed_.front());
    committed_.pop_front();
    const ObjectEntry* e = state_.object(c.fact);
    // Gone, held so already, or changed since (a later entry holds it then).
    if (e && !e->effective.held_as_cbor() && e->effective.same(c.form)) {
      state_.hold_effective_as(c.fact, SharedJson::from_cbor_packed(c.cbor));
      hold_cold_parts(c.fact, *e);
    }
  }  // c.form, often the tree's last holder, goes here
  const bool more = cold_due();
  cold_scheduled_ = cold_scheduler_ && more;
  return more;
}

namespace {

// `v` held as its CBOR alone, or nothing to change: bytes read since they
// were held are held again without what was read; a tree is written out
// unless its CBOR is `small` bytes or fewer, or read_cbor would not read
// it back.
std::optional<SharedJson> bytes_alone(const SharedJson& v, size_t small) {
  if (v.held_as_cbor()) {
    if (!v.cbor_and_read()) return std::nullopt;
    return v.held_again();
  }
  std::string bytes;
  CborWriter w(bytes);
  w.value(*v);
  if (!w.readable() || bytes.size() <= small) return std::nullopt;
  return SharedJson::from_cbor_packed(bytes);
}

}  // namespace

void Engine::hold_cold_parts(const FactKey& fact, const ObjectEntry& e) {
  // What a user wrote is the object's alone: held as CBOR whatever its size.
  if (e.has_base())
    if (auto held = bytes_alone(e.base, 0)) state_.hold_base_as(fact, std::move(*held));
  // The smallest parts stay trees: a holder of its own (LazyCbor, 80
  // bytes) would take about what the tree does. Parts up to 256 bytes of
  // CBOR stayed trees before cold values were packed (the ValuePool shares
  // equal ones among their holders, and the bytes with their holder took
  // more); packed, they take less as bytes, even with each cold holder of
  // a shared one holding its own (1,000 × 9: 33.9 -> 32.6 KiB per account;
  // docs/performance.md).
  // A reopen's decoders read values with the same bound (ValuePool::read).
  std::vector<std::pair<MatchKey, SharedJson>> parts(e.derived.begin(), e.derived.end());
  for (const auto& [mk, part] : parts)
    if (auto held = bytes_alone(part, ValuePool::kTreeMaxBytes)) state_.hold_part_as(fact, mk, part, *held);
  // The fields rules set on it alike (a condition, a list of them): the
  // values of a set field are the object's as much as a derive's are.
  std::vector<std::pair<MatchKey, SharedJson>> fields;
  for (const auto& [mk, set] : e.fields)
    for (const FieldPart& p : set) fields.emplace_back(mk, p.value());
  for (const auto& [mk, value] : fields)
    if (auto held = bytes_alone(value, ValuePool::kTreeMaxBytes)) state_.hold_field_as(fact, mk, value, *held);
}  // the trees go with `parts` and `fields`

}  // namespace pmesh::engine
