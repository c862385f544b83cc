#include "server/http_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

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

namespace {

class Session : public std::enable_shared_from_this<Session>, public Stream {
 public:
  Session(tcp::socket socket, Handler& handler, const HttpServer::Options& options)
      : stream_(std::move(socket)),
        kick_(stream_.get_executor()),
        handler_(handler),
        body_limit_(options.body_limit),
        after_commit_(options.after_commit) {}

  void start() { read(); }

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
    kick_.async_wait([self = shared_from_this()](beast::error_code) {
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
    stream_.expires_after(std::chrono::minutes(5));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
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
      res = handler_(req, std::static_pointer_cast<Stream>(shared_from_this()));
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
      after_commit_([self = shared_from_this(), r = std::move(*res)]() { self->respond(r, self->keep_alive_); });
      return;
    }
    respond(*res, keep_alive_);
  }

  void respond_error(int code, const std::string& reason, const std::string& message, bool keep) {
    nlohmann::json status = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", nlohmann::json::object()},
                              {"status", "Failure"}, {"message", message}, {"reason", reason}, {"code", code}};
    respond(HttpResponse{code, "application/json", status.dump()}, keep);
  }

  void respond(const HttpResponse& r, bool keep) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), 11);
    res->set(http::field::server, "pmesh");
    res->set(http::field::content_type, r.content_type);
    res->set(http::field::cache_control, "no-cache, private");
    res->keep_alive(keep);
    res->body() = r.body;
    res->prepare_payload();
    http::async_write(stream_, *res, [self = shared_from_this(), res, keep](beast::error_code ec, size_t) {
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
    stream_.expires_never();
    // The connection ends with the stream: saying so keeps clients from
    // pooling it and sending their next request into a closing socket.
    std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                       "Cache-Control: no-cache, private\r\nConnection: close\r\nServer: pmesh\r\n\r\n";
    queue_.push_front(std::move(head));
    raw_front_ = true;
    if (!writing_) write_next();
    // Notice a client that goes away: a read on a watch only ends in an error.
    auto probe = std::make_shared<std::array<char, 1>>();
    stream_.socket().async_read_some(net::buffer(*probe), [self = shared_from_this(), probe](beast::error_code, size_t) {
      self->closed_ = true;
      self->queue_.clear();
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    });
  }

  void write_next() {
    if (closed_) return;
    if (queue_.empty()) {
      if (closing_) {
        closing_ = false;
        writing_ = true;
        auto last = std::make_shared<std::string>("0\r\n\r\n");
        net::async_write(stream_, net::buffer(*last), [self = shared_from_this(), last](beast::error_code, size_t) {
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
    net::async_write(stream_, net::buffer(*data), [self = shared_from_this(), data](beast::error_code ec, size_t) {
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
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    closed_ = true;
    if (draining_) drain();
  }

  // Reads and drops what the client still sends, for a bounded time and size.
  void drain() {
    if (drained_ > 64 * 1024 * 1024) return;
    stream_.expires_after(std::chrono::seconds(10));
    auto buf = std::make_shared<std::array<char, 65536>>();
    stream_.async_read_some(net::buffer(*buf), [self = shared_from_this(), buf](beast::error_code ec, size_t n) {
      if (ec) return;
      self->drained_ += n;
      self->drain();
    });
  }

  beast::tcp_stream stream_;
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
    acceptor.async_accept(net::make_strand(acceptor.get_executor()), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (ec) {
        if (ec != net::error::operation_aborted) self->accept();
        return;
      }
      s.set_option(tcp::no_delay(true));
      std::make_shared<Session>(std::move(s), self->handler, self->options)->start();
      self->accept();
    });
  }

  tcp::acceptor acceptor;
  Handler handler;
  Options options;
};

HttpServer::HttpServer(net::io_context& io, const std::string& host, unsigned short port, Handler handler,
                       Options options)
    : impl_(std::make_shared<Impl>(io, std::move(handler), options)) {
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
