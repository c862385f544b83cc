// Raw HTTP/1.1 requests through Beast's parser with the server's limits, then
// the target's decoding: what a client can put on the wire before any of
// pmesh's own code runs.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

#include "server/http/content_encoding.h"
#include "server/http/url.h"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  http::request_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  parser.header_limit(16 * 1024);
  boost::beast::error_code ec;
  size_t used = 0;
  // Fed in two pieces, as a connection delivers bytes.
  size_t half = size / 2;
  used += parser.put(boost::asio::buffer(data, half), ec);
  if (!ec || ec == http::error::need_more)
    used += parser.put(boost::asio::buffer(data + used, size - used), ec);
  if (!parser.is_header_done()) return 0;
  std::string target(parser.get().target());
  std::string path;
  std::map<std::string, std::string> query;
  (void)pmesh::server::parse_target(target, &path, &query);
  (void)parser.get()[http::field::content_type];
  (void)parser.get()[http::field::authorization];
  auto encodings = parser.get()[http::field::accept_encoding];
  (void)pmesh::server::accepts_gzip(std::string_view(encodings.data(), encodings.size()));
  return 0;
}
