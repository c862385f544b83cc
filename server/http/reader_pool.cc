#include "server/http/reader_pool.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace pmesh::server {

void ReaderPool::lower_priority() {
  thread_local bool lowered = false;
  if (lowered) return;
  lowered = true;
  // Linux's nice is per thread: PRIO_PROCESS with a thread id sets that
  // thread's alone.
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
}

}  // namespace pmesh::server
