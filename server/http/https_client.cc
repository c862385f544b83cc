#include "server/http/https_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/x509v3.h>

namespace pmesh::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

bool https_get(const std::string& url, const std::string& ca_file, std::string* body, std::string* error,
               std::chrono::seconds deadline) {
  const std::string scheme = "https://";
  if (url.compare(0, scheme.size(), scheme) != 0) return *error = "the JWKS URL must be https: " + url, false;
  std::string rest = url.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash), target = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string host = hostport, port = "443";
  if (size_t colon = hostport.rfind(':'); colon != std::string::npos && hostport.find(']') == std::string::npos)
    host = hostport.substr(0, colon), port = hostport.substr(colon + 1);
  try {
    net::io_context io;
    net::ssl::context ctx(net::ssl::context::tls_client);
    if (ca_file.empty()) ctx.set_default_verify_paths();
    else ctx.load_verify_file(ca_file);
    ctx.set_verify_mode(net::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
    X509_VERIFY_PARAM* param = SSL_get0_param(stream.native_handle());
    if (host.find_first_not_of("0123456789.") == std::string::npos || host.find(':') != std::string::npos) {
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
      SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
    }
    // Every step is asynchronous under one deadline; the io_context runs
    // them here, so the call still blocks only this thread.
    auto& tcp = beast::get_lowest_layer(stream);
    tcp.expires_after(deadline);
    beast::error_code failure;
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, hostport);
    req.set(http::field::user_agent, "pmesh");
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1024 * 1024);
    net::ip::tcp::resolver resolver(io);
    resolver.async_resolve(host, port, [&](beast::error_code ec, net::ip::tcp::resolver::results_type results) {
      if (ec) return void(failure = ec);
      tcp.async_connect(results, [&](beast::error_code ec2, const net::ip::tcp::endpoint&) {
        if (ec2) return void(failure = ec2);
        stream.async_handshake(net::ssl::stream_base::client, [&](beast::error_code ec3) {
          if (ec3) return void(failure = ec3);
          http::async_write(stream, req, [&](beast::error_code ec4, size_t) {
            if (ec4) return void(failure = ec4);
            http::async_read(stream, buffer, parser, [&](beast::error_code ec5, size_t) { failure = ec5; });
          });
        });
      });
    });
    io.run_for(deadline + std::chrono::seconds(1));
    if (!io.stopped()) return *error = "GET " + url + ": no answer within the deadline", false;
    if (failure) return *error = "GET " + url + ": " + failure.message(), false;
    if (parser.get().result_int() != 200)
      return *error = "GET " + url + ": HTTP " + std::to_string(parser.get().result_int()), false;
    *body = parser.get().body();
    return true;
  } catch (const std::exception& e) {
    *error = "GET " + url + ": " + e.what();
    return false;
  }
}

}  // namespace pmesh::server
