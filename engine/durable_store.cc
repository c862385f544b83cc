#include "engine/durable_store.h"

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "engine/cbor.h"
#include "engine/failpoint.h"

namespace pmesh::engine {

namespace {

const std::string kRecordSep = "\x1f";
const std::string kLogPrefix = "l" + kRecordSep;
const std::string kMetaRv = "meta" + kRecordSep + "rv";
const std::string kMetaFingerprint = "meta" + kRecordSep + "fingerprint";
// More rules than any program has (10,000 compile in about a second): the
// bound on a stored match's rule number when the rules changed since.
constexpr size_t kMaxStoredRules = size_t{1} << 20;
// A rule set's state: r<sep><set id><sep> then "f" (its fingerprint), a
// tuple's fact ("t<sep>..."), or "m<sep>" and a match key counted from the
// set's first rule.
const std::string kRuleSetPrefix = "r" + kRecordSep;
const std::string kRuleSetMatch = "m" + kRecordSep;
std::string rule_set_prefix(const std::string& id) { return kRuleSetPrefix + id + kRecordSep; }

// Objects, tuples and matches are stored as CBOR: read back about twice as
// fast as JSON text when a data directory is reopened. Records written as
// JSON text by earlier versions (a JSON object starts with `{`, which no
// CBOR map does) are still read.
Json decode_record(const std::string& value) {
  if (!value.empty() && value[0] == '{') return Json::parse(value);
  return read_cbor(value);
}

std::string log_key(int64_t rv, size_t n) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%020lld%s%06zu", static_cast<long long>(rv), kRecordSep.c_str(), n);
  return kLogPrefix + buf;
}

Json encode_path(const JsonPath& p) {
  Json out = Json::array();
  for (const auto& e : p) {
    if (e.list_key) out.push_back({{"k", e.key_field}, {"v", e.key}});
    else out.push_back({{"f", e.field}});
  }
  return out;
}

// The CBOR of encode_path(p), without making it (a JSON tree per part).
void write_path(CborWriter& w, const JsonPath& p) {
  w.array(p.size());
  for (const auto& e : p) {
    w.map(e.list_key ? 2 : 1);
    if (e.list_key) {
      w.str("k"), w.str(e.key_field);
      w.str("v"), w.value(e.key);
    } else {
      w.str("f"), w.str(e.field);
    }
  }
}

JsonPath decode_path(const Json& j) {
  JsonPath out;
  for (const auto& e : j) {
    if (e.contains("k")) out.push_back(PathElem{"", true, e["k"].get<std::string>(), e["v"]});
    else out.push_back(PathElem{e["f"].get<std::string>(), false, "", nullptr});
  }
  return out;
}

// Tuples and matches, most of a store's records, are written in a compact
// binary form: a leading 0x01 (which starts no CBOR map and no JSON text),
// then varints and length-prefixed strings; a contribution's value stays
// CBOR. Read back without building a JSON tree for each record. Records
// of earlier versions (CBOR or JSON maps) are still read.
constexpr char kBinary = '\x01';

class RecordWriter {
 public:
  RecordWriter() { out_ += kBinary; }
  void byte(uint8_t b) { out_ += static_cast<char>(b); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_ += static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    out_ += static_cast<char>(v);
  }
  void signed_varint(int64_t v) { varint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void str(std::string_view s) {
    varint(s.size());
    out_ += s;
  }
  void json(const Json& j) {
    std::string c;
    CborWriter(c).value(j);
    str(c);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// Throws std::runtime_error on a record that ends early: the store is damaged.
class RecordReader {
 public:
  explicit RecordReader(std::string_view in) : in_(in), pos_(1) {}
  uint8_t byte() {
    need(1);
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = byte();
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    throw std::runtime_error("a record's number is too long");
  }
  int64_t signed_varint() {
    uint64_t v = varint();
    return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
  }
  std::string str() { return std::string(view()); }
  // The same, as a view into the record (valid while the record is).
  std::string_view view() {
    uint64_t n = varint();
    need(n);
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  Json json() { return read_cbor(view()); }
  size_t count() {
    // A count can be no larger than the bytes left (each element takes one).
    uint64_t n = varint();
    need(n);
    return n;
  }

 private:
  void need(uint64_t n) const {
    if (n > in_.size() - pos_) throw std::runtime_error("a record ends early");
  }
  std::string_view in_;
  size_t pos_;
};

// A match's key as a record holds it; a damaged record is refused.
MatchKey stored_match_key(std::string_view text) {
  auto k = MatchKey::parse(text);
  if (!k) throw std::runtime_error("not a match key: " + std::string(text));
  return *k;
}

// `first_rule`: a rule set's records count rules from its first.
std::string encode_tuple_record(const TupleEntry& t, int first_rule = 0) {
  RecordWriter w;
  w.byte(t.base ? 1 : 0);
  w.varint(t.supports.size());
  for (const auto& s : t.supports) w.str(s.rebased(-first_rule).str());
  return w.take();
}

TupleEntry decode_tuple_record(const std::string& value) {
  TupleEntry t;
  if (!value.empty() && value[0] == kBinary) {
    RecordReader r(value);
    t.base = r.byte() != 0;
    for (size_t n = r.count(); n; --n) t.supports.insert(stored_match_key(r.view()));
    return t;
  }
  Json j = decode_record(value);
  t.base = j["base"];
  for (const auto& s : j["supports"]) t.supports.insert(stored_match_key(s.get<std::string>()));
  return t;
}

std::string encode_match_record(const Match& m, int first_rule = 0) {
  RecordWriter w;
  w.varint(static_cast<uint64_t>(m.rule - first_rule));
  w.varint(m.positives.size());
  for (const auto& p : m.positives) w.str(p.str());
  w.varint(m.contributions.size());
  for (const auto& c : m.contributions) {
    w.byte(static_cast<uint8_t>(c.kind));
    w.str(c.target.str());
    w.json(*c.value);
    w.varint(c.path->size());
    for (const auto& e : *c.path) {
      w.byte(e.list_key ? 1 : 0);
      if (e.list_key) {
        w.str(e.key_field);
        w.json(e.key);
      } else {
        w.str(e.field);
      }
    }
    w.byte((c.add ? 1 : 0) | (c.editable ? 2 : 0) | (c.order ? 4 : 0));
    w.signed_varint(c.priority);
  }
  return w.take();
}

Match decode_match_record(const std::string& value) {
  if (value.empty() || value[0] != kBinary) return decode_match(decode_record(value));
  RecordReader r(value);
  Match m;
  m.rule = static_cast<int>(r.varint());
  for (size_t n = r.count(); n; --n) m.positives.emplace_back(r.view());
  for (size_t n = r.count(); n; --n) {
    Contribution c;
    uint8_t kind = r.byte();
    if (kind > static_cast<uint8_t>(Contribution::Kind::kDelete)) throw std::runtime_error("a match record names no contribution kind");
    c.kind = static_cast<Contribution::Kind>(kind);
    c.target = FactKey(r.view());
    c.value = r.json();
    JsonPath path;
    for (size_t k = r.count(); k; --k) {
      PathElem e;
      e.list_key = r.byte() != 0;
      if (e.list_key) {
        e.key_field = r.str();
        e.key = r.json();
      } else {
        e.field = r.str();
      }
      path.push_back(std::move(e));
    }
    c.path = intern_path(std::move(path));
    uint8_t flags = r.byte();
    c.add = (flags & 1) != 0;
    c.editable = (flags & 2) != 0;
    c.order = (flags & 4) != 0;
    c.priority = r.signed_varint();
    m.contributions.push_back(std::move(c));
  }
  return m;
}

}  // namespace

Json encode_object(const ObjectEntry& e) {
  Json j = {{"key", {e.key.kind, e.key.cluster, e.key.ns, e.key.name}},
            {"effective", *e.effective},
            {"uid", e.uid},
            {"rv", e.resource_version},
            {"generation", e.generation},
            {"created", e.created},
            {"deleting", e.deleting},
            {"userOwned", e.user_owned}};
  if (e.base) j["base"] = *e.base;
  if (e.editable_seen) j["editableSeen"] = *e.editable_seen;
  Json derived = Json::object();
  for (const auto& [mk, part] : e.derived) derived[mk.str()] = *part;
  j["derived"] = derived;
  Json fields = Json::object();
  for (const auto& [mk, parts] : e.fields) {
    Json arr = Json::array();
    for (const auto& p : parts) {
      arr.push_back({{"path", encode_path(*p.path)}, {"value", *p.value}, {"add", p.add}, {"priority", p.priority}, {"rule", p.rule}});
      if (p.editable) arr.back()["editable"] = true;
      if (p.order) arr.back()["order"] = true;
    }
    fields[mk.str()] = arr;
  }
  j["fields"] = fields;
  return j;
}

std::string encode_object_record(const ObjectEntry& e) {
  std::string out;
  // Most records are a few KiB: grown by doubling from empty, the string
  // was copied as often as it was written.
  out.reserve(4096);
  CborWriter w(out);
  w.map(10 + (e.base ? 1 : 0) + (e.editable_seen ? 1 : 0));
  w.str("key");
  w.array(4);
  for (const auto* s : {&e.key.kind, &e.key.cluster, &e.key.ns, &e.key.name}) w.str(*s);
  w.str("effective"), w.value(*e.effective);
  w.str("uid"), w.str(e.uid);
  w.str("rv"), w.value(Json(e.resource_version));
  w.str("generation"), w.value(Json(e.generation));
  w.str("created"), w.str(e.created);
  w.str("deleting"), w.str(e.deleting);
  w.str("userOwned"), w.value(Json(e.user_owned));
  if (e.base) w.str("base"), w.value(*e.base);
  if (e.editable_seen) w.str("editableSeen"), w.value(*e.editable_seen);
  w.str("derived");
  w.map(e.derived.size());
  for (const auto& [mk, part] : e.derived) w.str(mk.str()), w.value(*part);
  w.str("fields");
  w.map(e.fields.size());
  for (const auto& [mk, parts] : e.fields) {
    w.str(mk.str());
    w.array(parts.size());
    for (const auto& p : parts) {
      w.map(5 + (p.editable ? 1 : 0) + (p.order ? 1 : 0));
      w.str("path"), write_path(w, *p.path);
      w.str("value"), w.value(*p.value);
      w.str("add"), w.value(Json(p.add));
      w.str("priority"), w.value(Json(p.priority));
      w.str("rule"), w.value(Json(p.rule));
      if (p.editable) w.str("editable"), w.value(Json(true));
      if (p.order) w.str("order"), w.value(Json(true));
    }
  }
  return out;
}

ObjectEntry decode_object(Json j) {
  ObjectEntry e;
  e.key = {j["key"][0], j["key"][1], j["key"][2], j["key"][3]};
  e.effective = std::move(j["effective"]);
  e.uid = j["uid"];
  e.resource_version = j["rv"];
  e.generation = j["generation"];
  e.created = j["created"];
  e.deleting = j["deleting"];
  e.user_owned = j["userOwned"];
  if (j.contains("base")) e.base = std::make_shared<const Json>(std::move(j["base"]));
  if (j.contains("editableSeen")) e.editable_seen = std::make_shared<const Json>(std::move(j["editableSeen"]));
  for (auto& [mk, part] : j["derived"].items()) e.derived[stored_match_key(mk)] = std::move(part);
  for (auto& [mk, parts] : j["fields"].items())
    for (auto& p : parts)
      e.fields[stored_match_key(mk)].push_back(FieldPart{.path = intern_path(decode_path(p["path"])),
                                       .value = std::move(p["value"]),
                                       .priority = p["priority"],
                                       .rule = p["rule"],
                                       .add = p["add"],
                                       .editable = p.value("editable", false),
                                       .order = p.value("order", false)});
  return e;
}

Json encode_match(const Match& m) {
  Json contribs = Json::array();
  for (const auto& c : m.contributions) {
    contribs.push_back({{"kind", static_cast<int>(c.kind)},
                        {"target", c.target.str()},
                        {"value", *c.value},
                        {"path", encode_path(*c.path)},
                        {"add", c.add},
                        {"priority", c.priority}});
    if (c.editable) contribs.back()["editable"] = true;
    if (c.order) contribs.back()["order"] = true;
  }
  Json positives = Json::array();
  for (const auto& p : m.positives) positives.push_back(p.str());
  return {{"rule", m.rule}, {"positives", positives}, {"contributions", contribs}};
}

Match decode_match(const Json& j) {
  Match m;
  m.rule = j["rule"];
  for (const auto& p : j["positives"]) m.positives.emplace_back(p.get<std::string>());
  for (const auto& c : j["contributions"])
    m.contributions.push_back(Contribution{.target = FactKey(c["target"].get<std::string>()),
                                           .value = c["value"],
                                           .path = intern_path(decode_path(c["path"])),
                                           .priority = c["priority"],
                                           .kind = static_cast<Contribution::Kind>(c["kind"].get<int>()),
                                           .add = c["add"],
                                           .editable = c.value("editable", false),
                                           .order = c.value("order", false)});
  return m;
}

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

struct PendingBatch {
  leveldb::WriteBatch batch;
  bool empty = true;
};

DurableStore::DurableStore(leveldb::DB* db) : db_(db), pending_(std::make_unique<PendingBatch>()) {}
DurableStore::~DurableStore() = default;
void DurableStore::DbDeleter::operator()(leveldb::DB* db) const { delete db; }

namespace {

// A record of the store as load() takes it up.
struct Decoded {
  enum class Kind { kRv, kLog, kObject, kTuple, kMatch, kSetFingerprint, kSetTuple, kSetMatch };
  Kind kind = Kind::kRv;
  std::string key;   // the record's key; for a rule set's records, the set's id
  std::string text;  // kSetFingerprint: the fingerprint; kSetTuple: the tuple's key
  int64_t rv = 0;
  ObjectEntry object;
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
  StoreScan(leveldb::DB* db, size_t rule_limit, bool same_rules) : db_(db), rule_limit_(rule_limit), same_rules_(same_rules) {
    // As many decoders as cores (the engine's thread mostly waits for them).
    unsigned cores = std::thread::hardware_concurrency();
    size_t decoders = std::clamp<size_t>(cores, 1, 4);
    try {
      threads_.emplace_back([this] { read(); });
      for (size_t i = 0; i < decoders; ++i) threads_.emplace_back([this] { decode_batches(); });
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
  using Raw = std::vector<std::pair<std::string, std::string>>;

  void read() {
    Raw raw;
    auto hand_over = [&]() {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return batches_ - next_ < kInFlight || stop_; });
      if (stop_) return false;
      raw_.emplace_back(batches_++, std::exchange(raw, {}));
      cv_.notify_all();
      return true;
    };
    leveldb::Status status;
    try {
      std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        raw.emplace_back(it->key().ToString(), it->value().ToString());
        if (raw.size() == kBatch && !hand_over()) return;
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
    while (true) {
      std::pair<size_t, Raw> work;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return !raw_.empty() || read_done_ || stop_; });
        if (stop_ || raw_.empty()) return;
        work = std::move(raw_.front());
        raw_.pop_front();
      }
      Batch b;
      try {
        for (auto& [key, value] : work.second) {
          Decoded d;
          if (decode(std::move(key), std::move(value), d)) b.records.push_back(std::move(d));
        }
      } catch (...) {
        b.failed = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mu_);
      decoded_.emplace(work.first, std::move(b));
      cv_.notify_all();
    }
  }

  // False for a record load() does not take up here.
  bool decode(std::string key, std::string value, Decoded& d) const {
    using Kind = Decoded::Kind;
    if (key == kMetaRv) {
      d.kind = Kind::kRv;
      d.rv = std::stoll(value);
    } else if (key == kMetaFingerprint) {
      return false;  // read ahead
    } else if (key.rfind(kLogPrefix, 0) == 0) {
      d.kind = Kind::kLog;
      d.key = std::move(key);
    } else if (key[0] == 'o') {
      d.kind = Kind::kObject;
      d.object = decode_object(decode_record(value));
      d.key = std::move(key);
    } else if (key[0] == 't') {
      d.kind = Kind::kTuple;
      d.tuple = decode_tuple_record(value);
      d.key = std::move(key);
    } else if (key[0] == 'm') {
      d.kind = Kind::kMatch;
      d.match_key = stored_match_key(std::string_view(key).substr(2));
      d.match = decode_match_record(value);
      if (d.match.rule != d.match_key.rule())
        throw std::runtime_error("a match of rule " + std::to_string(d.match.rule) + " under a key of rule " +
                                 std::to_string(d.match_key.rule()));
      if (static_cast<size_t>(d.match_key.rule()) >= rule_limit_)
        throw std::runtime_error("a match of rule " + std::to_string(d.match_key.rule()) +
                                 (same_rules_ ? ", and the rules number " + std::to_string(rule_limit_)
                                              : ", beyond any program's rules"));
    } else if (key.starts_with(kRuleSetPrefix)) {
      size_t end = key.find(kRecordSep, kRuleSetPrefix.size());
      if (end == std::string::npos || end + 1 >= key.size()) throw std::runtime_error("a rule set's record names no set");
      d.key = key.substr(kRuleSetPrefix.size(), end - kRuleSetPrefix.size());
      std::string rest = key.substr(end + 1);
      if (rest == "f") {
        d.kind = Kind::kSetFingerprint;
        d.text = std::move(value);
      } else if (rest[0] == 't') {
        d.kind = Kind::kSetTuple;
        d.tuple = decode_tuple_record(value);
        d.text = std::move(rest);
      } else if (rest.starts_with(kRuleSetMatch)) {
        d.kind = Kind::kSetMatch;
        d.match_key = stored_match_key(std::string_view(rest).substr(kRuleSetMatch.size()));
        d.match = decode_match_record(value);
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
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<size_t, Raw>> raw_;  // read, not decoded yet: (number, records)
  std::map<size_t, Batch> decoded_;          // decoded, not taken yet
  size_t batches_ = 0;  // read so far
  size_t next_ = 0;     // the next to hand over
  bool read_done_ = false, stop_ = false;
  leveldb::Status status_;
  std::vector<std::thread> threads_;  // last: they start once the rest is there
};

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
  try {
    Bulk bulk(state);
    StoreScan reader(db_.get(), rule_limit, same_rules);
    using Kind = Decoded::Kind;
    for (auto batch = reader.next(); !batch.empty(); batch = reader.next())
      for (Decoded& d : batch) {
        switch (d.kind) {
          case Kind::kRv: rv = d.rv; break;
          case Kind::kLog: log_keys_.push_back(std::move(d.key)); break;
          case Kind::kObject: state.put_object(d.key, std::move(d.object)); break;
          case Kind::kTuple: state.put_tuple(d.key, std::move(d.tuple)); break;
          case Kind::kMatch: state.put_match(d.match_key, std::move(d.match)); break;
          case Kind::kSetFingerprint: sets[d.key].fingerprint = std::move(d.text); break;
          case Kind::kSetTuple: sets[d.key].tuples.emplace_back(std::move(d.text), std::move(d.tuple)); break;
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
                          const Result& result, std::string* error) {
  // Everything is encoded before anything here changes: a failure leaves
  // the store, its pending batch and its log bookkeeping as they were.
  leveldb::WriteBatch batch;
  std::vector<std::string> new_log_keys;
  try {
    if (failpoint::hit("commit")) throw std::runtime_error("failpoint: commit");
    for (const auto& f : dirty.objects) {
      const ObjectEntry* e = state.object(f);
      if (e) batch.Put(f.str(), encode_object_record(*e));
      else batch.Delete(f.str());
    }
    for (const auto& f : dirty.tuples) {
      const TupleEntry* t = state.tuple(f);
      if (t && t->exists()) batch.Put(f.str(), encode_tuple_record(*t));
      else batch.Delete(f.str());
    }
    for (const auto& k : dirty.matches) {
      const Match* m = state.match(k);
      if (m) batch.Put("m" + kRecordSep + k.str(), encode_match_record(*m));
      else batch.Delete("m" + kRecordSep + k.str());
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
        std::string key = prefix + kRuleSetMatch + k.rebased(-set.first_rule).str();
        if (const Match* m = state.match(k)) batch.Put(key, encode_match_record(*m, set.first_rule));
        else batch.Delete(key);
      }
      for (const auto& f : set.tuples) {
        const TupleEntry* t = state.tuple(f);
        if (t && t->exists()) batch.Put(prefix + f, encode_tuple_record(*t, set.first_rule));
        else batch.Delete(prefix + f);
      }
    }
    // The change log: one entry per changed object, in resource-version order.
    size_t n = 0;
    for (const auto& c : result.objects) {
      const char* type = c.op == ObjectChange::Kind::kCreated ? "ADDED" : c.op == ObjectChange::Kind::kDeleted ? "DELETED" : "MODIFIED";
      int64_t rv = c.resource_version;
      std::string key = log_key(rv, n++);
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
      } else {
        // The committed form already carries its version: written as it is.
        w.value(*c.after);
      }
      batch.Put(key, event);
      new_log_keys.push_back(std::move(key));
    }
  } catch (const std::exception& e) {
    *error = std::string("encoding the transaction: ") + e.what();
    return false;
  }
  batch.Put(kMetaRv, std::to_string(result.resource_version));
  batch.Put(kMetaFingerprint, fingerprint_);
  // Trim the log to its limit, oldest first.
  size_t trim = 0, trim_new = 0;
  auto kept = [&]() { return static_cast<int64_t>(log_keys_.size() - trim + new_log_keys.size() - trim_new); };
  while (kept() > log_limit_ && trim < log_keys_.size()) batch.Delete(log_keys_[trim++]);
  while (kept() > log_limit_ && trim_new < new_log_keys.size()) batch.Delete(new_log_keys[trim_new++]);
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
  }
  log_keys_.erase(log_keys_.begin(), log_keys_.begin() + static_cast<std::ptrdiff_t>(trim));
  for (size_t i = trim_new; i < new_log_keys.size(); ++i) log_keys_.push_back(std::move(new_log_keys[i]));
  return true;
}

bool DurableStore::has_pending() const { return !pending_->empty; }

bool DurableStore::flush(std::string* error) {
  if (pending_->empty) return true;
  leveldb::WriteOptions wo;
  wo.sync = true;
  leveldb::Status s = db_->Write(wo, &pending_->batch);
  pending_->batch.Clear();
  pending_->empty = true;
  if (!s.ok()) {
    *error = s.ToString();
    return false;
  }
  return true;
}

void DurableStore::scan_log(int64_t after_rv, const std::function<bool(int64_t, const Json&)>& fn) const {
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(log_key(after_rv + 1, 0)); it->Valid() && it->key().starts_with(kLogPrefix); it->Next()) {
    std::string k = it->key().ToString().substr(kLogPrefix.size(), 20);
    if (!fn(std::stoll(k), decode_record(it->value().ToString()))) return;
  }
}

int64_t DurableStore::oldest_log_rv() const {
  if (log_keys_.empty()) return 0;
  return std::stoll(log_keys_.front().substr(kLogPrefix.size(), 20));
}

}  // namespace pmesh::engine
