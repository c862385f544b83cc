// The abstract syntax tree of a rules module.
//
// The parser builds one Module per .rules file; the analyses in dsl/analysis/
// read it, and the planner lowers it. Every node carries the Span of the text
// it came from, so that any stage can report an error at the right place.
// Nodes are plain structs owned through unique_ptr/vector; the tree is never
// shared, and nothing in it points back up.
//
// Thread safety: a Module is built by one thread and read-only afterwards.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsl/source.h"
#include "stdlib/kube_validation.h"

namespace pmesh::dsl {

struct Body;
struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
  kNull,
  kBool,
  kInt,
  kFloat,
  kString,     // text
  kInterp,     // "a {x} b": args are the parts, kString literals and expressions
  kVar,        // name
  kField,      // args[0].name; `safe` for ?.
  kIndex,      // args[0][args[1]]
  kCall,       // name(args...)
  kList,       // [args...]
  kObject,     // { keys[i]: args[i] }
  kUnary,      // op args[0]: "-" or "not"
  kBinary,     // args[0] op args[1]: * / % + - == != < <= > >= in "not in" and or ??
  kCond,       // args[0] ? args[1] : args[2]
  kAggregate,  // agg { body | args[0] }
};

enum class AggKind { kCount, kAny, kAll, kCollect };

struct Expr {
  ExprKind kind = ExprKind::kNull;
  Span span;
  std::string text;  // variable, field or function name; operator; string value
  bool bool_value = false;
  int64_t int_value = 0;
  double float_value = 0;
  bool safe = false;                 // kField: `?.`
  std::vector<ExprPtr> args;         // operands, elements, values, arguments
  std::vector<std::string> keys;     // kObject: keys, in order
  std::vector<bool> key_is_quoted;   // kObject: a quoted key is never a dotted path
  AggKind agg = AggKind::kCount;
  std::unique_ptr<Body> body;        // kAggregate: the sub-pattern
};

// Which kind a pattern or derive names: a declared kind by name, or a kind
// chosen at run time by group and resource (`resource(g, r)`), which is how
// rules reach the kinds that APIBindings add.
struct KindRef {
  Span span;
  std::string name;   // empty when dynamic
  ExprPtr group;      // dynamic only
  ExprPtr resource;   // dynamic only
  bool dynamic() const { return name.empty(); }
};

// `x: Kind in cluster namespace ns named name labels { k: v }`
struct ObjectPattern {
  Span span;
  std::string var;
  Span var_span;
  KindRef kind;
  ExprPtr cluster;                                  // may be null: any cluster
  ExprPtr ns;                                       // may be null
  ExprPtr name;                                     // may be null
  std::vector<std::pair<std::string, ExprPtr>> labels;
  bool optional = false;                            // `opt`: a left outer join
  // `on create, update x: Kind`: the object a write admits; the rule is an
  // admission rule (create, update, delete).
  std::vector<std::string> on_ops;
};

// `relation(arg, ...)`; an argument that is a bare variable not bound
// elsewhere binds it; `_` matches anything.
struct TuplePattern {
  Span span;
  std::string relation;
  Span relation_span;
  std::vector<ExprPtr> args;
};

enum class BodyItemKind { kObject, kTuple, kLet, kWhere, kNot };

struct BodyItem {
  BodyItemKind kind = BodyItemKind::kWhere;
  Span span;
  ObjectPattern object;           // kObject
  TuplePattern tuple;             // kTuple
  std::string var;                // kLet
  Span var_span;                  // kLet
  bool each = false;              // kLet written `for x in list`: one binding per element
  ExprPtr expr;                   // kLet, kWhere
  std::unique_ptr<Body> negated;  // kNot
};

struct Body {
  std::vector<BodyItem> items;
};

// A path into an object: `status.conditions["Ready"].status`. A segment is a
// field name, or a key: a list entry keyed by its key field, or a map entry.
struct PathSeg {
  Span span;
  std::string field;  // empty for a key segment
  ExprPtr key;
  bool is_key() const { return key != nullptr; }
};
using Path = std::vector<PathSeg>;

struct FieldInit {
  Span span;
  Path path;
  ExprPtr value;
  // Users may change the field; their value stays until `value` changes
  // (the api-syncagent's three-way merge of a synced object's spec).
  bool editable = false;
};

// kRefuse: `refuse "message"` turns a transaction that makes the body hold
// into an error, as an admission webhook would. kDelete: `delete x` deletes
// the object x is bound to (as a user's delete would) once the rules are at
// rest; it is not undone when the body stops holding.
enum class HeadKind { kDeriveObject, kDeriveTuple, kSet, kRefuse, kDelete };
// `=`; `+=` adds an element to a set-like list; `ordered by` keeps a list
// sorted by the fields its value names (the list stays the writers').
enum class SetOp { kAssign, kAdd, kOrder };

struct Head {
  HeadKind kind = HeadKind::kSet;
  Span span;
  // kDeriveObject
  KindRef object_kind;
  ExprPtr cluster, ns, name;
  std::vector<FieldInit> fields;
  // kDeriveTuple
  TuplePattern tuple;
  // kSet (and kRefuse: `value` is the message)
  std::string target;
  Span target_span;
  Path path;
  SetOp op = SetOp::kAssign;
  ExprPtr value;
};

struct Rule {
  Span span;
  std::string name;
  Span name_span;
  std::optional<int64_t> priority;
  Body body;
  std::vector<Head> heads;
  bool from_relation = false;  // written as `relation r(..) :- ...`
  // `late`: writes as a controller does, once what it reads has settled.
  // Only `set` heads; its writes are no edges of the dependency graph, so
  // the rules that read what it sets run again after it (the engine runs
  // until nothing changes).
  bool late = false;
  // The pattern `on ...` names, when this is an admission rule: the rule
  // runs on writes of that kind, before they are applied, and does not take
  // part in the fixpoint.
  const ObjectPattern* admitted() const {
    for (const auto& item : body.items)
      if (item.kind == BodyItemKind::kObject && !item.object.on_ops.empty()) return &item.object;
    return nullptr;
  }
};

struct RelationDecl {
  Span span;
  std::string name;
  std::vector<std::string> params;
  // `key(a, ...)`: how many first parameters determine the others (at most
  // one tuple holds for each value of them); 0 when none is declared.
  size_t key = 0;
  // `log`: a record the engine writes and does not hold. With a data
  // directory its tuples are there alone once committed, read back in key
  // order (Engine::scan_log), so no rule may read or derive them: a rule's
  // matches would have to be remade from the disk. OpenFGA's changelog,
  // which grows with every write.
  bool log = false;
};

struct FunctionDecl {
  Span span;
  std::string name;
  std::vector<std::string> params;
  ExprPtr body;
};

enum class Scope { kCluster, kNamespaced };

// A column of server-side printing (`kubectl get`): what a CRD's
// additionalPrinterColumns entry says, plus what kube-apiserver's own
// printers compute for its built-in kinds, declared rather than coded.
struct PrinterColumn {
  std::string name, type, format, description;  // type: integer, number, string, boolean or date
  int64_t priority = 0;                         // above 0: only with `-o wide`
  std::string json_path;  // kube JSONPath (stdlib/kube_jsonpath.h): a path, or a template
  // For the built-in kinds' columns (not in CRDs):
  bool count = false;  // the number of entries of the maps and lists the path finds (ConfigMap's DATA)
  std::string each;    // a template each result is printed with (RoleBinding's "{.namespace}/{.name}")
  bool join = false;   // every result, joined by ", " (a CRD's column shows the first)
  bool age = false;    // the time since the value, as kube prints ages (a string column)
};

struct KindDecl {
  Span span;
  std::string name;  // the Kind, e.g. Workspace
  std::string group;  // "" for the core group
  std::string version;
  std::string plural;
  std::string singular;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  Scope scope = Scope::kNamespaced;
  std::vector<std::string> sections;  // top-level fields besides metadata: spec, status, data
  bool status_subresource = false;
  // An update (PUT) without metadata.resourceVersion updates the latest
  // version, as kube's strategy for the built-in kind says
  // (AllowUnconditionalUpdate: ConfigMaps, Secrets, RBAC...); otherwise it
  // is 422, as for a custom resource: `unconditionalUpdate: true`.
  bool unconditional_update = false;
  // An update (PUT) of an object that does not exist creates it, as kube's
  // strategy for the built-in kind says (AllowCreateOnUpdate: RBAC's four);
  // otherwise it is 404: `createOnUpdate: true`.
  bool create_on_update = false;
  std::map<std::string, std::string> list_keys;  // "status.conditions" -> "type"
  // Bound into a logical cluster at run time from an APIResourceSchema,
  // rather than declared in the rules.
  bool runtime = false;
  // Fields outside status that rules may set on objects they do not derive,
  // as system controllers do (kcp's scheduler sets a Workspace's
  // spec.cluster). Each is a node of its own in the dependency graph.
  std::vector<std::string> system_fields;
  // The fields a field selector may name (kube's field label conversion
  // for a built-in kind: a Secret's `type`, a Namespace's `status.phase`);
  // empty: metadata.name and metadata.namespace, as for a custom resource.
  std::vector<std::string> field_labels;
  // Names are DNS-1123 labels (namespaces, workspaces) rather than
  // subdomains: `nameValidation: DNS1123Label`.
  NameValidation names = NameValidation::kDNS1123Subdomain;
  // Server-side printing's columns after NAME; none: AGE alone, as for a
  // CRD without additionalPrinterColumns.
  std::vector<PrinterColumn> printer_columns;
  // The kind's OpenAPI v3 schema (a CRD's openAPIV3Schema: the object's
  // root); null when it declares none. Shared: kinds are copied per cluster.
  std::shared_ptr<const nlohmann::json> schema;
  // `schema` cut down to the paths that lead to a default (null when none
  // does): what defaulting walks, as the engine defaults every object it
  // composes (dsl/kind_schema.h).
  std::shared_ptr<const nlohmann::json> schema_defaults;
  // What of `schema` pmesh cannot enforce (CEL rules: dsl/kind_schema.h). A
  // declared kind with any does not compile; a bound kind with any takes no
  // writes.
  std::vector<std::string> schema_unsupported;
  // Another served version of a bound kind, whose objects are stored as
  // `storage`'s (an APIResourceSchema's versions, converted as a CRD's
  // `None` strategy converts: only apiVersion changes). The API serves and
  // validates this version; rules and storage see only `storage`.
  const KindDecl* storage = nullptr;
  // A declared kind's other served version (kcp's apis.kcp.io/v1alpha1
  // beside the v1alpha2 it stores): `storageVersion` names the version of
  // the same kind its objects are stored as, `conversion` the converter
  // between the two (engine/conversion.h). Program points `storage` at it.
  std::string storage_version;
  std::string conversion;
  const KindDecl& stored() const { return storage ? *storage : *this; }
  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  // The kind's name in object identities (ObjectKey::kind): the declared
  // name, or `plural.group` for a run-time kind, which cannot collide with
  // a declared one.
  std::string key() const { return runtime ? plural + "." + group : name; }
  bool has_section(const std::string& s) const;
};

enum class StepKind { kGiven, kCreate, kUpdate, kDelete, kExpect, kExpectNo, kExpectError };

struct TestStep {
  StepKind kind = StepKind::kGiven;
  Span span;
  bool is_tuple = false;
  std::string kind_name;  // object steps
  Span kind_span;
  std::string ref;        // "cluster/name" or "cluster/namespace/name"
  ExprPtr data;           // object body; may be null
  std::string relation;   // tuple steps
  std::vector<ExprPtr> tuple_args;
  std::string error_text;  // kExpectError
  ExprPtr as;              // who writes (`as alice`), for admission rules; may be null
};

struct TestDecl {
  Span span;
  std::string name;
  std::vector<TestStep> steps;
};

struct Import {
  Span span;
  std::string module;
};

struct Module {
  SourceFilePtr file;
  std::string name;
  Span name_span;
  std::vector<Import> imports;
  std::vector<KindDecl> kinds;
  std::vector<RelationDecl> relations;
  std::vector<FunctionDecl> functions;
  std::vector<Rule> rules;
  std::vector<TestDecl> tests;
};

// Renders an expression back to source-like text, for messages and plans.
std::string to_string(const Expr& e);
// How a bare word reads: a string in attribute literals (`type: object`),
// a variable whose value is not known yet (null) in a rule's head.
enum class BareWords { kStrings, kUnknown };
// A literal's value as JSON (objects, lists, strings, numbers, booleans,
// null; bare words as `bare` says); nullopt when `e` is not a literal.
// Object keys are taken as written (no dotted paths).
std::optional<nlohmann::json> literal_json(const Expr& e, BareWords bare = BareWords::kStrings);
std::string to_string(const Path& p);

}  // namespace pmesh::dsl
