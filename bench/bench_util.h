// What the in-process benchmarks share: the clock they time with, and
// running a child (each size in a process of its own, or a peer system),
// with its output captured or in a dialogue of lines.
#pragma once

#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
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

// Writes jemalloc's heap profile to `path` (read it with `jeprof --text
// BINARY PATH`): what is allocated, by the stack that allocated it, as
// sampled since the start. Needs jemalloc with profiling on from the start
// (`MALLOC_CONF=prof:true,lg_prof_sample:16`); false where it is not.
inline bool dump_heap_profile(const std::string& path) {
  if (!mallctl) return false;
  const char* p = path.c_str();
  return mallctl("prof.dump", nullptr, nullptr, &p, sizeof p) == 0;
}

// The value at quantile `q` (0.5: the median) of `v`; 0 for no values.
inline double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

// A child the bench talks to in lines: its stdin is the bench's requests,
// its stdout the answers (each size of pmesh-bench, run in lockstep with
// the others so that the machine's noise falls on every size alike).
// Not thread-safe; one request at a time.
class Child {
 public:
  // Starts `argv` (looked up on PATH); false when it cannot.
  bool start(const std::vector<std::string>& argv) {
    int in[2], out[2];
    if (argv.empty() || pipe(in) != 0) return false;
    if (pipe(out) != 0) {
      close(in[0]);
      close(in[1]);
      return false;
    }
    pid_ = fork();
    if (pid_ < 0) {
      for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
      return false;
    }
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_ = fdopen(in[1], "w");
    from_ = fdopen(out[0], "r");
    return to_ && from_;
  }
  // Sends one line; false once the child is gone.
  bool send(const std::string& line) {
    return std::fputs((line + "\n").c_str(), to_) >= 0 && std::fflush(to_) == 0;
  }
  // The child's next line, without its newline; false at its end.
  bool line(std::string* out) {
    out->clear();
    for (int c; (c = std::fgetc(from_)) != EOF;) {
      if (c == '\n') return true;
      out->push_back(static_cast<char>(c));
    }
    return !out->empty();
  }
  // No more requests: the child reads the end of its input.
  void close_input() {
    if (to_) std::fclose(to_), to_ = nullptr;
  }
  // Appends all the child writes until it closes its output.
  void read_all(std::string* out) {
    char buf[4096];
    for (size_t got; (got = std::fread(buf, 1, sizeof buf, from_)) > 0;) out->append(buf, got);
  }
  // Closes its stdin and waits for it; whether it exited 0.
  bool finish() {
    close_input();
    if (from_) std::fclose(from_), from_ = nullptr;
    int status = 0;
    if (pid_ > 0 && waitpid(pid_, &status, 0) != pid_) return false;
    pid_ = -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  ~Child() {
    if (pid_ > 0) kill(pid_, SIGKILL);
    finish();
  }

 private:
  pid_t pid_ = -1;
  FILE* to_ = nullptr;
  FILE* from_ = nullptr;
};

// Runs `argv` (looked up on PATH) with its stdout into `out`; false when
// it cannot start or does not exit 0.
inline bool run_captured(const std::vector<std::string>& argv, std::string* out) {
  Child c;
  if (!c.start(argv)) return false;
  c.close_input();
  c.read_all(out);
  return c.finish();
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
