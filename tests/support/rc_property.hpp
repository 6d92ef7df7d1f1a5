// RapidCheck properties inside Catch2 test cases, with working reproduction.
//
// rc::prop from rapidcheck/catch.h runs every property with an empty TestMetadata id, so
// the reproduce string RapidCheck prints cannot name it: under RC_PARAMS="reproduce=..."
// checkProperty finds no entry for the empty id and returns "success, 0 tests" without
// running anything. gdr::testing::check_property gives each property the id
// "<Catch test name>/<description>", reports failures through Catch with the ready-made
// reproduce command (and the counterexample's CaseSpec text), and reports a property that
// a reproduce string skipped as NOT RUN (a Catch WARN), never as a silent pass.
//
//   TEST_CASE("oracle: layouts agree", "[property]") {
//       gdr::testing::check_property("kv equals vk", [](const gdr::harness::CaseSpec& spec) { ... });
//   }
//
// Inside the property use RC_ASSERT / RC_PRE / RC_LOG / RC_CLASSIFY only.
#pragma once

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <rapidcheck.h>
#include <rapidcheck/detail/TestListenerAdapter.h>

namespace gdr::testing {

// This RapidCheck snapshot has undefined behaviour for sizes above 100.
inline constexpr int kMaxRapidCheckSize = 100;

using ReproduceMap = std::unordered_map<std::string, rc::detail::Reproduce>;

enum class PropertyStatus { passed, failed, gave_up, error, not_run };

struct PropertyOptions {
    int max_success = 0;  // > 0: overrides RC_PARAMS max_success for this property
    int max_size = 0;     // > 0: overrides max_size (still clamped to 100)
};

struct PropertyReport {
    std::string id;
    PropertyStatus status = PropertyStatus::error;
    int successes = 0;           // cases that ran and passed before the result
    std::string message;         // RapidCheck's own description of the result
    std::string reproduce;       // "reproduce=..." for RC_PARAMS (failures only)
    rc::detail::Example counterexample;  // (type, shown value) pairs (failures only)
    std::string case_spec_text;  // the counterexample's CaseSpec in text form, if it has one
};

// The parameters every property runs with: RC_PARAMS (rc::detail::configuration()),
// then `options`, with max_size clamped to kMaxRapidCheckSize.
rc::detail::TestParams property_params(const PropertyOptions& options = {});

// Turns a RapidCheck result into a report. `skipped` says the reproduce map named other
// properties, so that "success after 0 cases" means "not run".
PropertyReport make_report(const std::string& id, bool skipped, const rc::detail::TestResult& result);

// The RC_PARAMS value that reproduces `reproduce` for property `id`.
std::string reproduce_string(const std::string& id, const rc::detail::Reproduce& reproduce);
// Parses the reproduce map out of an RC_PARAMS string ("reproduce=... [other keys]").
ReproduceMap parse_reproduce_string(const std::string& rc_params);

// The id check_property gives a property in the running Catch test case.
std::string property_id(const std::string& description);

// The low-level runner: explicit params, reproduce map and listener (a silent
// rc::detail::TestListenerAdapter keeps deliberate failures out of RapidCheck's exit
// message). Used by check_property and by the tests of this wrapper.
template <typename Testable>
PropertyReport run_property(const std::string& id, const std::string& description, Testable&& testable,
                            const rc::detail::TestParams& params, const ReproduceMap& reproduce,
                            rc::detail::TestListener& listener) {
    rc::detail::TestParams clamped = params;
    if (clamped.maxSize > kMaxRapidCheckSize) clamped.maxSize = kMaxRapidCheckSize;
    const rc::detail::TestMetadata metadata{id, description};
    const rc::detail::TestResult result =
        rc::detail::checkTestable(std::forward<Testable>(testable), metadata, clamped, listener, reproduce);
    return make_report(id, !reproduce.empty() && reproduce.count(id) == 0, result);
}

// Reports `report` through Catch: FAIL with the reproduce command for failures, WARN for
// NOT RUN, SUCCEED otherwise.
void report_to_catch(const PropertyReport& report, const std::string& description);

// Runs a property as part of the current Catch test case, with RC_PARAMS' configuration
// (its seed, its reproduce map) and RapidCheck's global listener, so the exit message
// and RC_PARAMS="reproduce=..." work as RapidCheck documents.
template <typename Testable>
PropertyReport check_property(const std::string& description, Testable&& testable, const PropertyOptions& options = {}) {
    const std::string id = property_id(description);
    const rc::detail::TestParams params = property_params(options);
    const rc::detail::TestMetadata metadata{id, description};
    // The three-argument overload uses configuration().reproduce and the global listener.
    const rc::detail::TestResult result = rc::detail::checkTestable(std::forward<Testable>(testable), metadata, params);
    const ReproduceMap& reproduce = rc::detail::configuration().reproduce;
    PropertyReport report = make_report(id, !reproduce.empty() && reproduce.count(id) == 0, result);
    report_to_catch(report, description);
    return report;
}

}  // namespace gdr::testing
