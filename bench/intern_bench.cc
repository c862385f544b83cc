// Interning benchmark: fact keys interned one by one against the same keys
// interned together (FactKey::intern), as a reopen's decoders intern the
// keys of a batch of 512 records together (one for an object's or a
// tuple's record, a few for a match's).
//
//   build/bench/pmesh-intern-bench [--keys 3000000] [--batch 1000] [--rounds 3]
//
// The pool first holds `keys` tuple keys (the texts the policies' OpenFGA
// relations have); then, each round, every key is interned again in a random
// order, read one after another from one buffer as a decoder reads them
// from records: one by one, then `batch` at a time. Prints JSON: the
// nanoseconds per key of each way, and their ratio, per round.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_util.h"
#include "engine/fact_key.h"

using pmesh::engine::FactKey;

int main(int argc, char** argv) {
  int keys = 3000000, batch = 1000, rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--keys") keys = pmesh::bench::count_arg("--keys", argv[i + 1]);
    else if (a == "--batch") batch = pmesh::bench::count_arg("--batch", argv[i + 1]);
    else if (a == "--rounds") rounds = pmesh::bench::count_arg("--rounds", argv[i + 1]);
  }
  const size_t n = static_cast<size_t>(std::max(keys, 1)), per = static_cast<size_t>(std::max(batch, 1));
  std::mt19937_64 rng(1);
  std::vector<std::string> texts;
  texts.reserve(n);
  for (size_t i = 0; i < n; ++i)
    texts.push_back("t\x1f" "fga_core_platform_mesh_io_account_member\x1f" "store" + std::to_string(rng() % 100000) +
                    "\x1f" "core_platform-mesh_io_account:root:orgs:org" + std::to_string(i) + "\x1fuser:u" +
                    std::to_string(i % 977));
  std::vector<FactKey> held(texts.begin(), texts.end());
  // The probes in a random order, laid out one after another.
  std::string buffer;
  std::vector<size_t> ends;
  for (size_t i = 0; i < n; ++i) {
    buffer += texts[rng() % n];
    ends.push_back(buffer.size());
  }
  std::vector<std::string_view> probes;
  for (size_t i = 0; i < n; ++i) {
    size_t start = i ? ends[i - 1] : 0;
    probes.emplace_back(buffer.data() + start, ends[i] - start);
  }
  nlohmann::json out = {{"keys", n}, {"batch", per}, {"rounds", nlohmann::json::array()}};
  size_t sink = 0;
  std::vector<FactKey> together(per);
  for (int r = 0; r < rounds; ++r) {
    auto a = pmesh::bench::Clock::now();
    for (size_t i = 0; i < n; ++i) sink += FactKey(probes[i]).str().size();
    auto b = pmesh::bench::Clock::now();
    for (size_t i = 0; i < n; i += per) {
      size_t m = std::min(per, n - i);
      FactKey::intern(std::span(probes).subspan(i, m), std::span(together).first(m));
      for (size_t j = 0; j < m; ++j) sink += together[j].str().size();
    }
    auto c = pmesh::bench::Clock::now();
    double alone = pmesh::bench::us(b - a) * 1000 / n, batched = pmesh::bench::us(c - b) * 1000 / n;
    out["rounds"].push_back({{"one_by_one_ns", std::round(alone)}, {"together_ns", std::round(batched)},
                             {"together_vs_one_by_one", std::round(batched / alone * 1000) / 1000}});
  }
  out["checksum"] = sink;
  std::cout << out.dump(2) << "\n";
}
