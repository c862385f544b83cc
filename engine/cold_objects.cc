// Objects nothing has changed for a while, held as their CBOR.
//
// An object's effective form is a JSON tree: at some 40 values an object,
// about four times the bytes of its CBOR. Most objects are written once
// and then only sit there (an account's namespace, service account,
// logical cluster), read again only when something near them changes. So
// once Options::cold_after_transactions transactions have committed after
// an object's last change, its form is held as its CBOR
// (SharedJson::from_cbor), the same value: whoever reads it next reads it
// into JSON once, and keeps both while it stays unchanged. The window
// keeps the objects a burst of writes works on as trees; an object read
// by every write (an organization's) is read into JSON again at most once
// per window after each of its changes.
//
// Runs on the engine's thread between transactions; readers on other
// threads hold their own SharedJson of the form and never see the swap.
#include "engine/cbor.h"
#include "engine/engine.h"

namespace pmesh::engine {

void Engine::hold_cold_objects(const Result& r) {
  const uint64_t after = static_cast<uint64_t>(options_.cold_after_transactions);
  if (!after) return;
  ++commits_;
  for (const auto& c : r.objects)
    if (c.op != ObjectChange::Kind::kDeleted && !c.after.cbor())
      committed_.push_back({commits_, FactKey(object_fact(c.key)), &*c.after});
  std::string bytes;
  while (!committed_.empty() && committed_.front().commit + after <= commits_) {
    const Committed c = std::move(committed_.front());
    committed_.pop_front();
    const ObjectEntry* e = state_.object(c.fact);
    // Gone, held so already, or changed since (a later entry holds it then).
    if (!e || e->effective.cbor() || &*e->effective != c.form || e->effective.is_null()) continue;
    bytes.clear();
    CborWriter w(bytes);
    w.value(*e->effective);
    // A value the fast reader leaves to nlohmann's (an infinity) stays JSON.
    if (w.readable()) state_.hold_effective_as(c.fact, SharedJson::from_cbor(bytes));
  }
}

}  // namespace pmesh::engine
