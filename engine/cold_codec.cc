#include "engine/cold_codec.h"

#include <zdict.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace pmesh::engine::cold_codec {
namespace {

// The dictionary's size: zstd's trainer's default, and the most a value of
// a few hundred bytes gains from.
constexpr size_t kDictionaryBytes = 32 * 1024;
// Fast (a value goes cold on the engine's thread); with a dictionary, the
// higher levels packed these values little smaller.
constexpr int kLevel = 1;

struct Dictionary {
  ZSTD_CDict* compress = nullptr;
  ZSTD_DDict* decompress = nullptr;
};

struct Learning {
  std::mutex mu;
  std::string samples;       // the values offered, one after another
  std::vector<size_t> sizes;  // of each
  // Published once, never replaced nor freed: values packed with it are
  // unpacked with it for the life of the process.
  std::atomic<const Dictionary*> dictionary{nullptr};
};

Learning& learning() {
  static Learning* l = new Learning();  // never destroyed: threads may pack at exit
  return *l;
}

// Learns the dictionary from the samples. REQUIRES: l.mu held.
void learn(Learning& l) {
  std::string dict(kDictionaryBytes, '\0');
  size_t n = ZDICT_trainFromBuffer(dict.data(), dict.size(), l.samples.data(), l.sizes.data(),
                                   static_cast<unsigned>(l.sizes.size()));
  if (ZDICT_isError(n)) {
    // Too few or too alike to train on (a workload of one value, over and
    // over): the latest samples themselves, as zstd's raw content.
    n = std::min(l.samples.size(), kDictionaryBytes);
    dict.assign(l.samples, l.samples.size() - n, n);
  } else {
    dict.resize(n);
  }
  ZSTD_CDict* compress = ZSTD_createCDict(dict.data(), dict.size(), kLevel);
  ZSTD_DDict* decompress = ZSTD_createDDict(dict.data(), dict.size());
  if (!compress || !decompress) {
    ZSTD_freeCDict(compress);
    ZSTD_freeDDict(decompress);
    throw std::bad_alloc();
  }
  l.dictionary.store(new Dictionary{compress, decompress}, std::memory_order_release);
  std::string().swap(l.samples);
  std::vector<size_t>().swap(l.sizes);
}

struct Contexts {
  ZSTD_CCtx* compress = nullptr;
  ZSTD_DCtx* decompress = nullptr;
  ~Contexts() {
    ZSTD_freeCCtx(compress);
    ZSTD_freeDCtx(decompress);
  }
};

// This thread's compression context, bound to `d` (the one dictionary).
ZSTD_CCtx* compressor(const Dictionary& d) {
  thread_local Contexts c;
  if (!c.compress) {
    ZSTD_CCtx* made = ZSTD_createCCtx();
    if (!made) throw std::bad_alloc();
    // The frame keeps the value's size (unpack sizes its buffer by it) and
    // neither a checksum nor the dictionary's id: four bytes each, of
    // values of a hundred.
    ZSTD_CCtx_setParameter(made, ZSTD_c_contentSizeFlag, 1);
    ZSTD_CCtx_setParameter(made, ZSTD_c_checksumFlag, 0);
    ZSTD_CCtx_setParameter(made, ZSTD_c_dictIDFlag, 0);
    ZSTD_CCtx_refCDict(made, d.compress);
    c.compress = made;
  }
  return c.compress;
}

ZSTD_DCtx* decompressor() {
  thread_local Contexts c;
  if (!c.decompress && !(c.decompress = ZSTD_createDCtx())) throw std::bad_alloc();
  return c.decompress;
}

}  // namespace

std::optional<std::string> pack(std::string_view cbor) {
  Learning& l = learning();
  const Dictionary* d = l.dictionary.load(std::memory_order_acquire);
  if (!d) {
    std::lock_guard<std::mutex> lock(l.mu);
    d = l.dictionary.load(std::memory_order_acquire);
    if (!d) {
      l.samples.append(cbor);
      l.sizes.push_back(cbor.size());
      if (l.samples.size() >= kSampleBytes) learn(l);
      return std::nullopt;
    }
  }
  // Into this thread's buffer, then a string of the size it came to.
  thread_local std::string buffer;
  buffer.resize(ZSTD_compressBound(cbor.size()));
  const size_t n = ZSTD_compress2(compressor(*d), buffer.data(), buffer.size(), cbor.data(), cbor.size());
  if (ZSTD_isError(n) || n >= cbor.size()) return std::nullopt;
  std::string out(buffer.data(), n);
  if (buffer.capacity() > size_t{1} << 20) std::string().swap(buffer);  // not kept for a rare huge value
  return out;
}

void unpack(std::string_view packed, std::string& out) {
  const Dictionary* d = learning().dictionary.load(std::memory_order_acquire);
  const unsigned long long size = ZSTD_getFrameContentSize(packed.data(), packed.size());
  if (!d || size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
    throw std::runtime_error("cold_codec: not a value this process packed");
  out.resize(size);
  const size_t n = ZSTD_decompress_usingDDict(decompressor(), out.data(), out.size(), packed.data(), packed.size(),
                                              d->decompress);
  if (ZSTD_isError(n) || n != size) throw std::runtime_error("cold_codec: not a value this process packed");
}

bool learned() { return learning().dictionary.load(std::memory_order_acquire) != nullptr; }

}  // namespace pmesh::engine::cold_codec
