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
// Off unless the engine is told (Options::cold_after_transactions is 0 by
// default): a quarter less memory, but at 100,000 accounts every write was
// slower by more than the work here explains (docs/performance.md).
//
// Runs on the engine's thread between transactions; readers on other
// threads hold their own SharedJson of the form and never see the swap.
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "engine/cbor.h"
#include "engine/engine.h"

namespace pmesh::engine {

// Drops the trees of forms now held as bytes (and of forms changed since)
// on a thread of its own: freed on the engine's thread, each was a walk of
// memory long out of the cache
// (a ConfigMap create at 3,000 × 9 took 84 µs instead of 50). Values are
// immutable and counted, so dropping one on another thread is as safe as
// any holder's drop.
class FormReclaimer {
 public:
  FormReclaimer() : thread_([this] { run(); }) {}
  ~FormReclaimer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void drop(std::vector<SharedJson> forms) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(forms));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    while (true) {
      std::vector<std::vector<SharedJson>> batch;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopped, and nothing left
        batch.swap(queue_);
      }
      batch.clear();  // the drops, outside the lock
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<SharedJson>> queue_;
  bool stop_ = false;
  std::thread thread_;  // last: it runs once the members above exist
};

void Engine::hold_cold_objects(const Result& r) {
  const uint64_t after = static_cast<uint64_t>(options_.cold_after_transactions);
  if (!after) return;
  ++commits_;
  // Written now, while the forms are in the cache (the transaction just
  // made them): written when they go cold, each was a walk of cold memory.
  std::string bytes;
  for (const auto& c : r.objects) {
    if (c.op == ObjectChange::Kind::kDeleted || c.after.cbor() || c.after.is_null()) continue;
    bytes.clear();
    CborWriter w(bytes);
    w.value(*c.after);
    // A value the fast reader leaves to nlohmann's (an infinity) stays JSON.
    if (w.readable()) committed_.push_back({commits_, FactKey(object_fact(c.key)), c.after, std::string(bytes)});
  }
  std::vector<SharedJson> trees;
  while (!committed_.empty() && committed_.front().commit + after <= commits_) {
    Committed c = std::move(committed_.front());
    committed_.pop_front();
    const ObjectEntry* e = state_.object(c.fact);
    // Gone, held so already, or changed since (a later entry holds it then).
    if (e && !e->effective.cbor() && e->effective.same(c.form))
      state_.hold_effective_as(c.fact, SharedJson::from_cbor(c.cbor));
    trees.push_back(std::move(c.form));  // the last holder, often
  }
  if (trees.empty()) return;
  if (!reclaimer_) reclaimer_ = std::make_shared<FormReclaimer>();
  reclaimer_->drop(std::move(trees));
}

}  // namespace pmesh::engine
