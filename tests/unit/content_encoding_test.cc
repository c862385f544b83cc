// Response compression: which Accept-Encoding headers ask for gzip (as
// kube-apiserver reads them), and which bodies are sent gzipped.
#include <doctest/doctest.h>

#include <random>
#include <stdexcept>
#include <string>

#include "server/http/content_encoding.h"
#include "server/http/http_server.h"

namespace pmesh::test {
namespace {

using server::HttpResponse;

// A gzip member inflated whole; throws if it is not one.
std::string gunzip(const std::string& in) {
  std::string out;
  if (!server::gunzip(in, &out)) throw std::runtime_error("not one whole gzip member");
  return out;
}

std::string header(const HttpResponse& r, const std::string& name) {
  std::string v;
  for (const auto& [k, value] : r.headers)
    if (k == name) v += (v.empty() ? "" : ",") + value;
  return v;
}

HttpResponse response(std::string body) {
  HttpResponse r;
  r.body = std::move(body);
  return r;
}

// JSON-like text that compresses as lists do.
std::string list_like(size_t n) {
  std::string s = "{\"items\":[";
  for (size_t i = 0; s.size() < n; ++i) s += "{\"metadata\":{\"name\":\"cm-" + std::to_string(i) + "\"}},";
  s.resize(n);
  return s;
}

TEST_CASE("content encoding: Accept-Encoding asks for gzip as kube reads it") {
  for (const char* yes : {"gzip", " gzip ", "deflate, gzip", "gzip,deflate", "br,\tgzip\t,zstd", ",gzip,", "x, , gzip"})
    CHECK_MESSAGE(server::accepts_gzip(yes), yes);
  // Exact tokens only: kube ignores quality values and case, so these do not ask.
  for (const char* no : {"", "deflate", "gzip;q=1.0", "GZIP", "x-gzip", "gzipx", "g zip", ",", "identity"})
    CHECK_MESSAGE(!server::accepts_gzip(no), no);
}

TEST_CASE("content encoding: a body over 128 KiB is gzipped when asked, others go as they are") {
  const std::string at = list_like(server::kGzipThresholdBytes);
  const std::string over = list_like(server::kGzipThresholdBytes + 1);

  HttpResponse r = response(at);
  server::gzip_if_large(r, true);
  CHECK(r.body == at);  // kube compresses above the threshold, not at it
  CHECK(r.headers.empty());

  r = response(over);
  server::gzip_if_large(r, false);
  CHECK(r.body == over);  // the client did not ask
  CHECK(r.headers.empty());

  r = response(over);
  server::gzip_if_large(r, true);
  CHECK(header(r, "Content-Encoding") == "gzip");
  CHECK(header(r, "Vary") == "Accept-Encoding");
  CHECK(r.body.size() < over.size() / 4);
  CHECK(gunzip(r.body) == over);

  // Encoded once: a second pass (the I/O thread after the reader pool) leaves it.
  std::string once = r.body;
  server::gzip_if_large(r, true);
  CHECK(r.body == once);
  CHECK(header(r, "Content-Encoding") == "gzip");
}

TEST_CASE("content encoding: bodies that do not compress, and large ones, come back whole") {
  std::mt19937_64 rng(7);
  std::string noise(300 * 1024, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  HttpResponse r = response(noise);
  server::gzip_if_large(r, true);
  CHECK(header(r, "Content-Encoding") == "gzip");
  CHECK(gunzip(r.body) == noise);

  // Larger than deflate's first output bound guess needs no second thought:
  // many megabytes, as a list of 30,000 ConfigMaps.
  const std::string big = list_like(9 * 1024 * 1024);
  r = response(big);
  server::gzip_if_large(r, true);
  CHECK(gunzip(r.body) == big);
}

TEST_CASE("content encoding: a response a handler encoded is not encoded again") {
  HttpResponse r = response(list_like(server::kGzipThresholdBytes * 2));
  r.headers.emplace_back("content-encoding", "identity");
  const std::string before = r.body;
  server::gzip_if_large(r, true);
  CHECK(r.body == before);
  CHECK(r.headers.size() == 1);
}

TEST_CASE("content encoding: gunzip takes one whole gzip member and nothing else") {
  HttpResponse r = response(list_like(server::kGzipThresholdBytes * 3));
  const std::string plain = r.body;
  server::gzip_if_large(r, true);
  std::string out;
  CHECK(server::gunzip(r.body, &out));
  CHECK(out == plain);
  CHECK_FALSE(server::gunzip(r.body.substr(0, r.body.size() - 1), &out));  // cut short
  CHECK_FALSE(server::gunzip(r.body + "x", &out));                         // more after it
  CHECK_FALSE(server::gunzip(plain, &out));                                // not gzip
  CHECK_FALSE(server::gunzip("", &out));
}

}  // namespace
}  // namespace pmesh::test
