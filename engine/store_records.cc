#include "engine/store_records.h"

#include <boost/container/small_vector.hpp>

#include <optional>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

#include "engine/cbor.h"

namespace pmesh::engine {

namespace {

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
  // A match's record is a few hundred bytes: grown by doubling from empty,
  // it was reallocated five times or so.
  RecordWriter() {
    out_.reserve(256);
    out_ += kBinary;
  }
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
    // Encoded where its length can be read first; kept between calls (a
    // record holds a value per contribution, and a commit tens of records).
    static thread_local std::string c;
    c.clear();
    CborWriter(c).value(j);
    str(c);
    if (c.capacity() > size_t{1} << 20) std::string().swap(c);  // not kept for a rare huge value
  }
  // A value held as CBOR is written as it is held, not read.
  void json(const SharedJson& j) {
    if (j.held_as_cbor()) j.with_cbor([&](std::string_view c) { str(c); });
    else json(*j);
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

}  // namespace

Json decode_record(std::string_view value) {
  if (!value.empty() && value[0] == '{') return Json::parse(value.begin(), value.end());
  return read_cbor(value);
}

MatchKey stored_match_key(std::string_view text) {
  auto k = MatchKey::parse(text);
  if (!k) throw std::runtime_error("not a match key: " + std::string(text));
  return *k;
}

std::string encode_tuple_record(const TupleEntry& t, int first_rule) {
  RecordWriter w;
  w.byte(t.base() ? 1 : 0);
  w.varint(t.supports.size());
  for (const auto& s : t.supports) w.str(s.rebased(-first_rule).text().view());
  return w.take();
}

TupleEntry decode_tuple_record(std::string_view value) {
  TupleEntry t;
  if (!value.empty() && value[0] == kBinary) {
    RecordReader r(value);
    t.set_base(r.byte() != 0);
    for (size_t n = r.count(); n; --n) t.supports.insert(stored_match_key(r.view()));
    return t;
  }
  Json j = decode_record(value);
  t.set_base(j["base"].get<bool>());
  for (const auto& s : j["supports"]) t.supports.insert(stored_match_key(s.get<std::string>()));
  return t;
}

std::string encode_shape_record(const State::Shape& s) {
  RecordWriter w;
  w.varint(s.objects);
  w.varint(s.tuples);
  w.varint(s.readers);
  for (const auto* sizes : {&s.matches, &s.indexes}) {
    w.varint(sizes->size());
    for (size_t n : *sizes) w.varint(n);
  }
  return w.take();
}

State::Shape decode_shape_record(const std::string& value) {
  if (value.empty() || value[0] != kBinary) throw std::runtime_error("not a shape record");
  RecordReader r(value);
  State::Shape s;
  s.objects = r.varint();
  s.tuples = r.varint();
  s.readers = r.varint();
  for (auto* sizes : {&s.matches, &s.indexes})
    for (size_t n = r.count(); n; --n) sizes->push_back(r.varint());
  return s;
}

std::string encode_match_record(const Match& m, int first_rule) {
  RecordWriter w;
  w.varint(static_cast<uint64_t>(m.rule() - first_rule));
  w.varint(m.positives().size());
  for (const auto& p : m.positives()) w.str(p.str());
  w.varint(m.contributions().size());
  for (const auto& c : m.contributions()) {
    w.byte(static_cast<uint8_t>(c.kind()));
    w.str(c.target.str());
    w.json(c.value());
    w.varint(c.path()->size());
    for (const auto& e : *c.path()) {
      w.byte(e.list_key ? 1 : 0);
      if (e.list_key) {
        w.str(e.key_field);
        w.json(e.key);
      } else {
        w.str(e.field);
      }
    }
    w.byte(c.flags());
    w.signed_varint(c.priority());
  }
  return w.take();
}

Match decode_match_record(std::string_view value, ValuePool* values, std::vector<std::string_view>* keys) {
  if (value.empty() || value[0] != kBinary) return decode_match(decode_record(value));
  RecordReader r(value);
  int rule = static_cast<int>(r.varint());
  // The record's keys (its positives, then its contributions' targets) are
  // read as views of it and interned together at the end (FactKey::intern),
  // or by the caller with other records' when it asks for them.
  boost::container::small_vector<std::string_view, 8> texts;
  // (A count is bounded by the record's bytes left: reserving it is safe.)
  size_t positives = r.count();
  for (size_t i = 0; i < positives; ++i) texts.push_back(r.view());
  size_t count = r.count();
  std::vector<Contribution> contributions;
  contributions.reserve(count);
  for (; count; --count) {
    uint8_t kind = r.byte();
    if (kind > static_cast<uint8_t>(Contribution::Kind::kDelete)) throw std::runtime_error("a match record names no contribution kind");
    texts.push_back(r.view());
    SharedJson value = values ? values->read(r.view()) : SharedJson(r.json());
    JsonPath path;
    size_t elements = r.count();
    path.reserve(elements);
    for (; elements; --elements) {
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
    uint8_t flags = r.byte();
    if (flags & ~(Contribution::kAdd | Contribution::kEditable | Contribution::kOrder))
      throw std::runtime_error("a match record's contribution has flags no contribution has");
    int64_t priority = r.signed_varint();
    contributions.emplace_back(static_cast<Contribution::Kind>(kind), FactKey(), std::move(value),
                               intern_path(std::move(path)), priority, flags);
  }
  // The keys are placed below, or by the caller (place_match_keys).
  Match m(rule, std::vector<FactKey>(positives), std::move(contributions));
  if (keys) {
    keys->insert(keys->end(), texts.begin(), texts.end());
    return m;
  }
  boost::container::small_vector<FactKey, 8> interned(texts.size());
  FactKey::intern(std::span<const std::string_view>(texts.data(), texts.size()),
                  std::span<FactKey>(interned.data(), interned.size()));
  place_match_keys(m, std::span<FactKey>(interned.data(), interned.size()));
  return m;
}

void place_match_keys(Match& m, std::span<FactKey> keys) {
  if (keys.size() != m.positives().size() + m.contributions().size())
    throw std::logic_error("a match's keys do not fit its record");
  auto next = keys.begin();
  for (auto& p : m.positives()) p = std::move(*next++);
  for (auto& c : m.contributions()) c.target = std::move(*next++);
}

Json encode_object(const ObjectEntry& e) {
  const ObjectKeyView key = e.key();
  Json j = {{"key", {key.kind, key.cluster, key.ns, key.name}},
            {"effective", *e.effective},
            {"uid", e.uid()},
            {"rv", e.resource_version},
            {"generation", e.generation},
            {"created", e.created()},
            {"deleting", e.deleting()},
            {"userOwned", e.user_owned}};
  if (e.has_base()) j["base"] = *e.base;
  if (e.editable_seen) j["editableSeen"] = *e.editable_seen;
  Json derived = Json::object();
  for (const auto& [mk, part] : e.derived) derived[mk.str()] = *part;
  j["derived"] = derived;
  Json fields = Json::object();
  for (const auto& [mk, parts] : e.fields) {
    Json arr = Json::array();
    for (const auto& p : parts) {
      arr.push_back({{"path", encode_path(*p.path())}, {"value", *p.value()}, {"add", p.add()}, {"priority", p.priority()}, {"rule", p.rule()}});
      if (p.editable()) arr.back()["editable"] = true;
      if (p.order()) arr.back()["order"] = true;
    }
    fields[mk.str()] = arr;
  }
  j["fields"] = fields;
  return j;
}

namespace {

// The place in `m`'s contributions of the one an object's part is (a
// derive's, or a set field), for the object `fact`; -1 when none is.
int64_t place_of(const Match& m, std::string_view fact, const SharedJson& part) {
  for (size_t i = 0; i < m.contributions().size(); ++i) {
    const Contribution& c = m.contributions()[i];
    if (c.kind() == Contribution::Kind::kObject && c.target.str() == fact && c.value() == part) return static_cast<int64_t>(i);
  }
  return -1;
}

int64_t place_of(const Match& m, std::string_view fact, const FieldPart& part) {
  if (part.rule() != m.rule()) return -1;
  for (size_t i = 0; i < m.contributions().size(); ++i) {
    const Contribution& c = m.contributions()[i];
    if (c.kind() == Contribution::Kind::kField && c.target.str() == fact && c.value() == part.value() && part.sets_like(c))
      return static_cast<int64_t>(i);
  }
  return -1;
}

// A value held as CBOR is written as it is held, not read.
void write_value(CborWriter& w, const SharedJson& v) {
  if (v.held_as_cbor()) v.with_cbor([&](std::string_view c) { w.raw(c); });
  else w.value(*v);
}

}  // namespace

std::string encode_object_record(const ObjectEntry& e, const PartSource* source, std::pair<size_t, size_t>* effective_at,
                                 const std::string* effective_cbor) {
  std::string out;
  // Most records are a few KiB: grown by doubling from empty, the string
  // was copied as often as it was written.
  out.reserve(4096);
  // Parts that are their match's contribution (the engine's own value in
  // both, so mostly one pointer compared): named, not written. A rule
  // set's matches are taken up after the objects, so theirs are written.
  auto place = [&](const MatchKey& mk, const auto& part) -> int64_t {
    if (!source || mk.rule() >= source->program_rules) return -1;
    const Match* m = source->state.match(mk);
    return m ? place_of(*m, source->fact, part) : -1;
  };
  std::vector<int64_t> derived_from;
  size_t named = 0;
  for (const auto& [mk, part] : e.derived) {
    derived_from.push_back(place(mk, part));
    named += derived_from.back() >= 0;
  }
  CborWriter w(out);
  w.map(10 + (e.has_base() ? 1 : 0) + (e.editable_seen ? 1 : 0) + (named ? 1 : 0));
  w.str("key");
  w.array(4);
  const ObjectKeyView key = e.key();
  for (std::string_view s : {key.kind, key.cluster, key.ns, key.name}) w.str(s);
  w.str("effective");
  const size_t effective_from = out.size();
  if (e.effective.held_as_cbor()) e.effective.with_cbor([&](std::string_view c) { w.raw(c); });  // as it was read
  else if (effective_cbor) w.raw(*effective_cbor);
  else w.value(*e.effective);
  if (effective_at) *effective_at = {effective_from, out.size()};
  w.str("uid"), w.str(e.uid());
  w.str("rv"), w.value(Json(e.resource_version));
  w.str("generation"), w.value(Json(e.generation));
  w.str("created"), w.str(e.created());
  w.str("deleting"), w.str(e.deleting());
  w.str("userOwned"), w.value(Json(e.user_owned));
  if (e.has_base()) w.str("base"), write_value(w, e.base);
  if (e.editable_seen) w.str("editableSeen"), w.value(*e.editable_seen);
  w.str("derived");
  w.map(e.derived.size() - named);
  size_t i = 0;
  for (const auto& [mk, part] : e.derived)
    if (derived_from[i++] < 0) w.str(mk.text().view()), write_value(w, part);
  if (named) {
    w.str("derivedFrom");
    w.map(named);
    i = 0;
    for (const auto& [mk, part] : e.derived)
      if (int64_t c = derived_from[i++]; c >= 0) w.str(mk.text().view()), w.value(Json(c));
  }
  w.str("fields");
  w.map(e.fields.size());
  for (const auto& [mk, parts] : e.fields) {
    w.str(mk.text().view());
    w.array(parts.size());
    for (const auto& p : parts) {
      if (int64_t from = place(mk, p); from >= 0) {
        w.map(1);
        w.str("from"), w.value(Json(from));
        continue;
      }
      w.map(5 + (p.editable() ? 1 : 0) + (p.order() ? 1 : 0));
      w.str("path"), write_path(w, *p.path());
      w.str("value"), w.value(*p.value());
      w.str("add"), w.value(Json(p.add()));
      w.str("priority"), w.value(Json(p.priority()));
      w.str("rule"), w.value(Json(p.rule()));
      if (p.editable()) w.str("editable"), w.value(Json(true));
      if (p.order()) w.str("order"), w.value(Json(true));
    }
  }
  return out;
}

namespace {

// A stored field's flags (a contribution's, or a part's written with its
// value): `add` always there, `editable` and `order` when set.
uint8_t stored_field_flags(const Json& j) {
  return static_cast<uint8_t>((j["add"].get<bool>() ? Contribution::kAdd : 0) |
                              (j.value("editable", false) ? Contribution::kEditable : 0) |
                              (j.value("order", false) ? Contribution::kOrder : 0));
}

}  // namespace

ObjectEntry decode_object(Json j, PartRefs* refs, std::string_view stored_under) {
  ObjectEntry e;
  const std::string fact = object_fact({j["key"][0], j["key"][1], j["key"][2], j["key"][3]});
  if (stored_under.empty()) e.fact = FactKey(fact);
  else if (fact != stored_under) throw std::runtime_error("an object's record is under another object's key");
  e.effective = std::move(j["effective"]);
  e.resource_version = j["rv"];
  e.generation = j["generation"];
  e.set_stamps(j["uid"].get<std::string>(), j["created"].get<std::string>(), j["deleting"].get<std::string>());
  e.user_owned = j["userOwned"];
  if (j.contains("base") && !j["base"].is_null()) e.base = std::move(j["base"]);
  if (j.contains("editableSeen")) e.editable_seen = std::make_shared<const Json>(std::move(j["editableSeen"]));
  auto named = [&]() -> PartRefs& {
    if (!refs) throw std::runtime_error("an object record names contributions where none can be found");
    return *refs;
  };
  // Each container made at its size: grown one by one, a reopened engine
  // kept a vector's and a map's spare room in every object.
  const auto from = j.find("derivedFrom");
  e.derived.reserve(j["derived"].size() + (from != j.end() ? from->size() : 0));
  for (auto& [mk, part] : j["derived"].items()) e.derived[stored_match_key(mk)] = std::move(part);
  if (auto it = from; it != j.end())
    for (auto& [mk, c] : it->items()) {
      MatchKey k = stored_match_key(mk);
      e.derived[k];  // filled in by resolve_parts
      named().derived.emplace_back(k, c.get<size_t>());
    }
  e.fields.reserve(j["fields"].size());
  for (auto& [mk, parts] : j["fields"].items()) {
    MatchKey k = stored_match_key(mk);
    auto& into = e.fields[k];
    into.reserve(parts.size());
    for (auto& p : parts) {
      if (auto from = p.find("from"); from != p.end()) {
        named().fields.push_back({k, into.size(), from->get<size_t>()});
        into.emplace_back();  // filled in by resolve_parts
        continue;
      }
      into.emplace_back(Contribution(Contribution::Kind::kField, FactKey(), std::move(p["value"]),
                                     intern_path(decode_path(p["path"])), p["priority"].get<int64_t>(), stored_field_flags(p)),
                        p["rule"].get<int>());
    }
  }
  return e;
}

ObjectEntry decode_object_record(std::string_view value, PartRefs* refs, std::string_view stored_under) {
  // The form and what the user wrote are kept as their bytes, unread and
  // packed (as a cold object holds them: cold_objects.cc).
  static constexpr std::string_view kKept[] = {"effective", "base"};
  std::string_view kept[2];
  std::optional<Json> j;
  if (!value.empty() && value[0] != '{') j = read_cbor_map_keeping(value, kKept, kept);
  if (!j) return decode_object(decode_record(value), refs, stored_under);
  ObjectEntry e = decode_object(std::move(*j), refs, stored_under);
  const auto [effective, base] = kept;
  if (!effective.empty() && effective != "\xf6") e.effective = SharedJson::from_cbor_packed(effective);
  if (!base.empty() && base != "\xf6") e.base = SharedJson::from_cbor_packed(base);
  return e;
}

void resolve_parts(const State& state, std::string_view fact, const PartRefs& refs, ObjectEntry& e) {
  auto named = [&](const MatchKey& mk, size_t i, Contribution::Kind kind) -> std::pair<const Match*, const Contribution*> {
    const Match* m = state.match(mk);
    if (!m || i >= m->contributions().size() || m->contributions()[i].kind() != kind || m->contributions()[i].target.str() != fact)
      throw std::runtime_error("an object's part names a contribution that is not there");
    return {m, &m->contributions()[i]};
  };
  for (const auto& [mk, i] : refs.derived) e.derived[mk] = named(mk, i, Contribution::Kind::kObject).second->value();
  for (const auto& f : refs.fields) {
    auto [m, c] = named(f.match, f.contribution, Contribution::Kind::kField);
    e.fields[f.match].at(f.slot) = FieldPart::of(*c, m->rule());
  }
}

Json encode_match(const Match& m) {
  Json contribs = Json::array();
  for (const auto& c : m.contributions()) {
    contribs.push_back({{"kind", static_cast<int>(c.kind())},
                        {"target", c.target.str()},
                        {"value", *c.value()},
                        {"path", encode_path(*c.path())},
                        {"add", c.add()},
                        {"priority", c.priority()}});
    if (c.editable()) contribs.back()["editable"] = true;
    if (c.order()) contribs.back()["order"] = true;
  }
  Json positives = Json::array();
  for (const auto& p : m.positives()) positives.push_back(p.str());
  return {{"rule", m.rule()}, {"positives", positives}, {"contributions", contribs}};
}

Match decode_match(const Json& j) {
  std::vector<FactKey> positives;
  std::vector<Contribution> contributions;
  for (const auto& p : j["positives"]) positives.emplace_back(p.get<std::string>());
  for (const auto& c : j["contributions"])
    contributions.emplace_back(
        static_cast<Contribution::Kind>(c["kind"].get<int>()), FactKey(c["target"].get<std::string>()), c["value"],
        intern_path(decode_path(c["path"])), c["priority"].get<int64_t>(), stored_field_flags(c));
  return Match(j["rule"].get<int>(), std::move(positives), std::move(contributions));
}

// An object's parts are its matches' contributions: the engine keeps one
// value for both (Engine::apply_contributions). Records written before
// they named the contributions (PartRefs) hold a copy in each: shared again
// where equal. Match records sort before object records ("m" < "o"), so
// the object's matches are in the state already, for this and for
// resolve_parts. A part that is not one contribution's value (a match's
// several derives into one object, merged) stays its own.
void share_parts(const State& state, std::string_view fact, ObjectEntry& e) {
  for (auto& [mk, part] : e.derived)
    if (const Match* m = state.match(mk))
      if (int64_t i = place_of(*m, fact, part); i >= 0) part = m->contributions()[static_cast<size_t>(i)].value();
  for (auto& [mk, parts] : e.fields)
    if (const Match* m = state.match(mk))
      for (auto& p : parts)
        if (int64_t i = place_of(*m, fact, p); i >= 0) p = FieldPart::of(m->contributions()[static_cast<size_t>(i)], p.rule());
}

}  // namespace pmesh::engine
