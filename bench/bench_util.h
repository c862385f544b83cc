// What the in-process benchmarks share: the clock they time with, and
// running a child (each size in a process of its own, or a peer system)
// with its output captured.
#pragma once

#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace pmesh::bench {

using Clock = std::chrono::steady_clock;
inline double us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// The most this process has held resident, in KiB (never goes down).
inline long peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// CPU time this process's threads have used, user and system, in µs: of a
// phase that runs on several threads (a reopen's decoders), what it cost
// apart from how the cores were shared while it ran.
inline double cpu_us() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

// CPU time the calling thread has used, in µs: of a load whose decoders
// run on threads of their own, what its own thread (the engine's) spent.
inline double thread_cpu_us() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

// What this process holds resident now, in KiB (/proc/self/statm; 0 where
// there is none): the difference across a load is what the load keeps.
inline long resident_kib() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// Of that, the process's own memory (RssAnon in /proc/self/status; 0 where
// there is none), without the pages of files it maps: LevelDB reads its
// tables through mmap, so a reopen's resident memory holds the tables' pages
// it read, the kernel's page cache, which it may drop at any time.
inline long resident_anon_kib() {
  std::ifstream status("/proc/self/status");
  std::string field;
  long kib = 0;
  while (status >> field) {
    if (field == "RssAnon:") return (status >> kib) ? kib : 0;
    status.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

}  // namespace pmesh::bench

// jemalloc's control interface, when the program links jemalloc (the
// benchmarks do; a build without it has none, and the figure is -1).
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen) __attribute__((weak));

namespace pmesh::bench {

// The bytes the program has allocated and not freed, in KiB, by jemalloc's
// count (-1 without jemalloc): unlike resident memory, not lowered by the
// reuse of what was freed before, nor raised by freed pages kept
// (allocator_options.cc).
inline long allocated_kib() {
  if (!mallctl) return -1;
  uint64_t epoch = 1;
  size_t len = sizeof epoch;
  mallctl("epoch", &epoch, &len, &epoch, len);  // refreshes the counts
  size_t allocated = 0;
  len = sizeof allocated;
  if (mallctl("stats.allocated", &allocated, &len, nullptr, 0) != 0) return -1;
  return static_cast<long>(allocated / 1024);
}

// Runs `argv` (looked up on PATH) with its stdout into `out`; false when
// it cannot start or does not exit 0.
inline bool run_captured(const std::vector<std::string>& argv, std::string* out) {
  int pipefd[2];
  if (argv.empty() || pipe(pipefd) != 0) return false;
  pid_t pid = fork();
  if (pid < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    return false;
  }
  if (pid == 0) {
    dup2(pipefd[1], 1);
    close(pipefd[0]);
    close(pipefd[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(pipefd[1]);
  char buf[4096];
  ssize_t got;
  while ((got = read(pipefd[0], buf, sizeof buf)) > 0) out->append(buf, static_cast<size_t>(got));
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// A number from the command line (a count, or seconds): anything else ends
// the bench with a message naming the flag, where std::stoi would end it
// with an uncaught exception.
template <typename T>
T number_arg(const char* flag, const std::string& text) {
  T v{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < T{}) {
    std::cerr << flag << ": want a non-negative number, not \"" << text << "\"\n";
    std::exit(2);
  }
  return v;
}
inline int count_arg(const char* flag, const std::string& text) { return number_arg<int>(flag, text); }
// "1000,20000,100000"
inline std::vector<int> counts_arg(const char* flag, const std::string& csv) {
  std::vector<int> out;
  std::stringstream ss(csv);
  for (std::string x; std::getline(ss, x, ',');) out.push_back(count_arg(flag, x));
  return out;
}

}  // namespace pmesh::bench
