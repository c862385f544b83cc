#include "server/http/reader_pool.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stdlib/thread_name.h"

namespace pmesh::server {

void ReaderPool::prepare_thread() {
  thread_local bool prepared = false;
  if (prepared) return;
  prepared = true;
  name_this_thread("pmesh-reader");
  // Linux's nice is per thread: PRIO_PROCESS with a thread id sets that
  // thread's alone.
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
}

}  // namespace pmesh::server
