// A preloadable library that makes every fsync and fdatasync of the process
// take SLOWSYNC_US microseconds longer (2000 when unset): a disk whose
// synced writes are as slow as a network volume's, for the server bench's
// group-commit figures (docs/performance.md, "The synced write off the
// engine's thread").
//
//   SLOWSYNC_US=2000 LD_PRELOAD=$PWD/build/bench/libpmesh-slow-sync.so build/bench/pmesh-server-bench ...
#include <dlfcn.h>

#include <chrono>
#include <cstdlib>
#include <thread>

namespace {

void wait_as_a_slow_disk() {
  static const long us = [] {
    const char* e = std::getenv("SLOWSYNC_US");
    return e ? std::atol(e) : 2000L;
  }();
  std::this_thread::sleep_for(std::chrono::microseconds(us));
}

}  // namespace

extern "C" int fdatasync(int fd) {
  static auto real = reinterpret_cast<int (*)(int)>(dlsym(RTLD_NEXT, "fdatasync"));
  wait_as_a_slow_disk();
  return real(fd);
}

extern "C" int fsync(int fd) {
  static auto real = reinterpret_cast<int (*)(int)>(dlsym(RTLD_NEXT, "fsync"));
  wait_as_a_slow_disk();
  return real(fd);
}
