// Structural schemas on what users write: pruning, defaults, and validation
// with the field paths and messages kube-apiserver gives a custom resource
// (apiextensions-apiserver's kubeOpenAPIResultToFieldErrors over go-openapi).
#include <doctest/doctest.h>

#include <memory>
#include <new>

#include "dsl/kind_schema.h"
#include "engine/schema_formats.h"
#include "engine/schema_validation.h"

namespace pmesh::engine {
namespace {

using nlohmann::json;

const json kSchema = json::parse(R"({
  "type": "object",
  "required": ["spec"],
  "properties": {
    "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}}},
    "spec": {
      "type": "object",
      "required": ["name"],
      "properties": {
        "name": {"type": "string", "minLength": 2, "maxLength": 4, "pattern": "^[a-z]+$"},
        "colour": {"type": "string", "enum": ["red", "blue"]},
        "size": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3},
        "ratio": {"type": "number", "exclusiveMaximum": true, "maximum": 1, "multipleOf": 0.25},
        "port": {"x-kubernetes-int-or-string": true},
        "when": {"type": "string", "format": "date-time"},
        "id": {"type": "string", "format": "uuid"},
        "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
        "rules": {"type": "array", "minItems": 1, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                  "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"},
                            "on": {"type": "boolean", "default": true}}}},
        "labels": {"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"known": {"type": "integer"}}},
        "maybe": {"type": "string", "nullable": true},
        "embedded": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {"spec": {"type": "object"}}}
      }
    },
    "status": {"type": "object", "properties": {"phase": {"type": "string", "enum": ["Ready"]}}}
  }
})");

std::vector<std::string> messages(const FieldErrors& errs) {
  std::vector<std::string> out;
  for (const auto& e : errs) out.push_back(e.message());
  std::sort(out.begin(), out.end());
  return out;
}

TEST_CASE("schemas: unknown fields are pruned and named, unless preserved") {
  json o = json::parse(R"({"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "w", "odd": 1}, "junk": 1,
    "spec": {"name": "ab", "extra": {"a": 1}, "maybe": null, "size": null,
             "free": {"anything": [1], "known": 2},
             "rules": [{"name": "r", "stray": true}],
             "labels": {"a": "b"},
             "embedded": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "spec": {}, "other": 1}}})");
  auto dropped = prune_unknown_fields(kSchema, o);
  std::sort(dropped.begin(), dropped.end());
  CHECK(dropped == std::vector<std::string>{"junk", "spec.embedded.other", "spec.extra", "spec.rules[0].stray"});
  CHECK(o["metadata"].contains("odd"));  // metadata is ObjectMeta's to decode
  CHECK(o["spec"]["free"]["anything"] == json::array({1}));
  CHECK(o["spec"].contains("maybe"));      // nullable: kept
  CHECK_FALSE(o["spec"].contains("size"));  // a null that is not nullable: pruned
  CHECK(o["spec"]["embedded"]["kind"] == "ConfigMap");
  CHECK(o["spec"]["labels"]["a"] == "b");
}

TEST_CASE("schemas: defaults fill what is missing, in lists too") {
  json o = json::parse(R"({"spec": {"name": "ab", "rules": [{"name": "r"}, {"name": "s", "on": false}]}})");
  apply_schema_defaults(kSchema, o);
  CHECK(o["spec"]["size"] == 3);
  CHECK(o["spec"]["rules"][0]["on"] == true);
  CHECK(o["spec"]["rules"][1]["on"] == false);
}

TEST_CASE("schemas: the schema cut down to its defaults defaults as the whole schema does") {
  // Defaults under properties, items, additionalProperties (with properties
  // beside it: which keys are properties decides where its defaults apply),
  // a default object whose fields have defaults of their own.
  const json schema = json::parse(R"({"type": "object", "properties": {
    "metadata": {"type": "object"},
    "spec": {"type": "object", "default": {}, "properties": {
      "plain": {"type": "string", "minLength": 1},
      "mode": {"type": "string", "default": "auto"},
      "rules": {"type": "array", "items": {"type": "object", "properties": {
        "name": {"type": "string"}, "on": {"type": "boolean", "default": true}}}},
      "ports": {"type": "object",
        "properties": {"admin": {"type": "object", "properties": {"n": {"type": "integer"}}}},
        "additionalProperties": {"type": "object", "properties": {"n": {"type": "integer", "default": 80}}}}}},
    "status": {"type": "object", "properties": {"phase": {"type": "string"}}}}})");
  auto cut = dsl::schema_defaults(schema);
  REQUIRE(cut);
  CHECK_FALSE(cut->dump().find("minLength") != std::string::npos);
  CHECK_FALSE((*cut)["properties"].contains("status"));
  for (const char* text : {R"({})", R"({"spec": {"rules": [{"name": "a"}, {"on": false}]}})",
                           R"({"spec": {"mode": "manual", "ports": {"admin": {}, "web": {}, "db": {"n": 5}}}})",
                           R"({"spec": null, "status": {"phase": "x"}})", R"({"spec": {"rules": "oops"}})"}) {
    json whole = json::parse(text), by_cut = whole;
    apply_schema_defaults(schema, whole);
    apply_schema_defaults(*cut, by_cut);
    CHECK(whole == by_cut);
  }
  json o = json::parse(R"({"spec": {"ports": {"admin": {}, "web": {}}}})");
  apply_schema_defaults(*cut, o);
  CHECK(o["spec"]["mode"] == "auto");
  CHECK(o["spec"]["ports"]["web"]["n"] == 80);
  CHECK_FALSE(o["spec"]["ports"]["admin"].contains("n"));
  CHECK(dsl::schema_defaults(json::parse(R"({"type": "object", "properties": {"a": {"type": "string"}}})")) == nullptr);
}

TEST_CASE("schemas: kube's messages for each kind of problem") {
  json o = json::parse(R"({"metadata": {"name": "toolong"}, "spec": {
    "name": "A", "colour": "green", "size": 11, "ratio": 1, "port": 1.5, "when": "yesterday", "id": "nope",
    "tags": ["a", "a", "b"], "rules": [{"name": "r"}, {"name": "r"}, {}], "labels": {"a": "1", "b": "2"},
    "free": {"known": "two"}, "maybe": null}, "status": {"phase": "Gone"}})");
  CHECK(messages(validate_against_schema(kSchema, o)) ==
        std::vector<std::string>{
            "metadata.name: Too long: must have at most 5 bytes",
            "spec.colour: Unsupported value: \"green\": supported values: \"red\", \"blue\"",
            "spec.free.known: Invalid value: \"string\": spec.free.known in body must be of type integer: \"string\"",
            "spec.id: Invalid value: \"nope\": spec.id in body must be of type uuid: \"nope\"",
            "spec.labels: Too many: 2: must have at most 1 items",
            "spec.name: Invalid value: \"A\": spec.name in body should be at least 2 chars long",
            "spec.name: Invalid value: \"A\": spec.name in body should match '^[a-z]+$'",
            "spec.port: Invalid value: \"number\": spec.port in body must be of type integer,string: \"number\"",
            "spec.ratio: Invalid value: 1: spec.ratio in body should be less than 1",
            "spec.rules[1]: Duplicate value: {\"name\":\"r\"}",
            "spec.rules[2].name: Required value",
            "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10",
            "spec.tags: Too many: 3: must have at most 2 items",
            "spec.tags[1]: Duplicate value: \"a\"",
            "spec.when: Invalid value: \"yesterday\": spec.when in body must be of type date-time: \"yesterday\"",
            "status.phase: Unsupported value: \"Gone\": supported values: \"Ready\"",
        });
  // Only the sections asked for; what is required at the root.
  json p = json::parse(R"({"status": {"phase": "Gone"}})");
  CHECK(messages(validate_against_schema(kSchema, p, Sections::kAllButStatus)) == std::vector<std::string>{"spec: Required value"});
  CHECK(messages(validate_against_schema(kSchema, p, Sections::kStatus)).size() == 1);
  // Well-formed values pass, integral floats as integers (as go-openapi's isFloatInt).
  json ok = json::parse(R"({"spec": {"name": "ab", "size": 4.0, "ratio": 0.5, "port": "http", "when": "2026-01-02T03:04:05Z",
    "id": "123e4567-e89b-12d3-a456-426614174000", "rules": [{"name": "r"}]}})");
  CHECK(validate_against_schema(kSchema, ok).empty());
  // An embedded resource names its apiVersion and kind.
  json emb = json::parse(R"({"spec": {"name": "ab", "embedded": {"metadata": {"name": "x"}, "spec": {}}}})");
  CHECK(messages(validate_against_schema(kSchema, emb)) ==
        std::vector<std::string>{"spec.embedded.apiVersion: Required value: must not be empty",
                                 "spec.embedded.kind: Required value: must not be empty"});
}

TEST_CASE("schemas: a kind's shared schema is read once per thread and gives the same answers: another schema, its own") {
  json o = json::parse(R"({"metadata": {"name": "toolong"}, "spec": {"name": "A", "colour": "green", "tags": ["a", "a"]}})");
  auto shared = std::make_shared<const json>(kSchema);
  auto expected = messages(validate_against_schema(kSchema, o));
  CHECK(expected.size() == 5);
  CHECK(messages(validate_against_schema(shared, o)) == expected);
  CHECK(messages(validate_against_schema(shared, o)) == expected);  // from the thread's cache
  CHECK(messages(validate_changes_against_schema(shared, json(), o)) == expected);
  // A schema that goes and another made at the same address is read anew.
  alignas(json) static unsigned char place[sizeof(json)];
  auto at_place = [&](const json& value) {
    return std::shared_ptr<const json>(new (place) json(value), [](const json* j) { j->~json(); });
  };
  auto first = at_place(kSchema);
  CHECK(messages(validate_against_schema(first, o)) == expected);
  first.reset();
  auto second = at_place(json::parse(R"({"type": "object", "properties": {"spec": {"type": "string"}}})"));
  CHECK(messages(validate_against_schema(second, o)) ==
        std::vector<std::string>{"spec: Invalid value: \"object\": spec in body must be of type string: \"object\""});
}

TEST_CASE("schemas: a change is checked in the sections it changes, and in every section an object made anew has") {
  json before = json::parse(R"({"spec": {"name": "A"}, "status": {"phase": "Ready"}})");  // spec as it was (invalid)
  json status_changed = json::parse(R"({"spec": {"name": "A"}, "status": {"phase": "Gone"}})");
  CHECK(messages(validate_changes_against_schema(kSchema, before, status_changed)) ==
        std::vector<std::string>{"status.phase: Unsupported value: \"Gone\": supported values: \"Ready\""});
  json spec_changed = json::parse(R"({"spec": {"name": "B"}, "status": {"phase": "Ready"}})");
  CHECK(messages(validate_changes_against_schema(kSchema, before, spec_changed)).size() == 2);  // length and pattern
  // A required section that went is a change too.
  json spec_gone = json::parse(R"({"status": {"phase": "Ready"}})");
  CHECK(messages(validate_changes_against_schema(kSchema, before, spec_gone)) == std::vector<std::string>{"spec: Required value"});
  // Nothing before: all of it.
  CHECK(messages(validate_changes_against_schema(kSchema, json(), status_changed)).size() == 3);
  CHECK(validate_changes_against_schema(kSchema, before, before).empty());
}

TEST_CASE("schemas: a hostile pattern is matched in linear time, and one that does not compile refuses every value") {
  json s = json::parse(R"({"type": "object", "properties": {"spec": {"type": "object", "properties": {
    "a": {"type": "string", "pattern": "^(a+)+$"}, "b": {"type": "string", "pattern": "(unclosed"}}}}})");
  json o = {{"spec", {{"a", std::string(100000, 'a') + "!"}, {"b", "x"}}}};
  auto errs = validate_against_schema(s, o);
  REQUIRE(errs.size() == 2);
  CHECK(errs[0].field == "spec.a");
  CHECK(errs[1].field == "spec.b");
}

TEST_CASE("schemas: CEL rules are found wherever they are, so they are refused rather than skipped") {
  CHECK(dsl::unsupported_schema_features(kSchema).empty());
  json s = json::parse(R"({"type": "object", "properties": {"spec": {"type": "object", "properties": {
    "a": {"type": "array", "items": {"type": "object", "x-kubernetes-validations": [{"rule": "self.x > 0"}]}}}}}})");
  CHECK(dsl::unsupported_schema_features(s) == std::vector<std::string>{"x-kubernetes-validations (CEL) at spec.a[*]"});
  json root = {{"type", "object"}, {"x-kubernetes-validations", json::array({{{"rule", "true"}}})}};
  CHECK(dsl::unsupported_schema_features(root) == std::vector<std::string>{"x-kubernetes-validations (CEL) at the root"});
}

}  // namespace
}  // namespace pmesh::engine

TEST_CASE("schema formats: kube-openapi's strfmt registry") {
  using pmesh::engine::format_ok;
  struct Case {
    const char* format;
    const char* value;
    bool ok;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"uuid", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", true}, {"uuid", "6ba7b8109dad11d180b400c04fd430c8", false},
           {"uuid4", "f47ac10b-58cc-4372-a567-0e02b2c3d479", true}, {"uuid4", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", false},
           {"uuid3", "a3bb189e-8bf9-3888-9912-ace4e6543002", true}, {"uuid5", "886313e1-3b8a-5372-9b90-0c9aee199e5d", true},
           {"ipv4", "10.0.0.1", true}, {"ipv4", "10.0.0.256", false}, {"ipv4", "010.0.0.1", false},
           {"ipv6", "2001:db8::1", true}, {"ipv6", "::ffff:10.0.0.1", true}, {"ipv6", "10.0.0.1", false}, {"ipv6", "2001:db8:::1", false},
           {"cidr", "10.0.0.0/8", true}, {"cidr", "2001:db8::/32", true}, {"cidr", "10.0.0.0/33", false}, {"cidr", "10.0.0.0", false},
           {"mac", "00:00:5e:00:53:01", true}, {"mac", "00-00-5e-00-53-01", true}, {"mac", "0000.5e00.5301", true},
           {"mac", "00:00:5e:00:53", false}, {"hostname", "example.com", true}, {"hostname", "a-b.example.com", true},
           {"hostname", "-a.example.com", false}, {"hostname", "example..com", false},
           {"email", "alice@example.com", true}, {"email", "Alice <alice@example.com>", true}, {"email", "alice", false},
           {"email", "alice@", false}, {"uri", "https://example.com/a?b#c", true}, {"uri", "relative/path", true},
           {"uri", "1:2", false}, {"uri", "http://example.com/%zz", false}, {"duration", "1h30m", true}, {"duration", "3 days", true},
           {"duration", "2w", true}, {"duration", "soon", false}, {"bsonobjectid", "507f1f77bcf86cd799439011", true},
           {"bsonobjectid", "507f1f77bcf86cd79943901", false}, {"hexcolor", "#fff", true}, {"hexcolor", "#ffff", false},
           {"rgbcolor", "rgb(255, 0, 0)", true}, {"rgbcolor", "rgb(256,0,0)", false}, {"isbn10", "0-306-40615-2", true},
           {"isbn10", "0-306-40615-3", false}, {"isbn13", "978-0-306-40615-7", true}, {"isbn", "978-0-306-40615-7", true},
           {"creditcard", "4111 1111 1111 1111", true}, {"creditcard", "4111 1111 1111 1112", false},
           {"ssn", "123-45-6789", true}, {"ssn", "12-345-6789", false}, {"date", "2026-11-30", true}, {"date", "2026-13-01", false},
           {"date-time", "2026-11-30T10:00:00Z", true}, {"date-time", "2026-11-30 10:00", false}, {"byte", "aGVsbG8=", true},
           {"byte", "not base64!", false}, {"password", "anything", true}, {"no-such-format", "anything", true}}) {
    INFO(c.format, " ", c.value);
    CHECK(format_ok(c.format, c.value) == c.ok);
  }
}
