// Log relations (dsl: `relation r(...) log`): tuples the engine writes with
// the transaction that adds them and does not keep. OpenFGA's changelog is
// one: a change per write, for as long as the store lives, which held in
// memory grew the engine with every write it ever took.
//
// Without persistence a log's tuples are held as any relation's. With it,
// a transaction holds them while it runs (so that its result and its hooks
// see them as any change), its commit writes them, and memory drops them
// once committed; readers scan the persistence, which answers with what it
// has written and what it holds to write (DurableStore's group commit).
// A removal is written even when memory does not hold the tuple, which
// with persistence it never does.
#include <stdexcept>

#include "engine/engine.h"

namespace pmesh::engine {

bool Engine::is_log(std::string_view relation) const {
  for (const auto& r : log_relations_)
    if (r == relation) return true;
  return false;
}

void Engine::scan_log(const std::string& relation, const std::vector<std::string>& first, std::string_view from,
                      Persistence::FactVisitor fn) const {
  if (!is_log(relation)) throw std::invalid_argument("relation " + relation + " is not a log");
  std::string prefix = tuple_fact(relation, first);
  prefix += kFactSep;
  std::string start = prefix;
  start += from;
  if (persistence_) {
    persistence_->scan_tuples(prefix, start, fn);
    return;
  }
  state_.scan_tuples_with(relation, first, [&](const FactKey& fact) {
    std::string_view f = fact.str();
    return f < std::string_view(start) || fn(f);
  });
}

void Engine::scan_written(const std::string& relation, const std::vector<std::string>& first,
                          Persistence::FactVisitor fn) const {
  if (is_log(relation)) return scan_log(relation, first, "", fn);  // only operations write a log
  state_.scan_tuples_with(relation, first, [&](const FactKey& fact) {
    const TupleEntry* t = state_.tuple(fact);
    return !(t && t->base()) || fn(fact.str());
  });
}

void Engine::note_logged(std::string_view relation, const FactKey& fact) {
  if (persistence_ && is_log(relation)) txn_.logged.push_back(fact);
}

void Engine::store_logged(State::Dirty& dirty) const {
  if (persistence_)
    for (const auto& f : txn_.logged) dirty.tuples.insert(f);
}

void Engine::drop_logged() {
  if (!persistence_ || txn_.logged.empty()) return;
  // Committed: nothing undoes it, and the commit has stored it.
  state_.set_bulk(true);
  for (const auto& f : txn_.logged) state_.put_tuple(f, TupleEntry{});
  state_.set_bulk(false);
}

}  // namespace pmesh::engine
