// Request bodies, decoded once into JSON.
//
// JSON: as Go's decoder reads it, bytes that are not UTF-8 inside strings
// become U+FFFD (what kube-apiserver stores for them). YAML: one document;
// text that is not UTF-8, nesting deeper than the limit and excessive
// aliasing are refused, as go-yaml refuses them. Protobuf: the built-in kinds
// kubectl sends that way (protobuf_body.h). Every failure is a 400.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>

#include "server/api/status.h"

namespace pmesh::server {

enum class BodyFormat { kJson, kYaml, kProtobuf, kUnsupported };

// The format of a Content-Type ("application/json; charset=utf-8"); an
// empty one is JSON, as Go clients send it.
BodyFormat body_format(const std::string& content_type);
// The media type without parameters, lower case.
std::string media_type(const std::string& content_type);

constexpr size_t kMaxBodyDepth = 100;

std::optional<Json> decode_body(const std::string& body, BodyFormat format, ApiError* error);

// JSON text to a value, never throwing: null and `error` set for what does
// not parse (nlohmann's parser throws on number overflow even when asked
// not to).
std::optional<Json> parse_json(std::string_view text, std::string* error = nullptr);

// Replaces what is not UTF-8 in every string and key of `v` by U+FFFD.
void coerce_strings(Json& v);

}  // namespace pmesh::server
