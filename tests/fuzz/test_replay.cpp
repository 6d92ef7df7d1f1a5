// Replay files (gdr/fuzz/replay.hpp) round-trip, and every malformed one is an
// InvalidArgument naming the file and the field, never a crash or a silent default.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "gdr/core/errors.hpp"
#include "gdr/fuzz/replay.hpp"

using namespace gdr;
using namespace gdr::harness;
using namespace gdr::fuzz;

namespace {

std::filesystem::path temp_file(const std::string& name, const std::string& text) {
    const auto path = std::filesystem::temp_directory_path() / ("gdr-replay-test-" + std::to_string(getpid()) + "-" + name);
    std::ofstream(path) << text;
    return path;
}

// The error's text for a replay file holding `text`; "(accepted)" when it loads.
std::string error_for(const std::string& text) {
    const auto path = temp_file("bad.json", text);
    try {
        read_replay_file(path);
    } catch (const InvalidArgument& error) {
        std::filesystem::remove(path);
        return error.what();
    }
    std::filesystem::remove(path);
    return "(accepted)";
}

}  // namespace

TEST_CASE("replay: a file round-trips every field", "[replay]") {
    ReplayFile replay;
    replay.spec = parse_text("B=2 T=3 H=1 HV=2 K=5 V=7 layout=vk in=f16 state=bf16 slots=3 circular=1 seqlen_max=7 seed=9");
    replay.subject = "cuda-decode";
    replay.outcome = "INCORRECT";
    replay.failure_class = "state vs R64";
    replay.failing_checks = {"state vs R64", "determinism"};
    replay.campaign_seed = 18446744073709551615ULL;  // the largest seed survives JSON
    replay.case_number = 1234;
    replay.original_case = "B=9 T=3 H=1 HV=2 K=50 V=70 seed=9";
    replay.gdr_version = "0.1.0";
    replay.note = "why";
    replay.options.tolerance_file = "/tables/tight.json";
    replay.options.strict = true;
    replay.options.check_determinism = false;
    const auto path = temp_file("round-trip.json", "");
    write_replay_file(path, replay);
    const ReplayFile back = read_replay_file(path);
    std::filesystem::remove(path);
    CHECK(back.spec == replay.spec);
    CHECK(back.subject == replay.subject);
    CHECK(back.outcome == replay.outcome);
    CHECK(back.failure_class == replay.failure_class);
    CHECK(back.failing_checks == replay.failing_checks);
    CHECK(back.campaign_seed == replay.campaign_seed);
    CHECK(back.case_number == replay.case_number);
    CHECK(back.original_case == replay.original_case);
    CHECK(back.gdr_version == replay.gdr_version);
    CHECK(back.note == replay.note);
    CHECK(back.options == replay.options);
}

TEST_CASE("replay: malformed files name the file and the field", "[replay]") {
    const std::string ok_case = R"("case": "B=1 T=1 H=1 HV=1 K=4 V=3 seed=1")";
    const std::string ok_head = R"({"format": "gdr-replay/2", )" + ok_case;
    CHECK(error_for(ok_head + R"(, "subject": "cuda-decode"})") == "(accepted)");

    const std::string path_part = "gdr-replay-test-";
    const auto check_error = [&](const std::string& text, const std::string& field_and_more) {
        const std::string error = error_for(text);
        INFO("file: " << text << "\nerror: " << error);
        CHECK(error.find(path_part) != std::string::npos);
        CHECK(error.find(field_and_more) != std::string::npos);
    };
    check_error("", "not valid JSON");
    check_error("{\"format\": ", "not valid JSON");
    check_error("[1, 2]", "one JSON object");
    check_error(R"({"case": "B=1", "subject": "x"})", ": format: missing");
    check_error(R"({"format": "gdr-replay/3", "case": "B=1", "subject": "x"})", ": format: 'gdr-replay/3'");
    check_error(R"({"format": "gdr-replay/2", "subject": "x"})", ": case: missing");
    check_error(ok_head + "}", ": subject: missing");
    check_error(ok_head + R"(, "subject": ""})", ": subject: empty");
    check_error(R"({"format": "gdr-replay/2", "case": 7, "subject": "x"})", ": case: wrong type");
    check_error(R"({"format": "gdr-replay/2", "case": "B=1 K=0", "subject": "x"})", ": case: K:");
    check_error(R"({"format": "gdr-replay/2", "case": "B=1 bogus=3", "subject": "x"})", ": case: bogus");
    check_error(R"({"format": "gdr-replay/2", "case": "B=1 generator=3", "subject": "x"})", ": case: generator:");
    check_error(R"({"format": "gdr-replay/1", "case": "B=1 generator=2", "subject": "x"})",
                ": case: a gdr-replay/1 file has no generator key");
    check_error(ok_head + R"(, "subject": "x", "case_number": "12"})", ": case_number: not an integer");
    check_error(ok_head + R"(, "subject": "x", "campaign_seed": -1})", ": campaign_seed: not an unsigned integer");
    check_error(ok_head + R"(, "subject": "x", "failing_checks": "o"})", ": failing_checks: wrong type");
    check_error(ok_head + R"(, "subject": "x", "cases": "typo"})", ": cases: unknown field");
    check_error(ok_head + R"(, "subject": "x", "options": {"strict": "yes"}})", ": options: strict: wrong type");
    check_error(ok_head + R"(, "subject": "x", "options": {"tolerance": "t.json"}})", ": options: tolerance: unknown");
    CHECK(error_for(ok_head + R"(, "subject": "x", "options": {"tolerances": "t.json", "determinism": false}})") ==
          "(accepted)");
}

TEST_CASE("replay: a gdr-replay/1 file replays the bank values it was found with (generator 1)", "[replay]") {
    const std::string body = R"("case": "B=1 T=1 H=1 HV=1 K=4 V=3 seed=1", "subject": "x"})";
    const auto old_path = temp_file("format1.json", R"({"format": "gdr-replay/1", )" + body);
    const auto new_path = temp_file("format2.json", R"({"format": "gdr-replay/2", )" + body);
    const ReplayFile old_file = read_replay_file(old_path), new_file = read_replay_file(new_path);
    std::filesystem::remove(old_path);
    std::filesystem::remove(new_path);
    CHECK(old_file.spec.generator == 1);
    CHECK(new_file.spec.generator == kCurrentGenerator);
    // Written again, the old case says so in its text, in the current format.
    const nlohmann::json rewritten = to_json(old_file);
    CHECK(rewritten["format"] == kReplayFormat);
    CHECK(rewritten["case"].get<std::string>().find("generator=1") != std::string::npos);
    CHECK(parse_text(rewritten["case"].get<std::string>()) == old_file.spec);
}

TEST_CASE("replay: a missing file is an error naming it", "[replay]") {
    try {
        read_replay_file("/nonexistent/gdr-replay.json");
        FAIL("accepted a missing file");
    } catch (const InvalidArgument& error) {
        CHECK(std::string(error.what()).find("/nonexistent/gdr-replay.json") != std::string::npos);
    }
}
