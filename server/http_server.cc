#include "server/http_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <deque>
#include <nlohmann/json.hpp>
#include <iostream>

namespace pmesh::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string url_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

HttpResponse status_response(int code, const std::string& reason, const std::string& message) {
  nlohmann::json status = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", nlohmann::json::object()},
                           {"status", "Failure"}, {"message", message}, {"reason", reason}, {"code", code}};
  return HttpResponse{code, "application/json", status.dump()};
}

namespace {

// One connection, over plain TCP (S = beast::tcp_stream) or TLS
// (S = beast::ssl_stream<beast::tcp_stream>).
template <class S>
class Session : public std::enable_shared_from_this<Session<S>>, public Stream {
 public:
  template <class... StreamArgs>
  Session(Handler& handler, const HttpServer::Options& options, StreamArgs&&... stream_args)
      : stream_(std::forward<StreamArgs>(stream_args)...),
        kick_(stream_.get_executor()),
        handler_(handler),
        body_limit_(options.body_limit),
        after_commit_(options.after_commit) {}

  void start() {
    if constexpr (std::is_same_v<S, beast::tcp_stream>) {
      read();
    } else {
      // A client that does not speak TLS (plain HTTP) fails here and is closed.
      tcp_layer().expires_after(std::chrono::seconds(10));
      stream_.async_handshake(net::ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (ec) {
          beast::error_code ignored;
          self->tcp_layer().socket().shutdown(tcp::socket::shutdown_both, ignored);
          return;
        }
        self->read();
      });
    }
  }

  // ---- Stream (a watch)
  // Before the handler returns, the headers are not out yet: queue only.
  // Events that come close together leave in one write: a stream waits a
  // few milliseconds before writing, so that a burst costs one system call.
  void send(std::string chunk) override {
    if (closed_) return;
    queue_.push_back(std::move(chunk));
    if (!streaming_ || writing_ || kick_pending_) return;
    kick_pending_ = true;
    kick_.expires_after(std::chrono::milliseconds(20));
    kick_.async_wait([self = this->shared_from_this()](beast::error_code) {
      self->kick_pending_ = false;
      if (!self->writing_) self->write_next();
    });
  }
  void close() override {
    if (closed_) return;
    closing_ = true;
    if (streaming_ && !writing_) write_next();
  }
  bool closed() const override { return closed_ || closing_; }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(body_limit_);
    parser_->header_limit(64 * 1024);
    tcp_layer().expires_after(std::chrono::minutes(5));
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::connection_reset) {
      shutdown();
      return;
    }
    if (ec == http::error::body_limit) {
      // Answer, then read and drop the rest of the body so that a client
      // still sending it gets to read the answer instead of a reset.
      draining_ = true;
      respond_error(413, "RequestEntityTooLarge", "the request body is larger than " + std::to_string(body_limit_) + " bytes", false);
      return;
    }
    if (ec) {
      respond_error(400, "BadRequest", "malformed request: " + ec.message(), false);
      return;
    }
    auto& msg = parser_->get();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    size_t q = req.target.find('?');
    req.path = url_decode(req.target.substr(0, q));
    if (q != std::string::npos) {
      std::string qs = req.target.substr(q + 1);
      size_t start = 0;
      while (start <= qs.size()) {
        size_t amp = qs.find('&', start);
        std::string kv = qs.substr(start, amp - start);
        if (!kv.empty()) {
          size_t eq = kv.find('=');
          req.query[url_decode(kv.substr(0, eq))] = eq == std::string::npos ? "" : url_decode(kv.substr(eq + 1));
        }
        if (amp == std::string::npos) break;
        start = amp + 1;
      }
    }
    req.body = std::move(msg.body());
    req.content_type = std::string(msg[http::field::content_type]);
    req.accept = std::string(msg[http::field::accept]);
    req.authorization = std::string(msg[http::field::authorization]);
    keep_alive_ = msg.keep_alive();
    std::optional<HttpResponse> res;
    try {
      res = handler_(req, std::static_pointer_cast<Stream>(this->shared_from_this()));
    } catch (const std::exception& e) {
      std::cerr << "pmesh serve: error: handler failed: " << e.what() << "\n";
      res = HttpResponse{500, "application/json",
                         R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"internal error","reason":"InternalError","code":500})"};
    }
    if (!res) {
      start_stream();
      return;
    }
    if (res->after_commit && after_commit_) {
      after_commit_([self = this->shared_from_this(), r = std::move(*res)]() { self->respond(r, self->keep_alive_); });
      return;
    }
    respond(*res, keep_alive_);
  }

  void respond_error(int code, const std::string& reason, const std::string& message, bool keep) {
    respond(status_response(code, reason, message), keep);
  }

  void respond(const HttpResponse& r, bool keep) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), 11);
    res->set(http::field::server, "pmesh");
    res->set(http::field::content_type, r.content_type);
    res->set(http::field::cache_control, "no-cache, private");
    res->keep_alive(keep);
    res->body() = r.body;
    res->prepare_payload();
    http::async_write(stream_, *res, [self = this->shared_from_this(), res, keep](beast::error_code ec, size_t) {
      if (ec || !keep) {
        self->shutdown();
        return;
      }
      self->read();
    });
  }

  // A chunked response whose body the handler writes over time.
  void start_stream() {
    streaming_ = true;
    tcp_layer().expires_never();
    // The connection ends with the stream: saying so keeps clients from
    // pooling it and sending their next request into a closing socket.
    std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                       "Cache-Control: no-cache, private\r\nConnection: close\r\nServer: pmesh\r\n\r\n";
    queue_.push_front(std::move(head));
    raw_front_ = true;
    if (!writing_) write_next();
    // Notice a client that goes away: a read on a watch only ends in an error.
    auto probe = std::make_shared<std::array<char, 1>>();
    tcp_layer().socket().async_read_some(net::buffer(*probe), [self = this->shared_from_this(), probe](beast::error_code, size_t) {
      self->closed_ = true;
      self->queue_.clear();
      beast::error_code ignored;
      self->tcp_layer().socket().shutdown(tcp::socket::shutdown_both, ignored);
    });
  }

  void write_next() {
    if (closed_) return;
    if (queue_.empty()) {
      if (closing_) {
        closing_ = false;
        writing_ = true;
        auto last = std::make_shared<std::string>("0\r\n\r\n");
        net::async_write(stream_, net::buffer(*last), [self = this->shared_from_this(), last](beast::error_code, size_t) {
          self->writing_ = false;
          self->closed_ = true;
          self->shutdown();
        });
      }
      return;
    }
    // Everything queued goes out in one write, each piece as its own chunk.
    writing_ = true;
    auto data = std::make_shared<std::string>();
    if (raw_front_) {
      raw_front_ = false;
      *data = std::move(queue_.front());
      queue_.pop_front();
    }
    while (!queue_.empty()) {
      const std::string& piece = queue_.front();
      char len[32];
      std::snprintf(len, sizeof len, "%zx\r\n", piece.size());
      *data += len;
      *data += piece;
      *data += "\r\n";
      queue_.pop_front();
    }
    net::async_write(stream_, net::buffer(*data), [self = this->shared_from_this(), data](beast::error_code ec, size_t) {
      self->writing_ = false;
      if (ec) {
        self->closed_ = true;
        self->queue_.clear();
        return;
      }
      self->write_next();
    });
  }

  void shutdown() {
    beast::error_code ec;
    tcp_layer().socket().shutdown(tcp::socket::shutdown_send, ec);
    closed_ = true;
    if (draining_) drain();
  }

  // Reads and drops what the client still sends, for a bounded time and size.
  void drain() {
    if (drained_ > 64 * 1024 * 1024) return;
    tcp_layer().expires_after(std::chrono::seconds(10));
    auto buf = std::make_shared<std::array<char, 65536>>();
    stream_.async_read_some(net::buffer(*buf), [self = this->shared_from_this(), buf](beast::error_code ec, size_t n) {
      if (ec) return;
      self->drained_ += n;
      self->drain();
    });
  }

  beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(stream_); }

  S stream_;
  net::steady_timer kick_;
  bool kick_pending_ = false;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Handler& handler_;
  size_t body_limit_;
  std::function<void(std::function<void()>)> after_commit_;
  bool keep_alive_ = true;
  bool streaming_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool raw_front_ = false;
  bool draining_ = false;
  size_t drained_ = 0;
  std::deque<std::string> queue_;
};

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(net::io_context& io, Handler h, Options o) : acceptor(io), handler(std::move(h)), options(o) {}

  void accept() {
    acceptor.async_accept(net::make_strand(acceptor.get_executor()), [self = this->shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (ec) {
        if (ec != net::error::operation_aborted) self->accept();
        return;
      }
      s.set_option(tcp::no_delay(true));
      if (self->tls)
        std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(self->handler, self->options, std::move(s), *self->tls)
            ->start();
      else
        std::make_shared<Session<beast::tcp_stream>>(self->handler, self->options, std::move(s))->start();
      self->accept();
    });
  }

  tcp::acceptor acceptor;
  Handler handler;
  Options options;
  std::unique_ptr<net::ssl::context> tls;  // set when serving HTTPS
};

HttpServer::HttpServer(net::io_context& io, const std::string& host, unsigned short port, Handler handler,
                       Options options)
    : impl_(std::make_shared<Impl>(io, std::move(handler), options)) {
  if (!options.tls_cert_file.empty()) {
    auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                     net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
    ctx->use_certificate_chain_file(options.tls_cert_file);
    ctx->use_private_key_file(options.tls_key_file, net::ssl::context::pem);
    impl_->tls = std::move(ctx);
  }
  tcp::endpoint ep(net::ip::make_address(host), port);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(net::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen(net::socket_base::max_listen_connections);
  impl_->accept();
}

HttpServer::~HttpServer() { stop(); }

unsigned short HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void HttpServer::stop() {
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace pmesh::server
