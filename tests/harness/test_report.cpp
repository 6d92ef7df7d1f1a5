// Outcomes, JSON records, the human table, the failure dump and JUnit.
#include <catch2/catch.hpp>

#include <limits>
#include <sstream>

#include "gdr/harness/report.hpp"

using namespace gdr;
using namespace gdr::harness;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

SliceMetrics failing_slice() {
    SliceMetrics m;
    m.label = "o[b=1,t=0]";
    m.dim_names = {"hv", "v"};
    m.elements = 24;
    m.max_abs_error = 0.125;
    m.max_abs_index = {1, 3};
    m.subject_at_max = 1.625;
    m.truth_at_max = 1.5;
    m.emulated_at_max = 1.5009765625;
    m.threshold_abs = 0.0025;
    m.mismatch_count = 1;
    Mismatch x;
    x.flat = 7;
    x.index = {1, 3};
    x.subject = 1.625;
    x.truth = 1.5;
    x.emulated = 1.5009765625;
    x.what = "abs";
    m.first_mismatches = {x};
    m.rel_frobenius = std::numeric_limits<double>::infinity();
    m.passed = false;
    m.why = "1 elements beyond threshold";
    return m;
}

CaseReport incorrect_case() {
    CaseReport r;
    r.case_text = "B=2 T=1 H=1 HV=2 K=5 V=12 layout=vk seed=42";
    r.seed = 42;
    r.subject = "cuda-decode";
    r.message = "o differs from R64";
    r.seconds = 0.5;
    r.reproduce = "gdr run --case 'B=2 T=1 H=1 HV=2 K=5 V=12 layout=vk seed=42'";
    r.checks.push_back({"state vs R64", Outcome::passed, "", std::nullopt, "any/state/T1"});
    r.checks.push_back({"o vs R64", Outcome::incorrect, "token 0 of row 1", failing_slice(), "any/o/T1"});
    r.outcome = worst_outcome(r.checks);
    return r;
}

CaseReport simple_case(std::string text, Outcome outcome, std::string message = "") {
    CaseReport r;
    r.case_text = std::move(text);
    r.subject = "cuda-decode";
    r.outcome = outcome;
    r.message = std::move(message);
    return r;
}

}  // namespace

TEST_CASE("outcome: names, parsing and severity", "[report]") {
    for (Outcome o : {Outcome::passed, Outcome::not_supported, Outcome::not_run, Outcome::incorrect, Outcome::failed})
        CHECK(parse_outcome(to_string(o)) == o);
    CHECK(to_string(Outcome::not_run) == "NOT_RUN");
    CHECK(to_string(Outcome::not_supported) == "NOT_SUPPORTED");
    CHECK(parse_outcome("incorrect") == Outcome::incorrect);
    CHECK_FALSE(parse_outcome("OK").has_value());
    CHECK(worst(Outcome::passed, Outcome::not_supported) == Outcome::not_supported);
    CHECK(worst(Outcome::not_run, Outcome::not_supported) == Outcome::not_run);
    CHECK(worst(Outcome::incorrect, Outcome::not_run) == Outcome::incorrect);
    CHECK(worst(Outcome::incorrect, Outcome::failed) == Outcome::failed);
    CHECK(worst(Outcome::failed, Outcome::passed) == Outcome::failed);
    CHECK(is_failure(Outcome::incorrect));
    CHECK_FALSE(is_failure(Outcome::not_run));
    CHECK(worst_outcome({}) == Outcome::passed);
    CHECK(incorrect_case().outcome == Outcome::incorrect);
}

TEST_CASE("report: the JSON record", "[report]") {
    const nlohmann::json j = to_json(incorrect_case());
    CHECK(j["case"] == "B=2 T=1 H=1 HV=2 K=5 V=12 layout=vk seed=42");
    CHECK(j["seed"] == 42);
    CHECK(j["subject"] == "cuda-decode");
    CHECK(j["outcome"] == "INCORRECT");
    CHECK(j["message"] == "o differs from R64");
    CHECK(j["seconds"] == 0.5);
    CHECK(contains(j["reproduce"].get<std::string>(), "gdr run"));
    REQUIRE(j["checks"].size() == 2);
    CHECK(j["checks"][0]["worst_slice"].is_null());
    const auto& c = j["checks"][1];
    CHECK(c["name"] == "o vs R64");
    CHECK(c["outcome"] == "INCORRECT");
    CHECK(c["tolerance_row"] == "any/o/T1");
    CHECK(c["worst_slice"]["max_abs_error"] == 0.125);
    CHECK(c["worst_slice"]["max_abs_index"] == nlohmann::json::array({1, 3}));
    CHECK(c["worst_slice"]["rel_frobenius"] == "inf");  // not null: which non-finite survives
    CHECK(c["worst_slice"]["first_mismatches"][0]["flat"] == 7);
    CHECK(c["worst_slice"]["passed"] == false);
    // One line per record.
    CHECK_FALSE(contains(j.dump(), "\n"));
}

TEST_CASE("report: the table", "[report]") {
    const std::string long_text(100, 'x');
    const std::string t = format_table({incorrect_case(), simple_case(long_text, Outcome::not_run)});
    CHECK(contains(t, "SUBJECT"));
    CHECK(contains(t, "cuda-decode"));
    CHECK(contains(t, "INCORRECT"));
    CHECK(contains(t, "NOT_RUN"));
    CHECK(contains(t, "0.125 / 0.0025"));
    CHECK(contains(t, "any/o/T1"));
    CHECK(contains(t, "..."));
    CHECK_FALSE(contains(t, long_text));
}

TEST_CASE("report: the failure dump", "[report]") {
    const std::string f = format_failure(incorrect_case());
    CHECK(contains(f, "INCORRECT"));
    CHECK(contains(f, "B=2 T=1 H=1 HV=2 K=5 V=12 layout=vk seed=42"));
    CHECK(contains(f, "seed: 42"));
    CHECK(contains(f, "reproduce: gdr run"));
    CHECK(contains(f, "o[b=1,t=0]"));
    CHECK(contains(f, "max abs error 0.125 at (hv=1, v=3): subject=1.625 R64=1.5 Rlp=1.5009765625"));
    CHECK(contains(f, "mismatches 1"));
    CHECK(contains(f, "first mismatches"));
    CHECK(contains(f, "tolerance row \"any/o/T1\""));
    CHECK_FALSE(contains(f, "state vs R64"));  // passed checks stay out of the dump
}

TEST_CASE("report: elements left unjudged in a chunk a non-finite input may poison are counted", "[report]") {
    // docs/SPEC.md, chunked path: the JSON record and the failure dump say how many.
    CaseReport r = incorrect_case();
    CHECK_FALSE(contains(format_failure(r), "in the chunk of a NaN/Inf input"));
    CHECK(to_json(r)["checks"][1]["worst_slice"]["nonfinite_allowed_count"] == 0);
    r.checks[1].worst_slice->nonfinite_allowed_count = 3;
    CHECK(contains(format_failure(r),
                   "3 elements unjudged: NaN/Inf where R64 is finite, in the chunk of a NaN/Inf input"));
    CHECK(to_json(r)["checks"][1]["worst_slice"]["nonfinite_allowed_count"] == 3);
}

TEST_CASE("report: elements left unjudged where the declared precision overflowed are counted", "[report]") {
    // docs/SPEC.md, chunked path: the JSON record and the failure dump say how many.
    CaseReport r = incorrect_case();
    CHECK_FALSE(contains(format_failure(r), "declared precision overflowed"));
    CHECK(to_json(r)["checks"][1]["worst_slice"]["operand_overflow_unjudged"] == 0);
    r.checks[1].worst_slice->operand_overflow_unjudged = 7;
    CHECK(contains(format_failure(r), "7 elements unjudged: the chunk kernel's declared precision overflowed"));
    CHECK(to_json(r)["checks"][1]["worst_slice"]["operand_overflow_unjudged"] == 7);
}

TEST_CASE("report: XML escaping", "[report]") {
    CHECK(xml_escape("a<b & \"c\" 'd' >") == "a&lt;b &amp; &quot;c&quot; &apos;d&apos; &gt;");
    CHECK(xml_escape(std::string("x\x01y\tz\n")) == "x\\x01y\tz\n");
    CHECK(xml_escape("plain") == "plain");
}

TEST_CASE("report: JUnit", "[report]") {
    std::ostringstream out;
    write_junit(out,
                {simple_case("B=1 \"quoted\"", Outcome::passed), incorrect_case(),
                 simple_case("B=3", Outcome::failed, "cudaErrorIllegalAddress <in> kernel & more"),
                 simple_case("B=4", Outcome::not_run, "no GPU"), simple_case("B=5", Outcome::not_supported, "K=7")},
                "gdr <cpu>");
    const std::string x = out.str();
    CHECK(contains(x, "<?xml version=\"1.0\""));
    CHECK(contains(x, "name=\"gdr &lt;cpu&gt;\""));
    CHECK(contains(x, "tests=\"5\""));
    CHECK(contains(x, "failures=\"2\""));
    CHECK(contains(x, "skipped=\"2\""));
    CHECK(contains(x, "name=\"B=1 &quot;quoted&quot;\""));
    CHECK(contains(x, "<failure type=\"INCORRECT\""));
    CHECK(contains(x, "<failure type=\"FAILED\" message=\"FAILED: cudaErrorIllegalAddress &lt;in&gt; kernel &amp; more\""));
    CHECK(contains(x, "<skipped message=\"NOT_RUN: no GPU\"/>"));
    CHECK(contains(x, "<skipped message=\"NOT_SUPPORTED (unexpected): K=7\"/>"));
    CHECK_FALSE(contains(x, "<in>"));
    CHECK_FALSE(contains(x, "\"quoted\""));
}

TEST_CASE("report: counting outcomes", "[report]") {
    const std::vector<CaseReport> reports = {simple_case("a", Outcome::passed), simple_case("b", Outcome::incorrect),
                                             simple_case("c", Outcome::incorrect), simple_case("d", Outcome::not_run)};
    const OutcomeCounts n = count_outcomes(reports);
    CHECK(n.total() == 4);
    CHECK(n.of(Outcome::incorrect) == 2);
    CHECK(n.worst() == Outcome::incorrect);
    CHECK(format_summary(n) == "4 cases: 1 PASSED, 1 NOT_RUN, 2 INCORRECT");
    CHECK(count_outcomes({}).worst() == Outcome::passed);
    CHECK(format_summary(count_outcomes({})) == "0 cases");
}
