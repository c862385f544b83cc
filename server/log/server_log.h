// The server's log: one line per event on stderr,
// "pmesh serve: LEVEL: MESSAGE".
//
// Why a thread of its own: the engine's thread logs every write request.
// Written there, a line cost five write(2) calls (std::cerr flushes each
// piece), some 9 us on this machine's virtual CPU against a ConfigMap
// create's 25 us of engine time; and a log reader that stops reading (a
// full pipe, a stalled terminal or log shipper) would stop every write.
// While a LogWriter lives, log() formats the line and queues it; the
// writer's thread writes what gathered, many lines per write(2), a few
// milliseconds after the first of them. The queue is bounded: a line that
// does not fit is dropped and counted, and the count is logged once there
// is room again, so a stuck reader costs lines, never writes. Without a
// LogWriter (the other commands, the tests), log() writes its line at once,
// in one write(2).
//
// Threading: log() and flush_log() from any thread. At most one LogWriter
// at a time; it must outlive the threads that log through it, or they log
// directly again after it is gone.
#pragma once

#include <cstddef>
#include <string_view>
#include <thread>

namespace pmesh::server {

// "pmesh serve: <level>: <message>\n", queued or written.
void log(std::string_view level, std::string_view message);

// Writes what is queued before returning (the line before an abort).
void flush_log();

class LogWriter {
 public:
  static constexpr size_t kDefaultLimit = 4 << 20;  // bytes of text queued at most

  // Lines go to `fd` (not owned, not closed).
  explicit LogWriter(int fd = 2, size_t limit_bytes = kDefaultLimit);
  // Writes what is queued, then stops the thread. Waits for the reader as a
  // direct write would: a stop must not lose the last lines.
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

 private:
  std::thread thread_;
};

}  // namespace pmesh::server
