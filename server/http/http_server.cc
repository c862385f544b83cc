#include "server/http/http_server.h"

#include "server/http/content_encoding.h"
#include "server/http/url.h"
#include "server/log/server_log.h"
#include "stdlib/thread_name.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <iostream>
#include <mutex>

namespace pmesh::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(net::io_context& engine_io, net::io_context& transport, Handler h, Options o)
      : engine(engine_io),
        transport(transport),
        acceptor(net::make_strand(transport)),
        retry(acceptor.get_executor()),
        handler(std::move(h)),
        options(std::move(o)) {}

  void accept();  // on the acceptor's strand
  void session_ended() {
    --open;
    if (paused && !stopped && open < options.max_connections)
      net::post(acceptor.get_executor(), [self = shared_from_this()]() {
        if (self->paused && self->open < self->options.max_connections) {
          self->paused = false;
          self->accept();
        }
      });
  }
  HttpResponse error(int code, const std::string& message) const {
    if (options.error) return options.error(code, message);
    return HttpResponse{code, "text/plain", message, {}, nullptr};
  }

  net::io_context& engine;     // where the handler runs
  net::io_context& transport;  // where connections run, each on a strand of its own
  tcp::acceptor acceptor;
  net::steady_timer retry;
  Handler handler;
  Options options;
  std::unique_ptr<net::ssl::context> tls;  // set when serving HTTPS
  std::atomic<size_t> open{0};
  std::atomic<bool> paused{false};
  std::atomic<bool> stopped{false};
  std::atomic<size_t> backlog{0};  // bytes streams were sent and have not written yet
  unsigned short port = 0;
};

namespace {

// One connection, over plain TCP (S = beast::tcp_stream) or TLS
// (S = beast::ssl_stream<beast::tcp_stream>).
template <class S>
class Session : public std::enable_shared_from_this<Session<S>>, public Stream {
 public:
  template <class... StreamArgs>
  Session(std::shared_ptr<HttpServer::Impl> server, StreamArgs&&... stream_args)
      : stream_(std::forward<StreamArgs>(stream_args)...), kick_(stream_.get_executor()), server_(std::move(server)) {
    ++server_->open;
  }
  ~Session() override {
    release(pending_);
    server_->session_ended();
  }

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

  // ---- Stream (a watch), used on the engine's thread. Chunks go to an
  // inbox; the connection's strand takes what has gathered at most every
  // 20 ms and writes it at once, so that a burst costs one system call and
  // the engine one hand-off per connection, not one per event.
  void send(std::string chunk) override {
    if (closed_ || closing_) return;
    bool arm = false, over = false;
    {
      std::lock_guard<std::mutex> lock(inbox_mu_);
      inbox_bytes_ += chunk.size();
      pending_ += chunk.size();
      server_->backlog += chunk.size();
      inbox_.push_back(std::move(chunk));
      over = inbox_bytes_ > opts().stream_backlog_limit;
      arm = !armed_;
      armed_ = true;
    }
    if (over) closed_ = true;  // a client that does not read is cut off, not buffered for
    if (arm || over)
      net::post(stream_.get_executor(), [self = this->shared_from_this(), over]() {
        if (over) return self->abort();
        self->arm();
      });
  }
  void close() override {
    if (closed_) return;
    closing_ = true;
    net::post(stream_.get_executor(), [self = this->shared_from_this()]() {
      self->take_inbox();
      if (self->streaming_ && !self->writing_) self->write_next();
    });
  }
  bool closed() const override { return closed_ || closing_; }

 private:
  // On the strand: before the headers are out, only gather; after, write
  // what has gathered in 20 ms.
  void arm() {
    if (closed_) return;
    if (!streaming_ || writing_) return take_inbox();  // start_stream() or the write's end writes it
    kick_.expires_after(std::chrono::milliseconds(20));
    kick_.async_wait([self = this->shared_from_this()](beast::error_code) {
      if (!self->writing_) self->write_next();
    });
  }

  // Bytes of this stream written (or dropped): no longer its backlog.
  void release(size_t n) {
    n = std::min(n, pending_.load());
    pending_ -= n;
    server_->backlog -= n;
  }

  // Moves the inbox to the write queue.
  void take_inbox() {
    std::deque<std::string> in;
    {
      std::lock_guard<std::mutex> lock(inbox_mu_);
      in.swap(inbox_);
      inbox_bytes_ = 0;
      armed_ = false;
    }
    for (auto& c : in) {
      queued_ += c.size();
      queue_.push_back(std::move(c));
    }
    if (queued_ > opts().stream_backlog_limit) abort();
  }

  const HttpServer::Options& opts() const { return server_->options; }

  void read() {
    if (server_->stopped) return shutdown();
    parser_.emplace();
    parser_->body_limit(opts().body_limit);
    parser_->header_limit(static_cast<uint32_t>(opts().header_limit));
    tcp_layer().expires_after(opts().idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->on_read(ec);
      self->tcp_layer().expires_after(self->opts().request_timeout);
      http::async_read(self->stream_, self->buffer_, *self->parser_,
                       [self](beast::error_code ec2, size_t) { self->on_read(ec2); });
    });
  }

  void on_read(beast::error_code ec) {
    accepts_gzip_ = false;  // until this request's header says otherwise
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted) {
      shutdown();
      return;
    }
    if (ec == http::error::body_limit) {
      // Answer, then read and drop the rest of the body so that a client
      // still sending it gets to read the answer instead of a reset.
      draining_ = true;
      respond(server_->error(413, "limit is " + std::to_string(opts().body_limit)), false);
      return;
    }
    if (ec == http::error::header_limit) {
      respond(server_->error(431, "the request's header is larger than " + std::to_string(opts().header_limit) + " bytes"), false);
      return;
    }
    if (ec) {
      respond(server_->error(400, "malformed request: " + ec.message()), false);
      return;
    }
    auto& msg = parser_->get();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    keep_alive_ = msg.keep_alive();
    arrived_ = std::chrono::steady_clock::now();
    if (!parse_target(req.target, &req.path, &req.query)) {
      respond(server_->error(400, "malformed request: invalid URL escape in " + req.target), false);
      return;
    }
    method_ = req.method;
    path_ = req.path;
    auto w = req.query.find("watch");
    watch_ = w != req.query.end() && (w->second == "true" || w->second == "1");
    req.body = std::move(msg.body());
    req.content_type = std::string(msg[http::field::content_type]);
    req.accept = std::string(msg[http::field::accept]);
    req.authorization = std::string(msg[http::field::authorization]);
    auto encodings = msg[http::field::accept_encoding];
    req.accepts_gzip = accepts_gzip(std::string_view(encodings.data(), encodings.size()));
    accepts_gzip_ = req.accepts_gzip;
    for (const auto& field : msg) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (name.rfind("impersonate-", 0) == 0) req.impersonation.emplace_back(std::move(name), std::string(field.value()));
    }
    // The handler, and whatever it defers, run on the engine's thread; the
    // answer comes back to this connection's strand.
    net::post(server_->engine, [self = this->shared_from_this(), req = std::move(req)]() {
      std::optional<HttpResponse> res;
      try {
        res = self->server_->handler(req, std::static_pointer_cast<Stream>(self));
      } catch (const std::exception& e) {
        log("error", std::string("handler failed: ") + e.what());
        res = self->server_->error(500, "internal error");
      }
      self->from_engine(std::move(res));
    });
  }

  // On the engine's thread.
  void from_engine(std::optional<HttpResponse> res) {
    if (res && res->later) {
      auto later = std::move(res->later);
      later([self = this->shared_from_this()](std::optional<HttpResponse> r) { self->from_engine(std::move(r)); });
      return;
    }
    net::post(stream_.get_executor(), [self = this->shared_from_this(), res = std::move(res)]() mutable {
      if (!res) self->start_stream();
      else self->respond(std::move(*res), self->keep_alive_);
    });
  }

  void observe(int status) {
    if (opts().observe && !method_.empty())
      opts().observe(method_, path_, watch_, status,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - arrived_).count());
    method_.clear();
  }

  void respond(HttpResponse r, bool keep) {
    observe(r.status);
    gzip_if_large(r, accepts_gzip_);
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), 11);
    res->set(http::field::server, "pmesh");
    res->set(http::field::content_type, r.content_type);
    res->set(http::field::cache_control, "no-cache, private");
    for (const auto& [k, v] : r.headers) res->insert(k, v);
    res->keep_alive(keep && !server_->stopped);
    res->body() = std::move(r.body);  // a list's body is megabytes: not copied
    res->prepare_payload();
    tcp_layer().expires_after(opts().request_timeout);
    http::async_write(stream_, *res, [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
      if (ec || !res->keep_alive()) {
        self->shutdown();
        return;
      }
      self->read();
    });
  }

  // A chunked response whose body the handler writes over time.
  void start_stream() {
    observe(200);
    streaming_ = true;
    tcp_layer().expires_never();
    // The connection ends with the stream: saying so keeps clients from
    // pooling it and sending their next request into a closing socket.
    std::string head = "HTTP/1.1 200 OK\r\nContent-Type: " + content_type() +
                       "\r\nTransfer-Encoding: chunked\r\nCache-Control: no-cache, private\r\nConnection: close\r\n"
                       "Server: pmesh\r\n\r\n";
    queue_.push_front(std::move(head));
    raw_front_ = true;
    if (!writing_) write_next();
    // Notice a client that goes away: a read on a watch only ends in an error.
    auto probe = std::make_shared<std::array<char, 1>>();
    tcp_layer().socket().async_read_some(net::buffer(*probe), [self = this->shared_from_this(), probe](beast::error_code, size_t) {
      self->abort();
    });
  }

  void abort() {
    closed_ = true;
    queue_.clear();
    queued_ = 0;
    beast::error_code ignored;
    tcp_layer().socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp_layer().socket().close(ignored);
  }

  void write_next() {
    if (closed_) return;
    take_inbox();
    if (closed_) return;
    if (queue_.empty()) {
      if (closing_) {
        closing_ = false;
        writing_ = true;
        auto last = std::make_shared<std::string>("0\r\n\r\n");
        tcp_layer().expires_after(opts().request_timeout);
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
    size_t payload = queued_;
    queued_ = 0;
    // A client that stops reading is cut off after the write deadline.
    tcp_layer().expires_after(opts().request_timeout);
    net::async_write(stream_, net::buffer(*data), [self = this->shared_from_this(), data, payload](beast::error_code ec, size_t) {
      self->writing_ = false;
      self->release(payload);
      if (ec) {
        self->abort();
        return;
      }
      self->tcp_layer().expires_never();
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
  std::shared_ptr<HttpServer::Impl> server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
  bool accepts_gzip_ = false;  // the request being answered asked for gzip
  bool streaming_ = false;
  // The request being answered, for Options::observe.
  std::string method_, path_;
  bool watch_ = false;
  std::chrono::steady_clock::time_point arrived_;
  bool writing_ = false;
  std::atomic<bool> closing_{false};  // also read and set on the engine's thread
  std::atomic<bool> closed_{false};
  bool raw_front_ = false;
  bool draining_ = false;
  size_t drained_ = 0;
  size_t queued_ = 0;
  std::deque<std::string> queue_;
  // What the engine's thread sent and the strand has not taken yet.
  std::mutex inbox_mu_;
  std::deque<std::string> inbox_;
  size_t inbox_bytes_ = 0;
  bool armed_ = false;
  std::atomic<size_t> pending_{0};  // sent by the engine, not yet written  // a hand-off to the strand is on its way
};

}  // namespace

void HttpServer::Impl::accept() {
  if (stopped) return;
  if (open >= options.max_connections) {
    // Past the bound, connections wait in the kernel's backlog until one closes.
    paused = true;
    return;
  }
  acceptor.async_accept(net::make_strand(transport), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
    if (ec) {
      if (ec == net::error::operation_aborted || self->stopped) return;
      // Out of descriptors or memory: try again shortly rather than spin.
      self->retry.expires_after(std::chrono::milliseconds(100));
      self->retry.async_wait([self](beast::error_code) { self->accept(); });
      return;
    }
    beast::error_code ignored;
    s.set_option(tcp::no_delay(true), ignored);
    if (self->tls)
      std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(self, std::move(s), *self->tls)->start();
    else
      std::make_shared<Session<beast::tcp_stream>>(self, std::move(s))->start();
    self->accept();
  });
}

HttpServer::HttpServer(net::io_context& engine, net::io_context& transport, size_t threads, const std::string& host,
                       unsigned short port, Handler handler, Options options)
    : transport_(transport), impl_(std::make_shared<Impl>(engine, transport, std::move(handler), std::move(options))) {
  if (!impl_->options.tls_cert_file.empty()) {
    auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                     net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
    ctx->use_certificate_chain_file(impl_->options.tls_cert_file);
    ctx->use_private_key_file(impl_->options.tls_key_file, net::ssl::context::pem);
    impl_->tls = std::move(ctx);
  }
  tcp::endpoint ep(net::ip::make_address(host), port);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(net::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen(net::socket_base::max_listen_connections);
  impl_->port = impl_->acceptor.local_endpoint().port();
  impl_->accept();
  work_.emplace(transport.get_executor());
  for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i)
    threads_.emplace_back([&transport]() {
      name_this_thread("pmesh-io");
      transport.run();
    });
}

HttpServer::~HttpServer() {
  stop();
  work_.reset();
  transport_.stop();
  for (auto& t : threads_) t.join();
}

unsigned short HttpServer::port() const { return impl_->port; }

size_t HttpServer::open_connections() const { return impl_->open; }

size_t HttpServer::stream_backlog_bytes() const { return impl_->backlog; }

void HttpServer::stop() {
  if (impl_->stopped.exchange(true)) return;
  net::post(impl_->acceptor.get_executor(), [impl = impl_]() {
    beast::error_code ec;
    impl->acceptor.close(ec);
    impl->retry.cancel();
  });
}

}  // namespace pmesh::server
