// The whole request pipeline in one process, for tests: the embedded rules,
// a data directory, group commit, and the ApiServer without transport or
// authentication. call() sends one request and runs the server's thread
// until its answer is ready.
#pragma once

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <thread>

#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "dsl/compiler.h"
#include "engine/documents.h"
#include "engine/durable_store.h"
#include "engine/engine.h"
#include "server/api/api_server.h"
#include "server/registry/group_commit.h"
#include "stdlib/embedded.h"

namespace pmesh::test {

// A watch stream that keeps what it is sent.
struct FakeStream : server::Stream {
  std::vector<std::string> chunks;
  bool is_closed = false;
  void send(std::string chunk) override {
    if (!is_closed) chunks.push_back(std::move(chunk));
  }
  void close() override { is_closed = true; }
  bool closed() const override { return is_closed; }
  // The events sent in the chunks since chunk `from`, as JSON (a chunk may
  // hold several, a line each).
  std::vector<nlohmann::json> events(size_t from = 0) const {
    std::vector<nlohmann::json> out;
    for (size_t i = from; i < chunks.size(); ++i)
      for (size_t at = 0; at < chunks[i].size();) {
        size_t end = chunks[i].find('\n', at);
        if (end == std::string::npos) end = chunks[i].size();
        if (end > at) out.push_back(nlohmann::json::parse(chunks[i].substr(at, end - at)));
        at = end + 1;
      }
    return out;
  }
};

// Runs what `io` has ready, and waits (bounded) for a synced write under way
// on `commit`'s thread to hand back, so that what it made durable has run.
inline void settle(boost::asio::io_context& io, const server::GroupCommit* commit) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int i = 0; i < 100000; ++i) {
    io.restart();
    io.poll();
    if (!commit || !commit->busy() || std::chrono::steady_clock::now() > until) return;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

// An engine and what serves its objects below the ApiServer (a watch hub
// and a resource store on `io`), with nothing durable: a commit is
// published as soon as it is applied.
struct HubFixture {
  explicit HubFixture(std::unique_ptr<engine::Engine> e) : engine(std::move(e)) {}
  std::unique_ptr<engine::Engine> engine;
  boost::asio::io_context io;
  server::ClusterNames names_of{*engine};
  server::WatchHub hub{*engine, names_of, nullptr, io, nullptr};
  server::ResourceStore store{*engine, names_of, nullptr, hub, io, nullptr};
  // Commits and publishes, as the server does once a commit is durable.
  void commit(std::vector<engine::Op> ops) {
    engine::Result r = engine->apply(std::move(ops));
    REQUIRE(r.ok);
    hub.publish(r);
  }
};

class ServerFixture {
 public:
  explicit ServerFixture(engine::Engine::Options options = {})
      : dir_(std::filesystem::temp_directory_path() / ("pmesh-server-" + std::to_string(std::random_device()()))),
        options_(std::move(options)) {
    dsl::DiagnosticSink diags;
    program_ = std::shared_ptr<const dsl::CompiledProgram>(dsl::compile(dsl::load_embedded_program(diags), diags));
    open(true);
  }
  ~ServerFixture() {
    close();
    std::filesystem::remove_all(dir_);
  }

  // Opens the data directory again (after close()); the first time, with
  // what `pmesh serve` bootstraps, before the server starts (as serve does).
  void open(bool bootstrap = false) {
    std::string err;
    store_ = engine::DurableStore::open(dir_.string(), &err);
    engine_ = std::make_unique<engine::Engine>(program_, options_);
    store_->load(*engine_, &err);
    engine_->set_persistence(store_.get());
    if (bootstrap) {
      std::vector<engine::Document> docs;
      for (const auto& f : embedded_policies())
        if (std::string_view(f.path).ends_with("bootstrap.yaml")) engine::parse_documents(f.text, f.path, &docs, &err);
      std::vector<engine::Op> ops;
      for (const auto& d : docs) ops.push_back(engine::Op::create(d.object));
      engine_->apply(ops);
      store_->flush(&err);
    }
    commit_ = std::make_unique<server::GroupCommit>(io_, *store_, [](const std::string&) { std::abort(); });
    server::ApiServer::Options options;
    options.address = "127.0.0.1:0";
    api_ = std::make_unique<server::ApiServer>(*engine_, store_.get(), io_, commit_->hook(), std::move(options));
  }
  void close() {
    settle();
    api_.reset();
    settle();
    commit_.reset();
    engine_.reset();
    store_.reset();
  }

  // One request; for a watch, `stream` gets the events and nullopt comes back.
  std::optional<server::HttpResponse> call(const std::string& method, const std::string& target, const std::string& body = "",
                                           const std::string& content_type = "application/json",
                                           std::shared_ptr<server::Stream> stream = nullptr, const std::string& accept = "") {
    server::HttpRequest req = request(method, target, body, content_type, accept);
    if (!stream) stream = std::make_shared<FakeStream>();
    std::optional<server::HttpResponse> answer;
    bool done = false;
    std::function<void(std::optional<server::HttpResponse>)> deliver = [&](std::optional<server::HttpResponse> r) {
      if (r && r->later) {
        auto later = std::move(r->later);
        later(deliver);
        return;
      }
      answer = std::move(r);
      done = true;
    };
    deliver(api_->handle(req, stream));
    // Lists are rendered on reader threads: wait for their hand-back too
    // (bounded, and never for a watch).
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (int i = 0; !done && (i < 1000 || std::chrono::steady_clock::now() < until); ++i) {
      settle();
      if (i >= 1000 && !done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return answer;
  }
  static server::HttpRequest request(const std::string& method, const std::string& target, const std::string& body = "",
                                     const std::string& content_type = "application/json", const std::string& accept = "") {
    server::HttpRequest req;
    req.accept = accept;
    req.method = method;
    req.target = target;
    server::parse_target(target, &req.path, &req.query);
    req.body = body;
    req.content_type = content_type;
    return req;
  }
  // Runs what the server's thread has ready (test::settle).
  void settle() { test::settle(io_, commit_.get()); }

  engine::Engine& engine() { return *engine_; }
  engine::DurableStore& store() { return *store_; }
  server::ApiServer& api() { return *api_; }

 private:
  std::filesystem::path dir_;
  engine::Engine::Options options_;
  boost::asio::io_context io_;
  std::shared_ptr<const dsl::CompiledProgram> program_;
  std::unique_ptr<engine::DurableStore> store_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<server::GroupCommit> commit_;
  std::unique_ptr<server::ApiServer> api_;
};

}  // namespace pmesh::test
