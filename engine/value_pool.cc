#include "engine/value_pool.h"

#include "engine/cbor.h"

namespace pmesh::engine {

namespace {

// Whether `v` may be small enough to keep, told without writing it out: a
// byte per node and per string's head and its text is less than its CBOR
// takes, so a value over the budget that way is over it written. (The
// budget also bounds how deep this goes.)
bool small(const Json& v, size_t& budget) {
  size_t cost = v.is_string() ? v.get_ref<const std::string&>().size() + 1 : 1;
  if (cost > budget) return false;
  budget -= cost;
  if (v.is_object()) {
    for (const auto& [k, x] : v.items()) {
      if (k.size() + 1 > budget) return false;
      budget -= k.size() + 1;
      if (!small(x, budget)) return false;
    }
  } else if (v.is_array()) {
    for (const auto& x : v)
      if (!small(x, budget)) return false;
  }
  return true;
}

}  // namespace

const SharedJson* ValuePool::find(std::string_view cbor) const {
  // (Abseil's own string_view: the library may not have been built with std's.)
  auto it = values_.find(absl::string_view(cbor.data(), cbor.size()));
  return it == values_.end() ? nullptr : &it->second;
}

SharedJson ValuePool::keep(std::string_view cbor, SharedJson value) {
  if (values_.size() >= kMaxValues) values_.clear();
  values_.emplace(std::string(cbor), value);
  return value;
}

SharedJson ValuePool::read(std::string_view cbor) {
  // A value past a few fields is most often a derive's fields, which
  // nothing reads until its object changes: kept as its bytes (as
  // cold_objects.cc keeps them), checked now so that reading it later
  // cannot fail.
  auto as_read = [](std::string_view cbor) {
    if (cbor.size() > kMaxBytes && cbor_readable(cbor)) return SharedJson::from_cbor_packed(cbor);
    if (cbor.size() > kTreeMaxBytes && cbor_readable(cbor)) return SharedJson::from_cbor(cbor);
    return SharedJson(read_cbor(cbor));
  };
  if (cbor.size() > kMaxBytes) return as_read(cbor);
  if (const SharedJson* v = find(cbor)) return *v;
  return keep(cbor, as_read(cbor));
}

SharedJson ValuePool::share(Json value) {
  if (value.is_null()) return SharedJson();  // the null every holder shares
  size_t budget = kMaxBytes;
  if (!small(value, budget)) return value;
  scratch_.clear();
  CborWriter(scratch_).value(value);
  if (scratch_.size() > kMaxBytes) return value;
  if (const SharedJson* v = find(scratch_)) return *v;
  return keep(scratch_, std::move(value));
}

}  // namespace pmesh::engine
