#include "rc_property.hpp"

#include <unistd.h>

#include <iostream>
#include <sstream>

#include "gdr/harness/case_spec.hpp"

namespace gdr::testing {

namespace {

std::string self_executable() {
    char buffer[4096];
    const ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
    if (n <= 0) return "<test binary>";
    return std::string(buffer, std::size_t(n));
}

// A shown value that parses as a CaseSpec: either the whole value, or one element of a
// shown tuple "(a, b)" (the text form has no ", " of its own).
std::string find_case_spec(const rc::detail::Example& example) {
    for (const auto& [type, value] : example) {
        if (type.find("CaseSpec") == std::string::npos) continue;
        std::string body = value;
        if (body.size() >= 2 && body.front() == '(' && body.back() == ')') body = body.substr(1, body.size() - 2);
        std::size_t begin = 0;
        while (begin <= body.size()) {
            std::size_t end = body.find(", ", begin);
            if (end == std::string::npos) end = body.size();
            const std::string piece = body.substr(begin, end - begin);
            try {
                return harness::to_text(harness::parse_text(piece));
            } catch (const std::exception&) {
            }
            begin = end + 2;
        }
    }
    return {};
}

}  // namespace

rc::detail::TestParams property_params(const PropertyOptions& options) {
    rc::detail::TestParams params = rc::detail::configuration().testParams;
    if (options.max_success > 0) params.maxSuccess = options.max_success;
    if (options.max_size > 0) params.maxSize = options.max_size;
    if (params.maxSize > kMaxRapidCheckSize) params.maxSize = kMaxRapidCheckSize;
    return params;
}

std::string reproduce_string(const std::string& id, const rc::detail::Reproduce& reproduce) {
    rc::detail::Configuration config;
    config.reproduce.emplace(id, reproduce);
    // configToString writes every key; keep only the reproduce entry.
    std::istringstream all(rc::detail::configToString(config));
    std::string token;
    while (all >> token)
        if (token.rfind("reproduce=", 0) == 0) return token;
    return {};
}

ReproduceMap parse_reproduce_string(const std::string& rc_params) {
    return rc::detail::configFromString(rc_params).reproduce;
}

std::string property_id(const std::string& description) {
    return Catch::getResultCapture().getCurrentTestName() + "/" + description;
}

PropertyReport make_report(const std::string& id, bool skipped, const rc::detail::TestResult& result) {
    PropertyReport report;
    report.id = id;
    std::ostringstream message;
    rc::detail::printResultMessage(result, message);
    report.message = message.str();
    rc::detail::SuccessResult success;
    rc::detail::FailureResult failure;
    rc::detail::GaveUpResult gave_up;
    if (result.match(success)) {
        report.successes = success.numSuccess;
        // checkProperty answers "success, 0 cases" for an id that a non-empty reproduce
        // map does not name: that is a property that never ran.
        report.status = skipped ? PropertyStatus::not_run : PropertyStatus::passed;
    } else if (result.match(failure)) {
        report.status = PropertyStatus::failed;
        report.successes = failure.numSuccess;
        report.reproduce = reproduce_string(id, failure.reproduce);
        report.counterexample = failure.counterExample;
        report.case_spec_text = find_case_spec(failure.counterExample);
    } else if (result.match(gave_up)) {
        report.status = PropertyStatus::gave_up;
        report.successes = gave_up.numSuccess;
    } else {
        // Includes "Reproduced result is not a failure": a reproduce string that no
        // longer fails must not read as a pass either.
        report.status = PropertyStatus::error;
    }
    return report;
}

void report_to_catch(const PropertyReport& report, const std::string& description) {
    switch (report.status) {
    case PropertyStatus::passed:
        SUCCEED("property '" << description << "': " << report.message);
        return;
    case PropertyStatus::not_run:
        WARN("NOT RUN: property '" << report.id
                                   << "' is not named by RC_PARAMS reproduce=...; it was skipped, not passed");
        return;
    case PropertyStatus::failed: {
        std::ostringstream out;
        out << "property '" << report.id << "' failed\n" << report.message << "\n";
        if (!report.case_spec_text.empty()) out << "case spec: " << report.case_spec_text << "\n";
        out << "reproduce: RC_PARAMS=\"" << report.reproduce << "\" " << self_executable() << " \""
            << Catch::getResultCapture().getCurrentTestName() << "\"";
        // Catch wraps long lines; this copy keeps the spec and the command on one line each.
        std::cerr << "\nproperty failed: " << report.id << "\n";
        if (!report.case_spec_text.empty()) std::cerr << "case spec: " << report.case_spec_text << "\n";
        std::cerr << "reproduce: RC_PARAMS=\"" << report.reproduce << "\" " << self_executable() << " \""
                  << Catch::getResultCapture().getCurrentTestName() << "\"" << std::endl;
        FAIL(out.str());
        return;
    }
    case PropertyStatus::gave_up:
        FAIL("property '" << report.id << "' gave up (too many RC_PRE discards)\n" << report.message);
        return;
    case PropertyStatus::error:
        FAIL("property '" << report.id << "' could not be checked\n" << report.message);
        return;
    }
}

}  // namespace gdr::testing
