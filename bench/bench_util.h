// What the in-process benchmarks share: the clock they time with, and
// running a child (each size in a process of its own, or a peer system)
// with its output captured.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

namespace pmesh::bench {

using Clock = std::chrono::steady_clock;
inline double us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

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

}  // namespace pmesh::bench
