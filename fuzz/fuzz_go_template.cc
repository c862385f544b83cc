// A provider's naming templates (a PublishedResource's spec.naming): a
// rendered name or a TemplateError, never a crash, and never more than
// the bound of what a name may be made of.
#include <cstddef>
#include <cstdint>
#include <string>

#include "stdlib/go_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nlohmann::json values = {
      {"ClusterName", "34hg2j4gh24jdfgf"},
      {"ClusterPath", "root:orgs:acme"},
      {"Object", {{"metadata", {{"name", "db1"}, {"namespace", "default"}, {"labels", {{"a", "b"}}}}}, {"spec", {{"n", 3}}}}}};
  std::string tpl(reinterpret_cast<const char*>(data), size);
  try {
    std::string out = pmesh::render_go_template(tpl, values);
    // Nothing grows past the bound, whatever the template.
    if (out.size() > 4096) __builtin_trap();
  } catch (const pmesh::TemplateError&) {
  }
  return 0;
}
