#include "engine/durable_store.h"

#include <absl/container/flat_hash_map.h>
#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <charconv>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "engine/cbor.h"
#include "engine/failpoint.h"
#include "stdlib/thread_name.h"

namespace pmesh::engine {

namespace {

const std::string kRecordSep = "\x1f";
const std::string kLogPrefix = "l" + kRecordSep;
const std::string kMetaRv = "meta" + kRecordSep + "rv";
const std::string kMetaFingerprint = "meta" + kRecordSep + "fingerprint";
// The state's shape (State::Shape), a hint for the next load. Not under
// "meta": a key starting with 's' is one that earlier versions' loads pass
// over, so that a data directory written by this one still opens in them.
const std::string kShape = "shape";
// More rules than any program has (10,000 compile in about a second): the
// bound on a stored match's rule number when the rules changed since.
constexpr size_t kMaxStoredRules = size_t{1} << 20;
// A match's record: "m<sep>" and its key.
const std::string kMatchPrefix = "m" + kRecordSep;
// A rule set's state: r<sep><set id><sep> then "f" (its fingerprint), a
// tuple's fact ("t<sep>..."), or a match's key counted from the set's first
// rule (after kMatchPrefix).
const std::string kRuleSetPrefix = "r" + kRecordSep;
std::string rule_set_prefix(const std::string& id) { return kRuleSetPrefix + id + kRecordSep; }

std::string log_key(int64_t rv, size_t n) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%020lld%s%06zu", static_cast<long long>(rv), kRecordSep.c_str(), n);
  return kLogPrefix + buf;
}
std::string log_key(const DurableStore::LogEntry& e) { return log_key(e.rv, e.n); }

// The inverse of log_key. Throws std::runtime_error for a key log_key does
// not make.
DurableStore::LogEntry parse_log_key(std::string_view key) {
  DurableStore::LogEntry e;
  std::string_view rest = key.substr(std::min(key.size(), kLogPrefix.size()));
  const char* end = rest.data() + rest.size();
  auto [after_rv, rv_ok] = std::from_chars(rest.data(), end, e.rv);
  if (rv_ok != std::errc() || after_rv == end || *after_rv != kRecordSep[0] ||
      std::from_chars(after_rv + 1, end, e.n) != std::from_chars_result{end, std::errc()} || log_key(e) != key)
    throw std::runtime_error("a change log record whose key is not one");
  return e;
}

}  // namespace

std::unique_ptr<DurableStore> DurableStore::open(const std::string& dir, std::string* error) {
  leveldb::Options options;
  options.create_if_missing = true;
  leveldb::DB* db = nullptr;
  leveldb::Status s = leveldb::DB::Open(options, dir, &db);
  if (!s.ok()) {
    *error = "cannot open the data directory " + dir + ": " + s.ToString();
    return nullptr;
  }
  return std::unique_ptr<DurableStore>(new DurableStore(db));
}

// A batch far larger than a burst's (a bulk import's) is freed, not kept
// for the next commit or write.
constexpr size_t kKeptBatchBytes = size_t{16} << 20;

struct PendingBatch {
  leveldb::WriteBatch batch;
  bool empty = true;
};

DurableStore::DurableStore(leveldb::DB* db)
    : db_(db), pending_(std::make_unique<PendingBatch>()), scratch_(std::make_unique<PendingBatch>()) {}
DurableStore::~DurableStore() = default;
void DurableStore::DbDeleter::operator()(leveldb::DB* db) const { delete db; }

namespace {

// A record of the store as load() takes it up.
struct Decoded {
  enum class Kind { kRv, kLog, kObject, kTuple, kMatch, kSetFingerprint, kSetTuple, kSetMatch };
  Kind kind = Kind::kRv;
  std::string key;   // a rule set's records: the set's id
  DurableStore::LogEntry log;  // kLog
  FactKey fact;      // kObject, kTuple, kSetTuple: the fact, interned on the decoder's thread
  std::string text;  // kSetFingerprint: the fingerprint
  int64_t rv = 0;
  ObjectEntry object;
  PartRefs refs;  // kObject: its parts that name their match's contributions
  TupleEntry tuple;
  MatchKey match_key;
  Match match;
};

// The records of a store in key order, read on a thread of their own and
// decoded on others, handed over in batches in key order: decoding is most
// of a reopen's time, and the engine's thread puts one batch into the
// state while the next ones are decoded. A record that cannot be decoded
// stops the reading; next() throws what decoding threw once the batches
// before it were handed over.
class StoreScan {
 public:
  // `rule_limit`: a match of a rule numbered from it on is damage.
  // `passed`: key prefixes whose records are not read (log relations').
  StoreScan(leveldb::DB* db, size_t rule_limit, bool same_rules, const std::vector<std::string>& passed)
      : db_(db), rule_limit_(rule_limit), same_rules_(same_rules) {
    for (const auto& p : passed) {
      // The first key after every key that starts with `p`: its last byte
      // one up (a prefix ends with the separator, never with 0xff).
      std::string end = p;
      end.back() = static_cast<char>(end.back() + 1);
      passed_.emplace_back(p, std::move(end));
    }
    // As many decoders as cores (the engine's thread mostly waits for them).
    unsigned cores = std::thread::hardware_concurrency();
    size_t decoders = std::clamp<size_t>(cores, 1, 4);
    try {
      threads_.emplace_back([this] {
        name_this_thread("pmesh-load");
        read();
      });
      for (size_t i = 0; i < decoders; ++i)
        threads_.emplace_back([this] {
          name_this_thread("pmesh-decode");
          decode_batches();
        });
    } catch (...) {
      stop_all();  // a thread that could not start: those that did stop
      throw;
    }
  }
  ~StoreScan() { stop_all(); }
  // The next batch; empty once every record was handed over.
  std::vector<Decoded> next() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return decoded_.count(next_) || (read_done_ && next_ == batches_); });
    auto it = decoded_.find(next_);
    if (it == decoded_.end()) return {};
    Batch b = std::move(it->second);
    decoded_.erase(it);
    ++next_;
    cv_.notify_all();
    if (b.failed) std::rethrow_exception(b.failed);
    return std::move(b.records);
  }
  // A batch the engine's thread is done with, freed on a decoder's thread:
  // freeing what the decoders allocated (keys, parts' shells, the records'
  // references) was 7% of the engine's thread's time in a reopen.
  void give_back(std::vector<Decoded> spent) {
    if (spent.empty()) return;
    std::lock_guard<std::mutex> lock(mu_);
    spent_.push_back(std::move(spent));
    cv_.notify_all();
  }
  // LevelDB's verdict on the iteration. REQUIRES: next() returned empty.
  const leveldb::Status& status() const { return status_; }

 private:
  static constexpr size_t kBatch = 512, kInFlight = 16;  // batches read but not taken: at most 8,192 records
  struct Batch {
    std::vector<Decoded> records;
    std::exception_ptr failed;
  };
  void stop_all() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  // A batch of records as read: each one's key and value one after another
  // in one buffer (one allocation a batch where two strings a record were
  // two allocations a record, and two frees on a decoder).
  struct Raw {
    std::string bytes;
    std::vector<std::pair<size_t, size_t>> ends;  // of each record's key and value in `bytes`
    size_t size() const { return ends.size(); }
    bool empty() const { return ends.empty(); }
    std::string_view key(size_t i) const {
      const size_t start = i ? ends[i - 1].second : 0;
      return std::string_view(bytes).substr(start, ends[i].first - start);
    }
    std::string_view value(size_t i) const {
      return std::string_view(bytes).substr(ends[i].first, ends[i].second - ends[i].first);
    }
  };

  // The end of the passed range `key` is in, or null.
  const std::string* passed_end(const leveldb::Slice& key) const {
    for (const auto& [start, end] : passed_)
      if (key.starts_with(start)) return &end;
    return nullptr;
  }

  void read() {
    Raw raw;
    size_t room = 0;  // the last batch's bytes: the next is about as large
    auto hand_over = [&]() {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return batches_ - next_ < kInFlight || stop_; });
      if (stop_) return false;
      room = raw.bytes.size();
      raw_.emplace_back(batches_++, std::exchange(raw, {}));
      cv_.notify_all();
      return true;
    };
    leveldb::Status status;
    try {
      // One pass over everything: its blocks would only push out of
      // LevelDB's block cache what later reads want, and stay resident
      // (8 MiB, allocated here) for as long as nothing does.
      leveldb::ReadOptions once;
      once.fill_cache = false;
      std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(once));
      for (it->SeekToFirst(); it->Valid();) {
        if (const std::string* end = passed_end(it->key())) {
          it->Seek(*end);
          continue;
        }
        if (raw.empty()) {
          raw.bytes.reserve(room);
          raw.ends.reserve(kBatch);
        }
        const leveldb::Slice key = it->key(), value = it->value();
        raw.bytes.append(key.data(), key.size());
        const size_t key_end = raw.bytes.size();
        raw.bytes.append(value.data(), value.size());
        raw.ends.emplace_back(key_end, raw.bytes.size());
        if (raw.size() == kBatch && !hand_over()) return;
        it->Next();
      }
      status = it->status();
    } catch (const std::exception& e) {
      status = leveldb::Status::IOError(e.what());
    }
    if (!raw.empty() && !hand_over()) return;
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    read_done_ = true;
    cv_.notify_all();
  }

  void decode_batches() {
    ValuePool values;  // this thread's: shared by the matches it decodes
    // A batch's fact keys, as views of its records, interned together once
    // it is decoded: in a pool of millions each key's lookup is two cache
    // misses, and FactKey::intern overlaps those of many keys (a record's
    // own are one to a few). `owners`: the records that left keys to
    // intern, in order. Kept across batches for their capacity.
    std::vector<std::string_view> texts;
    std::vector<size_t> owners;
    std::vector<FactKey> interned;
    while (true) {
      std::pair<size_t, Raw> work;
      std::vector<Decoded> spent;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return !raw_.empty() || !spent_.empty() || read_done_ || stop_; });
        if (stop_) return;
        if (!spent_.empty()) {
          spent = std::move(spent_.back());
          spent_.pop_back();
        } else if (raw_.empty()) {
          return;
        } else {
          work = std::move(raw_.front());
          raw_.pop_front();
        }
      }
      if (!spent.empty()) continue;  // freed here, off the engine's thread
      Batch b;
      try {
        // Decoded in place: a record's entry is some 600 bytes, moved
        // whole by each growth of the vector and by a push of a copy.
        const Raw& raw = work.second;
        b.records.reserve(raw.size());
        texts.clear();
        owners.clear();
        for (size_t i = 0; i < raw.size(); ++i) {
          const size_t before = texts.size();
          if (!decode(raw.key(i), raw.value(i), values, b.records.emplace_back(), texts)) {
            b.records.pop_back();
            texts.resize(before);
          } else if (texts.size() > before) {
            owners.push_back(b.records.size() - 1);
          }
        }
        intern_keys(b.records, texts, owners, interned);
      } catch (...) {
        b.failed = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mu_);
      decoded_.emplace(work.first, std::move(b));
      cv_.notify_all();
    }
  }

  // Interns `texts` and gives each of `owners` its keys, in the order
  // decode() appended them.
  static void intern_keys(std::vector<Decoded>& records, std::span<const std::string_view> texts,
                          std::span<const size_t> owners, std::vector<FactKey>& interned) {
    interned.clear();
    interned.resize(texts.size());
    FactKey::intern(texts, interned);
    std::span<FactKey> next(interned);
    for (size_t i : owners) {
      Decoded& d = records[i];
      if (d.kind == Decoded::Kind::kMatch || d.kind == Decoded::Kind::kSetMatch) {
        const size_t n = d.match.positives().size() + d.match.contributions().size();
        place_match_keys(d.match, next.first(n));
        next = next.subspan(n);
      } else {
        d.fact = std::move(next.front());
        next = next.subspan(1);
      }
    }
  }

  // False for a record load() does not take up here. The fact keys of what
  // it decodes are left empty and their texts appended to `texts` (views
  // of `key` and `value`, which must outlive them) for intern_keys.
  bool decode(std::string_view key, std::string_view value, ValuePool& values, Decoded& d,
              std::vector<std::string_view>& texts) const {
    using Kind = Decoded::Kind;
    if (key.empty()) return false;  // (none is written; key[0] is read below)
    if (key == kMetaRv) {
      d.kind = Kind::kRv;
      d.rv = std::stoll(std::string(value));
    } else if (key == kMetaFingerprint || key == kShape) {
      return false;  // read ahead
    } else if (key.starts_with(kLogPrefix)) {
      d.kind = Kind::kLog;
      d.log = parse_log_key(key);
    } else if (key[0] == 'o') {
      d.kind = Kind::kObject;
      d.object = decode_object_record(value, &d.refs, key);
      texts.push_back(key);
    } else if (key[0] == 't') {
      d.kind = Kind::kTuple;
      d.tuple = decode_tuple_record(value);
      texts.push_back(key);
    } else if (key[0] == 'm') {
      d.kind = Kind::kMatch;
      // (A key of the prefix's first byte only is damage, named as such.)
      d.match_key = stored_match_key(key.starts_with(kMatchPrefix) ? key.substr(kMatchPrefix.size()) : key);
      d.match = decode_match_record(value, &values, &texts);
      if (d.match.rule() != d.match_key.rule())
        throw std::runtime_error("a match of rule " + std::to_string(d.match.rule()) + " under a key of rule " +
                                 std::to_string(d.match_key.rule()));
      if (static_cast<size_t>(d.match_key.rule()) >= rule_limit_)
        throw std::runtime_error("a match of rule " + std::to_string(d.match_key.rule()) +
                                 (same_rules_ ? ", and the rules number " + std::to_string(rule_limit_)
                                              : ", beyond any program's rules"));
    } else if (key.starts_with(kRuleSetPrefix)) {
      size_t end = key.find(kRecordSep, kRuleSetPrefix.size());
      if (end == std::string::npos || end + 1 >= key.size()) throw std::runtime_error("a rule set's record names no set");
      d.key = std::string(key.substr(kRuleSetPrefix.size(), end - kRuleSetPrefix.size()));
      std::string_view rest = key.substr(end + 1);
      if (rest == "f") {
        d.kind = Kind::kSetFingerprint;
        d.text = std::string(value);
      } else if (rest[0] == 't') {
        d.kind = Kind::kSetTuple;
        d.tuple = decode_tuple_record(value);
        texts.push_back(rest);
      } else if (rest.starts_with(kMatchPrefix)) {
        d.kind = Kind::kSetMatch;
        d.match_key = stored_match_key(rest.substr(kMatchPrefix.size()));
        d.match = decode_match_record(value, &values, &texts);
      } else {
        return false;
      }
    } else {
      return false;
    }
    return true;
  }

  leveldb::DB* db_;
  const size_t rule_limit_;
  const bool same_rules_;
  std::vector<std::pair<std::string, std::string>> passed_;  // [start, end) of each passed range
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<size_t, Raw>> raw_;  // read, not decoded yet: (number, records)
  std::map<size_t, Batch> decoded_;          // decoded, not taken yet
  std::vector<std::vector<Decoded>> spent_;  // taken up, to be freed
  size_t batches_ = 0;  // read so far
  size_t next_ = 0;     // the next to hand over
  bool read_done_ = false, stop_ = false;
  leveldb::Status status_;
  std::vector<std::thread> threads_;  // last: they start once the rest is there
};

}  // namespace

State::Shape DurableStore::stored_shape(size_t rules) {
  std::string value;
  State::Shape s;
  if (!db_->Get(leveldb::ReadOptions(), kShape, &value).ok()) return s;
  try {
    s = decode_shape_record(value);
  } catch (const std::runtime_error&) {
    return State::Shape{};  // a hint: a damaged one costs only time
  }
  shape_entries_ = s.objects + s.tuples;
  for (size_t n : s.matches) shape_entries_ += n;
  // Per rule and per index only with the rules that wrote it (the
  // fingerprint's), which number both the same way.
  if (rules == 0) s.indexes.clear();
  s.matches.resize(std::min(s.matches.size(), rules));
  // No more than the store's bytes could hold (an entry takes more than
  // one), so that a damaged hint cannot ask for more memory than the data
  // would. LevelDB counts its tables' bytes only: what is still in its log
  // is not reserved for, and grows the tables as it comes.
  auto bytes = [&](const char* from, const char* to) {
    leveldb::Range r(from, to);
    uint64_t n = 0;
    db_->GetApproximateSizes(&r, 1, &n);
    return static_cast<size_t>(n);
  };
  const size_t objects = bytes("o", "p"), tuples = bytes("t", "u"), matches = bytes("m\x1f", "m\x20");
  s.objects = std::min(s.objects, objects);
  s.tuples = std::min(s.tuples, tuples);
  s.readers = std::min(s.readers, objects + tuples);
  size_t left = matches;
  for (size_t& n : s.matches) left -= (n = std::min(n, left));
  for (size_t& n : s.indexes) n = std::min(n, objects + tuples);
  return s;
}

namespace {

// A load puts millions of entries, each at a random place of a table of
// millions: a cache miss at every lookup, one after another. Fetched ahead
// while one record is put, the misses of the next ones overlap: the keys
// the decoders interned (on other cores) twice as far ahead, since finding
// a place hashes its key; then the places (State::prefetch).

void prefetch_keys(const Decoded& d) {
  if (d.kind == Decoded::Kind::kMatch)
    for (const auto& p : d.match.positives()) p.prefetch();
  else if (d.kind == Decoded::Kind::kTuple || d.kind == Decoded::Kind::kObject) d.fact.prefetch();
}

void prefetch(const State& state, const Decoded& d) {
  if (d.kind == Decoded::Kind::kMatch) state.prefetch(d.match_key, d.match);
  else if (d.kind == Decoded::Kind::kTuple) state.prefetch(d.fact);
}

}  // namespace

bool DurableStore::load(Engine& engine, std::string* error) {
  State& state = engine.mutable_state();
  int64_t rv = 0;
  std::map<std::string, StoredRuleSet> sets;
  // The records are durable already: nothing to undo, nothing dirty while
  // they are read (and only then: a rebuild below commits what it changes).
  struct Bulk {
    State& s;
    explicit Bulk(State& state) : s(state) { s.set_bulk(true); }
    ~Bulk() { s.set_bulk(false); }
  };
  // The rules the stored matches belong to (none in a new store): these,
  // when the fingerprint says so, and a match of a rule they do not have is
  // damage; otherwise an earlier program's, which the rebuild below
  // replaces, bounded only so that a damaged record cannot make the
  // per-rule table huge. (Match records sort before the fingerprint's,
  // hence the read ahead.)
  std::string fingerprint;
  if (leveldb::Status s = db_->Get(leveldb::ReadOptions(), kMetaFingerprint, &fingerprint); !s.ok() && !s.IsNotFound()) {
    *error = s.ToString();
    return false;
  }
  const bool same_rules = fingerprint == engine.fingerprint();
  const size_t rule_limit = same_rules ? engine.program().rules.size() : kMaxStoredRules;
  state.reserve(stored_shape(same_rules ? rule_limit : 0));
  try {
    Bulk bulk(state);
    log_prefixes_.clear();
    for (const auto& r : engine.log_relations()) log_prefixes_.push_back(tuple_fact(r, {}) + kFactSep);
    StoreScan reader(db_.get(), rule_limit, same_rules, log_prefixes_);
    using Kind = Decoded::Kind;
    for (auto batch = reader.next(); !batch.empty(); reader.give_back(std::move(batch)), batch = reader.next())
      for (size_t i = 0; i < batch.size(); ++i) {
        constexpr size_t ahead = State::kPrefetchAhead;
        if (i + 2 * ahead < batch.size()) prefetch_keys(batch[i + 2 * ahead]);
        if (i + ahead < batch.size()) prefetch(state, batch[i + ahead]);
        Decoded& d = batch[i];
        switch (d.kind) {
          case Kind::kRv: rv = d.rv; break;
          case Kind::kLog: log_keys_.push_back(d.log); break;
          case Kind::kObject:
            if (d.refs.empty()) share_parts(state, d.fact.str(), d.object);
            else resolve_parts(state, d.fact.str(), d.refs, d.object);
            state.put_object(d.fact, std::move(d.object));
            break;
          case Kind::kTuple: state.put_tuple(d.fact, std::move(d.tuple)); break;
          case Kind::kMatch: state.put_match(d.match_key, std::move(d.match)); break;
          case Kind::kSetFingerprint: sets[d.key].fingerprint = std::move(d.text); break;
          case Kind::kSetTuple: sets[d.key].tuples.emplace_back(std::move(d.fact), std::move(d.tuple)); break;
          case Kind::kSetMatch: sets[d.key].matches.emplace_back(d.match_key, std::move(d.match)); break;
        }
      }
    if (!reader.status().ok()) {
      *error = reader.status().ToString();
      return false;
    }
  } catch (const std::exception& e) {
    *error = std::string("the data directory is damaged: ") + e.what();
    return false;
  }
  state.forget_undo();
  state.take_dirty();
  // Taken up when their sets are added again (or dropped from the store
  // with the first change).
  for (auto& [id, set] : sets) engine.park_rule_set(id, std::move(set));
  engine.refresh_kinds();
  engine.set_resource_version(rv);
  fingerprint_ = engine.fingerprint();
  if (!fingerprint.empty() && !same_rules) {
    // The rules changed: the stored matches belong to other rules.
    engine.set_persistence(this);
    Result r = engine.rebuild();
    if (!r.ok) {
      *error = "recomputing the derived state for the new rules failed: " + r.message;
      return false;
    }
  }
  return true;
}

bool DurableStore::commit(const State& state, const State::Dirty& dirty, const RuleSetChanges& sets,
                          const Result& result, const CommittedForms& forms, std::string* error) {
  // Everything is encoded before anything here changes: a failure leaves
  // the store, its pending batch and its log bookkeeping as they were.
  if (fingerprint_.empty()) {
    *error = "the data directory was not loaded before its first commit";
    return false;
  }
  if (scratch_->batch.ApproximateSize() > kKeptBatchBytes) scratch_ = std::make_unique<PendingBatch>();
  leveldb::WriteBatch& batch = scratch_->batch;
  batch.Clear();  // keeps what it had grown to
  std::vector<LogEntry> new_log_keys;
  try {
    if (failpoint::hit("commit")) throw std::runtime_error("failpoint: commit");
    // Each object's record, kept until the change log below has copied the
    // effective form's bytes from it: the log's entry holds the same form.
    struct Written {
      std::string record;
      std::pair<size_t, size_t> effective_at;
    };
    std::vector<Written> written;
    written.reserve(dirty.objects.size());
    absl::flat_hash_map<const void*, size_t> written_by_form;
    for (const auto& f : dirty.objects) {
      const ObjectEntry* e = state.object(f);
      PartSource parts{state, f.str(), sets.program_rules};
      const leveldb::Slice key(f.str().data(), f.str().size());
      if (!e) {
        batch.Delete(key);
        continue;
      }
      Written& w = written.emplace_back();
      w.record = encode_object_record(*e, &parts, &w.effective_at, forms.find(e->effective));
      batch.Put(key, w.record);
      written_by_form.emplace(e->effective.identity(), written.size() - 1);
    }
    for (const auto& f : dirty.tuples) {
      const TupleEntry* t = state.tuple(f);
      const leveldb::Slice key(f.str().data(), f.str().size());
      if (t && t->exists()) batch.Put(key, encode_tuple_record(*t));
      else batch.Delete(key);
    }
    std::string match_key;  // grown once, reused for every match's
    for (const auto& k : dirty.matches) {
      match_key.assign(kMatchPrefix);
      match_key += k.text().view();
      if (const Match* m = state.match(k)) batch.Put(match_key, encode_match_record(*m));
      else batch.Delete(match_key);
    }
    // Stale rule-set states first (a batch applies in order), then what
    // sets changed, under their own names. (The range is what the database
    // holds; a group commit's pending writes are not in it, which is why a
    // set that goes deletes each of its keys too, and its fingerprint.)
    for (const auto& id : sets.dropped) {
      std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
      std::string prefix = rule_set_prefix(id);
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) batch.Delete(it->key());
      batch.Delete(prefix + "f");
    }
    for (const auto& set : sets.sets) {
      std::string prefix = rule_set_prefix(set.id);
      if (set.removed) batch.Delete(prefix + "f");
      else batch.Put(prefix + "f", set.fingerprint);
      for (const auto& k : set.matches) {
        std::string key = prefix + kMatchPrefix;
        key += k.rebased(-set.first_rule).text().view();
        if (const Match* m = state.match(k)) batch.Put(key, encode_match_record(*m, set.first_rule));
        else batch.Delete(key);
      }
      for (const auto& f : set.tuples) {
        const TupleEntry* t = state.tuple(f);
        std::string key = prefix;
        key += f.str();
        if (t && t->exists()) batch.Put(key, encode_tuple_record(*t, set.first_rule));
        else batch.Delete(key);
      }
    }
    // The change log: one entry per changed object, in resource-version order.
    size_t n = 0;
    for (const auto& c : result.objects) {
      const char* type = c.op == ObjectChange::Kind::kCreated ? "ADDED" : c.op == ObjectChange::Kind::kDeleted ? "DELETED" : "MODIFIED";
      int64_t rv = c.resource_version;
      const LogEntry entry{rv, n++};
      const std::string key = log_key(entry);
      // {type, object} as CBOR: cheaper to write than JSON text, whose
      // escaping was half of encoding a commit (entries written as JSON
      // text before are still read).
      std::string event;
      event.reserve(2048);
      CborWriter w(event);
      w.map(2);
      w.str("type"), w.str(type);
      w.str("object");
      if (c.op == ObjectChange::Kind::kDeleted) {
        // The last state, numbered with the deletion's version.
        Json obj = *c.before;
        obj["metadata"]["resourceVersion"] = std::to_string(rv);
        w.value(obj);
      } else if (auto at = written_by_form.find(c.after.identity()); at != written_by_form.end()) {
        // The committed form already carries its version: written as it is,
        // as the object's record above wrote it.
        const Written& o = written[at->second];
        w.raw(std::string_view(o.record).substr(o.effective_at.first, o.effective_at.second - o.effective_at.first));
      } else {
        w.value(*c.after);
      }
      batch.Put(key, event);
      new_log_keys.push_back(entry);
    }
  } catch (const std::exception& e) {
    *error = std::string("encoding the transaction: ") + e.what();
    return false;
  }
  batch.Put(kMetaRv, std::to_string(result.resource_version));
  batch.Put(kMetaFingerprint, fingerprint_);
  // The shape, when the state has grown or shrunk by an eighth since it was
  // last written: some 100 writes over the life of a store of ten million
  // entries, not one per commit.
  const size_t entries = state.objects().size() + state.tuples().size() + state.match_count();
  const bool reshaped = entries > shape_entries_ + shape_entries_ / 8 + 64 || entries + entries / 8 + 64 < shape_entries_;
  if (reshaped) batch.Put(kShape, encode_shape_record(state.shape()));
  // Trim the log to its limit, oldest first.
  size_t trim = 0, trim_new = 0;
  auto kept = [&]() { return static_cast<int64_t>(log_keys_.size() - trim + new_log_keys.size() - trim_new); };
  while (kept() > log_limit_ && trim < log_keys_.size()) batch.Delete(log_key(log_keys_[trim++]));
  while (kept() > log_limit_ && trim_new < new_log_keys.size()) batch.Delete(log_key(new_log_keys[trim_new++]));
  if (!deferred_) {
    leveldb::WriteOptions wo;
    wo.sync = true;
    leveldb::Status s = db_->Write(wo, &batch);
    if (!s.ok()) {
      *error = s.ToString();
      return false;
    }
  } else {
    pending_->batch.Append(batch);
    pending_->empty = false;
    if (!log_prefixes_.empty()) {
      for (const auto& f : dirty.tuples)
        if (is_logged(f.str())) {
          const TupleEntry* t = state.tuple(f);
          unwritten_[std::string(f.str())] = {seals_ + 1, t && t->exists()};
        }
    }
  }
  if (reshaped) shape_entries_ = entries;
  log_keys_.erase(log_keys_.begin(), log_keys_.begin() + static_cast<std::ptrdiff_t>(trim));
  for (size_t i = trim_new; i < new_log_keys.size(); ++i) log_keys_.push_back(new_log_keys[i]);
  return true;
}

bool DurableStore::has_pending() const { return !pending_->empty || sealed_ > 0; }

bool DurableStore::has_collected() const { return !pending_->empty; }

void DurableStore::SealedDeleter::operator()(PendingBatch* b) const {
  if (store) store->recycle(b);
  else delete b;
}

void DurableStore::recycle(PendingBatch* b) {
  std::unique_ptr<PendingBatch> owned(b);
  if (owned->batch.ApproximateSize() > kKeptBatchBytes) return;
  owned->batch.Clear();
  owned->empty = true;
  std::lock_guard lock(spare_mu_);
  spare_ = std::move(owned);
}

DurableStore::Sealed DurableStore::seal() {
  if (pending_->empty) return nullptr;
  Sealed out(pending_.release(), SealedDeleter{this});
  {
    std::lock_guard lock(spare_mu_);
    pending_ = std::move(spare_);
  }
  if (!pending_) pending_ = std::make_unique<PendingBatch>();
  ++sealed_;
  ++seals_;
  return out;
}

bool DurableStore::write(PendingBatch& sealed, std::string* error) {
  leveldb::WriteOptions wo;
  wo.sync = true;
  leveldb::Status s = db_->Write(wo, &sealed.batch);
  if (!s.ok()) {
    *error = s.ToString();
    return false;
  }
  return true;
}

void DurableStore::written() {
  --sealed_;
  ++writes_;
  for (auto it = unwritten_.begin(); it != unwritten_.end();)
    it = it->second.batch <= writes_ ? unwritten_.erase(it) : std::next(it);
}

bool DurableStore::is_logged(std::string_view key) const {
  for (const auto& p : log_prefixes_)
    if (key.starts_with(p)) return true;
  return false;
}

void DurableStore::scan_tuples(std::string_view prefix, std::string_view from, FactVisitor fn) const {
  // What is not written yet, copied (a few batches' worth at most) so that
  // `fn` may do anything, a commit included, then merged with what LevelDB has in key order, the copy
  // winning a tie. A batch written meanwhile is in both: nothing is lost
  // between the copy and the iterator, which is made after it.
  std::vector<std::pair<std::string, bool>> unwritten;
  for (auto it = unwritten_.lower_bound(from); it != unwritten_.end() && it->first.starts_with(prefix); ++it)
    unwritten.emplace_back(it->first, it->second.exists);
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
  const leveldb::Slice stored_prefix(prefix.data(), prefix.size());
  it->Seek(leveldb::Slice(from.data(), from.size()));
  size_t u = 0;
  while (true) {
    const bool stored = it->Valid() && it->key().starts_with(stored_prefix);
    if (!stored && u == unwritten.size()) break;
    const std::string_view key = stored ? std::string_view(it->key().data(), it->key().size()) : std::string_view();
    if (u < unwritten.size() && (!stored || unwritten[u].first <= key)) {
      if (stored && unwritten[u].first == key) it->Next();
      const auto& [fact, exists] = unwritten[u++];
      if (exists && !fn(fact)) return;
      continue;
    }
    if (!fn(key)) return;
    it->Next();
  }
  if (!it->status().ok()) throw std::runtime_error("reading the data directory: " + it->status().ToString());
}

bool DurableStore::flush(std::string* error) {
  Sealed b = seal();
  if (!b) return true;
  bool ok = write(*b, error);
  written();
  return ok;
}

void DurableStore::scan_log(int64_t after_rv, const std::function<bool(int64_t, const Json&)>& fn) const {
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(log_key(after_rv + 1, 0)); it->Valid() && it->key().starts_with(kLogPrefix); it->Next()) {
    const LogEntry e = parse_log_key(std::string_view(it->key().data(), it->key().size()));
    if (!fn(e.rv, decode_record(it->value().ToString()))) return;
  }
}

int64_t DurableStore::oldest_log_rv() const {
  if (log_keys_.empty()) return 0;
  return log_keys_.front().rv;
}

}  // namespace pmesh::engine
