// kube JSONPath, as printer columns use it: a tenant's APIResourceSchema
// names the paths, so any text must parse or be refused, and evaluate.
#include <cstddef>
#include <cstdint>
#include <string>

#include "stdlib/kube_jsonpath.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string error;
  static const nlohmann::json object = nlohmann::json::parse(R"({
    "metadata": {"name": "a", "labels": {"region": "eu"}},
    "spec": {"n": 3, "list": [1, [2, [3]], {"x": "y"}], "m": {"k": "v"}},
    "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "X", "n": 2.5}]}
  })");
  if (auto p = pmesh::KubeJsonPath::parse(text, &error)) {
    (void)p->print(object);
    (void)p->find(object);
  }
  return 0;
}
