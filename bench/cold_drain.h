// Objects held cold between a benchmark's writes, as `pmesh serve` holds
// them between its requests (Engine::set_cold_scheduler): a write that ends
// objects' cold window leaves them for drain(), which the benchmark calls
// untimed after the write and reports apart.
//
// Thread safety: the engine's thread, as the engine.
#pragma once

#include "bench/bench_util.h"
#include "engine/engine.h"

namespace pmesh::bench {

class ColdDrain {
 public:
  // REQUIRES: `engine` outlives this, and no other cold scheduler is set.
  explicit ColdDrain(engine::Engine& engine) : engine_(engine) {
    engine_.set_cold_scheduler([this]() { due_ = true; });
  }
  ~ColdDrain() { engine_.set_cold_scheduler(nullptr); }
  ColdDrain(const ColdDrain&) = delete;
  ColdDrain& operator=(const ColdDrain&) = delete;

  // Holds every object that is due cold, 64 at a time as the server's
  // handlers do; the µs it took.
  double drain() {
    auto d0 = Clock::now();
    while (due_) due_ = engine_.hold_cold_due(64);
    return us(Clock::now() - d0);
  }

 private:
  engine::Engine& engine_;
  bool due_ = false;
};

}  // namespace pmesh::bench
