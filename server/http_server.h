// The HTTP/1.1 server under the KRM API: Boost.Beast over Asio.
//
// One io_context runs every connection asynchronously, so thousands of
// connections and long watches cost no thread each. A request is read
// whole (bodies above the limit get 413), handed to the Handler, and its
// response written; keep-alive connections loop. A handler may instead take
// the connection over as a stream (a watch): the server writes the headers
// for a chunked response and then whatever the handler sends, until it
// closes the stream or the client goes.
//
// Thread safety: everything runs on the io_context's thread; handlers and
// streams must be used from it (post() to get there).
#pragma once

#include <boost/asio/io_context.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace pmesh::server {

struct HttpRequest {
  std::string method;
  std::string target;  // as sent
  std::string path;    // decoded, without the query
  std::map<std::string, std::string> query;
  std::string body;
  std::string content_type;
  std::string accept;
  std::string authorization;
  // Set by access control: which objects a list or watch may show the
  // requester (by logical cluster and name); unset shows all.
  std::function<bool(const std::string& cluster, const std::string& name)> visible;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  bool after_commit = false;  // send only once the transaction it reports is durable
};

// The write side of a streamed response.
class Stream {
 public:
  virtual ~Stream() = default;
  virtual void send(std::string chunk) = 0;
  virtual void close() = 0;  // ends the response and the connection
  virtual bool closed() const = 0;
};

// Returns the response, or nullopt after taking `stream` over.
using Handler = std::function<std::optional<HttpResponse>(const HttpRequest&, const std::shared_ptr<Stream>&)>;

class HttpServer {
 public:
  struct Options {
    size_t body_limit = 3 * 1024 * 1024;  // as kube-apiserver's default
    // Runs `fn` once what has been committed so far is durable (group commit).
    std::function<void(std::function<void()>)> after_commit;
    // HTTPS when set: PEM files of the certificate (chain) and its key.
    std::string tls_cert_file, tls_key_file;
  };

  // Listens on host:port (port 0 picks a free one). Throws on failure
  // (including unreadable TLS files).
  HttpServer(boost::asio::io_context& io, const std::string& host, unsigned short port, Handler handler,
             Options options);
  ~HttpServer();

  unsigned short port() const;
  // Stops accepting; open connections end when their current request does.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// A metav1.Status failure response.
HttpResponse status_response(int code, const std::string& reason, const std::string& message);

// "a%20b" -> "a b"
std::string url_decode(const std::string& s);

}  // namespace pmesh::server
