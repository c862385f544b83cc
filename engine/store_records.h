// The durable store's records: how an object, a tuple and a match are
// written to LevelDB and read back, in every form earlier versions wrote.
//
// Objects are CBOR maps (JSON text before); tuples and matches a compact
// binary form (CBOR or JSON maps before). An object's parts that are its
// matches' contributions name them instead of holding a copy (PartRefs).
// A record that cannot be read throws std::runtime_error (the store calls
// it damage).
//
// Thread safety: pure functions but for FactKey's interning, which is
// thread-safe; the store decodes records on several threads.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/state.h"
#include "engine/value_pool.h"

namespace pmesh::engine {

// An object record as a JSON value (CBOR or, from earlier versions, JSON text).
Json decode_record(std::string_view value);
// A match's key as a record holds it; a damaged one is refused.
MatchKey stored_match_key(std::string_view text);
// `first_rule`: a rule set's records count rules from its first.
std::string encode_tuple_record(const TupleEntry& t, int first_rule = 0);
TupleEntry decode_tuple_record(std::string_view value);
std::string encode_match_record(const Match& m, int first_rule = 0);
// With `values`, the contributions' values come from (and go to) the pool.
// With `keys`, a record of the binary form leaves its fact keys (positives,
// then each contribution's target) empty and appends their texts to `keys`,
// as views of `value`, for the caller to intern with other records' and put
// in with place_match_keys: a decoder interns a batch's keys together
// (FactKey::intern). A record of an earlier form appends none: its keys are
// interned.
Match decode_match_record(std::string_view value, ValuePool* values = nullptr,
                          std::vector<std::string_view>* keys = nullptr);
// Puts `keys` (interned from what decode_match_record appended, in that
// order) into `m`'s positives and targets.
// REQUIRES: keys.size() == m.positives().size() + m.contributions().size().
void place_match_keys(Match& m, std::span<FactKey> keys);

// The state's shape when a commit wrote it (State::Shape): what the next
// load reserves room for. Throws on a damaged record, as the others do.
std::string encode_shape_record(const State::Shape& s);
State::Shape decode_shape_record(const std::string& value);

// An object as a JSON document (for tests and dumps).
Json encode_object(const ObjectEntry& e);
// Where an object's parts come from when its record is written: the
// state's matches, of which those of rules numbered below `program_rules`
// (the program's own) are read back before the objects.
struct PartSource {
  const State& state;
  std::string_view fact;  // the object's
  int program_rules = 0;
};
// The record of an object: the CBOR of encode_object(e), written directly.
// With `source`, a part that is a contribution of one of its matches names
// the contribution instead of holding its value (see PartRefs).
// With `effective_at`, where in the record the effective form's CBOR is
// ([first, second) of the bytes returned): the change log's entry for the
// same commit copies it instead of encoding the form again.
// `effective_cbor`, when given, is the effective form's CBOR, already
// written (CommittedForms): copied instead of encoding the form.
std::string encode_object_record(const ObjectEntry& e, const PartSource* source = nullptr,
                                 std::pair<size_t, size_t>* effective_at = nullptr,
                                 const std::string* effective_cbor = nullptr);

// The parts of an object record that name a contribution of their match:
// filled in from the matches once they are in the state (what the engine
// shares between a match and the object it contributes to, a restart shares
// again, and the record holds once).
struct PartRefs {
  std::vector<std::pair<MatchKey, size_t>> derived;  // match, contribution
  struct Field {
    MatchKey match;
    size_t slot = 0;  // in the object's fields of that match
    size_t contribution = 0;
  };
  std::vector<Field> fields;
  bool empty() const { return derived.empty() && fields.empty(); }
};
// REQUIRES: `refs` unless the record names no contribution (else throws).
// With `stored_under`, the fact key the record is stored under, the entry's
// key must be that one (else throws) and is left for the caller to put
// there, interned (State::put_object does); without, it is interned here.
ObjectEntry decode_object(Json j, PartRefs* refs = nullptr, std::string_view stored_under = {});
// The same from a record's bytes, with the effective form held as its CBOR
// (SharedJson::from_cbor) until something reads it.
ObjectEntry decode_object_record(std::string_view value, PartRefs* refs = nullptr, std::string_view stored_under = {});
// Fills in the parts `refs` names from `state`'s matches; throws when one
// is not there (damage).
void resolve_parts(const State& state, std::string_view fact, const PartRefs& refs, ObjectEntry& e);
Json encode_match(const Match& m);
Match decode_match(const Json& j);
// Shares the parts of `e` that equal a contribution of their match with it:
// for records written before parts named their contributions.
void share_parts(const State& state, std::string_view fact, ObjectEntry& e);

}  // namespace pmesh::engine
