#include "cli/fga_test_file.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include <yaml-cpp/yaml.h>

#include "engine/engine.h"
#include "fga/compile.h"
#include "fga/dsl_parser.h"
#include "fga/query.h"

namespace pmesh::cli {

namespace {

// The one store a test file's tuples are in.
constexpr const char* kStore = "local";

using fga::FgaError;

std::vector<std::string> strings(const YAML::Node& one, const YAML::Node& many) {
  std::vector<std::string> out;
  if (one) out.push_back(one.as<std::string>());
  if (many)
    for (const auto& n : many) out.push_back(n.as<std::string>());
  return out;
}

std::vector<engine::Op> tuple_ops(const fga::CompiledModel& m, const YAML::Node& tuples) {
  std::vector<engine::Op> ops;
  if (!tuples) return ops;
  for (const auto& t : tuples) {
    std::string user = t["user"].as<std::string>(""), rel = t["relation"].as<std::string>(""), obj = t["object"].as<std::string>("");
    fga::validate_tuple(m.model, user, rel, obj);
    ops.push_back(engine::Op::add_tuple(fga::kTupleRelation, {kStore, obj, rel, user}));
  }
  return ops;
}

std::string joined(const std::set<std::string>& s) {
  std::string out = "[";
  for (const auto& x : s) out += (out.size() > 1 ? ", " : "") + x;
  return out + "]";
}

class FileRun {
 public:
  FileRun(std::string path, std::ostream& out, FgaTestTotals* totals) : path_(std::move(path)), out_(out), t_(totals) {}

  void run(const std::string& filter) {
    YAML::Node doc = YAML::LoadFile(path_);
    std::filesystem::path dir = std::filesystem::path(path_).parent_path();
    fga::Model model;
    if (doc["model"]) model = fga::parse_dsl({{path_, doc["model"].as<std::string>()}});
    else if (doc["model_file"]) model = fga::read_model_file((dir / doc["model_file"].as<std::string>()).string());
    else throw FgaError("validation_error", "the file names no model (model or model_file)");
    fga::CompiledModel m = fga::compile_model(std::move(model), "fga_");
    YAML::Node shared = doc["tuples"];
    if (doc["tuple_file"]) shared = YAML::LoadFile((dir / doc["tuple_file"].as<std::string>()).string());
    for (const auto& test : doc["tests"]) {
      std::string name = test["name"].as<std::string>("");
      if (!filter.empty() && name.find(filter) == std::string::npos) continue;
      one_test(m, shared, test, name);
    }
  }

 private:
  void fail(const std::string& test, const std::string& what) {
    out_ << "FAIL  " << path_ << ": " << test << ": " << what << "\n";
    failed_ = true;
  }

  void one_test(const fga::CompiledModel& m, const YAML::Node& shared, const YAML::Node& test, const std::string& name) {
    ++t_->tests;
    failed_ = false;
    engine::Engine e(m.program);
    std::vector<engine::Op> ops = {engine::Op::add_tuple(fga::kLoadedRelation, m.lowered.loaded(kStore))};
    try {
      auto shared_ops = tuple_ops(m, shared);
      ops.insert(ops.end(), shared_ops.begin(), shared_ops.end());
      auto mine = tuple_ops(m, test["tuples"]);
      ops.insert(ops.end(), mine.begin(), mine.end());
    } catch (const FgaError& err) {
      fail(name, err.what());
      return;
    }
    engine::Result r = e.apply(ops);
    if (!r.ok) return fail(name, "writing the tuples: " + r.message);
    std::string diff = e.verify();
    if (!diff.empty()) fail(name, "the maintained relations differ from a recomputation:\n" + diff);
    fga::ModelView view{m.model, m.lowered, kStore};
    for (const auto& c : test["check"]) {
      for (const auto& user : strings(c["user"], c["users"]))
        for (const auto& object : strings(c["object"], c["objects"]))
          for (const auto& a : c["assertions"]) {
            std::string rel = a.first.as<std::string>();
            bool want = a.second.as<bool>();
            ++t_->checks;
            std::string what = "check " + user + " " + rel + " " + object;
            try {
              bool got = fga::check(e, view, user, rel, object);
              if (got == want) ++t_->checks_passed;
              else fail(name, what + ": want " + (want ? "true" : "false") + ", got " + (got ? "true" : "false"));
            } catch (const FgaError& err) {
              fail(name, what + ": " + err.what());
            }
          }
    }
    for (const auto& l : test["list_objects"]) {
      std::string user = l["user"].as<std::string>(""), type = l["type"].as<std::string>("");
      for (const auto& a : l["assertions"]) {
        std::string rel = a.first.as<std::string>();
        std::set<std::string> want;
        for (const auto& o : a.second) want.insert(o.as<std::string>());
        ++t_->list_objects;
        std::string what = "list-objects " + user + " " + rel + " " + type;
        try {
          auto got_list = fga::list_objects(e, view, type, rel, user);
          std::set<std::string> got(got_list.begin(), got_list.end());
          if (got == want) ++t_->list_objects_passed;
          else fail(name, what + ": want " + joined(want) + ", got " + joined(got));
        } catch (const FgaError& err) {
          fail(name, what + ": " + err.what());
        }
      }
    }
    for (const auto& l : test["list_users"]) {
      std::string object = l["object"].as<std::string>("");
      std::vector<fga::UserFilter> filters;
      for (const auto& f : l["user_filter"]) filters.push_back({f["type"].as<std::string>(""), f["relation"].as<std::string>("")});
      for (const auto& a : l["assertions"]) {
        std::string rel = a.first.as<std::string>();
        std::set<std::string> want;
        for (const auto& u : a.second["users"]) want.insert(u.as<std::string>());
        ++t_->list_users;
        std::string what = "list-users " + object + " " + rel;
        try {
          std::set<std::string> got;
          for (const auto& u : fga::list_users(e, view, object, rel, filters)) got.insert(fga::user_string(u));
          if (got == want) ++t_->list_users_passed;
          else fail(name, what + ": want " + joined(want) + ", got " + joined(got));
        } catch (const FgaError& err) {
          fail(name, what + ": " + err.what());
        }
      }
    }
    if (!failed_) ++t_->tests_passed;
    out_ << (failed_ ? "" : "PASS  " + path_ + ": " + name + "\n");
  }

  std::string path_;
  std::ostream& out_;
  FgaTestTotals* t_;
  bool failed_ = false;
};

}  // namespace

void run_fga_test_file(const std::string& path, const std::string& filter, std::ostream& out, FgaTestTotals* totals) {
  try {
    FileRun(path, out, totals).run(filter);
  } catch (const FgaError& e) {
    ++totals->tests;
    out << "FAIL  " << path << ": " << e.what() << "\n";
  } catch (const YAML::Exception& e) {
    ++totals->tests;
    out << "FAIL  " << path << ": " << e.what() << "\n";
  }
}

}  // namespace pmesh::cli
