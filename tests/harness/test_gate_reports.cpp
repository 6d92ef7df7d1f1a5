// The CI gate's files for real runs: JUnit XML and the JSON summary of a PASSED and an
// INCORRECT run are well-formed and say what happened.
#include <catch2/catch.hpp>

#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "gdr/harness/runner.hpp"
#include "gdr/reference/numeric.hpp"
#include "support/damaged_subject.hpp"
#include "support/builtin_subjects.hpp"

using namespace gdr;
using namespace gdr::harness;

namespace {

// A small XML well-formedness check: every element closes in order, attributes are quoted,
// and text holds no raw '<' and only the five predefined entities (what write_junit emits).
std::string xml_problem(const std::string& xml) {
    static const std::regex tag(R"(<(/?)([A-Za-z_:][-A-Za-z0-9_:.]*)((\s+[A-Za-z_:][-A-Za-z0-9_:.]*="[^"<]*")*)\s*(/?)>)");
    static const std::regex entity(R"(&(amp|lt|gt|quot|apos);)");
    std::vector<std::string> open;
    std::size_t at = xml.rfind("?>", 200) == std::string::npos ? 0 : xml.find("?>") + 2;
    while (at < xml.size()) {
        const std::size_t lt = xml.find('<', at);
        const std::string text = xml.substr(at, lt == std::string::npos ? std::string::npos : lt - at);
        const std::string without_entities = std::regex_replace(text, entity, "");
        if (without_entities.find('&') != std::string::npos) return "raw '&' in text: " + text;
        if (lt == std::string::npos) break;
        std::smatch m;
        const std::string rest = xml.substr(lt);
        if (!std::regex_search(rest, m, tag, std::regex_constants::match_continuous)) return "bad tag at " + rest.substr(0, 40);
        if (m[1] == "/") {
            if (open.empty() || open.back() != m[2]) return "unbalanced </" + std::string(m[2]) + ">";
            open.pop_back();
        } else if (m[5] != "/") {
            open.push_back(m[2]);
        }
        at = lt + std::size_t(m.length(0));
    }
    return open.empty() ? "" : "unclosed <" + open.back() + ">";
}

std::vector<CaseReport> passed_and_incorrect() {
    const CaseSpec spec = parse_text("B=2 T=2 H=1 HV=2 K=8 V=6 layout=vk in=f32 state=f32 N=5 indices=permutation seed=3");
    auto good = gdr::testing::cpu_stand_in();
    gdr::testing::DamagedSubject bad([](const Problem& p, int, SubjectRunResult&) {
        reference::store_double(p.o.data, p.o.dtype, 1, reference::load_double(p.o.data, p.o.dtype, 1) + 0.5);
    });
    const ToleranceTable tolerances = ToleranceTable::load_default();
    return {run_case(spec, *good, tolerances), run_case(spec, bad, tolerances)};
}

}  // namespace

TEST_CASE("gate reports: the XML checker itself rejects broken XML", "[report][gate]") {
    CHECK(xml_problem("<a><b x=\"1\"/>t &amp; u</a>") == "");
    CHECK(xml_problem("<a><b></a>") != "");
    CHECK(xml_problem("<a>x & y</a>") != "");
    CHECK(xml_problem("<a x=1></a>") != "");
    CHECK(xml_problem("<a>") != "");
}

TEST_CASE("gate reports: JUnit and JSON of a PASSED and an INCORRECT run", "[report][gate]") {
    const std::vector<CaseReport> reports = passed_and_incorrect();
    REQUIRE(reports[0].outcome == Outcome::passed);
    REQUIRE(reports[1].outcome == Outcome::incorrect);

    std::ostringstream xml;
    write_junit(xml, reports, "gdr verify");
    INFO(xml.str());
    CHECK(xml_problem(xml.str()) == "");
    CHECK(xml.str().find("tests=\"2\" failures=\"1\"") != std::string::npos);
    CHECK(xml.str().find("<failure type=\"INCORRECT\"") != std::string::npos);
    CHECK(xml.str().find("o vs R64") != std::string::npos);  // the report text is in the failure

    const nlohmann::json summary = nlohmann::json::parse(summary_to_json(reports).dump());
    CHECK(summary["outcome"] == "INCORRECT");
    CHECK(summary["total"] == 2);
    CHECK(summary["counts"]["PASSED"] == 1);
    CHECK(summary["counts"]["INCORRECT"] == 1);
    CHECK(summary["counts"]["NOT_RUN"] == 0);
    REQUIRE(summary["cases"].size() == 2);
    CHECK(summary["cases"][1]["outcome"] == "INCORRECT");

    const nlohmann::json passed_only = summary_to_json({reports[0]});
    CHECK(passed_only["outcome"] == "PASSED");
    std::ostringstream passed_xml;
    write_junit(passed_xml, {reports[0]}, "gdr verify");
    CHECK(xml_problem(passed_xml.str()) == "");
    CHECK(passed_xml.str().find("<failure") == std::string::npos);
}
