// OpenFGA's model test files (`fga model test`, .fga.yaml) run through the
// engine:
//
//   model_file: ./model.fga        # or `model: |` with the DSL inline
//   tuples:                        # (or tuple_file:) for every test
//     - {user: user:anne, relation: viewer, object: document:1}
//   tests:
//     - name: anne views
//       tuples: [...]              # for this test only
//       check:
//         - user: user:anne        # or users: [...]
//           object: document:1     # or objects: [...]
//           assertions: {viewer: true, editor: false}
//       list_objects:
//         - {user: user:anne, type: document, assertions: {viewer: [document:1]}}
//       list_users:
//         - object: document:1
//           user_filter: [{type: user}]
//           assertions: {viewer: {users: [user:anne]}}
//
// Each test gets a fresh engine; after its tuples are written the
// incrementally maintained relations are compared with a recomputation
// from scratch, so a test also checks the engine.
//
// Thread safety: single-threaded.
#pragma once

#include <ostream>
#include <string>

namespace pmesh::cli {

struct FgaTestTotals {
  int tests = 0, tests_passed = 0;
  int checks = 0, checks_passed = 0;
  int list_objects = 0, list_objects_passed = 0;
  int list_users = 0, list_users_passed = 0;
  bool passed() const {
    return tests == tests_passed && checks == checks_passed && list_objects == list_objects_passed && list_users == list_users_passed;
  }
};

// Runs the tests of one file whose name contains `filter`; failures are
// written to `out` as they happen. A file that cannot be read or whose
// model is invalid counts as one failed test.
void run_fga_test_file(const std::string& path, const std::string& filter, std::ostream& out, FgaTestTotals* totals);

}  // namespace pmesh::cli
