// The tolerance table: a malformed table or a key without a row is always an error, the
// most specific row wins, and the shipped table covers every kernel configuration.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "gdr/harness/tolerance.hpp"

using namespace gdr;
using namespace gdr::harness;
using nlohmann::json;

namespace {

json row(std::string id, json overrides = json::object()) {
    json r = {{"id", id},         {"subject", "*"},   {"input_dtype", "*"}, {"state_dtype", "*"},
              {"kind", "*"},      {"t_bucket", "*"},  {"feature", "*"},     {"rho", 2.0},
              {"floor_ulps", 2.0}, {"frobenius_units", 2.0}, {"reason", "test"}, {"calibrated_on", "nothing"}};
    r.update(overrides);
    return r;
}

ToleranceTable table(json rows) { return ToleranceTable::from_json_text(json{{"rows", rows}}.dump(), "test.json"); }

// The error message of loading `rows`, or "" if it loads.
std::string load_error(json rows) {
    try {
        table(rows);
    } catch (const ToleranceError& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

ToleranceKey key(std::string subject, OutputKind kind = OutputKind::o) {
    ToleranceKey k;
    k.subject = std::move(subject);
    k.kind = kind;
    return k;
}

}  // namespace

TEST_CASE("tolerance: a valid row loads with its fields", "[tolerance]") {
    const auto t = table(json::array({row("r", {{"subject", "cuda-decode"}, {"input_dtype", "bf16"},
                                                {"kind", "state"}, {"t_bucket", "2-8"}, {"rho", 3.0}})}));
    REQUIRE(t.rows().size() == 1);
    const ToleranceRow& r = t.rows()[0];
    CHECK(r.id == "r");
    CHECK(r.subject == "cuda-decode");
    CHECK(r.input_dtype == DType::bf16);
    CHECK_FALSE(r.state_dtype.has_value());
    CHECK(r.kind == OutputKind::state);
    CHECK(r.t_bucket == TBucket::t2_8);
    CHECK_FALSE(r.feature.has_value());
    CHECK(r.rho == 3.0);
    CHECK(r.specificity() == 4);
    CHECK(t.source() == "test.json");
}

TEST_CASE("tolerance: malformed tables are errors naming the row and field", "[tolerance]") {
    std::string e = load_error(json::array({row("a"), row("b", {{"tolerance", 1}})}));
    CHECK(contains(e, "row 1"));
    CHECK(contains(e, "\"b\""));
    CHECK(contains(e, "\"tolerance\""));
    CHECK(contains(e, "unknown field"));

    json missing = row("a");
    missing.erase("rho");
    e = load_error(json::array({missing}));
    CHECK(contains(e, "\"rho\""));
    CHECK(contains(e, "missing"));

    e = load_error(json::array({row("a", {{"rho", "2"}})}));
    CHECK(contains(e, "\"rho\""));
    CHECK(contains(e, "expected a number"));

    e = load_error(json::array({row("a", {{"input_dtype", "fp8"}})}));
    CHECK(contains(e, "\"input_dtype\""));
    CHECK(contains(e, "fp8"));

    CHECK(contains(load_error(json::array({row("a", {{"state_dtype", "f64"}})})), "\"state_dtype\""));
    CHECK(contains(load_error(json::array({row("a", {{"kind", "out"}})})), "\"kind\""));
    CHECK(contains(load_error(json::array({row("a", {{"t_bucket", "3"}})})), "\"t_bucket\""));
    CHECK(contains(load_error(json::array({row("a", {{"feature", "fast"}})})), "\"feature\""));
    CHECK(contains(load_error(json::array({row("a", {{"subject", 7}})})), "expected a string"));
    CHECK(contains(load_error(json::array({row("a", {{"rho", -1.0}})})), "\"rho\""));
    CHECK(contains(load_error(json::array({row("a", {{"rho", 0.0}})})), "\"rho\""));
    CHECK(contains(load_error(json::array({row("a", {{"floor_ulps", -0.5}})})), "\"floor_ulps\""));
    CHECK(contains(load_error(json::array({row("a", {{"reason", ""}})})), "\"reason\""));
    CHECK(contains(load_error(json::array({row("a", {{"id", "exact"}})})), "reserved"));
    CHECK(contains(load_error(json::array({row("a"), row("a", {{"kind", "o"}})})), "duplicate row id"));
    CHECK(contains(load_error(json::array({json::array()})), "expected an object"));

    CHECK_THROWS_AS(ToleranceTable::from_json_text("{\"rows\": [}", "x"), ToleranceError);
    CHECK_THROWS_WITH(ToleranceTable::from_json_text("{\"rows\": [], \"extra\": 1}", "x"),
                      Catch::Contains("unknown top-level field \"extra\""));
    CHECK_THROWS_WITH(ToleranceTable::from_json_text("{}", "x"), Catch::Contains("\"rows\""));
    CHECK_THROWS_WITH(ToleranceTable::load_file("/nonexistent/tolerances.json"), Catch::Contains("cannot open"));
}

TEST_CASE("tolerance: overlapping rows of equal specificity are ambiguous", "[tolerance]") {
    const json a = row("a", {{"subject", "cuda-decode"}});
    const json b = row("b", {{"input_dtype", "bf16"}});
    std::string e = load_error(json::array({a, b}));
    CHECK(contains(e, "\"a\""));
    CHECK(contains(e, "\"b\""));
    CHECK(contains(e, "ambiguous"));
    CHECK(contains(e, "subject=cuda-decode input_dtype=bf16"));

    // A more specific row for the overlap resolves it.
    CHECK(load_error(json::array({a, b, row("c", {{"subject", "cuda-decode"}, {"input_dtype", "bf16"}})})).empty());
    // Disjoint rows of equal specificity are fine.
    CHECK(load_error(json::array({a, row("d", {{"subject", "cpu-emulated-reversed"}})})).empty());
    // The same key twice can never be resolved.
    CHECK(contains(load_error(json::array({a, row("e", {{"subject", "cuda-decode"}})})), "ambiguous"));
}

TEST_CASE("tolerance: the most specific row wins, and no match is an error", "[tolerance]") {
    const auto t = table(json::array({
        row("generic-o", {{"kind", "o"}}),
        row("decode-o", {{"subject", "cuda-decode"}, {"kind", "o"}}),
        row("decode-o-t1", {{"subject", "cuda-decode"}, {"kind", "o"}, {"t_bucket", "1"}}),
    }));
    CHECK(t.lookup(key("cuda-decode")).id == "decode-o-t1");
    ToleranceKey long_call = key("cuda-decode");
    long_call.t_bucket = TBucket::t9_plus;
    CHECK(t.lookup(long_call).id == "decode-o");
    CHECK(t.lookup(key("cpu-emulated-reversed")).id == "generic-o");

    CHECK(t.find(key("cuda-decode", OutputKind::state)) == nullptr);
    CHECK_THROWS_WITH(t.lookup(key("cuda-decode", OutputKind::state)),
                      Catch::Contains("no tolerance row matches") && Catch::Contains("kind=state"));

    ToleranceKey odd = key("cuda-decode");
    odd.feature = "no-such-feature";
    CHECK_THROWS_AS(t.lookup(odd), ToleranceError);
}

TEST_CASE("tolerance: T buckets", "[tolerance]") {
    CHECK(t_bucket_for(1) == TBucket::t1);
    CHECK(t_bucket_for(2) == TBucket::t2_8);
    CHECK(t_bucket_for(8) == TBucket::t2_8);
    CHECK(t_bucket_for(9) == TBucket::t9_plus);
    CHECK(t_bucket_for(4096) == TBucket::t9_plus);
    CHECK_THROWS_AS(t_bucket_for(0), std::invalid_argument);
    for (TBucket b : {TBucket::t1, TBucket::t2_8, TBucket::t9_plus}) CHECK(parse_t_bucket(to_string(b)) == b);
    CHECK_FALSE(parse_t_bucket("10").has_value());
}

TEST_CASE("tolerance: load_file reads a file", "[tolerance]") {
    const auto path = std::filesystem::temp_directory_path() / "gdr_test_tolerances.json";
    {
        std::ofstream out(path);
        out << json{{"rows", json::array({row("from-file")})}}.dump();
    }
    const auto t = ToleranceTable::load_file(path);
    std::filesystem::remove(path);
    REQUIRE(t.rows().size() == 1);
    CHECK(t.rows()[0].id == "from-file");
    CHECK(t.source() == path.string());
}

TEST_CASE("tolerance: the shipped table loads and covers every configuration", "[tolerance]") {
    const ToleranceTable t = ToleranceTable::load_default();
    REQUIRE_FALSE(t.rows().empty());
    for (const auto& r : t.rows()) {
        INFO(r.id);
        CHECK_FALSE(r.reason.empty());
        CHECK_FALSE(r.calibrated_on.empty());
        CHECK(r.rho >= 1.0);  // a row stricter than the emulated oracle itself would be a mistake
    }
    for (std::string subject : {"cuda-decode", "cpu-emulated-reversed"})
        for (DType input : {DType::f32, DType::f16, DType::bf16})
            for (DType state : {DType::f32, DType::f16, DType::bf16})
                for (OutputKind kind : {OutputKind::o, OutputKind::state})
                    for (TBucket bucket : {TBucket::t1, TBucket::t2_8, TBucket::t9_plus})
                        for (std::string_view feature : kToleranceFeatures) {
                            ToleranceKey k{subject, input, state, kind, bucket, std::string(feature)};
                            INFO(to_string(k));
                            CHECK_NOTHROW(t.lookup(k));
                        }
}
