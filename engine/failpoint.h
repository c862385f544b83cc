// Failpoints: named places on the write path that a test can make fail, to
// show that a failure at that stage leaves memory, disk and watchers as they
// were (as etcd's gofail does).
//
// The stages a write passes, each with its point:
//   "decode"    the request body is read (server/api)
//   "admission" per-verb validation and admission (server/registry)
//   "evaluate"  a rule match is evaluated (engine)
//   "encode"    what a transaction writes is checked for encoding (engine)
//   "commit"    the durable store builds the transaction's batch (engine)
//
// Points are off unless armed; an armed point fails the next time it is
// reached, once. Nothing arms them outside tests.
//
// Thread safety: not synchronized; arm and hit from the engine's thread.
#pragma once

#include <string>
#include <string_view>

namespace pmesh::failpoint {

// Makes the next hit of `name` fail.
void arm(std::string name);
void disarm_all();
// True (once) when `name` is armed; callers fail their stage then.
bool hit(std::string_view name);

}  // namespace pmesh::failpoint
