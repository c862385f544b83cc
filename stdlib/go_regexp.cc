#include "stdlib/go_regexp.h"

#include <re2/re2.h>

#include <cctype>
#include <map>
#include <string>
#include <vector>

#include "stdlib/text.h"

namespace pmesh {
namespace {

// Appends `tpl` with its `$` references to `groups` expanded, as Go's
// Regexp.Expand: a name is the longest run of letters, digits and `_`
// (or what `${...}` encloses); a number is a group's index.
void expand(std::string_view tpl, const std::vector<re2::StringPiece>& groups,
            const std::map<std::string, int>& names, std::string& out) {
  for (size_t i = 0; i < tpl.size();) {
    if (tpl[i] != '$' || i + 1 == tpl.size()) {
      out += tpl[i++];
      continue;
    }
    if (tpl[i + 1] == '$') {
      out += '$';
      i += 2;
      continue;
    }
    std::string_view name;
    size_t next = i + 1;
    if (tpl[next] == '{') {
      size_t close = tpl.find('}', next + 1);
      if (close == std::string_view::npos) {
        out += tpl[i++];  // malformed: the `$` is text
        continue;
      }
      name = tpl.substr(next + 1, close - next - 1);
      next = close + 1;
    } else {
      size_t end = next;
      while (end < tpl.size() && (std::isalnum(static_cast<unsigned char>(tpl[end])) || tpl[end] == '_')) ++end;
      name = tpl.substr(next, end - next);
      next = end;
    }
    bool word = !name.empty();
    for (char c : name) word = word && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!word) {
      out += tpl[i++];
      continue;
    }
    int index = -1;
    bool number = true;
    for (char c : name) number = number && std::isdigit(static_cast<unsigned char>(c));
    if (number) {
      if (name.size() < 10) index = std::stoi(std::string(name));
    } else if (auto it = names.find(std::string(name)); it != names.end()) {
      index = it->second;
    }
    if (index >= 0 && static_cast<size_t>(index) < groups.size() && groups[static_cast<size_t>(index)].data())
      out.append(groups[static_cast<size_t>(index)].data(), groups[static_cast<size_t>(index)].size());
    i = next;
  }
}

size_t rune_length(std::string_view s, size_t i) {
  size_t n = utf8_sequence_length(s, i);
  return n ? n : 1;
}

}  // namespace

std::string go_regexp_replace_all(std::string_view s, const std::string& pattern, std::string_view replacement) {
  RE2::Options options;
  options.set_log_errors(false);
  RE2 re(pattern, options);
  if (!re.ok()) throw GoRegexpError("invalid pattern \"" + pattern + "\": " + re.error());
  std::vector<re2::StringPiece> groups(static_cast<size_t>(re.NumberOfCapturingGroups()) + 1);
  std::string out;
  size_t search = 0, copied = 0;
  long last_end = -1;
  re2::StringPiece text(s.data(), s.size());
  while (search <= s.size() &&
         re.Match(text, search, s.size(), RE2::UNANCHORED, groups.data(), static_cast<int>(groups.size()))) {
    size_t start = static_cast<size_t>(groups[0].data() - s.data()), end = start + groups[0].size();
    if (start == end && static_cast<long>(start) == last_end) {
      // An empty match right after the previous match is not one.
      if (start >= s.size()) break;
      search = start + rune_length(s, start);
      continue;
    }
    out.append(s.substr(copied, start - copied));
    expand(replacement, groups, re.NamedCapturingGroups(), out);
    if (out.size() > kMaxRegexpResultBytes) throw GoRegexpError("the result is longer than " + std::to_string(kMaxRegexpResultBytes) + " bytes");
    copied = end;
    last_end = static_cast<long>(end);
    if (start == end) {
      if (start >= s.size()) break;
      search = start + rune_length(s, start);
    } else {
      search = end;
    }
  }
  out.append(s.substr(copied));
  if (out.size() > kMaxRegexpResultBytes) throw GoRegexpError("the result is longer than " + std::to_string(kMaxRegexpResultBytes) + " bytes");
  return out;
}

}  // namespace pmesh
