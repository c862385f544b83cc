#include "server/https_client.h"

#include <sys/socket.h>
#include <sys/time.h>

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

bool https_get(const std::string& url, const std::string& ca_file, std::string* body, std::string* error) {
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
    net::ip::tcp::resolver resolver(io);
    beast::get_lowest_layer(stream).connect(resolver.resolve(host, port));
    timeval tv{10, 0};
    int fd = beast::get_lowest_layer(stream).socket().native_handle();
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    stream.handshake(net::ssl::stream_base::client);
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, hostport);
    req.set(http::field::user_agent, "pmesh");
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1024 * 1024);
    http::read(stream, buffer, parser);
    if (parser.get().result_int() != 200)
      return *error = "GET " + url + ": HTTP " + std::to_string(parser.get().result_int()), false;
    *body = parser.get().body();
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    return true;
  } catch (const std::exception& e) {
    *error = "GET " + url + ": " + e.what();
    return false;
  }
}

}  // namespace pmesh::server
