// Executes one operation of a validated document against a schema, as the
// specification's ExecuteQuery / ExecuteMutation / subscription events.
//
// Fields of the Kubernetes API (Field::op) are the only ones that do I/O;
// everything else projects what they returned. So execution runs in two
// passes: the first collects the calls the operation makes (with coerced
// arguments, keyed by response path), the caller runs them — in document
// order, one at a time, as mutations must run — and the second pass
// completes the response from their results. Introspection (__schema,
// __type, __typename) is answered from the schema in the same pass.
//
// Errors are GraphQL's: a field that fails is null with an entry in
// `errors`, and a null in a non-null position makes its parent null.
// Responses keep the order of the selections.
//
// Thread safety: an Execution is used by one thread at a time.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "server/graphql/document.h"
#include "server/graphql/schema.h"

namespace pmesh::graphql {

// What a field of the Kubernetes API asks the server to do.
struct Call {
  FieldOp op = FieldOp::kNone;
  const Resource* resource = nullptr;  // null for applyYaml
  Json args;                           // coerced, with defaults
  std::string path;                    // the response path, dotted
  // Subscriptions: the paths of the event's object the selection reads
  // ("metadata.name"), for the gateway's field-selective MODIFIED events.
  std::vector<std::string> watched;
};

// A call's outcome: a value, or an error message.
struct CallResult {
  Json value;
  std::string error;
  bool failed = false;
};

class Execution {
 public:
  // Prepares the operation `operation_name` (or the only one) of `doc` with
  // `variables` (a JSON object, or null). When that fails, errors() holds
  // why and nothing may run.
  // REQUIRES: `doc` is valid for `schema` (validate()).
  Execution(std::shared_ptr<const Schema> schema, std::shared_ptr<const Document> doc, const std::string& operation_name,
            const Json& variables);

  bool ok() const { return op_ != nullptr; }
  const std::vector<Error>& errors() const { return errors_; }
  OperationType type() const { return op_->type; }

  // The calls the operation makes, in document order (collected once).
  // REQUIRES: ok().
  const std::vector<Call>& calls();
  const Schema& schema() const { return *schema_; }
  // Records the result of the call at `path`.
  void set_result(const std::string& path, CallResult r) { results_[path] = std::move(r); }
  // The response ({data, errors}) from the results set.
  // REQUIRES: ok(), and a result set for every call.
  OrderedJson respond();

 private:
  enum class Done { kValue, kNullFromChild, kPropagate };
  using Fields = std::vector<const Selection*>;
  using Collected = std::vector<std::pair<std::string, Fields>>;

  void collect(const Type& type, const SelectionSet& set, Collected* out, std::set<std::string>* fragments) const;
  bool included(const std::vector<Directive>& ds) const;
  // Where a value stands, for errors ("Cannot return null for non-nullable
  // field Type.field.").
  struct Owner {
    const std::string& type;
    const std::string& field;
  };
  // `path` is the response path so far, pushed and popped as fields and
  // items are completed.
  Done selection_set(const Type& type, const Json& source, const Collected& fields, Json& path, OrderedJson* out);
  Done field(const Type& parent, const Json& source, const std::string& key, const Fields& fields, Json& path,
             OrderedJson* out);
  // `collected`: the object's fields when the caller (a list) collected
  // them once for every item.
  Done complete(const TypeRef& type, const Fields& fields, const Json& value, Json& path, const Owner& owner,
                OrderedJson* out, const Collected* collected = nullptr);
  Json arguments(const std::vector<InputValue>& defs, const Selection& node, std::string* why) const;
  // The field's value: in `source` or the calls' results where it is
  // there, else made in `scratch`.
  const Json* resolve(const Type& parent, const Field* f, const Json& source, const Json& args, const Json& path,
                      Json& scratch);
  // The root type of the operation, and its fields.
  const Type& root(Collected* fields) const;
  std::vector<std::string> watched(const Fields& fields) const;

  std::shared_ptr<const Schema> schema_;
  std::shared_ptr<const Document> doc_;
  const Operation* op_ = nullptr;
  Json variables_ = Json::object();
  std::vector<Error> errors_;
  bool collecting_ = false;
  bool collected_ = false;
  std::vector<Call> calls_;
  std::map<std::string, CallResult> results_;
};

// A dotted response path from a JSON path array.
std::string path_key(const Json& path);

}  // namespace pmesh::graphql
