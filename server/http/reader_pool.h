// Threads for work that may wait while writes go on: rendering lists and
// finishing the GraphQL gateway's answers.
//
// Why: the engine has one writer thread. On a machine with few cores, a
// reader thread at the same priority takes its share of a contended core
// from the writer, however little the writer needs; clients listing large
// collections would then set the write rate. A pool's threads run at nice
// 10 (which any process may set for its own threads; CFS then gives a
// nice-0 thread about nine times their share of a contended core): the
// writer runs first, and readers take what is left. Reads still get whole
// cores when writes are idle.
//
// Thread safety: as boost::asio::thread_pool.
#pragma once

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <cstddef>
#include <thread>
#include <utility>

namespace pmesh::server {

class ReaderPool {
 public:
  // The cores beside the writer's (at least one, at most `most`).
  static size_t beside_writer(size_t most) {
    unsigned n = std::thread::hardware_concurrency();
    return std::clamp<size_t>(n > 1 ? n - 1 : 1, 1, most);
  }

  explicit ReaderPool(size_t threads) : pool_(threads) {}
  ~ReaderPool() { join(); }

  // Runs `job` on one of the pool's threads, below the writer's priority.
  template <class Job>
  void post(Job job) {
    boost::asio::post(pool_, [job = std::move(job)]() mutable {
      prepare_thread();
      job();
    });
  }

  // REQUIRES: no post() after this.
  void join() { pool_.join(); }

 private:
  // Once per thread: lowers its priority and names it. A failure (a
  // sandbox refusing setpriority) leaves the thread at the writer's
  // priority, which is correct, only slower for writers under contention.
  static void prepare_thread();

  boost::asio::thread_pool pool_;
};

}  // namespace pmesh::server
