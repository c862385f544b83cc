// Label and field selectors: parsed or refused, and matched against objects.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/api/selectors.h"

using namespace pmesh::server;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string error;
  static const nlohmann::json objects[] = {
      {{"metadata", {{"name", "a"}, {"namespace", "default"}, {"labels", {{"app", "db"}, {"n", "12"}}}}}},
      {{"metadata", {{"name", "b"}}}},
      nlohmann::json::object(),
  };
  if (auto s = Selector::parse_labels(text, &error))
    for (const auto& o : objects) (void)s->matches(o);
  if (auto s = Selector::parse_fields(text, &error))
    for (const auto& o : objects) (void)s->matches(o);
  return 0;
}
