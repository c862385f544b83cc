#include "server/http/content_encoding.h"

#include <boost/beast/core/string.hpp>
#include <zlib.h>

#include <algorithm>
#include <climits>

#include "server/http/http_server.h"
#include "stdlib/text.h"

namespace pmesh::server {

namespace {

// Runs `step` (one call of deflate or inflate; told whether the input is
// all given) while it returns Z_OK, feeding `in` in pieces (zlib's counts
// are 32 bits) and growing `out` when it is full. Returns the last code;
// `*written` is how much of `out` was written, `in` what was not fed.
template <class Step>
int pump(z_stream& z, std::string_view& in, std::string* out, size_t* written, Step step) {
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (z.avail_in == 0 && !in.empty()) {
      size_t n = std::min<size_t>(in.size(), UINT_MAX);
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
      z.avail_in = static_cast<uInt>(n);
      in.remove_prefix(n);
    }
    if (*written == out->size()) out->resize(out->size() * 2 + 64);
    z.next_out = reinterpret_cast<Bytef*>(out->data() + *written);
    z.avail_out = static_cast<uInt>(std::min<size_t>(out->size() - *written, UINT_MAX));
    uInt room = z.avail_out;
    rc = step(in.empty());
    *written += room - z.avail_out;
  }
  return rc;
}

// `in` as a gzip member at level 1; false if zlib fails.
bool gzip(std::string_view in, std::string* out) {
  z_stream z{};
  // 15 + 16: a 32 KiB window with gzip's header and trailer.
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  // Lists shrink five to twenty times: room for a quarter, grown if it
  // does not do, rather than deflateBound's whole input held twice.
  out->resize(std::min<size_t>(deflateBound(&z, static_cast<uLong>(std::min<size_t>(in.size(), ULONG_MAX))),
                               in.size() / 4 + 64 * 1024));
  size_t written = 0;
  int rc = pump(z, in, out, &written, [&z](bool all_given) {
    int code = deflate(&z, all_given ? Z_FINISH : Z_NO_FLUSH);
    return code == Z_BUF_ERROR ? Z_OK : code;  // no progress without room: the next round makes room
  });
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return false;
  out->resize(written);
  out->shrink_to_fit();
  return true;
}

// Whether a handler has encoded `r` already.
bool encoded(const HttpResponse& r) {
  for (const auto& [name, value] : r.headers)
    if (boost::beast::iequals(name, "Content-Encoding")) return true;
  return false;
}

}  // namespace

bool accepts_gzip(std::string_view header) {
  while (!header.empty()) {
    size_t comma = header.find(',');
    // Go's strings.TrimSpace, for ASCII.
    if (trim(header.substr(0, comma), " \t\r\n\v\f") == "gzip") return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

bool gunzip(std::string_view in, std::string* out) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return false;  // gzip framing only
  out->resize(in.size() * 4 + 4096);
  size_t written = 0;
  // Each round consumes input or fills the output, which then grows; a
  // member that is cut short ends in Z_BUF_ERROR.
  int rc = pump(z, in, out, &written, [&z](bool) { return inflate(&z, Z_NO_FLUSH); });
  bool whole = rc == Z_STREAM_END && z.avail_in == 0 && in.empty();
  inflateEnd(&z);
  out->resize(written);
  return whole;
}

void gzip_if_large(HttpResponse& r, bool client_accepts_gzip) {
  if (!client_accepts_gzip || r.body.size() <= kGzipThresholdBytes || encoded(r)) return;
  std::string packed;
  if (!gzip(r.body, &packed)) return;
  r.body = std::move(packed);
  r.headers.emplace_back("Content-Encoding", "gzip");
  r.headers.emplace_back("Vary", "Accept-Encoding");
}

}  // namespace pmesh::server
