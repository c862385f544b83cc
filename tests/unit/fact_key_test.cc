// FactKey: one entry per text, gone with its last key, whatever thread
// makes (one by one or together), copies or drops the keys (the pool's
// shards are locked apart).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/fact_key.h"
#include "engine/state.h"
#include "stdlib/keyed_hash.h"

namespace pmesh::test {
namespace {

using engine::FactKey;

// SipHash against the paper's test vectors (Aumasson and Bernstein,
// "SipHash: a fast short-input PRF", appendix A: the key 00 01 .. 0f, the
// messages 00 01 .. n-1); the 1-3 variant differs in its round counts only
// (its values for the same inputs as Rust's SipHasher13 tests have them,
// and a reference implementation in Python gives them).
TEST_CASE("keyed hash: SipHash-2-4 as the paper has it, and a key of the process's own") {
  unsigned char key[16];
  for (int i = 0; i < 16; ++i) key[i] = static_cast<unsigned char>(i);
  std::string msg;
  for (int i = 0; i < 15; ++i) msg.push_back(static_cast<char>(i));
  CHECK(siphash_2_4(key, "") == 0x726fdb47dd0e0e31ULL);
  CHECK(siphash_2_4(key, msg) == 0xa129ca6149be45e5ULL);
  std::string sixteen = msg + std::string("\x0f", 1);
  CHECK(siphash_1_3(key, "") == 0xabac0158050fc4dcULL);
  CHECK(siphash_1_3(key, std::string_view(sixteen.data(), 7)) == 0xd3927d989bb11140ULL);
  CHECK(siphash_1_3(key, std::string_view(sixteen.data(), 8)) == 0x369095118d299a8eULL);
  CHECK(siphash_1_3(key, msg) == 0xd320d86d2a519956ULL);
  CHECK(siphash_1_3(key, sixteen) == 0xcc4fdd1a7d908b66ULL);
  // Every length of a last block, up to two full blocks with none left:
  // each prefix hashes apart from the others.
  std::string longer = msg + std::string("\x0f", 1);
  std::vector<uint64_t> seen;
  for (size_t n = 0; n <= longer.size(); ++n) seen.push_back(siphash_1_3(key, std::string_view(longer.data(), n)));
  std::sort(seen.begin(), seen.end());
  CHECK(std::unique(seen.begin(), seen.end()) == seen.end());
  // The process's key is drawn, not zero nor the paper's.
  unsigned char zero[16] = {};
  CHECK(keyed_text_hash("account:root:orgs:acme") != siphash_1_3(zero, "account:root:orgs:acme"));
  CHECK(keyed_text_hash("account:root:orgs:acme") != siphash_1_3(key, "account:root:orgs:acme"));
  CHECK(keyed_text_hash("account:root:orgs:acme") == keyed_text_hash(std::string("account:root:orgs:") + "acme"));
}

TEST_CASE("fact keys: one entry per text, dropped with its last key") {
  const size_t before = FactKey::interned();
  {
    FactKey a("o\x1f" "ConfigMap\x1froot\x1f" "default\x1f" "a");
    FactKey a2(std::string("o\x1f" "ConfigMap\x1froot\x1f" "default\x1f" "a"));
    FactKey b("o\x1f" "ConfigMap\x1froot\x1f" "default\x1f" "b");
    CHECK(a == a2);
    CHECK(a.str().data() == a2.str().data());
    CHECK_FALSE(a == b);
    CHECK(a < b);
    CHECK(a.text_hash() == keyed_text_hash(a.str()));
    CHECK(engine::FactKeyTextHash()(std::string_view(a.str())) == a.text_hash());  // a lookup by text finds it
    CHECK(FactKey::interned() == before + 2);
    FactKey c = a;
    a = FactKey();
    a2 = FactKey();
    CHECK(FactKey::interned() == before + 2);  // c still holds it
    CHECK(c.str() == "o\x1f" "ConfigMap\x1froot\x1f" "default\x1f" "a");
  }
  CHECK(FactKey::interned() == before);
  FactKey empty;
  CHECK(empty.empty());
  CHECK(empty.str().empty());
  // The text is held as bytes after the entry: any byte, any length, the
  // empty text a key of its own (not an empty FactKey).
  std::string odd("o\x1f\0\xff\x1f", 5);
  odd += std::string(100000, 'x');
  FactKey k(odd), none("");
  CHECK(k.str() == odd);
  CHECK(k.str().size() == odd.size());
  CHECK_FALSE(none.empty());
  CHECK(none.str().empty());
  CHECK((FactKey(std::string_view(odd)) == k));
  CHECK(none < k);
}

TEST_CASE("fact keys interned together are the keys interned one by one") {
  const size_t before = FactKey::interned();
  {
    // Past one round of the batch (16), with repeats inside it, a key
    // already held, the empty text and a long one.
    FactKey held("t\x1fmember\x1fkept");
    std::vector<std::string> texts;
    for (int i = 0; i < 40; ++i) texts.push_back("t\x1fmember\x1f" + std::to_string(i % 23));
    texts.push_back("t\x1fmember\x1fkept");
    texts.push_back("");
    texts.push_back(std::string(5000, 'y'));
    std::vector<std::string_view> views(texts.begin(), texts.end());
    std::vector<FactKey> together(views.size());
    FactKey::intern(views, together);
    for (size_t i = 0; i < texts.size(); ++i) {
      CAPTURE(i);
      FactKey alone(texts[i]);
      CHECK(together[i] == alone);
      CHECK(together[i].str() == texts[i]);
      CHECK_FALSE(together[i].empty());
    }
    CHECK(together[40] == held);
    CHECK(FactKey::interned() == before + 23 + 1 + 2);
    FactKey::intern({}, {});  // nothing to intern
    CHECK(FactKey::interned() == before + 23 + 1 + 2);
  }
  CHECK(FactKey::interned() == before);  // every entry goes with its last key
}

TEST_CASE("fact keys: made and dropped on several threads, each text has one entry") {
  const size_t before = FactKey::interned();
  constexpr int kThreads = 4, kRounds = 200, kTexts = 300;
  auto text = [](int i) { return "t\x1fmember\x1froot:orgs:org" + std::to_string(i % 37) + "\x1f" + std::to_string(i); };
  // Every thread interns the same texts (in its own order), keeps some,
  // drops the rest, round after round: interning races the last release
  // of the same text on another thread.
  std::vector<std::vector<FactKey>> kept(kThreads);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        std::vector<FactKey> round;
        if (t % 2 == 0) {
          for (int i = 0; i < kTexts; ++i) {
            int n = (i * (t + 1) + r) % kTexts;
            round.emplace_back(text(n));
            if (round.back().str() != text(n)) ++mismatches;
          }
        } else {
          // Interned together (FactKey::intern), as a reopen's decoders do.
          std::vector<std::string> texts;
          for (int i = 0; i < kTexts; ++i) texts.push_back(text((i * (t + 1) + r) % kTexts));
          std::vector<std::string_view> views(texts.begin(), texts.end());
          round.resize(texts.size());
          FactKey::intern(views, round);
          for (int i = 0; i < kTexts; ++i)
            if (round[static_cast<size_t>(i)].str() != texts[static_cast<size_t>(i)]) ++mismatches;
        }
        if (r % 50 == 0) kept[static_cast<size_t>(t)].insert(kept[static_cast<size_t>(t)].end(), round.begin(), round.begin() + 10);
      }
    });
  for (auto& th : threads) th.join();
  CHECK(mismatches == 0);
  // Keys of one text made on different threads are the same entry.
  for (int t = 1; t < kThreads; ++t)
    for (const FactKey& k : kept[static_cast<size_t>(t)])
      CHECK((FactKey(k.str()) == k));
  size_t distinct = 0;
  {
    std::vector<std::string> texts;
    for (const auto& v : kept)
      for (const FactKey& k : v) texts.emplace_back(k.str());
    std::sort(texts.begin(), texts.end());
    distinct = static_cast<size_t>(std::unique(texts.begin(), texts.end()) - texts.begin());
  }
  CHECK(FactKey::interned() == before + distinct);
  kept.clear();
  CHECK(FactKey::interned() == before);
}


// A key's parts, as a plain split at every separator reads them: what the
// views must give for every shape of text, with separators at the ends,
// side by side, or more of them than a key has.
std::vector<std::string_view> parts_of(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == engine::kFactSep) out.push_back(s.substr(start, i - start)), start = i + 1;
  return out;
}

std::vector<std::string> key_shapes() {
  std::vector<std::string> out = {"", "t", "o", std::string(1, engine::kFactSep), std::string(40, engine::kFactSep)};
  // Short and long texts with a separator at every place in turn, then
  // also at the place after it and seven on.
  for (size_t len : {1, 15, 16, 17, 31, 32, 33, 47, 48, 70})
    for (size_t at = 0; at < len; ++at) {
      std::string s(len, 'a');
      for (size_t i = 0; i < len; ++i) s[i] = static_cast<char>('a' + i % 26);
      s[at] = engine::kFactSep;
      out.push_back(s);
      if (at + 1 < len) s[at + 1] = engine::kFactSep, out.push_back(s);
      if (at + 7 < len) s[at + 7] = engine::kFactSep, out.push_back(s);
    }
  out.push_back(engine::tuple_fact("fga_0YZ406ASA9CAE9DPP23WSX9S9V_core_platform_mesh_io_account_owner",
                                   {"01KFZ3", "core_platform-mesh_io_account:root:orgs:acme", "role:root:orgs:acme/owner#assignee"}));
  out.push_back(engine::object_fact({"Account", "root:orgs:acme", "", "team-a"}));
  out.push_back(engine::object_fact({"ConfigMap", "root", "kube-system", "a-long-name-of-a-config-map-x"}));
  return out;
}

TEST_CASE("fact keys: the views of a key split it at each separator") {
  for (const std::string& key : key_shapes()) {
    CAPTURE(key);
    std::vector<std::string_view> parts = parts_of(key);
    // A tuple: the relation after the first separator, then one argument
    // after each; nothing without a separator.
    engine::TupleView t = engine::view_tuple_fact(key);
    if (parts.size() < 2) {
      CHECK(t.relation.empty());
      CHECK(t.args.empty());
    } else {
      CHECK(t.relation == parts[1]);
      CHECK(std::vector<std::string_view>(t.args.begin(), t.args.end()) ==
            std::vector<std::string_view>(parts.begin() + 2, parts.end()));
    }
    // An object: kind, cluster, namespace, name after "o", each up to the
    // next separator (a fifth one ends the name), empty when missing.
    engine::ObjectKeyView o = engine::view_object_fact(key);
    auto part = [&](size_t i) { return i < parts.size() ? parts[i] : std::string_view(); };
    CHECK(o.kind == part(1));
    CHECK(o.cluster == part(2));
    CHECK(o.ns == part(3));
    CHECK(o.name == part(4));
  }
}

}  // namespace
}  // namespace pmesh::test
