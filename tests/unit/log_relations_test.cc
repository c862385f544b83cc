// Log relations (`relation r(...) log`): with a data directory their tuples
// are written with the transaction that adds them and memory does not keep
// them; readers see what is written and what a group commit holds to write.
// No rule may read or derive one.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <string_view>
#include <vector>

#include "dsl/compiler.h"
#include "dsl/program.h"
#include "engine/durable_store.h"
#include "engine/engine.h"
#include "server/openfga/fga_store.h"
#include "tests/unit/test_util.h"

namespace pmesh::test {
namespace {

using engine::Op;

const char* kLogRules = R"(
relation note(topic, id, text) log
relation topic(name)
relation known(name) :- topic(name).
rule no-bad-account
  for a: Account
  where a.name == "bad"
  refuse "no"
)";

Op note(const std::string& topic, const std::string& id, const std::string& text = "x") {
  return Op::add_tuple("note", {topic, id, text});
}
Op unnote(const std::string& topic, const std::string& id, const std::string& text = "x") {
  return Op::remove_tuple("note", {topic, id, text});
}

// The ids of topic `topic`'s notes, from `from` on, as the engine reads them.
std::vector<std::string> note_ids(const engine::Engine& e, const std::string& topic, std::string_view from = "") {
  std::vector<std::string> out;
  e.scan_log("note", {topic}, from, [&](std::string_view fact) {
    auto [rel, args] = engine::parse_tuple_fact(fact);
    CHECK(rel == "note");
    CHECK(args.at(0) == topic);
    out.push_back(args.at(1));
    return true;
  });
  return out;
}

using Ids = std::vector<std::string>;

bool holds_note(const engine::Engine& e, const std::string& topic, const std::string& id) {
  return e.state().tuple(engine::tuple_fact("note", {topic, id, "x"})) != nullptr;
}

engine::Json log_account(const std::string& name) {
  return {{"apiVersion", "core.platform-mesh.io/v1alpha1"},
          {"kind", "Account"},
          {"metadata", {{"name", name}, {"cluster", "root"}}},
          {"spec", engine::Json::object()}};
}

// `dir` opened on kLogRules, its commits collected until the test seals and
// writes them (DurableStore's group commit).
OpenedStore open_group_committed(const TempDir& dir) {
  OpenedStore o = open_data_dir(dir.path, prelude_program(kLogRules));
  o.store->set_deferred(true);
  return o;
}

TEST_CASE("a log relation's tuples are written with their transaction, and memory does not keep them") {
  auto program = prelude_program(kLogRules);
  TempDir dir;
  {
    OpenedStore o = open_data_dir(dir.path, program);
    CHECK(o.engine->log_relations() == std::vector<std::string>{"note"});
    engine::Result r = o.engine->apply({note("a", "2"), note("a", "1"), note("b", "1"), Op::add_tuple("topic", {"a"})});
    REQUIRE(r.ok);
    // The transaction's result and hooks see them as any change.
    int notes = 0;
    for (const auto& t : r.tuples) notes += t.view().relation == "note" && t.added;
    CHECK(notes == 3);
    CHECK_FALSE(holds_note(*o.engine, "a", "1"));
    CHECK(o.engine->has_tuple("topic", {"a"}));
    CHECK(note_ids(*o.engine, "a") == Ids{"1", "2"});
    CHECK(note_ids(*o.engine, "a", "2") == Ids{"2"});
    CHECK(note_ids(*o.engine, "a", "3").empty());
    CHECK(note_ids(*o.engine, "b") == Ids{"1"});
    CHECK(note_ids(*o.engine, "c").empty());
    // What operations wrote, wherever it is kept: the log's on disk, and
    // not what rules alone derive.
    auto written = [&](const std::string& rel, const std::vector<std::string>& first) {
      size_t n = 0;
      o.engine->scan_written(rel, first, [&](std::string_view) { return ++n, true; });
      return n;
    };
    CHECK(written("note", {"a"}) == 2);
    CHECK(written("topic", {}) == 1);
    CHECK(o.engine->has_tuple("known", {"a"}));
    CHECK(written("known", {}) == 0);
    // A topic that is another's prefix reads its own notes alone.
    REQUIRE(o.engine->apply({note("ab", "9")}).ok);
    CHECK(note_ids(*o.engine, "a") == Ids{"1", "2"});
    REQUIRE(o.engine->apply({unnote("a", "1")}).ok);
    CHECK(note_ids(*o.engine, "a") == Ids{"2"});
  }
  // A reopen does not load them, and reads them where they are.
  OpenedStore o = open_data_dir(dir.path, program);
  CHECK_FALSE(holds_note(*o.engine, "a", "2"));
  CHECK(o.engine->has_tuple("topic", {"a"}));
  CHECK(note_ids(*o.engine, "a") == Ids{"2"});
  CHECK(note_ids(*o.engine, "ab") == Ids{"9"});
  REQUIRE(o.engine->apply({unnote("a", "2"), note("b", "0")}).ok);
  CHECK(note_ids(*o.engine, "a").empty());
  CHECK(note_ids(*o.engine, "b") == Ids{"0", "1"});
}

TEST_CASE("a group commit's log tuples are read before they are written, and a removal hides one at once") {
  TempDir dir;
  {
    OpenedStore o = open_group_committed(dir);
    std::string err;
    REQUIRE(o.engine->apply({note("a", "1")}).ok);
    CHECK(o.store->has_pending());
    CHECK(note_ids(*o.engine, "a") == Ids{"1"});  // collected
    engine::DurableStore::Sealed first = o.store->seal();
    REQUIRE(first);
    CHECK(note_ids(*o.engine, "a") == Ids{"1"});  // sealed, being written
    REQUIRE(o.engine->apply({note("a", "2")}).ok);
    CHECK(note_ids(*o.engine, "a") == Ids{"1", "2"});
    REQUIRE(o.store->write(*first, &err));
    o.store->written();
    first.reset();
    CHECK(note_ids(*o.engine, "a") == Ids{"1", "2"});  // one on disk, one collected
    // Removed while the disk still has it: gone for readers now.
    REQUIRE(o.engine->apply({unnote("a", "1")}).ok);
    CHECK(note_ids(*o.engine, "a") == Ids{"2"});
    // Added again after a removal in the same batch: there again.
    REQUIRE(o.engine->apply({note("a", "1")}).ok);
    CHECK(note_ids(*o.engine, "a") == Ids{"1", "2"});
    REQUIRE(o.engine->apply({unnote("a", "1")}).ok);
    REQUIRE(o.store->flush(&err));
    CHECK_FALSE(o.store->has_pending());
    CHECK(note_ids(*o.engine, "a") == Ids{"2"});
    CHECK_FALSE(holds_note(*o.engine, "a", "2"));
  }
  OpenedStore o = open_data_dir(dir.path, prelude_program(kLogRules));
  CHECK(note_ids(*o.engine, "a") == Ids{"2"});
}

TEST_CASE("log tuples committed while a group commit writes on another thread are read, each once, in order") {
  // As the server's GroupCommit does: the engine's thread commits, seals,
  // reads and is told each write ended (written()); the writer's thread
  // writes the sealed batches meanwhile.
  TempDir dir;
  OpenedStore o = open_group_committed(dir);
  std::mutex mu;
  std::vector<engine::DurableStore::Sealed> to_write, finished;
  bool done = false;
  std::atomic<bool> failed{false};
  std::thread writer([&] {
    std::string err;
    for (int spins = 0; spins < 10000000; ++spins) {
      engine::DurableStore::Sealed b;
      {
        std::lock_guard lock(mu);
        if (!to_write.empty()) {
          b = std::move(to_write.front());
          to_write.erase(to_write.begin());
        } else if (done) {
          return;
        }
      }
      if (!b) {
        std::this_thread::yield();
        continue;
      }
      if (!o.store->write(*b, &err)) failed = true;
      std::lock_guard lock(mu);
      finished.push_back(std::move(b));
    }
  });
  auto take_finished = [&] {
    std::vector<engine::DurableStore::Sealed> ended;
    {
      std::lock_guard lock(mu);
      ended.swap(finished);
    }
    for (size_t k = 0; k < ended.size(); ++k) o.store->written();
  };
  Ids want;
  for (int i = 0; i < 200; ++i) {
    char id[8];
    std::snprintf(id, sizeof id, "%04d", i);
    want.push_back(id);
    REQUIRE(o.engine->apply({note("a", id)}).ok);
    if (i % 3 == 0)
      if (auto b = o.store->seal()) {
        std::lock_guard lock(mu);
        to_write.push_back(std::move(b));
      }
    take_finished();
    if (i % 10 == 9) CHECK(note_ids(*o.engine, "a") == want);
  }
  if (auto b = o.store->seal()) {
    std::lock_guard lock(mu);
    to_write.push_back(std::move(b));
  }
  {
    std::lock_guard lock(mu);
    done = true;
  }
  writer.join();
  take_finished();
  CHECK_FALSE(failed);
  CHECK_FALSE(o.store->has_pending());
  CHECK(note_ids(*o.engine, "a") == want);
}

TEST_CASE("a transaction that fails, or a dry run, writes none of its log tuples") {
  auto program = prelude_program(kLogRules);
  TempDir dir;
  {
    OpenedStore o = open_data_dir(dir.path, program);
    REQUIRE(o.engine->apply({note("a", "1")}).ok);
    engine::Result r = o.engine->apply({note("a", "2"), unnote("a", "1"), Op::create(log_account("bad"))});
    REQUIRE_FALSE(r.ok);
    CHECK(note_ids(*o.engine, "a") == Ids{"1"});
    REQUIRE(o.engine->apply({note("a", "3"), unnote("a", "1")}, true).ok);
    CHECK(note_ids(*o.engine, "a") == Ids{"1"});
    CHECK_FALSE(holds_note(*o.engine, "a", "3"));
  }
  OpenedStore o = open_data_dir(dir.path, program);
  CHECK(note_ids(*o.engine, "a") == Ids{"1"});
}

TEST_CASE("without a data directory a log relation is held as any relation") {
  engine::Engine e(prelude_program(kLogRules));
  REQUIRE(e.apply({note("a", "2"), note("a", "1"), note("ab", "1")}).ok);
  CHECK(holds_note(e, "a", "1"));
  CHECK(note_ids(e, "a") == Ids{"1", "2"});
  CHECK(note_ids(e, "a", "2") == Ids{"2"});
  REQUIRE(e.apply({unnote("a", "2")}).ok);
  CHECK(note_ids(e, "a") == Ids{"1"});
  CHECK_THROWS_AS(e.scan_log("topic", {"a"}, "", [](std::string_view) { return true; }), std::invalid_argument);
}

TEST_CASE("no rule reads or derives a log relation, and a log is one everywhere it is declared") {
  auto error_of = [](const std::string& rules) {
    auto c = compile(std::string(kPrelude) + rules);
    return c->errors();
  };
  CHECK(error_of("relation note(a) log\nrelation seen(a)\nrule r\n  for note(x)\n  derive seen(x)\n")
            .find("relation `note` is a log: the engine does not hold its tuples, so no rule reads them") != std::string::npos);
  CHECK(error_of("relation note(a) log\nrule r\n  for a: Account\n  derive note(a.name)\n")
            .find("relation `note` is a log: the engine does not hold its tuples, so no rule derives them") != std::string::npos);
  CHECK(error_of("relation note(a) log\nrelation seen(a)\nrule r\n  for a: Account\n  not for note(a.name)\n  derive seen(a.name)\n")
            .find("so no rule reads them") != std::string::npos);
  CHECK(error_of("relation note(a) log\nrelation seen(a)\nrule r\n  for a: Account\n  let n = count { for note(_x) }\n  where n > 0\n"
                 "  derive seen(a.name)\n")
            .find("so no rule reads them") != std::string::npos);
  CHECK(error_of("relation seen(a)\nrelation note(a) log :- seen(a).\n").find("relation `note` is a log: the engine does not hold its tuples, so no rule derives them") !=
        std::string::npos);
  // stdlib.fga declares fga_change a log.
  CHECK(error_of("import stdlib.fga\nrelation fga_change(store, id, operation, object, rel, user, at)\n")
            .find("error: relation `fga_change` is a log where it is declared elsewhere: declare it `log` here too") != std::string::npos);
  // A rule set cannot bring a log of its own: the engine knows its logs
  // from its program.
  engine::Engine e(prelude_program(kLogRules));
  dsl::DiagnosticSink diags;
  auto p = dsl::load_program_from_texts({{"set.rules", "module set\nrelation journal(a) log\n"}}, diags);
  std::shared_ptr<const dsl::CompiledProgram> set = dsl::compile(std::move(p), diags);
  REQUIRE_FALSE(diags.has_errors());
  engine::Result r = e.add_rule_set("set", set);
  CHECK_FALSE(r.ok);
  CHECK(r.message == "relation journal is a log: only the engine's program declares one");
}

TEST_CASE("an OpenFGA store's deletion takes its changelog from the data directory, another store's stays") {
  dsl::DiagnosticSink diags;
  std::shared_ptr<const dsl::CompiledProgram> program =
      dsl::compile(dsl::load_program_from_texts({{"base.rules", "module base\nimport stdlib.fga\n"}}, diags), diags);
  REQUIRE_FALSE(diags.has_errors());
  TempDir dir;
  auto changes = [](const engine::Engine& e, const std::string& store) {
    size_t n = 0;
    e.scan_log("fga_change", {store}, "", [&](std::string_view) { return ++n, true; });
    return n;
  };
  auto change = [](const std::string& store, const std::string& id) {
    return Op::add_tuple("fga_change", {store, id, "TUPLE_OPERATION_WRITE", "doc:1", "viewer", "user:anne", "t"});
  };
  {
    OpenedStore o = open_data_dir(dir.path, program);
    server::FgaStore fga(*o.engine);
    for (const char* s : {"S1", "S2"}) REQUIRE(o.engine->apply(fga.create_store({s, s, "t", "alice"})).ok);
    REQUIRE(o.engine->apply({change("S1", "01"), change("S1", "02"), change("S2", "01")}).ok);
  }
  {
    OpenedStore o = open_data_dir(dir.path, program);
    server::FgaStore fga(*o.engine);
    o.store->set_deferred(true);  // one change still to write when the store goes
    REQUIRE(o.engine->apply({change("S1", "03")}).ok);
    CHECK(changes(*o.engine, "S1") == 3);
    REQUIRE(o.engine->apply(fga.delete_store("S1")).ok);
    CHECK(changes(*o.engine, "S1") == 0);
    CHECK(changes(*o.engine, "S2") == 1);
    std::string err;
    REQUIRE(o.store->flush(&err));
  }
  OpenedStore again = open_data_dir(dir.path, program);
  CHECK(changes(*again.engine, "S1") == 0);
  CHECK(changes(*again.engine, "S2") == 1);
}

}  // namespace
}  // namespace pmesh::test
