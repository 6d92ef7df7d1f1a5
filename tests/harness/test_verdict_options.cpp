// The options that change a verdict travel: command-line arguments, JSON both ways, and the
// reproduce line; reports say which NOT_SUPPORTED cases are expected.
#include <catch2/catch.hpp>

#include <sstream>

#include <nlohmann/json.hpp>

#include "gdr/core/errors.hpp"
#include "gdr/harness/report.hpp"
#include "gdr/harness/runner.hpp"
#include "gdr/harness/verdict_options.hpp"

using namespace gdr::harness;
using nlohmann::json;

TEST_CASE("verdict options: defaults write nothing, each option its argument and key", "[verdict]") {
    CHECK(VerdictOptions{}.cli_args().empty());
    CHECK(to_json(VerdictOptions{}) == json::object());
    VerdictOptions options;
    options.tolerance_file = "/tmp/t t.json";
    options.strict = true;
    options.check_determinism = false;
    CHECK(options.cli_args() == std::vector<std::string>{"--tolerances", "/tmp/t t.json", "--strict", "--no-determinism"});
    const json j = to_json(options);
    CHECK(j == json{{"tolerances", "/tmp/t t.json"}, {"strict", true}, {"determinism", false}});
    CHECK(verdict_options_from_json(j, "f") == options);
    CHECK(verdict_options_from_json(json::object(), "f") == VerdictOptions{});
}

TEST_CASE("verdict options: bad JSON names the key", "[verdict]") {
    const auto rejected = [](const json& j) {
        try {
            (void)verdict_options_from_json(j, "file.json: options");
        } catch (const gdr::InvalidArgument& error) {
            return error.argument();
        }
        return std::string("<accepted>");
    };
    CHECK(rejected(json{{"tolerance", "x"}}) == "file.json: options: tolerance");
    CHECK(rejected(json{{"strict", 1}}) == "file.json: options: strict");
    CHECK(rejected(json{{"tolerances", false}}) == "file.json: options: tolerances");
    CHECK(rejected(json::array()) == "file.json: options");
}

TEST_CASE("verdict options: the reproduce line carries them", "[verdict]") {
    const CaseSpec spec = parse_text("B=1 K=4 V=4 seed=3");
    const std::string plain = reproduce_command(spec, "cuda-decode");
    CHECK(plain.find("--tolerances") == std::string::npos);
    VerdictOptions options;
    options.tolerance_file = "/data/tight table.json";
    options.strict = true;
    const std::string line = reproduce_command(spec, "cuda-decode", "gdr", options);
    CHECK(line == plain + " --tolerances '/data/tight table.json' --strict");
}

TEST_CASE("reports: a NOT_SUPPORTED says whether a declared limitation covers it", "[report][verdict]") {
    CaseReport expected;
    expected.subject = "s";
    expected.case_text = "B=1";
    expected.outcome = Outcome::not_supported;
    expected.declared_limitation = "key-dim-over-256";
    CaseReport unexpected = expected;
    unexpected.declared_limitation.clear();
    CHECK_FALSE(is_unexpected_not_supported(expected));
    CHECK(is_unexpected_not_supported(unexpected));
    CHECK(to_json(expected)["declared_limitation"] == "key-dim-over-256");
    CHECK(to_json(unexpected)["unexpected_not_supported"] == true);
    const std::vector<CaseReport> reports{expected, unexpected};
    CHECK(format_table(reports).find("NOT_SUPPORTED (expected: key-dim-over-256)") != std::string::npos);
    CHECK(format_table(reports).find("NOT_SUPPORTED (unexpected)") != std::string::npos);
    CHECK(format_summary(count_outcomes(reports)) == "2 cases: 2 NOT_SUPPORTED (1 unexpected)");
    CHECK(summary_to_json(reports)["not_supported"] == json{{"expected", 1}, {"unexpected", 1}});
    std::ostringstream lenient, strict;
    write_junit(lenient, reports, "suite");
    write_junit(strict, reports, "suite", /*strict=*/true);
    CHECK(lenient.str().find("<failure") == std::string::npos);
    CHECK(lenient.str().find("failures=\"0\" errors=\"0\" skipped=\"2\"") != std::string::npos);
    CHECK(strict.str().find("<failure type=\"NOT_SUPPORTED\"") != std::string::npos);
    CHECK(strict.str().find("failures=\"1\" errors=\"0\" skipped=\"1\"") != std::string::npos);
}
