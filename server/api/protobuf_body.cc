#include "server/api/protobuf_body.h"

#include <cstdint>
#include <functional>
#include <stdexcept>

#include "stdlib/text.h"

namespace pmesh::server {

using nlohmann::json;

namespace {

// A cursor over protobuf wire format.
struct Reader {
  const unsigned char* p;
  const unsigned char* end;

  bool done() const { return p >= end; }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) throw std::runtime_error("truncated varint");
      unsigned char b = *p++;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    throw std::runtime_error("varint too long");
  }
  std::string bytes() {
    uint64_t n = varint();
    if (n > static_cast<uint64_t>(end - p)) throw std::runtime_error("truncated field");
    std::string s(reinterpret_cast<const char*>(p), n);
    p += n;
    return s;
  }
  void skip(int wire) {
    switch (wire) {
      case 0: varint(); break;
      case 1: p += 8; break;
      case 2: bytes(); break;
      case 5: p += 4; break;
      default: throw std::runtime_error("unsupported wire type");
    }
    if (p > end) throw std::runtime_error("truncated field");
  }
};

// Calls `fn(field, wire, reader)` for each field of the message in `data`.
void fields(const std::string& data, const std::function<void(int, int, Reader&)>& fn) {
  Reader r{reinterpret_cast<const unsigned char*>(data.data()), reinterpret_cast<const unsigned char*>(data.data()) + data.size()};
  while (!r.done()) {
    uint64_t tag = r.varint();
    fn(static_cast<int>(tag >> 3), static_cast<int>(tag & 7), r);
  }
}

// A map<string, string|bytes> entry: key (1), value (2).
std::pair<std::string, std::string> map_entry(const std::string& data) {
  std::pair<std::string, std::string> kv;
  fields(data, [&](int f, int w, Reader& r) {
    if (f == 1 && w == 2) kv.first = r.bytes();
    else if (f == 2 && w == 2) kv.second = r.bytes();
    else r.skip(w);
  });
  return kv;
}

json object_meta(const std::string& data) {
  json md = json::object();
  fields(data, [&](int f, int w, Reader& r) {
    if (w == 2) {
      std::string v = r.bytes();
      switch (f) {
        case 1: if (!v.empty()) md["name"] = v; break;
        case 2: if (!v.empty()) md["generateName"] = v; break;
        case 3: if (!v.empty()) md["namespace"] = v; break;
        case 5: if (!v.empty()) md["uid"] = v; break;
        case 6: if (!v.empty()) md["resourceVersion"] = v; break;
        case 11: { auto [k, x] = map_entry(v); md["labels"][k] = x; break; }
        case 12: { auto [k, x] = map_entry(v); md["annotations"][k] = x; break; }
        case 14: md["finalizers"].push_back(v); break;
        case 13: {
          json ref = json::object();
          fields(v, [&](int g, int gw, Reader& rr) {
            if (gw == 2) {
              std::string s = rr.bytes();
              if (g == 1) ref["kind"] = s;
              else if (g == 3) ref["name"] = s;
              else if (g == 4) ref["uid"] = s;
              else if (g == 5) ref["apiVersion"] = s;
            } else if (gw == 0) {
              uint64_t b = rr.varint();
              if (g == 6) ref["controller"] = b != 0;
              else if (g == 7) ref["blockOwnerDeletion"] = b != 0;
            } else {
              rr.skip(gw);
            }
          });
          md["ownerReferences"].push_back(ref);
          break;
        }
        default: break;
      }
    } else {
      r.skip(w);
    }
  });
  return md;
}

// PolicyRule { verbs, apiGroups, resources, resourceNames, nonResourceURLs }, each repeated.
json policy_rule(const std::string& data) {
  static const char* names[] = {"", "verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"};
  json rule = json::object();
  fields(data, [&](int f, int w, Reader& r) {
    if (w == 2 && f >= 1 && f <= 5) rule[names[f]].push_back(r.bytes());
    else r.skip(w);
  });
  return rule;
}

// LabelSelector { matchLabels (map), matchExpressions { key, operator, values } }.
json label_selector(const std::string& data) {
  json sel = json::object();
  fields(data, [&](int f, int w, Reader& r) {
    if (w != 2) return r.skip(w);
    std::string v = r.bytes();
    if (f == 1) {
      auto [k, x] = map_entry(v);
      sel["matchLabels"][k] = x;
    } else if (f == 2) {
      json e = json::object();
      fields(v, [&](int g, int gw, Reader& rr) {
        if (gw != 2) return rr.skip(gw);
        std::string s = rr.bytes();
        if (g == 1) e["key"] = s;
        else if (g == 2) e["operator"] = s;
        else if (g == 3) e["values"].push_back(s);
      });
      sel["matchExpressions"].push_back(e);
    }
  });
  return sel;
}

}  // namespace

std::optional<json> decode_protobuf_object(const std::string& body, std::string* error) {
  if (body.size() < 4 || body.compare(0, 4, std::string("k8s\0", 4)) != 0) {
    *error = "the protobuf body lacks the k8s magic prefix";
    return std::nullopt;
  }
  try {
    std::string api_version, kind, raw;
    fields(body.substr(4), [&](int f, int w, Reader& r) {
      if (f == 1 && w == 2) {
        fields(r.bytes(), [&](int g, int gw, Reader& rr) {
          if (g == 1 && gw == 2) api_version = rr.bytes();
          else if (g == 2 && gw == 2) kind = rr.bytes();
          else rr.skip(gw);
        });
      } else if (f == 2 && w == 2) {
        raw = r.bytes();
      } else {
        r.skip(w);
      }
    });
    json o = {{"apiVersion", api_version}, {"kind", kind}, {"metadata", json::object()}};
    if (api_version == "authorization.k8s.io/v1" && kind == "SelfSubjectAccessReview") {
      // spec (2): resourceAttributes (1) { namespace, verb, group, version, resource, subresource, name }.
      static const char* attrs[] = {"", "namespace", "verb", "group", "version", "resource", "subresource", "name"};
      fields(raw, [&](int f, int w, Reader& r) {
        if (f != 2 || w != 2) return r.skip(w);
        fields(r.bytes(), [&](int g, int gw, Reader& rr) {
          if (g != 1 || gw != 2) return rr.skip(gw);
          json a = json::object();
          fields(rr.bytes(), [&](int h, int hw, Reader& r3) {
            if (h >= 1 && h <= 7 && hw == 2) a[attrs[h]] = r3.bytes();
            else r3.skip(hw);
          });
          o["spec"]["resourceAttributes"] = a;
        });
      });
      return o;
    }
    if (api_version == "authorization.k8s.io/v1" && kind == "SelfSubjectRulesReview") {
      // spec (2): namespace (1).
      fields(raw, [&](int f, int w, Reader& r) {
        if (f != 2 || w != 2) return r.skip(w);
        fields(r.bytes(), [&](int g, int gw, Reader& rr) {
          if (g == 1 && gw == 2) o["spec"]["namespace"] = rr.bytes();
          else rr.skip(gw);
        });
      });
      return o;
    }
    if (api_version == "authentication.k8s.io/v1" && kind == "TokenRequest") {
      // spec (2): audiences (1, repeated), boundObjectRef (3) { kind, apiVersion, name, uid }, expirationSeconds (4).
      static const char* ref_fields[] = {"", "kind", "apiVersion", "name", "uid"};
      fields(raw, [&](int f, int w, Reader& r) {
        if (f != 2 || w != 2) return r.skip(w);
        json spec = json::object();
        fields(r.bytes(), [&](int g, int gw, Reader& rr) {
          if (g == 1 && gw == 2) {
            if (std::string b = rr.bytes(); !b.empty()) spec["audiences"].push_back(b);
          } else if (g == 3 && gw == 2) {
            json ref = json::object();
            fields(rr.bytes(), [&](int h, int hw, Reader& r3) {
              if (h < 1 || h > 4 || hw != 2) return r3.skip(hw);
              if (std::string b = r3.bytes(); !b.empty()) ref[ref_fields[h]] = b;
            });
            spec["boundObjectRef"] = ref;
          } else if (g == 4 && gw == 0) {
            spec["expirationSeconds"] = static_cast<int64_t>(rr.varint());
          } else {
            rr.skip(gw);
          }
        });
        o["spec"] = spec;
      });
      return o;
    }
    if (api_version == "rbac.authorization.k8s.io/v1" &&
        (kind == "Role" || kind == "ClusterRole" || kind == "RoleBinding" || kind == "ClusterRoleBinding")) {
      fields(raw, [&](int f, int w, Reader& r) {
        if (w != 2) return r.skip(w);
        std::string v = r.bytes();
        bool binding = kind == "RoleBinding" || kind == "ClusterRoleBinding";
        if (f == 1) {
          o["metadata"] = object_meta(v);
        } else if (!binding && f == 2) {
          o["rules"].push_back(policy_rule(v));
        } else if (kind == "ClusterRole" && f == 3) {
          json agg = {{"clusterRoleSelectors", json::array()}};
          fields(v, [&](int g, int gw, Reader& rr) {
            if (g == 1 && gw == 2) agg["clusterRoleSelectors"].push_back(label_selector(rr.bytes()));
            else rr.skip(gw);
          });
          o["aggregationRule"] = agg;
        } else if (binding && (f == 2 || f == 3)) {
          // Subject { kind, apiGroup, name, namespace }; RoleRef { apiGroup, kind, name }.
          static const char* subject[] = {"", "kind", "apiGroup", "name", "namespace"};
          static const char* ref[] = {"", "apiGroup", "kind", "name"};
          json x = json::object();
          fields(v, [&](int g, int gw, Reader& rr) {
            if (gw != 2 || g < 1 || g > (f == 2 ? 4 : 3)) return rr.skip(gw);
            // Go's protobuf writes empty strings; its JSON leaves them out.
            if (std::string b = rr.bytes(); !b.empty()) x[(f == 2 ? subject : ref)[g]] = b;
          });
          if (f == 2) o["subjects"].push_back(x);
          else o["roleRef"] = x;
        }
      });
      return o;
    }
    if (api_version != "v1" || (kind != "ConfigMap" && kind != "Secret" && kind != "Namespace" && kind != "ServiceAccount")) {
      *error = "protobuf bodies are accepted for ConfigMap, Secret, Namespace, ServiceAccount, RBAC's kinds, "
               "SelfSubjectAccessReview and TokenRequest only, not " + kind;
      return std::nullopt;
    }
    fields(raw, [&](int f, int w, Reader& r) {
      if (w != 2) {
        uint64_t b = w == 0 ? r.varint() : (r.skip(w), 0);
        if (w == 0 && ((kind == "ConfigMap" && f == 4) || (kind == "Secret" && f == 5))) o["immutable"] = b != 0;
        if (w == 0 && kind == "ServiceAccount" && f == 4) o["automountServiceAccountToken"] = b != 0;
        return;
      }
      std::string v = r.bytes();
      if (f == 1) {
        o["metadata"] = object_meta(v);
      } else if (kind == "ConfigMap" && f == 2) {
        auto [k, x] = map_entry(v);
        o["data"][k] = x;
      } else if (kind == "ConfigMap" && f == 3) {
        auto [k, x] = map_entry(v);
        o["binaryData"][k] = base64_encode(x);
      } else if (kind == "Secret" && f == 2) {
        auto [k, x] = map_entry(v);
        o["data"][k] = base64_encode(x);
      } else if (kind == "Secret" && f == 3) {
        o["type"] = v;
      } else if (kind == "Secret" && f == 4) {
        auto [k, x] = map_entry(v);
        o["stringData"][k] = x;
      } else if (kind == "ServiceAccount" && (f == 2 || f == 3)) {
        // secrets: ObjectReference { kind, namespace, name, uid, apiVersion, resourceVersion, fieldPath };
        // imagePullSecrets: LocalObjectReference { name }.
        static const char* ref_fields[] = {"", "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"};
        json ref = json::object();
        fields(v, [&](int g, int gw, Reader& rr) {
          if (gw != 2 || !((f == 2 && g >= 1 && g <= 7) || (f == 3 && g == 1))) return rr.skip(gw);
          if (std::string b = rr.bytes(); !b.empty()) ref[ref_fields[f == 2 ? g : 3]] = b;
        });
        o[f == 2 ? "secrets" : "imagePullSecrets"].push_back(ref);
      } else if (kind == "Namespace" && f == 2) {
        fields(v, [&](int g, int gw, Reader& rr) {
          if (g == 1 && gw == 2) o["spec"]["finalizers"].push_back(rr.bytes());
          else rr.skip(gw);
        });
      }
    });
    return o;
  } catch (const std::exception& e) {
    *error = std::string("malformed protobuf body: ") + e.what();
    return std::nullopt;
  }
}

}  // namespace pmesh::server
