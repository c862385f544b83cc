#include "server/registry/group_commit.h"

#include <boost/asio/post.hpp>

#include <chrono>
#include <future>

namespace pmesh::server {

GroupCommit::GroupCommit(boost::asio::io_context& io, engine::DurableStore& store,
                         std::function<void(const std::string&)> on_failure)
    : io_(io), store_(store), on_failure_(std::move(on_failure)) {
  store_.set_deferred(true);
}

GroupCommit::~GroupCommit() {
  self_.reset();
  writer_.join();
  if (writing_) store_.written();
}

bool GroupCommit::write_now(std::string* error) {
  // The writer's thread takes tasks in order: once this one runs, the
  // write under way has ended, and what is collected since goes after it.
  std::promise<void> reached;
  boost::asio::post(writer_, [&reached]() { reached.set_value(); });
  reached.get_future().wait();
  return store_.flush(error);
}

void GroupCommit::operator()(std::function<void()> fn) {
  waiting_.push_back(std::move(fn));
  schedule();
}

// After the requests at hand: their commits join the same write.
void GroupCommit::schedule() {
  if (scheduled_ || writing_) return;  // a write under way schedules the next when it ends
  scheduled_ = true;
  boost::asio::post(io_, [self = std::weak_ptr<GroupCommit*>(self_)]() {
    if (auto me = self.lock()) (*me)->start();
  });
}

void GroupCommit::start() {
  scheduled_ = false;
  engine::DurableStore::Sealed batch = store_.seal();
  Waiting run = std::move(waiting_);
  waiting_.clear();
  if (!batch) {
    // Nothing was committed since the last write ended.
    for (auto& f : run) f();
    return;
  }
  writing_ = true;
  boost::asio::post(writer_, [this, batch = std::move(batch), run = std::move(run),
                              self = std::weak_ptr<GroupCommit*>(self_)]() mutable {
    // `this` outlives the writer's thread (the destructor joins it); its
    // members other than the store are not touched here.
    auto started = std::chrono::steady_clock::now();
    std::string error;
    bool ok = store_.write(*batch, &error);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    boost::asio::post(io_, [ok, error = std::move(error), seconds, run = std::move(run), self]() mutable {
      if (auto me = self.lock()) (*me)->finish(ok, error, seconds, run);
    });
  });
}

void GroupCommit::finish(bool ok, const std::string& error, double seconds, Waiting& run) {
  writing_ = false;
  store_.written();
  if (!ok) on_failure_(error);
  if (observe_) observe_(seconds, run.size());
  for (auto& f : run) f();
  if (!waiting_.empty()) schedule();
}

}  // namespace pmesh::server
