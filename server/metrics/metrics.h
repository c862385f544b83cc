// Where the time goes, while the server runs: its metrics in Prometheus'
// text format (GET /metrics, for the installation's administrators).
//
// Names are kube-apiserver's where it has one (apiserver_request_total,
// apiserver_request_duration_seconds, apiserver_registered_watchers), and
// pmesh_ for what only pmesh has: per rule, the matches evaluated, made and
// dropped and the seconds spent (the engine's own counters, read when
// scraped); per transaction, the outcome, the latency and the facts changed;
// the durable store's group commits (write and fsync) and the transactions
// each carried; watch events sent and the bytes of them not written yet;
// open connections. Labels are bounded: verbs and status
// codes are few, rules are the program's, and the rules of run-time rule
// sets (one model per OpenFGA store) are counted together as one.
//
// Thread safety: request() from any thread (the transport's); the rest,
// and the scrape (which reads the engine), on the engine's thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "engine/engine.h"

namespace pmesh::server {

class Metrics {
 public:
  explicit Metrics(const engine::Engine& engine);
  ~Metrics();

  // One answered request: its verb as kube-apiserver labels it (GET, LIST,
  // WATCH, POST, PUT, PATCH, DELETE, ...), its status, its latency.
  void request(const std::string& verb, int code, double seconds);
  // One group commit of the durable store: its latency and the transactions it made durable.
  void commit(double seconds, size_t transactions);
  // The watch hub's open watches and events sent, read when scraped.
  void set_watch_hub(std::function<size_t()> watchers, std::function<uint64_t()> events_sent,
                     std::function<uint64_t()> watches_rechecked, std::function<uint64_t()> objects_rechecked);
  // The transport's open connections and watch backlog (bytes not written yet).
  void set_transport(std::function<size_t()> connections, std::function<size_t()> backlog_bytes);

  // The exposition, text format 0.0.4.
  std::string text() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// kube-apiserver's verb label for a request (LIST and WATCH apart from GET).
std::string request_verb(const std::string& method, bool collection, bool watch);

}  // namespace pmesh::server
