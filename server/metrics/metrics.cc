#include "server/metrics/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <limits>
#include <map>
#include <set>

namespace pmesh::server {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

prometheus::Histogram::BucketBoundaries latency_buckets() {
  return {engine::kLatencyBuckets.begin(), engine::kLatencyBuckets.end()};
}

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric counter(double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = value;
  return m;
}

// The engine's counters, read at each scrape: nothing is counted twice.
class EngineCollector : public prometheus::Collectable {
 public:
  explicit EngineCollector(const engine::Engine& e) : e_(e) {}

  std::vector<MetricFamily> Collect() const override {
    auto evaluations = family("pmesh_rule_evaluations_total", "Matches of a rule evaluated.", MetricType::Counter);
    auto made = family("pmesh_rule_matches_made_total", "Evaluations of a rule that found a match where there was none.",
                       MetricType::Counter);
    auto dropped = family("pmesh_rule_matches_dropped_total", "Evaluations of a rule that lost a match.", MetricType::Counter);
    auto candidates = family("pmesh_rule_candidates_total",
                             "Objects and tuples a rule's scans and lookups visited, kept or not.", MetricType::Counter);
    auto seconds = family("pmesh_rule_evaluation_seconds_total", "Self time of a rule: finding and evaluating its matches, less the work of the rules its changes woke.", MetricType::Counter);
    for (const auto& [rule, s] : e_.costs_by_rule()) {
      std::vector<ClientMetric::Label> l = {{"rule", rule}};
      evaluations.metric.push_back(counter(static_cast<double>(s.evaluations), l));
      made.metric.push_back(counter(static_cast<double>(s.matches_made), l));
      dropped.metric.push_back(counter(static_cast<double>(s.matches_dropped), l));
      candidates.metric.push_back(counter(static_cast<double>(s.candidates), l));
      seconds.metric.push_back(counter(static_cast<double>(s.nanoseconds) / 1e9, l));
    }
    const engine::TransactionStats& t = e_.transaction_stats();
    auto txns = family("pmesh_transactions_total", "Engine transactions by outcome.", MetricType::Counter);
    txns.metric = {counter(static_cast<double>(t.committed), {{"result", "committed"}}),
                   counter(static_cast<double>(t.refused), {{"result", "refused"}}),
                   counter(static_cast<double>(t.dry_runs), {{"result", "dry_run"}})};
    auto facts = family("pmesh_transaction_facts_changed_total", "Objects and tuples changed by committed transactions.",
                        MetricType::Counter);
    facts.metric = {counter(static_cast<double>(t.facts_changed))};
    auto latency = family("pmesh_transaction_duration_seconds",
                          "Latency of committed and refused transactions, from the first operation to the commit.",
                          MetricType::Histogram);
    ClientMetric h;
    h.histogram.sample_count = t.latency.count;
    h.histogram.sample_sum = t.latency.sum;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < engine::kLatencyBuckets.size(); ++i) {
      cumulative += t.latency.counts[i];
      h.histogram.bucket.push_back({cumulative, engine::kLatencyBuckets[i]});
    }
    h.histogram.bucket.push_back({t.latency.count, std::numeric_limits<double>::infinity()});
    latency.metric = {h};
    return {evaluations, made, dropped, candidates, seconds, txns, facts, latency};
  }

 private:
  const engine::Engine& e_;
};

class WatchCollector : public prometheus::Collectable {
 public:
  std::function<size_t()> watchers;
  std::function<uint64_t()> events_sent, watches_rechecked, objects_rechecked;
  std::function<size_t()> connections, backlog;
  std::vector<MetricFamily> Collect() const override {
    auto open = family("apiserver_registered_watchers", "Watches open now.", MetricType::Gauge);
    ClientMetric m;
    m.gauge.value = watchers ? static_cast<double>(watchers()) : 0;
    open.metric = {m};
    auto sent = family("pmesh_watch_events_sent_total", "Watch events made for watchers (each watcher's copy counts).",
                       MetricType::Counter);
    sent.metric = {counter(events_sent ? static_cast<double>(events_sent()) : 0)};
    auto rechecks = family("pmesh_watch_access_rechecks_total",
                           "Watches whose access a changed tuple made the server decide again: whole watches, or single objects' visibility.",
                           MetricType::Counter);
    for (auto [scope, f] : {std::pair{"watch", &watches_rechecked}, std::pair{"object", &objects_rechecked}}) {
      rechecks.metric.push_back(counter(*f ? static_cast<double>((*f)()) : 0, {{"scope", scope}}));
    }
    auto gauge = [](std::string name, std::string help, const std::function<size_t()>& f) {
      auto g = family(std::move(name), std::move(help), MetricType::Gauge);
      ClientMetric m;
      m.gauge.value = f ? static_cast<double>(f()) : 0;
      g.metric = {m};
      return g;
    };
    return {open, sent, rechecks,
            gauge("pmesh_watch_backlog_bytes", "Bytes of watch events handed to connections and not written to their clients yet.",
                  backlog),
            gauge("pmesh_open_connections", "Connections open now.", connections)};
  }
};

}  // namespace

struct Metrics::Impl {
  explicit Impl(const engine::Engine& e)
      : registry(std::make_shared<prometheus::Registry>()),
        engine(std::make_shared<EngineCollector>(e)),
        watchers(std::make_shared<WatchCollector>()),
        requests(prometheus::BuildCounter()
                     .Name("apiserver_request_total")
                     .Help("Requests answered, by verb and HTTP status code.")
                     .Register(*registry)),
        durations(prometheus::BuildHistogram()
                      .Name("apiserver_request_duration_seconds")
                      .Help("Latency of requests, by verb: from arrival to the answer (a watch's headers).")
                      .Register(*registry)),
        commits(prometheus::BuildHistogram()
                    .Name("pmesh_storage_commit_duration_seconds")
                    .Help("Latency of the durable store's group commits (batch write and fsync).")
                    .Register(*registry)
                    .Add({}, latency_buckets())),
        committed(prometheus::BuildCounter()
                      .Name("pmesh_storage_committed_transactions_total")
                      .Help("Transactions made durable by group commits.")
                      .Register(*registry)
                      .Add({})) {}

  std::shared_ptr<prometheus::Registry> registry;
  std::shared_ptr<EngineCollector> engine;
  std::shared_ptr<WatchCollector> watchers;
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& durations;
  prometheus::Histogram& commits;
  prometheus::Counter& committed;
};

Metrics::Metrics(const engine::Engine& engine) : impl_(std::make_unique<Impl>(engine)) {}
Metrics::~Metrics() = default;

void Metrics::request(const std::string& verb, int code, double seconds) {
  impl_->requests.Add({{"verb", verb}, {"code", std::to_string(code)}}).Increment();
  impl_->durations.Add({{"verb", verb}}, latency_buckets()).Observe(seconds);
}

void Metrics::commit(double seconds, size_t transactions) {
  impl_->commits.Observe(seconds);
  impl_->committed.Increment(static_cast<double>(transactions));
}

void Metrics::set_transport(std::function<size_t()> connections, std::function<size_t()> backlog_bytes) {
  impl_->watchers->connections = std::move(connections);
  impl_->watchers->backlog = std::move(backlog_bytes);
}

void Metrics::set_watch_hub(std::function<size_t()> watchers, std::function<uint64_t()> events_sent,
                            std::function<uint64_t()> watches_rechecked, std::function<uint64_t()> objects_rechecked) {
  impl_->watchers->watchers = std::move(watchers);
  impl_->watchers->events_sent = std::move(events_sent);
  impl_->watchers->watches_rechecked = std::move(watches_rechecked);
  impl_->watchers->objects_rechecked = std::move(objects_rechecked);
}

std::string Metrics::text() const {
  std::vector<MetricFamily> all = impl_->registry->Collect();
  for (auto& f : impl_->engine->Collect()) all.push_back(std::move(f));
  for (auto& f : impl_->watchers->Collect()) all.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(all);
}

std::string request_verb(const std::string& method, bool collection, bool watch) {
  if (method == "GET" || method == "HEAD") return watch ? "WATCH" : collection ? "LIST" : method;
  static const std::set<std::string> known = {"POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT"};
  if (!known.count(method)) return "other";  // a label the client cannot grow
  return method == "DELETE" && collection ? "DELETECOLLECTION" : method;
}

}  // namespace pmesh::server
