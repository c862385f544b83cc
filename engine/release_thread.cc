#include "engine/release_thread.h"

#include <system_error>
#include <utility>

#include "stdlib/thread_name.h"

namespace pmesh::engine {

ReleaseThread::~ReleaseThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void ReleaseThread::drop(std::vector<SharedJson>& batch) {
  if (batch.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queued_ + batch.size() <= kMaxQueued && started()) {
      queued_ += batch.size();
      queue_.push_back(std::move(batch));
      batch = {};
    }
  }
  if (batch.empty()) {
    wake_.notify_one();
    return;
  }
  batch.clear();  // the thread is behind, or could not start: released here
}

bool ReleaseThread::started() {
  if (thread_.joinable()) return true;
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error&) {
    return false;  // no thread to be had (a process at its limit): the caller frees
  }
  return true;
}

void ReleaseThread::drain() {
  std::unique_lock<std::mutex> lock(mu_);
  drained_.wait(lock, [&] { return queue_.empty() && !releasing_; });
}

void ReleaseThread::run() {
  name_this_thread("pmesh-release");
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing waits
    std::vector<SharedJson> batch = std::move(queue_.front());
    queue_.pop_front();
    queued_ -= batch.size();
    releasing_ = true;
    lock.unlock();
    batch.clear();
    lock.lock();
    releasing_ = false;
    if (queue_.empty()) drained_.notify_all();
  }
}

}  // namespace pmesh::engine
