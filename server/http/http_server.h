// The HTTP/1.1 server under the KRM API: Boost.Beast over Asio, plain or TLS.
//
// Connections run asynchronously on a transport io_context served by a few
// threads (each connection on its strand: reading, parsing, TLS, writing),
// so thousands of connections and long watches cost no thread each, and
// writing a large answer does not hold up the engine. The handler runs on
// the engine's io_context (one thread), and so does whatever it defers. A request is read whole
// (bodies above the limit get 413), handed to the Handler, and its response
// written; keep-alive connections loop. The handler may answer at once, later
// (HttpResponse::later: a commit to wait for, keys to fetch), or take the
// connection over as a stream (a watch): the server writes the headers of a
// chunked response and then whatever the handler sends, until it closes the
// stream or the client goes.
//
// No client can hold up the others: every phase of a connection has a
// deadline (handshake, request, each write), a stream whose client does not
// read is cut off once its backlog passes a bound, and past a number of open
// connections the server stops accepting until one closes.
//
// Thread safety: handlers, what they defer, and Streams are used on the
// engine's io_context thread; Options::observe and Options::error are
// called on transport threads.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "server/http/url.h"

namespace pmesh::server {

struct HttpRequest {
  std::string method;
  std::string target;  // as sent
  std::string path;    // percent-decoded, without the query
  // Query parameters, percent-decoded; the first of repeated ones, as Go's
  // url.Values.Get.
  std::map<std::string, std::string> query;
  std::string body;
  std::string content_type;
  std::string accept;
  std::string authorization;
  // Whether Accept-Encoding asks for gzip (server/http/content_encoding.h).
  bool accepts_gzip = false;
  // Impersonate-* headers as (lower-case name, value), in the order sent.
  std::vector<std::pair<std::string, std::string>> impersonation;
};

struct HttpResponse;
// Completes a deferred response: a response (which may itself be deferred),
// or nullopt once the handler has taken the connection over as a stream.
using Respond = std::function<void(std::optional<HttpResponse>)>;

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Extra headers (Warning, Retry-After). A body without Content-Encoding
  // among them is gzipped on its way out when it is large and the client
  // accepts gzip (content_encoding.h); a handler that renders off the
  // engine's thread compresses there instead.
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the answer is not ready: the server calls `later` with the
  // function that sends it, and reads nothing more from the connection
  // until then.
  std::function<void(Respond)> later;
};

// The write side of a streamed response.
class Stream {
 public:
  virtual ~Stream() = default;
  virtual void send(std::string chunk) = 0;
  virtual void close() = 0;  // ends the response and the connection
  virtual bool closed() const = 0;
  // The streamed response's media type (a watch's JSON, or server-sent
  // events). REQUIRES: set before the handler returns.
  void set_content_type(std::string type) { content_type_ = std::move(type); }
  const std::string& content_type() const { return content_type_; }

 private:
  std::string content_type_ = "application/json";
};

// Returns the response, or nullopt after taking `stream` over.
using Handler = std::function<std::optional<HttpResponse>(const HttpRequest&, const std::shared_ptr<Stream>&)>;

class HttpServer {
 public:
  struct Options {
    size_t body_limit = 3 * 1024 * 1024;  // as kube-apiserver's default
    size_t header_limit = 64 * 1024;
    // HTTPS when set: PEM files of the certificate (chain) and its key.
    std::string tls_cert_file, tls_key_file;
    // The answer to a request the server cannot read (400, 413, 431):
    // (code, message) -> response. The API layer encodes it as a Status.
    std::function<HttpResponse(int, const std::string&)> error;
    size_t max_connections = 4096;
    std::chrono::seconds idle_timeout{90};     // waiting for a request's header
    std::chrono::seconds request_timeout{60};  // reading its body; writing an answer or a stream chunk
    size_t stream_backlog_limit = 16 * 1024 * 1024;  // bytes a stream may have unwritten
    // Told of every answered request: its method, path and whether it
    // asked to watch, the status sent, and the seconds from its arrival to
    // its answer (a stream's headers, for a watch). For metrics.
    std::function<void(const std::string& method, const std::string& path, bool watch, int status, double seconds)> observe;
  };

  // Listens on host:port (port 0 picks a free one) and runs `transport` on
  // `threads` threads of its own. Throws on failure (including unreadable TLS
  // files). REQUIRES: `transport` outlives `engine` (connections held by
  // the engine's pending handlers close their sockets on it).
  HttpServer(boost::asio::io_context& engine, boost::asio::io_context& transport, size_t threads, const std::string& host,
             unsigned short port, Handler handler, Options options);
  // Stops the transport threads.
  ~HttpServer();

  unsigned short port() const;
  // Stops accepting; open connections end when their current request does.
  void stop();
  size_t open_connections() const;
  // Bytes handed to streams (watches) and not written to their clients yet.
  size_t stream_backlog_bytes() const;

  struct Impl;  // the listener and its connections' shared state (http_server.cc)

 private:
  boost::asio::io_context& transport_;
  std::shared_ptr<Impl> impl_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
};

}  // namespace pmesh::server
