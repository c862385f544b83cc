#include "engine/failpoint.h"

#include <set>

namespace pmesh::failpoint {

namespace {
std::set<std::string, std::less<>>& armed() {
  static std::set<std::string, std::less<>> points;
  return points;
}
}  // namespace

void arm(std::string name) { armed().insert(std::move(name)); }
void disarm_all() { armed().clear(); }

bool hit(std::string_view name) {
  auto& points = armed();
  if (points.empty()) return false;
  auto it = points.find(name);
  if (it == points.end()) return false;
  points.erase(it);
  return true;
}

}  // namespace pmesh::failpoint
