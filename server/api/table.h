// Server-side printing: the Table (meta.k8s.io/v1 or v1beta1) that
// `kubectl get` asks for with `Accept: application/json;as=Table;v=v1;
// g=meta.k8s.io`, for gets, lists and watches.
//
// Columns are NAME and then the kind's printer columns (dsl::PrinterColumn:
// a CRD's additionalPrinterColumns, or what kube's own printers show for
// its built-in kinds), or AGE alone when the kind declares none — as
// apiextensions-apiserver's table convertor builds a custom resource's.
// Cells follow its rules: a path that finds nothing is a null cell; a
// string column prints the first value; integer, number and boolean
// columns keep values of their type; a date column shows the time since
// the value as kube's HumanDuration does. Each row carries the object as
// `includeObject` asks: its metadata as a PartialObjectMetadata (the
// default), the whole object, or nothing.
//
// Thread safety: a TablePrinter is immutable after construction and may be
// used on any thread.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "dsl/ast.h"
#include "server/api/status.h"
#include "stdlib/kube_jsonpath.h"

namespace pmesh::server {

struct TableOptions {
  std::string version = "v1";           // of meta.k8s.io: v1 or v1beta1
  std::string include_object = "Metadata";  // None, Metadata or Object
};

// Whether `accept` asks for a Table: the version asked for, or nullopt for
// the object itself. A header that names only conversions the server does
// not make is a 406.
std::optional<std::string> table_version(const std::string& accept, std::optional<ApiError>* error);

// kube's duration.HumanDuration: "45s", "3m20s", "5h", "12d", "2y100d".
std::string human_duration(int64_t seconds);

class TablePrinter {
 public:
  // `now` is what ages count from; 0: the time each row is made.
  TablePrinter(const dsl::KindDecl& kind, TableOptions options, std::time_t now);

  // The Table of `objects` (each as the API shows it), with `metadata` as
  // its list metadata; without column definitions when `headers` is false
  // (every watch event after the first).
  Json table(const std::vector<const Json*>& objects, Json metadata, bool headers = true) const;
  // The Table's content type: "application/json;as=Table;v=v1;g=meta.k8s.io".
  std::string content_type() const;
  // Encoded pieces, for lists rendered a row at a time: the Table before
  // its rows ("...\"rows\":["), one row, and what follows the rows.
  std::string head(const Json& metadata) const;
  std::string row_json(const Json& object) const;
  static std::string tail() { return "]}"; }

 private:
  struct Column {
    dsl::PrinterColumn decl;
    std::optional<KubeJsonPath> path, each;
  };
  Json definitions() const;
  Json row(const Json& object) const;
  Json cell(const Column& c, const Json& object) const;
  Json age_since(const Json& value) const;
  std::time_t now() const { return now_ ? now_ : std::time(nullptr); }

  TableOptions options_;
  std::time_t now_;
  std::vector<Column> columns_;
};

}  // namespace pmesh::server
