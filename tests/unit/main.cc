// The unit tests' main. CTest runs each test case by name
// (doctest_discover_tests); a name doctest's filter cannot match (CMake
// splits names at ";") would run nothing and pass. So a run filtered by
// test case that runs none fails.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>

namespace {

int g_started = 0;

// Counts the test cases that run; reports nothing.
struct Started : doctest::IReporter {
  explicit Started(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData&) override { ++g_started; }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};
REGISTER_LISTENER("started", 1, Started);

}  // namespace

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  int result = context.run();
  if (context.shouldExit()) return result;
  bool by_name = false;
  for (int i = 1; i < argc; ++i)
    by_name |= std::strncmp(argv[i], "--test-case=", 12) == 0 || std::strncmp(argv[i], "-tc=", 4) == 0;
  if (result == 0 && by_name && g_started == 0) {
    std::fprintf(stderr, "no test case matched the filter: it ran nothing (a \";\" in a test case's name?)\n");
    return 1;
  }
  return result;
}
