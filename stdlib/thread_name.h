// Names the calling thread, as `top -H`, `ps -L`, perf, gdb and
// /proc/<pid>/task/<tid>/comm show it: which of a server's threads spends
// the CPU (the engine's, the transport's, the readers', the group
// commit's) is then read off a profile or a `top` instead of guessed.
//
// The main thread keeps the program's name (`ps`, `pgrep -x` and
// `killall` match on it); each thread a program starts names itself.
//
// Thread safety: names the caller's thread only.
#pragma once

#include <string_view>

namespace pmesh {

// Linux keeps 15 bytes of a name: longer ones are cut there. A failure
// (no such call) leaves the inherited name, which is harmless.
void name_this_thread(std::string_view name);

}  // namespace pmesh
