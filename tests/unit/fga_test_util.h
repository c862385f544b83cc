// Helpers for the OpenFGA unit tests: random runs of writes and deletes
// over the tuples a model admits.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "fga/model.h"
#include "fga/query.h"

namespace pmesh::test {

struct FgaTuple {
  std::string object, relation, user;
};

// Every tuple `model` admits over these objects and users.
inline std::vector<FgaTuple> admitted_tuples(const fga::Model& model, const std::vector<std::string>& objects,
                                             const std::vector<std::string>& users) {
  std::vector<FgaTuple> out;
  for (const auto& o : objects) {
    fga::Subject os;
    fga::parse_subject(o, &os);
    for (const auto& r : model.find(os.type)->relations)
      for (const auto& u : users) {
        try {
          fga::validate_tuple(model, u, r.name, o);
          out.push_back({o, r.name, u});
        } catch (const fga::FgaError&) {
        }
      }
  }
  return out;
}

// Adds `t` to `present` if it is not there, else removes it; true if added.
inline bool toggle(std::vector<FgaTuple>* present, const FgaTuple& t) {
  auto it = std::find_if(present->begin(), present->end(),
                         [&](const FgaTuple& p) { return p.object == t.object && p.relation == t.relation && p.user == t.user; });
  if (it == present->end()) {
    present->push_back(t);
    return true;
  }
  present->erase(it);
  return false;
}

}  // namespace pmesh::test
