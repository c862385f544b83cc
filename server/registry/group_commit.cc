#include "server/registry/group_commit.h"

#include <boost/asio/post.hpp>

#include <chrono>
#include <future>

#include "stdlib/thread_name.h"

namespace pmesh::server {

GroupCommit::GroupCommit(boost::asio::io_context& io, engine::DurableStore& store,
                         std::function<void(const std::string&)> on_failure)
    : io_(io), store_(store), on_failure_(std::move(on_failure)) {
  store_.set_deferred(true);
  boost::asio::post(writer_, [] { name_this_thread("pmesh-commit"); });
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
  if (writing_ && !store_.has_collected()) {
    // All that is committed is in the write under way.
    in_flight_.push_back(std::move(fn));
    return;
  }
  waiting_.push_back(std::move(fn));
  // The writer is idle and a commit waits: it is written while the requests
  // at hand run (their commits make the next write).
  if (!writing_ && !scheduled_ && store_.has_collected()) return start();
  schedule();
}

// Nothing to write yet (or a write under way, which schedules the next
// when it ends): what waits runs after the requests at hand.
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
  if (!batch) {
    // Nothing was committed since the last write ended.
    Waiting run = std::move(waiting_);
    waiting_.clear();
    for (auto& f : run) f();
    return;
  }
  writing_ = true;
  in_flight_ = std::move(waiting_);
  waiting_.clear();
  boost::asio::post(writer_, [this, batch = std::move(batch), self = std::weak_ptr<GroupCommit*>(self_)]() mutable {
    // `this` outlives the writer's thread (the destructor joins it); its
    // members other than the store are not touched here.
    auto started = std::chrono::steady_clock::now();
    std::string error;
    bool ok = store_.write(*batch, &error);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    boost::asio::post(io_, [ok, error = std::move(error), seconds, self]() mutable {
      if (auto me = self.lock()) (*me)->finish(ok, error, seconds);
    });
  });
}

void GroupCommit::finish(bool ok, const std::string& error, double seconds) {
  writing_ = false;
  store_.written();
  if (!ok) on_failure_(error);
  Waiting run = std::move(in_flight_);
  in_flight_.clear();
  if (observe_) observe_(seconds, run.size());
  // The next write first: what the functions below queue joins it or the
  // one after (what was committed meanwhile is written while they run).
  if (!waiting_.empty() && store_.has_collected()) start();
  for (auto& f : run) f();
  if (!waiting_.empty() && !writing_) schedule();
}

}  // namespace pmesh::server
