// The part of Go's text/template that the api-syncagent's naming rules use
// (a PublishedResource's `spec.naming`), evaluated as Go evaluates it, with
// the agent's functions:
//
//   text {{ pipeline }} text, {{- and -}} trimming the whitespace beside them
//   pipeline   command ( "|" command )*   the value piped in is the command's last argument
//   command    .Field.Chain | function arg*
//   arg        "string" | integer | .Field.Chain
//   functions  sha3sum, sha3short [n], shortHash, lower, upper, trim,
//              trunc n, trimPrefix p, trimSuffix s, replace old new,
//              default d (sprig's; the agent's function map is sprig's)
//
// An object with a string member `String` stands for a Go value with a
// String method (a Stringer, as the gjson.Result a mutation template sees):
// it prints as that member, and `.Value.String` reads it.
//
// A field missing from the data prints as Go prints it, "<no value>"; a
// function given one is an error, as Go's call of a string parameter
// with nil is. Anything else (other functions, variables, control
// structures) is refused with a message rather than guessed at. The
// result is trimmed of surrounding whitespace, as the agent trims it; no
// step may make more than 4 KiB (the template is a tenant's text).
//
// Thread safety: pure.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace pmesh {

struct TemplateError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// How an action's value is written. kText as text/template prints it;
// kHtml as html/template does in text context, which the api-syncagent's
// mutation templates use: HTML-escaped (& ' < > "), and a missing value
// printing nothing rather than "<no value>" (golang/go#54053).
enum class TemplateOutput { kText, kHtml };

// `tpl` rendered with `data` (a JSON object). Throws TemplateError.
std::string render_go_template(const std::string& tpl, const nlohmann::json& data,
                               TemplateOutput output = TemplateOutput::kText);

}  // namespace pmesh
