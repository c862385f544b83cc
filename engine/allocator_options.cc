// jemalloc's options for every pmesh program that links it (pmesh and the
// benchmarks; the tests and the sanitizer builds use their own allocator).
//
// Huge pages for the heap, kept whole. The engine's state is hundreds of
// MiB to many GiB of small nodes (tuple tables, B-tree buckets, JSON) read
// in no order, so with 4 KiB pages nearly every lookup misses the TLB, and
// in a virtual machine a TLB miss walks two page tables. jemalloc advises
// the kernel (MADV_HUGEPAGE) to back its extents with 2 MiB pages. And it
// does not give freed pages back (the decays at -1): returning a few 4 KiB
// pages of a huge one splits it, and by the end of a cold load most of them
// had been split. Memory a transaction frees is reused by the next.
//
// At 1,000 organizations x 9 accounts (docs/performance.md, "Huge pages,
// kept whole"): an account create 900 -> 700 us (median), a reopen's first
// request 2.6 -> 2.2 s, page faults 280,000 -> 21,000. The cost is in the
// tail: a write that grows the heap by a fresh 2 MiB page pays for all of
// it at once (~3.5 ms on this machine's virtual memory), and what a
// transient peak made resident stays resident.
//
// jemalloc reads this symbol when it starts and MALLOC_CONF from the
// environment after it, so an operator overrides any of these there
// (MALLOC_CONF=thp:default,dirty_decay_ms:10000 is jemalloc's own default).
// Where the kernel's transparent huge pages are `never`, the advice does
// nothing.
extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's.
const char* malloc_conf = "thp:always,metadata_thp:always,dirty_decay_ms:-1,muzzy_decay_ms:-1";
}
