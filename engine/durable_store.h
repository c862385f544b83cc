// DurableStore: the engine's state in a LevelDB data directory.
//
// Every committed transaction is one leveldb::WriteBatch, written with
// sync: the user's write, everything the rules derived from it, the
// engine's bookkeeping (matches, supports) and the change-log entries that
// watchers resume from. After a crash either all of it is there or none.
//
// Keys:
//   o\x1fKind\x1fcluster\x1fnamespace\x1fname   an object (one kind in one cluster is one range)
//   t\x1frelation\x1farg\x1f...                 a relation tuple
//   m\x1f<match key>                            a rule match and what it contributed
//   r\x1f<set>\x1f...                           a rule set's state: f (its fingerprint),
//                                              t\x1f... (a tuple), m\x1f<key> (a match),
//                                              rules counted from the set's first
//   l\x1f<resource version, 20 digits>\x1f<n>   a change-log entry (watch events)
//   meta\x1f...                                 resource version, rules fingerprint
//   shape                                       how many entries the state's tables held
//                                              (State::Shape), rewritten when they have
//                                              changed by an eighth: what a load reserves
//
// Thread safety: LevelDB's; commits must be serialized by the caller (the
// engine's transactions are), and so must everything but write() and the
// dropping of a sealed batch. A sealed batch must not outlive its store.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "engine/store_records.h"

namespace leveldb {
class DB;
}

namespace pmesh::engine {

struct PendingBatch;

class DurableStore : public Persistence {
 public:
  // Opens (creating if needed) the store in `dir`. Returns null and sets
  // `error` when it cannot.
  static std::unique_ptr<DurableStore> open(const std::string& dir, std::string* error);
  ~DurableStore() override;

  // An entry of the change log: the resource version of its change and its
  // place among that transaction's changes (its key is made of both).
  struct LogEntry {
    int64_t rv = 0;
    size_t n = 0;
  };

  // Loads the stored state into `engine` (REQUIRES: a new engine). When the
  // rules changed since the state was written, recomputes the derived state
  // from what users own and stores it. Returns false and sets `error` on a
  // storage or recomputation failure. The records are read and decoded on
  // threads of its own (one reader, a decoder per core), joined before it
  // returns; the engine is touched on the caller's thread only.
  bool load(Engine& engine, std::string* error);

  // Refused (false, and the error) until load() has run, even on a new
  // directory: the load tells the store the rules' fingerprint, which every
  // commit writes (a store committed to without it was read back as
  // another program's).
  bool commit(const State& state, const State::Dirty& dirty, const RuleSetChanges& sets, const Result& result,
              const CommittedForms& forms, std::string* error) override;

  // Group commit: while deferred, commit() collects each transaction's batch
  // and flush() writes everything collected with one synced write. The
  // caller must not acknowledge a transaction before the flush that holds it.
  void set_deferred(bool deferred) { deferred_ = deferred; }
  // REQUIRES: deferred mode. Returns false (and the error) if the write failed.
  bool flush(std::string* error);
  // Whether memory holds commits that are not durable yet: collected, or
  // sealed and not yet written().
  bool has_pending() const;
  // Whether commits were collected since the last seal() (what the next
  // write would take).
  bool has_collected() const;

  // flush() in three steps, so that the synced write can run on a thread of
  // its own while the next commits are collected: seal() takes what was
  // collected (null when nothing was), write() writes a sealed batch (any
  // thread; LevelDB orders concurrent writes), written() is told once that
  // write has returned. Batches must be written in the order they were
  // sealed. REQUIRES: deferred mode.
  // A sealed batch goes back to its store once written and dropped, to be
  // filled again: a batch grown anew for every write touched fresh pages as
  // it doubled (over half of a commit's time in a cold load's profile).
  struct SealedDeleter {
    DurableStore* store = nullptr;
    void operator()(PendingBatch* b) const;
  };
  using Sealed = std::unique_ptr<PendingBatch, SealedDeleter>;
  Sealed seal();
  bool write(PendingBatch& sealed, std::string* error);
  void written();

  // Persistence: the stored tuples of log relations, those committed and
  // not yet written included (in deferred mode, what seal() took and no
  // written() was told of yet, and what is collected). Serialized with
  // commits, seal() and written(). Throws std::runtime_error when LevelDB
  // cannot read them.
  void scan_tuples(std::string_view prefix, std::string_view from, FactVisitor fn) const override;

  // Change-log entries after `after_rv`, oldest first: (resource version, event
  // JSON {type, object}). `fn` returns false to stop.
  void scan_log(int64_t after_rv, const std::function<bool(int64_t, const Json&)>& fn) const;
  // The oldest resource version the log still holds (0 when empty).
  int64_t oldest_log_rv() const;

  // Keeps at most this many log entries.
  void set_log_limit(int64_t n) { log_limit_ = n; }

 private:
  explicit DurableStore(leveldb::DB* db);
  struct DbDeleter {
    void operator()(leveldb::DB* db) const;
  };
  std::unique_ptr<leveldb::DB, DbDeleter> db_;
  int64_t log_limit_ = 100000;
  bool deferred_ = false;
  std::unique_ptr<struct PendingBatch> pending_;
  int sealed_ = 0;  // sealed batches not yet written()
  // What one commit encodes before it joins pending_ (or is written):
  // cleared, not freed, between commits.
  std::unique_ptr<struct PendingBatch> scratch_;
  // A written batch, cleared, for the next seal(). Dropped sealed batches
  // come back on the writer's thread, hence the lock.
  std::mutex spare_mu_;
  std::unique_ptr<struct PendingBatch> spare_;
  void recycle(PendingBatch* b);
  // The change log's entries, oldest first: trimming deletes from the
  // front without seeking over the tombstones of earlier trims. As numbers,
  // not their keys' text: a full log holds 100,000 of them, and a key of 29
  // characters was 64 bytes with its string.
  std::deque<LogEntry> log_keys_;
  std::string fingerprint_;
  // The key prefixes of the log relations' tuples ("t<sep>relation<sep>"),
  // from the engine's program at load(): load() passes over their records,
  // and a deferred commit notes them in unwritten_.
  std::vector<std::string> log_prefixes_;
  bool is_logged(std::string_view key) const;
  // Log tuples of deferred commits not written yet, which memory no longer
  // holds: key -> the batch that holds the latest change (numbered by
  // seal(), from 1) and whether the tuple exists after it. written() drops
  // those of the batch written. (Serialized as commits are.)
  struct Unwritten {
    uint64_t batch = 0;
    bool exists = false;
  };
  std::map<std::string, Unwritten, std::less<>> unwritten_;
  uint64_t seals_ = 0, writes_ = 0;
  // The stored shape (its entries' sum) and what the load reserves for it:
  // per rule and per index only with `rules` (the program's count; 0 when
  // the stored state is another program's). Bounded by the store's bytes.
  State::Shape stored_shape(size_t rules);
  size_t shape_entries_ = 0;  // the sum when the shape was last written or read
};

}  // namespace pmesh::engine
