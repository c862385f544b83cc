#include "server/api/table.h"

#include <map>

#include "server/api/body.h"
#include "stdlib/text.h"

namespace pmesh::server {

namespace {

// ObjectMeta's swagger descriptions, which kube gives the NAME and AGE columns.
const char* kNameDescription =
    "Name must be unique within a namespace. Is required when creating resources, although some resources may "
    "allow a client to request the generation of an appropriate name automatically. Name is primarily intended "
    "for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const char* kCreationTimestampDescription =
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It "
    "is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

// One clause of an Accept header: its media type and parameters.
struct MediaRange {
  std::string type;
  std::map<std::string, std::string> params;
};

std::vector<MediaRange> parse_accept(const std::string& accept) {
  std::vector<MediaRange> out;
  for (const auto& clause : split(accept, ',')) {
    auto parts = split(clause, ';');
    if (parts.empty()) continue;
    MediaRange r;
    r.type = media_type(parts[0]);
    for (size_t i = 1; i < parts.size(); ++i) {
      auto eq = parts[i].find('=');
      if (eq == std::string::npos) continue;
      r.params[trim(parts[i].substr(0, eq))] = trim(parts[i].substr(eq + 1));
    }
    if (r.params.count("q") && r.params["q"] == "0") continue;  // "not acceptable"
    if (!r.type.empty()) out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

std::optional<std::string> table_version(const std::string& accept, std::optional<ApiError>* error) {
  // The first clause the server can answer decides. Conversions other than
  // Table (PartialObjectMetadata) are answered with the object, as before;
  // a Table it cannot make (another version, YAML, protobuf) is skipped, and
  // a header of nothing else is a 406, as kube answers it.
  auto ranges = parse_accept(accept);
  for (const auto& r : ranges) {
    auto as = r.params.find("as");
    if (as == r.params.end() || as->second != "Table") return std::nullopt;
    bool json = r.type == "application/json" || r.type == "application/*" || r.type == "*/*";
    auto g = r.params.find("g");
    auto v = r.params.find("v");
    if (json && g != r.params.end() && g->second == "meta.k8s.io" && v != r.params.end() &&
        (v->second == "v1" || v->second == "v1beta1"))
      return v->second;
  }
  if (!ranges.empty())
    *error = ApiError::not_acceptable({"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"});
  return std::nullopt;
}

std::string human_duration(int64_t seconds) {
  // kube's k8s.io/apimachinery/pkg/util/duration.HumanDuration.
  auto s = [](int64_t n) { return std::to_string(n); };
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return s(seconds) + "s";
  int64_t minutes = seconds / 60;
  if (minutes < 10) {
    int64_t sec = seconds % 60;
    return sec == 0 ? s(minutes) + "m" : s(minutes) + "m" + s(sec) + "s";
  }
  if (minutes < 60 * 3) return s(minutes) + "m";
  int64_t hours = seconds / 3600;
  if (hours < 8) {
    int64_t m = minutes % 60;
    return m == 0 ? s(hours) + "h" : s(hours) + "h" + s(m) + "m";
  }
  if (hours < 48) return s(hours) + "h";
  if (hours < 24 * 8) {
    int64_t h = hours % 24;
    return h == 0 ? s(hours / 24) + "d" : s(hours / 24) + "d" + s(h) + "h";
  }
  if (hours < 24 * 365 * 2) return s(hours / 24) + "d";
  if (hours < 24 * 365 * 8) {
    int64_t dy = (hours / 24) % 365;
    return dy == 0 ? s(hours / 24 / 365) + "y" : s(hours / 24 / 365) + "y" + s(dy) + "d";
  }
  return s(hours / 24 / 365) + "y";
}

TablePrinter::TablePrinter(const dsl::KindDecl& kind, TableOptions options, std::time_t now)
    : options_(std::move(options)), now_(now) {
  std::vector<dsl::PrinterColumn> decls = kind.printer_columns;
  if (decls.empty()) {
    dsl::PrinterColumn age;
    age.name = "Age";
    age.type = "date";
    age.description = kCreationTimestampDescription;
    age.json_path = ".metadata.creationTimestamp";
    decls.push_back(age);
  }
  for (auto& d : decls) {
    Column c;
    std::string error;
    c.path = KubeJsonPath::parse(d.json_path, &error);
    if (!d.each.empty()) c.each = KubeJsonPath::parse(d.each, &error);
    c.decl = std::move(d);
    columns_.push_back(std::move(c));
  }
}

std::string TablePrinter::content_type() const {
  return "application/json;as=Table;v=" + options_.version + ";g=meta.k8s.io";
}

Json TablePrinter::definitions() const {
  Json defs = Json::array();
  defs.push_back({{"name", "Name"}, {"type", "string"}, {"format", "name"}, {"description", kNameDescription}, {"priority", 0}});
  for (const auto& c : columns_) {
    const auto& d = c.decl;
    // A column without a description: an age, as kube's own printers
    // describe it; else as apiextensions-apiserver's table convertor does.
    std::string description = d.description;
    if (description.empty())
      description = d.age && d.json_path == ".metadata.creationTimestamp"
                        ? kCreationTimestampDescription
                        : "Custom resource definition column (in JSONPath format): " + d.json_path;
    defs.push_back({{"name", d.name}, {"type", d.type}, {"format", d.format}, {"description", description}, {"priority", d.priority}});
  }
  return defs;
}

Json TablePrinter::age_since(const Json& value) const {
  auto t = value.is_string() ? parse_rfc3339(value.get_ref<const std::string&>()) : std::nullopt;
  if (!t) return "<unknown>";
  return human_duration(static_cast<int64_t>(now() - *t));
}

Json TablePrinter::cell(const Column& c, const Json& object) const {
  const auto& d = c.decl;
  if (!c.path) return nullptr;
  if (d.count) {
    int64_t n = 0;
    for (const auto& results : c.path->find(object))
      for (const Json* r : results)
        if (r->is_object() || r->is_array()) n += static_cast<int64_t>(r->size());
    return n;
  }
  if (d.join || !d.each.empty()) {
    std::string out;
    for (const auto& results : c.path->find(object))
      for (const Json* r : results) {
        std::optional<std::string> text = c.each ? c.each->print(*r) : print_json_value(*r);
        if (!text) continue;
        if (!out.empty()) out += ", ";
        out += *text;
      }
    return out;
  }
  if (!c.path->single_expression()) {
    auto text = c.path->print(object);
    return text ? Json(*text) : Json(nullptr);
  }
  auto found = c.path->find(object);
  if (found.empty() || found[0].empty()) return d.age ? Json("<unknown>") : Json(nullptr);
  const Json& v = *found[0][0];
  if (d.age) return age_since(v);
  if (d.type == "string") return print_json_value(v);
  if (d.type == "integer") {
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float()) return static_cast<int64_t>(v.get<double>());
    return nullptr;
  }
  if (d.type == "number") return v.is_number() ? Json(v.get<double>()) : Json(nullptr);
  if (d.type == "boolean") return v.is_boolean() ? v : Json(nullptr);
  if (d.type == "date") {
    if (!v.is_string()) return nullptr;
    auto t = parse_rfc3339(v.get_ref<const std::string&>());
    if (!t) return "<invalid>";
    return human_duration(static_cast<int64_t>(now() - *t));
  }
  return nullptr;
}

Json TablePrinter::row(const Json& object) const {
  Json cells = Json::array();
  const Json* md = object.contains("metadata") ? &object["metadata"] : nullptr;
  cells.push_back(md && md->contains("name") ? (*md)["name"] : Json(""));
  for (const auto& c : columns_) cells.push_back(cell(c, object));
  Json r = {{"cells", std::move(cells)}};
  if (options_.include_object == "Object") {
    r["object"] = object;
  } else if (options_.include_object == "None") {
    r["object"] = nullptr;
  } else {
    r["object"] = {{"apiVersion", "meta.k8s.io/" + options_.version},
                   {"kind", "PartialObjectMetadata"},
                   {"metadata", md ? *md : Json::object()}};
  }
  return r;
}

std::string TablePrinter::row_json(const Json& object) const { return encode_json(row(object)); }

std::string TablePrinter::head(const Json& metadata) const {
  // Keys in the order nlohmann's objects keep them, "rows" last.
  return "{\"apiVersion\":\"meta.k8s.io/" + options_.version + "\",\"columnDefinitions\":" + encode_json(definitions()) +
         ",\"kind\":\"Table\",\"metadata\":" + encode_json(metadata) + ",\"rows\":[";
}

Json TablePrinter::table(const std::vector<const Json*>& objects, Json metadata, bool headers) const {
  Json rows = Json::array();
  for (const Json* o : objects) rows.push_back(row(*o));
  return {{"kind", "Table"},
          {"apiVersion", "meta.k8s.io/" + options_.version},
          {"metadata", std::move(metadata)},
          {"columnDefinitions", headers ? definitions() : Json(nullptr)},
          {"rows", std::move(rows)}};
}

}  // namespace pmesh::server
