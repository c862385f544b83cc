// ReaderPool: its jobs run, on threads below the writer's priority.
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>

#include "server/http/reader_pool.h"

namespace pmesh::test {
namespace {

// The nice value of the calling thread (Linux: per thread).
int own_nice() {
  errno = 0;
  return getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
}

TEST_CASE("reader pool: jobs run at nice 10, below the thread that posts them") {
  const int poster = own_nice();
  std::atomic<int> ran{0}, below{0};
  {
    server::ReaderPool pool(2);
    for (int i = 0; i < 8; ++i)
      pool.post([&] {
        ++ran;
        // Nice only rises for an unprivileged thread: a poster already
        // at 10 or more sees its readers at least as low.
        if (own_nice() >= std::max(poster, 10)) ++below;
      });
  }  // joined: every job has run
  CHECK(ran == 8);
  CHECK(below == 8);
  CHECK(own_nice() == poster);  // the posting thread is left as it was
  CHECK(server::ReaderPool::beside_writer(8) >= 1);
  CHECK(server::ReaderPool::beside_writer(1) == 1);
}

}  // namespace
}  // namespace pmesh::test
