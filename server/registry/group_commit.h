// Group commit: transactions run one after another on the server's thread
// and add their batches to the durable store's pending write; one synced
// write takes every batch collected when it starts, and only then are the
// functions waiting for it (answers to writers, watch events) run, in the
// order they were queued.
//
// The synced write runs on a thread of its own, so that the server's thread
// goes on running transactions (their batches make the next write) while the
// disk syncs: one write at a time, in the order the batches were sealed. A
// write starts as soon as the writer is free and a commit waits: when the
// last one ends, or at once when the writer is idle. (It used to start
// after the requests at hand had run, which under a closed loop of clients
// put all of them into one write and left the server's thread idle while
// it synced: docs/performance.md.) A function queued while everything
// committed is in the write under way waits for that write only.
//
// A write that fails leaves memory ahead of the disk; `on_failure` decides
// (the server stops, and a restart recovers the durable state).
//
// Thread safety: called on the io_context's thread, where the functions and
// `on_failure` run too; only LevelDB's write runs on the writer's thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/durable_store.h"

namespace pmesh::server {

class GroupCommit {
 public:
  // REQUIRES: `io` and `store` outlive this. Puts `store` in deferred mode.
  GroupCommit(boost::asio::io_context& io, engine::DurableStore& store,
              std::function<void(const std::string& error)> on_failure);
  // Waits for a write under way to end; what waits on it is not run.
  ~GroupCommit();
  // Runs `fn` once everything committed so far is durable.
  void operator()(std::function<void()> fn);
  // Told of each write: its seconds (batch write and fsync) and how many
  // waiting functions it made durable. For metrics.
  void set_observer(std::function<void(double seconds, size_t waiting)> observe) { observe_ = std::move(observe); }
  // The function to hand to the API as its "after commit".
  std::function<void(std::function<void()>)> hook() {
    return [this](std::function<void()> fn) { (*this)(std::move(fn)); };
  }
  // Makes everything committed so far durable before it returns, after the
  // write under way (on shutdown; the functions waiting run as usual, later).
  // Returns false (and the error) if the write failed.
  bool write_now(std::string* error);
  // Whether a write is under way or about to start (for tests that wait
  // until what it makes durable has run).
  bool busy() const { return writing_ || scheduled_; }

 private:
  using Waiting = std::vector<std::function<void()>>;
  void schedule();
  // REQUIRES: no write under way.
  void start();
  void finish(bool ok, const std::string& error, double seconds);

  boost::asio::io_context& io_;
  engine::DurableStore& store_;
  std::function<void(const std::string&)> on_failure_;
  Waiting waiting_;    // for the next write
  Waiting in_flight_;  // for the write under way
  std::function<void(double, size_t)> observe_;
  bool scheduled_ = false;
  bool writing_ = false;
  boost::asio::thread_pool writer_{1};
  // Handlers posted to `io_` hold it weakly: one that runs after this is
  // gone does nothing.
  std::shared_ptr<GroupCommit*> self_ = std::make_shared<GroupCommit*>(this);
};

}  // namespace pmesh::server
