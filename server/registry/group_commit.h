// Group commit: transactions run one after another on the server's thread
// and add their batches to the durable store's pending write; one synced
// write takes every batch that is ready once the requests at hand have run,
// and only then are the functions waiting for it (answers to writers,
// watch events) run, in the order they were queued.
//
// A write that fails leaves memory ahead of the disk; `on_failure` decides
// (the server stops, and a restart recovers the durable state).
//
// Thread safety: runs on the io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>

#include <functional>
#include <string>
#include <vector>

#include "engine/durable_store.h"

namespace pmesh::server {

class GroupCommit {
 public:
  // REQUIRES: `io` and `store` outlive this. Puts `store` in deferred mode.
  GroupCommit(boost::asio::io_context& io, engine::DurableStore& store,
              std::function<void(const std::string& error)> on_failure);
  // Runs `fn` once everything committed so far is durable.
  void operator()(std::function<void()> fn);
  // Told of each flush: its seconds (batch write and fsync) and how many
  // waiting writes it made durable. For metrics.
  void set_observer(std::function<void(double seconds, size_t waiting)> observe) { observe_ = std::move(observe); }
  // The function to hand to the API as its "after commit".
  std::function<void(std::function<void()>)> hook() {
    return [this](std::function<void()> fn) { (*this)(std::move(fn)); };
  }

 private:
  void flush();

  boost::asio::io_context& io_;
  engine::DurableStore& store_;
  std::function<void(const std::string&)> on_failure_;
  std::vector<std::function<void()>> waiting_;
  std::function<void(double, size_t)> observe_;
  bool scheduled_ = false;
};

}  // namespace pmesh::server
