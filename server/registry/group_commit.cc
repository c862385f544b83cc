#include "server/registry/group_commit.h"

#include <boost/asio/post.hpp>

#include <chrono>

namespace pmesh::server {

GroupCommit::GroupCommit(boost::asio::io_context& io, engine::DurableStore& store,
                         std::function<void(const std::string&)> on_failure)
    : io_(io), store_(store), on_failure_(std::move(on_failure)) {
  store_.set_deferred(true);
}

void GroupCommit::operator()(std::function<void()> fn) {
  waiting_.push_back(std::move(fn));
  if (scheduled_) return;
  scheduled_ = true;
  boost::asio::post(io_, [this]() { flush(); });
}

void GroupCommit::flush() {
  scheduled_ = false;
  std::string error;
  auto started = std::chrono::steady_clock::now();
  if (!store_.flush(&error)) on_failure_(error);
  if (observe_) observe_(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), waiting_.size());
  auto run = std::move(waiting_);
  waiting_.clear();
  for (auto& f : run) f();
}

}  // namespace pmesh::server
