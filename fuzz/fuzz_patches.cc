// Patches: the input is an object and a patch (split at the first NUL);
// every patch type either applies or fails with a Status, and what comes out
// encodes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/registry/patch.h"

using namespace pmesh::server;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  size_t split = in.find('\0');
  if (split == std::string::npos) return 0;
  ApiError error;
  auto current = decode_body(in.substr(0, split), BodyFormat::kJson, &error);
  auto patch = decode_body(in.substr(split + 1), BodyFormat::kJson, &error);
  if (!current || !patch) return 0;
  for (PatchType t : {PatchType::kJson, PatchType::kMerge, PatchType::kStrategicMerge, PatchType::kApply}) {
    auto out = apply_patch(*current, *patch, t, &error);
    if (out) (void)out->dump();
    else if (error.code < 400 || error.code > 499) __builtin_trap();
  }
  return 0;
}
