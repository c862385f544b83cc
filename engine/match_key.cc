#include "engine/match_key.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "stdlib/digest.h"
#include "stdlib/text.h"

namespace pmesh::engine {

namespace {
constexpr char kDigestSep = '\x1e';
}  // namespace

MatchKey::MatchKey(int rule, const std::vector<FactKey>& positives) : rule_(rule) {
  if (positives.empty()) return;
  // Each fact length-prefixed, so that no two lists share an input.
  thread_local Sha256 h;
  for (const auto& p : positives) {
    char len[24];
    char* end = std::to_chars(len, len + sizeof len - 1, p.str().size()).ptr;
    *end++ = ':';
    h.update(std::string_view(len, static_cast<size_t>(end - len)));
    h.update(p.str());
  }
  unsigned char d[32];
  h.finish(d);
  std::memcpy(digest_.data(), d, digest_.size());
}

std::optional<MatchKey> MatchKey::parse(std::string_view text) {
  MatchKey k;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, k.rule_);
  if (ec != std::errc() || k.rule_ < 0) return std::nullopt;
  if (p == end) return k;
  if (*p != kDigestSep) return std::nullopt;
  if (!base64_decode_exact(std::string_view(p + 1, static_cast<size_t>(end - p - 1)), k.digest_)) return std::nullopt;
  if (!k.digested()) return std::nullopt;  // zeros: the text of no key (text() writes none)
  return k;
}

MatchKey::Text MatchKey::text() const {
  Text t;
  char* p = std::to_chars(t.buf_.data(), t.buf_.data() + 12, rule_).ptr;
  t.size_ = static_cast<size_t>(p - t.buf_.data());
  if (!digested()) return t;
  t.buf_[t.size_++] = kDigestSep;
  static_assert(base64_length(sizeof digest_, true) <= 40 - 12 - 1);
  t.size_ += base64_encode_into(std::string_view(reinterpret_cast<const char*>(digest_.data()), digest_.size()), true,
                                std::span<char>(t.buf_).subspan(t.size_));
  return t;
}

std::string MatchKey::str() const { return std::string(text().view()); }

MatchKey MatchKey::rebased(int delta) const {
  MatchKey k = *this;
  k.rule_ += delta;
  return k;
}

bool MatchKey::digested() const {
  return std::any_of(digest_.begin(), digest_.end(), [](uint8_t b) { return b != 0; });
}

MatchKey MatchKey::holding(void* p) {
  MatchKey k;
  k.rule_ = kHolding;
  std::memcpy(k.digest_.data(), &p, sizeof p);
  return k;
}

void* MatchKey::held() const {
  void* p;
  std::memcpy(&p, digest_.data(), sizeof p);
  return p;
}

size_t MatchKey::hash() const {
  uint64_t h;
  std::memcpy(&h, digest_.data(), sizeof h);
  return static_cast<size_t>(h ^ (static_cast<uint64_t>(static_cast<uint32_t>(rule_)) * 0x9e3779b97f4a7c15ULL));
}

}  // namespace pmesh::engine
