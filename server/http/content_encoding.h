// Response compression as kube-apiserver does it (APIResponseCompression,
// on by default since 1.16): a body larger than 128 KiB is sent gzipped, at
// level 1, when the request's Accept-Encoding names gzip. client-go, and so
// kubectl and every controller, asks for gzip on every request, so a relist
// of a large collection sends a tenth of the bytes.
//
// Why level 1: kube's choice (kubernetes#112296). The ratio is within
// 1.1-1.3x of the higher levels at a fraction of the CPU, and the CPU is
// spent where the list was rendered (the reader pool, below the writer).
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pmesh::server {

struct HttpResponse;

// Bodies up to this size go as they are (kube's defaultGzipThresholdBytes).
inline constexpr size_t kGzipThresholdBytes = 128 * 1024;

// Whether an Accept-Encoding header asks for gzip, as kube reads it: one
// of its comma-separated tokens is exactly `gzip` once trimmed of spaces.
// kube ignores quality values, so `gzip;q=0.5` (which no Go client sends)
// does not count.
bool accepts_gzip(std::string_view accept_encoding);

// Gzips `r`'s body at level 1 and says so in its headers (Content-Encoding,
// Vary) when the client accepts gzip, the body is larger than the
// threshold and not encoded yet (no Content-Encoding among its headers). Otherwise leaves `r` as it is; so does a
// failure of zlib, which sends the body uncompressed rather than fail an
// answer that is ready.
void gzip_if_large(HttpResponse& r, bool client_accepts_gzip);

// What a client does with a gzipped answer (Go's transport, for client-go):
// `in`, one whole gzip member, inflated into `out`. False, with `out`
// unspecified, for anything else. pmesh reads no compressed input; its
// tests and benchmarks are the clients that call this.
bool gunzip(std::string_view in, std::string* out);

}  // namespace pmesh::server
