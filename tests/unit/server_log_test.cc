// The server's log: lines written off the logging thread, bounded, one
// event per line.
#include "server/log/server_log.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace pmesh::test {
namespace {

// A pipe and a thread that reads it to the end once started.
struct Pipe {
  int fds[2] = {-1, -1};
  std::string read;
  std::thread reader;
  Pipe() { REQUIRE(::pipe(fds) == 0); }
  ~Pipe() {
    close_write();
    if (reader.joinable()) reader.join();
    if (fds[0] >= 0) ::close(fds[0]);
  }
  void start_reading() {
    reader = std::thread([this] {
      char buf[65536];
      ssize_t n;
      while ((n = ::read(fds[0], buf, sizeof buf)) > 0) read.append(buf, static_cast<size_t>(n));
    });
  }
  void close_write() {
    if (fds[1] >= 0) ::close(fds[1]);
    fds[1] = -1;
  }
  std::string finish() {
    close_write();
    if (reader.joinable()) reader.join();
    return read;
  }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST_CASE("lines logged from several threads are all written, whole, each thread's in order") {
  Pipe p;
  p.start_reading();
  constexpr int kThreads = 3, kLines = 2000;
  {
    server::LogWriter writer(p.fds[1]);
    std::vector<std::thread> loggers;
    for (int t = 0; t < kThreads; ++t)
      loggers.emplace_back([t] {
        for (int i = 0; i < kLines; ++i) server::log("info", "t" + std::to_string(t) + " " + std::to_string(i));
      });
    for (auto& l : loggers) l.join();
  }  // the destructor writes what is queued
  std::map<int, int> next;
  int count = 0;
  for (const auto& l : lines_of(p.finish())) {
    int t = -1, i = -1;
    REQUIRE_MESSAGE(std::sscanf(l.c_str(), "pmesh serve: info: t%d %d", &t, &i) == 2, l);
    CHECK(i == next[t]);
    next[t] = i + 1;
    ++count;
  }
  CHECK(count == kThreads * kLines);
}

TEST_CASE("a log reader that stops reading costs lines, never the logger's wait") {
  Pipe p;  // nobody reads it yet: once its buffer is full, write(2) blocks
  constexpr int kLines = 100000;
  {
    server::LogWriter writer(p.fds[1], 4096);
    // With writes on this thread, or a queue without bound, this blocks
    // for good (and the test times out).
    for (int i = 0; i < kLines; ++i) server::log("info", "line " + std::to_string(i) + " of a log nobody reads yet");
    p.start_reading();
  }
  int written = 0, dropped = 0, notices = 0;
  for (const auto& l : lines_of(p.finish())) {
    int n = 0;
    if (std::sscanf(l.c_str(), "pmesh serve: warning: %d log lines dropped", &n) == 1) {
      dropped += n;
      ++notices;
    } else {
      REQUIRE_MESSAGE(l.rfind("pmesh serve: info: line ", 0) == 0, l);
      ++written;
    }
  }
  CHECK(notices >= 1);
  CHECK(dropped > 0);
  CHECK(written + dropped == kLines);
}

TEST_CASE("a message cannot make a line of its own") {
  Pipe p;
  p.start_reading();
  {
    server::LogWriter writer(p.fds[1]);
    server::log("warning", "a\nb\rc\x1b[31md\te");
  }
  CHECK(p.finish() == "pmesh serve: warning: a\\nb\\rc\\x1b[31md\te\n");
}

TEST_CASE("flush_log writes what is queued before it returns") {
  Pipe p;
  REQUIRE(::fcntl(p.fds[0], F_SETFL, O_NONBLOCK) == 0);
  server::LogWriter writer(p.fds[1]);
  server::log("error", "the last line before an abort");
  server::flush_log();
  char buf[256];
  ssize_t n = ::read(p.fds[0], buf, sizeof buf);
  REQUIRE(n > 0);
  CHECK(std::string(buf, static_cast<size_t>(n)) == "pmesh serve: error: the last line before an abort\n");
}

TEST_CASE("one LogWriter at a time") {
  Pipe p;
  p.start_reading();
  server::LogWriter writer(p.fds[1]);
  CHECK_THROWS_AS(server::LogWriter(p.fds[1]), std::logic_error);
}

}  // namespace pmesh::test
