// The stdlib's and the policies' files, compiled into the binary so that
// pmesh runs from any folder. Generated at build time by cmake/embed.cmake.
//
// Thread safety: immutable.
#pragma once

#include <vector>

namespace pmesh {

struct EmbeddedFile {
  const char* path;  // e.g. "stdlib/kinds/kcp.rules"
  const char* text;
};

const std::vector<EmbeddedFile>& embedded_stdlib();
// policies/: Platform Mesh's rules and bootstrap objects (library pmesh_policies).
const std::vector<EmbeddedFile>& embedded_policies();

}  // namespace pmesh
