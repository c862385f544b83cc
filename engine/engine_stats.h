// What the engine's work has cost since it started, counted as it runs, so
// that an operator can see where the time goes (/metrics, `pmesh dry-run
// --profile`): per rule, the matches evaluated, made and dropped and the
// time their evaluations took; per transaction, its latency and the facts
// it changed.
//
// Thread safety: plain values, written by the engine's thread; read them
// where engine reads are allowed.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace pmesh::engine {

struct RuleStats {
  uint64_t evaluations = 0;      // matches evaluated (one assignment of the rule's patterns each)
  uint64_t matches_made = 0;     // evaluations that found a match where none was
  uint64_t matches_dropped = 0;  // evaluations that lost one
  // Objects and tuples its plans' scans and lookups handed it, kept or
  // not: work that does not depend on the machine, so a rule whose cost
  // grows with the store (a scan where a lookup was meant) shows in a
  // count that tests can compare.
  uint64_t candidates = 0;
  // Self time: finding its matches (delta plans) and evaluating them, less
  // the time of other rules' work that its changes woke.
  uint64_t nanoseconds = 0;
  RuleStats& operator+=(const RuleStats& o) {
    evaluations += o.evaluations;
    matches_made += o.matches_made;
    matches_dropped += o.matches_dropped;
    candidates += o.candidates;
    nanoseconds += o.nanoseconds;
    return *this;
  }
};

// The name under which rules of run-time rule sets are counted together.
inline constexpr const char* kRuleSetsLabel = "(rule sets)";

// Upper bounds of a latency histogram, in seconds (Prometheus' `le`).
inline constexpr std::array<double, 14> kLatencyBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                           0.025,  0.05,    0.1,    0.25,  0.5,    1,     5};

struct LatencyHistogram {
  std::array<uint64_t, kLatencyBuckets.size()> counts{};  // per bucket, not cumulative
  uint64_t count = 0;                                      // all observations, +Inf included
  double sum = 0;                                          // seconds
  void observe(double seconds) {
    ++count;
    sum += seconds;
    for (size_t i = 0; i < kLatencyBuckets.size(); ++i)
      if (seconds <= kLatencyBuckets[i]) {
        ++counts[i];
        return;
      }
  }
};

struct TransactionStats {
  uint64_t committed = 0;
  uint64_t refused = 0;         // failed (conflict, invalid, not converged, storage): nothing kept
  uint64_t dry_runs = 0;
  uint64_t facts_changed = 0;   // objects and tuples, over committed transactions
  LatencyHistogram latency;     // committed and refused, from the first operation to the commit
};

// Charges the time from its construction to its end to one counter, less
// the time of charges nested inside it (a rule's evaluation that wakes
// other rules is charged only for its own work: each rule's figure is its
// self time, and the figures add up to the whole). `current` is the
// innermost live charge of the thread that runs the engine.
class SelfTimeCharge {
 public:
  SelfTimeCharge(uint64_t* into, SelfTimeCharge** current)
      : into_(into), current_(current), outer_(*current), start_(std::chrono::steady_clock::now()) {
    if (outer_) outer_->pause(start_);
    *current_ = this;
  }
  ~SelfTimeCharge() {
    auto now = std::chrono::steady_clock::now();
    pause(now);
    *current_ = outer_;
    if (outer_) outer_->start_ = now;
  }
  SelfTimeCharge(const SelfTimeCharge&) = delete;
  SelfTimeCharge& operator=(const SelfTimeCharge&) = delete;

 private:
  friend class ChargeRun;
  void pause(std::chrono::steady_clock::time_point now) { *into_ += nanoseconds(start_, now); }
  static uint64_t nanoseconds(std::chrono::steady_clock::time_point from, std::chrono::steady_clock::time_point to) {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count());
  }
  uint64_t* into_;
  SelfTimeCharge** current_;
  SelfTimeCharge* outer_;
  std::chrono::steady_clock::time_point start_;
};

// Charges a run of works done one after another (the searches a change
// starts) each to its own counter, with one clock read per work rather than
// two: the read that ends one work's charge starts the next's, so what lies
// between two (finding the next rule to wake) is the next one's. The
// enclosing charge is paused for the run and takes up again from the last
// read. A clock read costs some 30 ns here, and a change starts hundreds
// of searches.
// REQUIRES: the works charged start no charge of their own (a search only
// queues what it finds).
class ChargeRun {
 public:
  explicit ChargeRun(SelfTimeCharge** current)
      : current_(current), outer_(*current), last_(std::chrono::steady_clock::now()) {
    if (outer_) outer_->pause(last_);
    *current_ = nullptr;
  }
  ~ChargeRun() {
    *current_ = outer_;
    if (outer_) outer_->start_ = last_;
  }
  ChargeRun(const ChargeRun&) = delete;
  ChargeRun& operator=(const ChargeRun&) = delete;
  // Charges `into` with the time since the previous charge (or the run's start).
  void charge(uint64_t* into) {
    auto now = std::chrono::steady_clock::now();
    *into += SelfTimeCharge::nanoseconds(last_, now);
    last_ = now;
  }

 private:
  SelfTimeCharge** current_;
  SelfTimeCharge* outer_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace pmesh::engine
