// Label and field selectors: parsed or refused, and matched against objects.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "server/api/selectors.h"

using namespace pmesh::server;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string error;
  static const nlohmann::json objects[] = {
      {{"metadata", {{"name", "a"}, {"namespace", "default"}, {"labels", {{"app", "db"}, {"n", "12"}}}}},
       {"status", {{"phase", "Active"}}}},
      {{"metadata", {{"name", "b"}}}, {"status", "not an object"}, {"type", 3}},
      nlohmann::json::object(),
  };
  // The default labels, and a kind's own, some of them paths through
  // what may not be an object.
  static const std::vector<std::string> labels[] = {{}, {"status.phase", "metadata.name", "type", "status.phase.x"}};
  if (auto s = Selector::parse_labels(text, &error))
    for (const auto& o : objects) (void)s->matches(o);
  for (const auto& l : labels)
    if (auto s = Selector::parse_fields(text, l, &error))
      for (const auto& o : objects) (void)s->matches(o);
  return 0;
}
