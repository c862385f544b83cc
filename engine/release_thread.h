// ReleaseThread: drops values on a thread of its own.
//
// When objects go cold (Engine::hold_cold_due), the engine holds them as
// their packed bytes and lets go of their JSON trees, and each tree is a
// map node per member and a string per key and value: freeing them was a
// third of that work, on the engine's thread, which runs every transaction
// (docs/performance.md). Values handed here are released on a thread that
// runs nothing else, beside the engine's.
//
// Only releases move: a value handed over is one nobody will read through
// this holder again, and whoever else holds it keeps it (a shared
// immutable value: its count is atomic and nothing of it is written).
// Hand over no value that a caller may still change in place
// (SharedJson::mutate on a holder this thread may share).
//
// Memory stays bounded: past kMaxQueued values waiting, drop() releases
// the batch on the caller's thread, as if there were no thread; so it does
// when no thread can be started.
//
// Thread safety: drop() from one thread at a time (the engine's); the
// destructor releases what waits and joins the thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/state.h"

namespace pmesh::engine {

class ReleaseThread {
 public:
  ReleaseThread() = default;
  ReleaseThread(const ReleaseThread&) = delete;
  ReleaseThread& operator=(const ReleaseThread&) = delete;
  ~ReleaseThread();

  // Releases `batch`'s values on the thread (started on the first call),
  // or here when too many wait. Leaves `batch` empty.
  void drop(std::vector<SharedJson>& batch);
  // Returns once every value handed over so far is released (for tests).
  void drain();

  static constexpr size_t kMaxQueued = 1 << 16;

 private:
  void run();
  // Whether the thread runs, started now if not. REQUIRES: mu_ held.
  bool started();

  std::mutex mu_;
  std::condition_variable wake_, drained_;
  std::deque<std::vector<SharedJson>> queue_;  // guarded by mu_
  size_t queued_ = 0;                          // values in queue_; guarded by mu_
  bool releasing_ = false;                     // the thread holds a batch; guarded by mu_
  bool stop_ = false;                          // guarded by mu_
  std::thread thread_;                         // started by the first drop()
};

}  // namespace pmesh::engine
