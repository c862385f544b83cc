// The Go text/template subset of the api-syncagent's naming rules: output
// as Go writes it for what is supported, a clear refusal for the rest.
#include <doctest/doctest.h>

#include "stdlib/go_template.h"

namespace pmesh::test {
namespace {

using Json = nlohmann::json;

const Json kData = {{"ClusterName", "34hg2j4gh24jdfgf"},
                    {"ClusterPath", "root:orgs:acme"},
                    {"Object", {{"metadata", {{"name", "db1"}, {"namespace", "default"}}}, {"spec", {{"size", 3}}}}}};

TEST_CASE("fields, pipes and the agent's functions render as Go renders them") {
  CHECK(render_go_template("{{ .ClusterName }}", kData) == "34hg2j4gh24jdfgf");
  CHECK(render_go_template("{{ .Object.metadata.namespace | sha3short }}-{{ .Object.metadata.name | sha3short }}", kData) ==
        "2747cabbb481a433679f-ded5db63d65be7fd7252");
  CHECK(render_go_template("{{ .Object.metadata.name | sha3short 6 }}", kData) == "ded5db");
  CHECK(render_go_template("{{ sha3short 4 .Object.metadata.name }}", kData) == "ded5");
  CHECK(render_go_template("{{ .Object.metadata.name | shortHash }}", kData) == "150253099aafc295d8dc");
  CHECK(render_go_template("{{ .ClusterPath | replace \":\" \"-\" | upper }}", kData) == "ROOT-ORGS-ACME");
  CHECK(render_go_template("{{ .ClusterName | trunc 4 }}/{{ .ClusterName | trunc -4 }}", kData) == "34hg/dfgf");
  CHECK(render_go_template("{{ .Object.metadata.name | trimSuffix \"1\" | trimPrefix \"d\" }}", kData) == "b");
  CHECK(render_go_template("{{ .Object.metadata.labels | default \"none\" }}", kData) == "none");
  CHECK(render_go_template("{{ .Object.spec.size }}", kData) == "3");
  CHECK(render_go_template("  a {{- \" b \" -}}  c  ", kData) == "a b c");
  CHECK(render_go_template("x{{/* a comment */}}y", kData) == "xy");
  // A missing field prints as Go's "<no value>"; passed to a function it is an error.
  CHECK(render_go_template("{{ .Object.metadata.uid }}", kData) == "<no value>");
  CHECK_THROWS_AS(render_go_template("{{ .Object.metadata.uid | sha3short }}", kData), TemplateError);
}

TEST_CASE("what the subset does not do is refused, not guessed at") {
  for (const char* tpl : {"{{ .ClusterName | nosuch }}", "{{ $x := 1 }}", "{{ if .ClusterName }}x{{ end }}", "{{ .ClusterName",
                          "{{ \"open }}", "{{ .ClusterName | .ClusterPath }}", "{{ }}", "{{ sha3short 0 .ClusterName }}",
                          "{{ trunc 1 }}", "{{ .ClusterName 1 }}"})
    CHECK_THROWS_AS_MESSAGE(render_go_template(tpl, kData), TemplateError, tpl);
  CHECK_THROWS_AS(render_go_template(std::string(5000, 'x'), kData), TemplateError);
  // Chained replaces would grow a value exponentially: bounded.
  std::string grow = "{{ .ClusterPath";
  for (int i = 0; i < 20; ++i) grow += " | replace \"o\" \"oooo\"";
  CHECK_THROWS_AS(render_go_template(grow + " }}", kData), TemplateError);
}

}  // namespace
}  // namespace pmesh::test
