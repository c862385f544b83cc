#include "server/auth/impersonation.h"

#include "server/http/url.h"
#include "stdlib/text.h"

namespace pmesh::server {

namespace {

// One thing a request asks to impersonate, as kube's filter lists them.
struct Asked {
  std::string kind;  // User, ServiceAccount, Group, UID, UserExtra
  std::string ns, name, api_version, field_path;
};

constexpr const char* kAuthnVersion = "authentication.k8s.io/v1";
constexpr const char* kServiceAccountPrefix = "system:serviceaccount:";

// Go's %v of a []ObjectReference, which kube's message prints.
std::string go_print(const std::vector<Asked>& asked) {
  std::string out = "[";
  for (size_t i = 0; i < asked.size(); ++i) {
    const Asked& a = asked[i];
    out += (i ? " {" : "{") + a.kind + " " + a.ns + " " + a.name + "  " + a.api_version + "  " + a.field_path + "}";
  }
  return out + "]";
}

// What the authorizer is asked: resource and group per kind.
std::pair<std::string, std::string> group_resource(const Asked& a) {
  if (a.kind == "User") return {"", "users"};
  if (a.kind == "ServiceAccount") return {"", "serviceaccounts"};
  if (a.kind == "Group") return {"", "groups"};
  if (a.kind == "UID") return {"authentication.k8s.io", "uids"};
  return {"authentication.k8s.io", "userextras"};
}

ApiError refused(const UserInfo& requester, const Asked& a) {
  auto [group, resource] = group_resource(a);
  std::string shown = a.kind == "UserExtra" ? resource + "/" + a.field_path : resource;
  std::string why = "User \"" + requester.name + "\" cannot impersonate resource \"" + shown + "\" in API group \"" + group + "\" " +
                    (a.ns.empty() ? "at the cluster scope" : "in the namespace \"" + a.ns + "\"");
  return ApiError::forbidden({group, resource}, a.name, why);
}

bool may_impersonate(const UserInfo& requester, const Asked& a, const MayImpersonate& may) {
  if (requester.privileged()) return true;
  // An RBAC grant in a workspace never makes an administrator (kcp's gate).
  if (a.kind == "Group" && (a.name == "system:masters" || a.name == "system:kcp:admin")) return false;
  auto [group, resource] = group_resource(a);
  // kube's subresource for an extra is its key: userextras/<key>.
  return may && may(group, a.kind == "UserExtra" ? resource + "/" + a.field_path : resource, a.ns, a.name);
}

}  // namespace

std::variant<UserInfo, ApiError> impersonate(const UserInfo& requester,
                                            const std::vector<std::pair<std::string, std::string>>& headers,
                                            const MayImpersonate& may) {
  if (headers.empty()) return requester;
  std::vector<Asked> asked;
  UserInfo acting;
  bool has_user = false, has_groups = false, has_uid = false;
  for (const auto& [header, raw] : headers) {
    std::string value = coerce_utf8(raw);
    if (header == "impersonate-user") {
      if (has_user) continue;  // Go's Header.Get: the first one
      has_user = true;
      acting.name = value;
      if (value.rfind(kServiceAccountPrefix, 0) == 0) {
        std::string rest = value.substr(std::string(kServiceAccountPrefix).size());
        size_t colon = rest.find(':');
        if (colon != std::string::npos && colon > 0 && colon + 1 < rest.size() && rest.find(':', colon + 1) == std::string::npos) {
          asked.insert(asked.begin(), {"ServiceAccount", rest.substr(0, colon), rest.substr(colon + 1), "", ""});
          continue;
        }
      }
      asked.insert(asked.begin(), {"User", "", value, "", ""});
    } else if (header == "impersonate-group") {
      has_groups = true;
      acting.groups.push_back(value);
      asked.push_back({"Group", "", value, "", ""});
    } else if (header == "impersonate-uid") {
      if (has_uid) continue;
      has_uid = true;
      acting.uid = value;
      asked.push_back({"UID", "", value, kAuthnVersion, ""});
    } else if (header.rfind("impersonate-extra-", 0) == 0) {
      std::string key = header.substr(std::string("impersonate-extra-").size());
      if (std::string decoded; path_unescape(key, &decoded)) key = coerce_utf8(decoded);
      acting.extra[key].push_back(value);
      asked.push_back({"UserExtra", "", value, kAuthnVersion, key});
    }
  }
  if (asked.empty()) return requester;
  if (!has_user) return ApiError::internal("requested " + go_print(asked) + " without impersonating a user");
  for (const Asked& a : asked)
    if (!may_impersonate(requester, a, may)) return refused(requester, a);
  // Without groups named, a service account has its fixed groups and anyone
  // but system:anonymous is authenticated.
  if (!has_groups) {
    if (asked.front().kind == "ServiceAccount") {
      acting.groups = {"system:serviceaccounts", "system:serviceaccounts:" + asked.front().ns};
    }
    if (acting.name != "system:anonymous") acting.groups.push_back("system:authenticated");
  }
  return acting;
}

}  // namespace pmesh::server
