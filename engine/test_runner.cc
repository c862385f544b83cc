#include "engine/test_runner.h"

#include <algorithm>

#include "engine/engine.h"
#include "engine/json_path.h"
#include "stdlib/text.h"

namespace pmesh::engine {

namespace {

struct Failure {
  std::string message;
};

// What an expectation's path names in `doc`: fields of objects, and a
// number names an element of a list (`spec.permissionClaims.0.resource`),
// which is how a test pins an order.
const Json* expected_at(const Json& doc, const std::vector<std::string>& path) {
  const Json* cur = &doc;
  for (const auto& f : path) {
    if (cur->is_array() && !f.empty() && f.size() < 10 && std::all_of(f.begin(), f.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      size_t i = std::stoul(f);
      if (i >= cur->size()) return nullptr;
      cur = &(*cur)[i];
      continue;
    }
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(f);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

class TestRun {
 public:
  TestRun(std::shared_ptr<const dsl::CompiledProgram> program)
      : engine_(program, Engine::Options{[] { return std::string("2026-01-01T00:00:00Z"); }, 50}) {}

  void step(const dsl::TestStep& s, size_t index) {
    std::string where = "step " + std::to_string(index + 1) + " (line " +
                        std::to_string(s.span.file->position(s.span.begin).line) + ")";
    switch (s.kind) {
      case dsl::StepKind::kGiven:
      case dsl::StepKind::kCreate:
      case dsl::StepKind::kUpdate:
      case dsl::StepKind::kDelete:
        ops_.push_back(op_for(s).as(requester(s)));
        // Consecutive `given` steps are one transaction.
        if (s.kind != dsl::StepKind::kGiven || !next_is_given_) commit(where);
        return;
      case dsl::StepKind::kExpectError:
        if (!last_error_) throw Failure{where + ": expected the previous step to be refused with \"" + s.error_text +
                                        "\", but it was accepted"};
        if (last_error_->find(s.error_text) == std::string::npos)
          throw Failure{where + ": expected an error containing \"" + s.error_text + "\", found: " + *last_error_};
        last_error_.reset();
        return;
      case dsl::StepKind::kExpect:
      case dsl::StepKind::kExpectNo:
        expect(s, where);
        return;
    }
  }

  void set_next_is_given(bool v) { next_is_given_ = v; }
  void finish() {
    if (last_error_) throw Failure{"the last transaction was refused: " + *last_error_};
  }

 private:
  // The kind a step names, in the cluster of its object.
  const dsl::KindDecl* decl_for(const dsl::TestStep& s) {
    auto ref = parse_object_ref(s.kind_name, s.ref);
    const dsl::KindDecl* d = ref ? engine_.kinds().by_name(ref->cluster, s.kind_name) : nullptr;
    if (!d && ref && !ops_.empty()) {
      // A run-time kind that the `given` steps before it bind: they go first.
      commit("the steps before");
      d = engine_.kinds().by_name(ref->cluster, s.kind_name);
    }
    if (!d)
      throw Failure{"line " + std::to_string(s.span.file->position(s.span.begin).line) + ": kind " + s.kind_name +
                    " is neither declared nor served in " + (ref ? ref->cluster : s.ref)};
    return d;
  }

  ObjectKey key_for(const dsl::TestStep& s) {
    // The parser has checked the reference's form.
    return *parse_object_ref(decl_for(s)->key(), s.ref);
  }

  Json object_for(const dsl::TestStep& s) {
    ObjectKey k = key_for(s);
    const dsl::KindDecl* d = decl_for(s);
    Json o = s.data ? data_to_json(*s.data) : Json::object();
    o["apiVersion"] = d->api_version();
    o["kind"] = d->name;
    o["metadata"]["name"] = k.name;
    o["metadata"]["cluster"] = k.cluster;
    if (!k.ns.empty()) o["metadata"]["namespace"] = k.ns;
    return o;
  }

  std::vector<std::string> tuple_args(const dsl::TestStep& s) {
    std::vector<std::string> args;
    for (const auto& a : s.tuple_args) {
      Json v = data_to_json(*a);
      args.push_back(v.is_string() ? v.get<std::string>() : v.dump());
    }
    return args;
  }

  // Who writes in a step: `as alice` (an authenticated user), `as { username,
  // groups }`, or, without `as`, the installation's admin.
  Json requester(const dsl::TestStep& s) {
    if (!s.as) return nullptr;
    Json who = data_to_json(*s.as);
    if (who.is_string()) return {{"username", who}, {"uid", ""}, {"groups", {"system:authenticated"}}};
    if (!who.is_object()) return nullptr;
    if (!who.contains("groups")) who["groups"] = Json::array({"system:authenticated"});
    if (!who.contains("uid")) who["uid"] = "";
    return who;
  }

  Op op_for(const dsl::TestStep& s) {
    if (s.is_tuple)
      return s.kind == dsl::StepKind::kDelete ? Op::remove_tuple(s.relation, tuple_args(s))
                                              : Op::add_tuple(s.relation, tuple_args(s));
    if (s.kind == dsl::StepKind::kDelete) return Op::remove(key_for(s));
    if (s.kind == dsl::StepKind::kUpdate) {
      // A merge of the fields given into the object as it is, as a JSON
      // merge patch (RFC 7386, what `kubectl patch --type merge` sends): a
      // null removes the field.
      const Json* cur = engine_.get(key_for(s));
      if (!cur) return Op::update(object_for(s));
      Json o = *cur;
      o.merge_patch(object_for(s));
      return Op::update(o);
    }
    return Op::create(object_for(s));
  }

  void commit(const std::string& where) {
    if (last_error_) throw Failure{"a transaction was refused and no `expect error` followed: " + *last_error_};
    Result r = engine_.apply(ops_);
    ops_.clear();
    if (!r.ok) {
      last_error_ = r.reason + ": " + r.message;
      return;
    }
    std::string diff = engine_.verify();
    if (!diff.empty()) throw Failure{where + ": the incremental state differs from a recomputation:\n" + diff};
  }

  void expect(const dsl::TestStep& s, const std::string& where) {
    if (last_error_) throw Failure{"a transaction was refused and no `expect error` followed: " + *last_error_};
    bool want = s.kind == dsl::StepKind::kExpect;
    if (s.is_tuple) {
      std::vector<std::string> args = tuple_args(s);
      bool has = engine_.has_tuple(s.relation, args);
      std::string fact = tuple_fact(s.relation, args);
      if (want && !has) throw Failure{where + ": expected " + describe_fact(fact) + ", found nothing"};
      if (!want && has)
        throw Failure{where + ": expected no " + describe_fact(fact) + ", found it:\n" + engine_.explain(fact)};
      return;
    }
    if (!want) {
      // A kind no longer served (its binding went) has no objects to find
      // by kind; look for one by what it says it is.
      auto ref = parse_object_ref(s.kind_name, s.ref);
      if (ref && !engine_.kinds().by_name(ref->cluster, s.kind_name)) {
        for (const auto& [f, e] : engine_.state().objects())
          if (const ObjectKeyView key = e.key(); !e.effective.is_null() && string_field(*e.effective, "kind") == s.kind_name &&
                                                  key.cluster == ref->cluster && key.ns == ref->ns && key.name == ref->name)
            throw Failure{where + ": expected no " + s.kind_name + " " + s.ref + ", found it:\n" + engine_.explain(f)};
        return;
      }
    }
    ObjectKey k = key_for(s);
    const Json* o = engine_.get(k);
    std::string fact = object_fact(k);
    if (!want) {
      // With fields: no object that has them.
      if (o && (!s.data || fields_match(*s.data, *o)))
        throw Failure{where + ": expected no " + k.to_string() + (s.data ? " with " + data_to_json(*s.data).dump() : "") +
                      ", found it:\n" + engine_.explain(fact)};
      return;
    }
    if (!o) throw Failure{where + ": expected " + k.to_string() + ", found nothing\n" + engine_.explain_absent(k)};
    if (!s.data) return;
    check_fields(*s.data, *o, "", where, fact);
  }

  bool fields_match(const dsl::Expr& want, const Json& have) {
    try {
      check_fields(want, have, "", "", "");
      return true;
    } catch (const Failure&) {
      return false;
    }
  }

  // Every key of `want` (dotted bare keys are paths) must have its value in `have`.
  void check_fields(const dsl::Expr& want, const Json& have, const std::string& prefix, const std::string& where,
                    const std::string& fact) {
    for (size_t i = 0; i < want.keys.size(); ++i) {
      std::vector<std::string> path =
          want.key_is_quoted[i] ? std::vector<std::string>{want.keys[i]} : split(want.keys[i], '.');
      const Json* at = expected_at(have, path);
      std::string shown = prefix + (prefix.empty() ? "" : ".") + want.keys[i];
      const dsl::Expr& v = *want.args[i];
      if (v.kind == dsl::ExprKind::kObject && at && at->is_object()) {
        check_fields(v, *at, shown, where, fact);
        continue;
      }
      Json expected = data_to_json(v);
      if (!at || !contains(*at, expected))
        throw Failure{where + ": expected " + shown + ": " + expected.dump() + " in " +
                      (fact.empty() ? std::string() : describe_fact(fact)) + ", found " +
                      (at ? at->dump() : std::string("nothing")) + "\n" + (fact.empty() ? "" : engine_.explain(fact))};
    }
  }

  Engine engine_;
  std::vector<Op> ops_;
  std::optional<std::string> last_error_;
  bool next_is_given_ = false;
};

}  // namespace

Json data_to_json(const dsl::Expr& e) {
  switch (e.kind) {
    case dsl::ExprKind::kNull: return nullptr;
    case dsl::ExprKind::kBool: return e.bool_value;
    case dsl::ExprKind::kInt: return e.int_value;
    case dsl::ExprKind::kFloat: return e.float_value;
    case dsl::ExprKind::kString: return e.text;
    case dsl::ExprKind::kList: {
      Json out = Json::array();
      for (const auto& a : e.args) out.push_back(data_to_json(*a));
      return out;
    }
    case dsl::ExprKind::kObject: {
      Json out = Json::object();
      for (size_t i = 0; i < e.keys.size(); ++i) {
        JsonPath path;
        for (const auto& f : e.key_is_quoted[i] ? std::vector<std::string>{e.keys[i]} : split(e.keys[i], '.'))
          path.push_back(PathElem{f, false, "", nullptr});
        Json v = data_to_json(*e.args[i]);
        if (const Json* have = find_at(out, path); have && have->is_object() && v.is_object()) {
          Json merged = *have;
          deep_merge(merged, v);
          v = merged;
        }
        set_at(out, path, v);
      }
      return out;
    }
    default:
      return dsl::to_string(e);
  }
}

TestReport run_tests(std::shared_ptr<const dsl::CompiledProgram> program, const std::string& filter) {
  TestReport report;
  for (const auto& [m, t] : program->program->tests()) {
    if (m->file->path.rfind("<embedded>/", 0) == 0) continue;
    if (!filter.empty() && t->name.find(filter) == std::string::npos) continue;
    TestOutcome o;
    o.file = m->file->path;
    o.name = t->name;
    try {
      TestRun run(program);
      for (size_t i = 0; i < t->steps.size(); ++i) {
        run.set_next_is_given(i + 1 < t->steps.size() && t->steps[i + 1].kind == dsl::StepKind::kGiven);
        run.step(t->steps[i], i);
      }
      run.finish();
    } catch (const Failure& f) {
      o.passed = false;
      o.failure = f.message;
      while (!o.failure.empty() && o.failure.back() == '\n') o.failure.pop_back();
    }
    (o.passed ? report.passed : report.failed)++;
    report.outcomes.push_back(std::move(o));
  }
  return report;
}

}  // namespace pmesh::engine
