#include "server/log/server_log.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>

#include "stdlib/text.h"
#include "stdlib/thread_name.h"

namespace pmesh::server {
namespace {

// How long the writer lets lines gather after the first: under load one
// write(2) and one wake-up per this much time, instead of one per line.
constexpr auto kGather = std::chrono::milliseconds(5);

struct Queue {
  std::mutex mu;  // guards the fields up to write_mu
  std::condition_variable wake;
  bool active = false;    // a LogWriter's thread takes the lines
  bool stopping = false;  // its destructor asked it to finish
  size_t limit = 0;
  std::string lines;
  size_t dropped = 0;     // lines that did not fit since the last write

  std::mutex write_mu;    // held while writing: batches go out in order
  int fd = 2;             // guarded by write_mu
};

// Never destroyed: threads may log while the process exits.
Queue& queue() {
  static Queue* q = new Queue;
  return *q;
}

// One event, one line: a message's line breaks and other control
// characters (user data reaches the log: names, rules' messages) are
// escaped, so that nothing a request carries can forge a line.
std::string format_line(std::string_view level, std::string_view message) {
  std::string line;
  line.reserve(16 + level.size() + message.size());
  line += "pmesh serve: ";
  line += level;
  line += ": ";
  for (char c : message) {
    if (c == '\t') line += c;  // a tab breaks no line
    else append_go_escaped(line, static_cast<unsigned char>(c));
  }
  line += '\n';
  return line;
}

// REQUIRES: q.write_mu held. Gives up on the rest when the descriptor
// fails for good (closed): there is nowhere left to say so.
void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

// Writes what is queued, and the count of what was dropped after it.
void drain(Queue& q) {
  std::lock_guard<std::mutex> writing(q.write_mu);
  std::string batch;
  size_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(q.mu);
    batch.swap(q.lines);
    dropped = q.dropped;
    q.dropped = 0;
  }
  if (dropped)
    batch += format_line("warning", std::to_string(dropped) + " log lines dropped: stderr was not read as fast as the server logged");
  write_all(q.fd, batch);
}

void run_writer(Queue& q) {
  std::unique_lock<std::mutex> lock(q.mu);
  while (true) {
    q.wake.wait(lock, [&] { return q.stopping || !q.lines.empty() || q.dropped; });
    if (q.lines.empty() && !q.dropped) {
      // Stopping with nothing left: from here log() writes directly,
      // after everything this thread wrote.
      q.active = false;
      return;
    }
    if (!q.stopping) q.wake.wait_for(lock, kGather, [&] { return q.stopping; });
    lock.unlock();
    drain(q);
    lock.lock();
  }
}

}  // namespace

void log(std::string_view level, std::string_view message) {
  std::string line = format_line(level, message);
  Queue& q = queue();
  {
    std::lock_guard<std::mutex> lock(q.mu);
    if (q.active) {
      bool was_empty = q.lines.empty() && !q.dropped;
      if (q.lines.size() + line.size() > q.limit) ++q.dropped;
      else q.lines += line;
      // The writer waits only when nothing was queued; under load it is
      // gathering, and nothing needs waking.
      if (was_empty) q.wake.notify_one();
      return;
    }
  }
  std::lock_guard<std::mutex> writing(q.write_mu);
  write_all(q.fd, line);
}

void flush_log() {
  Queue& q = queue();
  drain(q);
}

LogWriter::LogWriter(int fd, size_t limit_bytes) {
  Queue& q = queue();
  {
    std::lock_guard<std::mutex> lock(q.mu);
    if (q.active) throw std::logic_error("one LogWriter at a time");
    q.active = true;
    q.stopping = false;
    q.limit = limit_bytes;
  }
  {
    // The descriptor changes only while nothing writes to it.
    std::lock_guard<std::mutex> writing(q.write_mu);
    q.fd = fd;
  }
  try {
    thread_ = std::thread([&q] {
      name_this_thread("pmesh-log");
      run_writer(q);
    });
  } catch (...) {
    // No thread to take the lines: log() writes them itself again.
    std::lock_guard<std::mutex> lock(q.mu);
    q.active = false;
    throw;
  }
}

LogWriter::~LogWriter() {
  Queue& q = queue();
  {
    std::lock_guard<std::mutex> lock(q.mu);
    q.stopping = true;
  }
  q.wake.notify_one();
  thread_.join();
  std::lock_guard<std::mutex> writing(q.write_mu);
  q.fd = 2;
}

}  // namespace pmesh::server
