// The typed request: what an HTTP request asks of the KRM API, decoded once.
//
// The URL gives the workspace, group, version, resource, namespace, name and
// subresource (request_info.h); the method and `watch` the verb; the query
// and body the options of that verb, checked as kube-apiserver checks them
// (ListOptions, CreateOptions, UpdateOptions, PatchOptions, DeleteOptions:
// 400 for what does not parse, 422 for values it does not support); the body
// the object or patch (body.h). Everything after decoding works on this.
//
// Thread safety: values; pure functions.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "dsl/ast.h"
#include "engine/engine.h"
#include "server/api/body.h"
#include "server/api/request_info.h"
#include "server/api/selectors.h"
#include "server/api/status.h"
#include "server/api/table.h"
#include "server/auth/authn.h"
#include "server/http/http_server.h"

namespace pmesh::server {

enum class Verb { kGet, kList, kWatch, kCreate, kUpdate, kPatch, kDelete, kDeleteCollection, kOther };
const char* verb_name(Verb v);

enum class PatchType { kNone, kJson, kMerge, kStrategicMerge, kApply };

struct ListOptions {
  Selector labels, fields;
  std::string resource_version;        // "", "0" or a number
  std::string resource_version_match;  // "", NotOlderThan, Exact
  int64_t limit = 0;
  std::string continue_token;
  std::optional<int64_t> timeout_seconds;
  bool allow_bookmarks = false;
  // Unset, a watch from "" or "0" starts with the objects as ADDED events
  // and one from a version does not; set, it says which (kube's WatchList).
  std::optional<bool> send_initial_events;
};

struct WriteOptions {  // CreateOptions, UpdateOptions, PatchOptions
  bool dry_run = false;
  std::string field_manager;
  std::string field_validation;
  bool force = false;
};

struct DeleteOptions {
  bool dry_run = false;
  std::optional<int64_t> grace_period_seconds;
  std::string propagation_policy;
  std::optional<std::string> precondition_uid, precondition_resource_version;
};

struct ApiRequest {
  RequestInfo info;
  Verb verb = Verb::kOther;
  UserInfo user;
  const dsl::KindDecl* kind = nullptr;  // object requests
  BodyFormat format = BodyFormat::kJson;
  PatchType patch_type = PatchType::kNone;
  std::optional<Json> body;  // the object (create, update) or the patch
  ListOptions list;
  // Gets, lists and watches that asked for a Table (`Accept: ...;as=Table`).
  std::optional<TableOptions> table;
  // A list's client takes gzip: a large page is compressed where it is
  // rendered, off the engine's thread (server/http/content_encoding.h).
  bool accepts_gzip = false;
  WriteOptions write;
  DeleteOptions del;
  // Which objects the user may see, as stored (`metadata.cluster` set):
  // of lists and watches, and the one a get, update, patch or delete names
  // (what it may not see is not found). Unset: all that the request names.
  std::function<bool(const Json& object)> visible;
  // Where `visible` depends only on which object it is (its workspace,
  // namespace and name; an organization): the same answer without reading
  // the object, so that a list decides each item without decoding it. On
  // the engine's thread. A list whose request sets `visible` needs this or
  // `visible_clusters`; with neither it fails (500) rather than show all.
  using VisibleByKey = std::function<bool(std::string_view cluster, std::string_view ns, std::string_view name)>;
  VisibleByKey visible_by_key;
  // Sets `visible_by_key` and the `visible` that reads the same key from
  // an object's metadata.
  void set_visible_by_key(VisibleByKey by_key);
  // Where `visible_by_key` says yes only to some names that can be found
  // beforehand (the organizations whose stores name the user): those
  // names (of objects in the request's workspace), in any order, and
  // perhaps more. A list and a watch's start then decide these alone, not every
  // object. On the engine's thread. Unset: every object is decided.
  std::function<std::vector<std::string>()> visible_candidates;
  // Where `visible` is decided workspace by workspace (an APIExport virtual
  // workspace): the workspaces (paths) whose objects the user sees, each
  // with what must hold of an object there (null: every object; else a
  // function of the object alone, as stored, safe on any thread); an
  // entry for `*` holds in every workspace without one of its own (where
  // `visible` is a function of the object alone). A list asks it once, on
  // the engine's thread, and is then rendered off it from the collection's
  // snapshot.
  using ClusterFilters = std::map<std::string, std::function<bool(const Json& object)>>;
  std::function<ClusterFilters()> visible_clusters;
  // What a create, update or patch may leave behind (an APIExport virtual
  // workspace's claimed objects: what the claim's selector selects); a
  // write that would leave anything else is forbidden. Unset: anything.
  std::function<bool(const Json& object)> writable;
  // Which tuple changes may change what `visible` answers: a running watch
  // looks again at what it shows when one happens. Unset: none.
  std::function<bool(const engine::TupleView&)> visible_depends_on;

  GroupResource gr() const { return {info.group, info.resource}; }
};

// The verb of a request: GET is get, list or watch; POST create; PUT update;
// PATCH patch; DELETE delete (deletecollection on a collection). A
// malformed `watch` parameter is a 400.
std::optional<Verb> verb_of(const HttpRequest& http, const RequestInfo& info, ApiError* error);

// Go's strconv.ParseBool and ParseInt, as kube's query parameter decoding uses them.
std::optional<bool> parse_bool(const std::string& s);
std::optional<int64_t> parse_int(const std::string& s);
// A resourceVersion, as kube parses it (ParseUint): decimal digits only,
// within range; nullopt otherwise.
std::optional<int64_t> parse_resource_version(const std::string& s);

// Decodes options and body of an object request into `out`, whose info,
// verb and kind are set. REQUIRES: out->kind.
std::optional<ApiError> decode_object_request(const HttpRequest& http, ApiRequest* out);

}  // namespace pmesh::server
