#include "dsl/printer_column.h"

#include <set>

#include "stdlib/kube_jsonpath.h"

namespace pmesh::dsl {

std::vector<std::string> printer_column_problems(const PrinterColumn& c) {
  static const std::set<std::string> kTypes = {"integer", "number", "string", "boolean", "date"};
  static const std::set<std::string> kFormats = {"",     "int32", "int64",     "float",    "double",
                                                 "byte", "date",  "date-time", "password", "name"};
  std::vector<std::string> out;
  std::string column = "printer column `" + c.name + "`: ";
  if (c.name.empty()) out.push_back("a printer column needs a `name`");
  if (!kTypes.count(c.type)) out.push_back(column + "type is integer, number, string, boolean or date, not `" + c.type + "`");
  if (!kFormats.count(c.format)) out.push_back(column + "unknown format `" + c.format + "`");
  std::string error;
  if (c.json_path.empty()) out.push_back("printer column `" + c.name + "` needs a `jsonPath`");
  else if (!KubeJsonPath::parse(c.json_path, &error)) out.push_back(column + "jsonPath: " + error);
  if (!c.each.empty() && !KubeJsonPath::parse(c.each, &error)) out.push_back(column + "each: " + error);
  if (c.count && c.type != "integer" && c.type != "string") out.push_back(column + "`count` needs type integer or string");
  if (c.priority < 0) out.push_back(column + "priority is 0 or more");
  return out;
}

PrinterColumn printer_column(const Expr& e, DiagnosticSink& diags) {
  PrinterColumn col;
  if (e.kind != ExprKind::kObject) {
    diags.error(e.span, "a printer column is an object { name, type, jsonPath, ... }");
    return col;
  }
  for (size_t j = 0; j < e.keys.size(); ++j) {
    const std::string& key = e.keys[j];
    const Expr& v = *e.args[j];
    auto text = [&](std::string* out) {
      if (v.kind == ExprKind::kString) *out = v.text;
      else diags.error(v.span, "`" + key + "` takes a string");
    };
    auto flag = [&](bool* out) {
      if (v.kind == ExprKind::kBool) *out = v.bool_value;
      else diags.error(v.span, "`" + key + "` takes true or false");
    };
    if (key == "name") text(&col.name);
    else if (key == "type") text(&col.type);
    else if (key == "format") text(&col.format);
    else if (key == "description") text(&col.description);
    else if (key == "jsonPath") text(&col.json_path);
    else if (key == "each") text(&col.each);
    else if (key == "count") flag(&col.count);
    else if (key == "join") flag(&col.join);
    else if (key == "age") flag(&col.age);
    else if (key == "priority") {
      if (v.kind == ExprKind::kInt && v.int_value >= 0) col.priority = v.int_value;
      else diags.error(v.span, "`priority` takes a number, 0 or more");
    } else {
      diags.error(v.span, "unknown printer column attribute `" + key +
                              "`; known: name, type, format, description, priority, jsonPath, count, each, join, age");
    }
  }
  for (const auto& problem : printer_column_problems(col)) diags.error(e.span, problem);
  return col;
}

}  // namespace pmesh::dsl
