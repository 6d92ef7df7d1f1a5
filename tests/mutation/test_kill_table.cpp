// The kill table's bookkeeping, on the CPU: a CPU subject stands in for the mutant, so the
// stage order, the stop at the first case that does not pass, the deciding check and the
// time cap are tested without a GPU. (The mutants themselves are tests/cuda/test_mutants.cpp.)
#include <catch2/catch.hpp>
#include <cstring>
#include <sstream>

#include "gdr/core/errors.hpp"
#include "gdr/harness/case_spec.hpp"
#include "gdr/mutation/kill_report.hpp"
#include "gdr/mutation/kill_table.hpp"
#include "support/builtin_subjects.hpp"
#include "support/long_row_bug.hpp"

using gdr::harness::Outcome;
using gdr::mutation::KillOptions;
using gdr::mutation::KillStage;

namespace {

// The CPU stand-in kernel, with every output zeroed afterwards when `broken`.
class CpuSubject final : public gdr::harness::Subject {
public:
    explicit CpuSubject(bool broken) : inner_(gdr::testing::cpu_stand_in()), broken_(broken) {}
    std::string name() const override { return broken_ ? "cpu-zero-output" : inner_->name(); }
    std::string description() const override { return "test subject"; }
    std::optional<std::string> unavailable_reason() const override { return std::nullopt; }
    gdr::harness::SubjectRunResult run(const gdr::Problem& problem) override {
        auto result = inner_->run(problem);
        if (broken_) {
            const auto shape = problem.vo_shape();
            std::memset(problem.o.data, 0,
                        std::size_t(shape[0] * shape[1] * shape[2] * shape[3]) * dtype_size(problem.o.dtype));
        }
        return result;
    }

private:
    std::unique_ptr<gdr::harness::Subject> inner_;
    bool broken_;
};

KillOptions options_with() {
    KillOptions options;
    options.run_options.verdict.check_determinism = false;
    return options;
}

// A registry of stand-in mutants, each the CPU subject (zeroing its output when `broken`).
const gdr::subjects::Registry& stand_ins(bool broken) {
    static const auto make = [](bool zeroes) {
        gdr::subjects::Registry registry;
        for (const char* name : {"mutant:none", "mutant:head_mapping_modulo", "mutant:alpha_is_g"})
            registry.add({name, "a CPU stand-in", gdr::subjects::Needs::cpu, gdr::subjects::Kind::mutant, {},
                          [zeroes](int) { return std::make_unique<CpuSubject>(zeroes); }, {}, ""});
        return registry;
    };
    static const gdr::subjects::Registry good = make(false), bad = make(true);
    return broken ? bad : good;
}

std::vector<const gdr::subjects::SubjectEntry*> mutants(bool broken, std::initializer_list<const char*> names) {
    std::vector<const gdr::subjects::SubjectEntry*> entries;
    for (const char* name : names) entries.push_back(&stand_ins(broken).at(name));
    return entries;
}

std::vector<KillStage> two_stages() {
    return {gdr::mutation::case_list_stage("first", {gdr::harness::parse_text("B=2 T=1 H=1 HV=2 K=16 V=8 seed=1"),
                                                     gdr::harness::parse_text("B=1 T=2 H=1 HV=1 K=8 V=8 seed=2")}),
            gdr::mutation::case_list_stage("second", {gdr::harness::parse_text("B=1 T=1 H=1 HV=1 K=8 V=8 seed=3")})};
}

}  // namespace

TEST_CASE("kill table: a correct subject survives every stage and every case is counted", "[mutation]") {
    const auto results = gdr::mutation::run_kill_table(
        mutants(false, {"mutant:none"}), two_stages(), gdr::harness::ToleranceTable::load_default(), options_with());
    REQUIRE(results.size() == 1);
    CHECK(results[0].outcome == Outcome::passed);
    CHECK_FALSE(results[0].killed());
    CHECK(results[0].cases == 3);
    CHECK_FALSE(results[0].timed_out);
    CHECK(gdr::mutation::format_kill_result(results[0]).find("SURVIVED") != std::string::npos);
}

TEST_CASE("kill table: a wrong subject is killed by the first case, which names the check", "[mutation]") {
    const auto results =
        gdr::mutation::run_kill_table(mutants(true, {"mutant:head_mapping_modulo", "mutant:alpha_is_g"}), two_stages(),
                                      gdr::harness::ToleranceTable::load_default(), options_with());
    REQUIRE(results.size() == 2);
    for (const auto& result : results) {
        CHECK(result.killed());
        CHECK(result.outcome == Outcome::incorrect);
        CHECK(result.stage == "first");
        CHECK(result.check == "o vs R64");
        CHECK(result.cases == 1);
        CHECK(result.case_text.find("seed=1") != std::string::npos);
    }
    CHECK(results[1].mutant == "mutant:alpha_is_g");
    CHECK(gdr::mutation::format_kill_summary(results) == "2 mutants: 2 killed");
    // What a child process prints is what its parent reads back.
    const auto round_trip = gdr::mutation::kill_result_from_json(gdr::mutation::to_json(results[0]));
    CHECK(round_trip.mutant == results[0].mutant);
    CHECK(round_trip.outcome == results[0].outcome);
    CHECK(round_trip.check == results[0].check);
    CHECK(round_trip.cases == results[0].cases);
}

// The CPU stand-in that declines K = 8 (NotSupported), as a kernel with limits does.
class DecliningSubject final : public gdr::harness::Subject {
public:
    DecliningSubject() : inner_(gdr::testing::cpu_stand_in()) {}
    std::string name() const override { return "cpu-declines-k8"; }
    std::string description() const override { return "test subject"; }
    std::optional<std::string> unavailable_reason() const override { return std::nullopt; }
    gdr::harness::SubjectRunResult run(const gdr::Problem& problem) override {
        if (problem.key_dim == 8) throw gdr::NotSupported("K = 8 is declined");
        return inner_->run(problem);
    }

private:
    std::unique_ptr<gdr::harness::Subject> inner_;
};

TEST_CASE("kill table: a case declined as declared goes on to the next, one declined undeclared settles the mutant",
          "[mutation]") {
    for (const bool declared : {true, false}) {
        INFO("declared " << declared);
        gdr::subjects::Registry registry;
        std::vector<gdr::subjects::Limitation> limitations;
        if (declared)
            limitations.push_back({"k-8", "K = 8", [](const gdr::harness::CaseSpec& spec, std::string_view) { return spec.key_dim == 8; }});
        registry.add({"mutant:declines", "a CPU stand-in", gdr::subjects::Needs::cpu, gdr::subjects::Kind::mutant, limitations,
                      [](int) { return std::make_unique<DecliningSubject>(); }, {}, ""});
        const auto results = gdr::mutation::run_kill_table({&registry.at("mutant:declines")}, two_stages(),
                                                           gdr::harness::ToleranceTable::load_default(), options_with());
        REQUIRE(results.size() == 1);
        if (declared) {  // every stage ran: the K = 16 case passed, the K = 8 ones were declined as declared
            CHECK(results[0].outcome == Outcome::passed);
            CHECK(results[0].cases == 3);
        } else {  // the first K = 8 case (the second of stage "first") decides
            CHECK(results[0].outcome == Outcome::not_supported);
            CHECK(results[0].cases == 2);
            CHECK(results[0].stage == "first");
        }
    }
}

TEST_CASE("kill table: the time cap stops the stages and says so", "[mutation]") {
    KillOptions options = options_with();
    options.seconds_per_mutant = 0;
    const auto results = gdr::mutation::run_kill_table(mutants(true, {"mutant:none"}), two_stages(),
                                                       gdr::harness::ToleranceTable::load_default(), options);
    REQUIRE(results.size() == 1);
    CHECK(results[0].outcome == Outcome::passed);  // nothing ran, so nothing killed it
    CHECK(results[0].cases == 0);
    CHECK(results[0].timed_out);
    CHECK(gdr::mutation::format_kill_summary(results) == "1 mutants: 0 killed; survived: mutant:none");
}

TEST_CASE("kill table as data: per mutant its verdict, killing check, stage, cases and seconds, and the score", "[mutation]") {
    gdr::subjects::Registry registry;  // a killable survivor, a killed mutant, a declared-equivalent survivor
    registry.add({"mutant:survivor", "", gdr::subjects::Needs::cpu, gdr::subjects::Kind::mutant, {},
                  [](int) { return std::make_unique<CpuSubject>(false); }, {}, "a bug the checks miss"});
    registry.add({"mutant:zeroes", "", gdr::subjects::Needs::cpu, gdr::subjects::Kind::mutant, {},
                  [](int) { return std::make_unique<CpuSubject>(true); }, {}, "o zeroed"});
    registry.add({"mutant:control", "", gdr::subjects::Needs::cpu, gdr::subjects::Kind::mutant, {},
                  [](int) { return std::make_unique<CpuSubject>(false); }, {}, "EQUIVALENT on every input"});
    const auto entries = registry.of_kind(gdr::subjects::Kind::mutant);
    const auto results = gdr::mutation::run_kill_table(entries, two_stages(), gdr::harness::ToleranceTable::load_default(),
                                                       options_with());
    const nlohmann::json table = gdr::mutation::kill_table_to_json(results, entries);
    CHECK(table["format"] == "gdr-kill-table/1");
    REQUIRE(table["mutants"].size() == 3);
    const nlohmann::json& survivor = table["mutants"][0];
    CHECK(survivor["name"] == "mutant:survivor");
    CHECK(survivor["verdict"] == "survived");
    CHECK(survivor["killing_check"].is_null());
    CHECK(survivor["cases"] == 3);
    const nlohmann::json& killed = table["mutants"][1];
    CHECK(killed["verdict"] == "killed");
    CHECK(killed["killing_check"] == "o vs R64");
    CHECK(killed["stage"] == "first");
    CHECK(killed["cases"] == 1);
    CHECK(killed["seconds"].get<double>() >= 0);
    CHECK(table["mutants"][2]["declared_equivalent"] == true);
    CHECK(table["score"]["mutants"] == 3);
    CHECK(table["score"]["killed"] == 1);
    CHECK(table["score"]["survived"] == 2);
    CHECK(table["score"]["equivalent"] == 1);
    CHECK(table["score"]["score"] == 0.5);  // 1 killed of 2 killable
    std::ostringstream junit;
    gdr::mutation::write_kill_junit(junit, results, entries);
    CHECK(junit.str().find("tests=\"3\" failures=\"1\"") != std::string::npos);  // the killable survivor only
    CHECK(junit.str().find("<failure type=\"SURVIVED\"") != std::string::npos);
}

TEST_CASE("kill table: the random stage gives a chunk kernel's mutants rows past their chunk boundaries", "[mutation]") {
    // Wrong only on rows past 8 tokens (2C for the chunked stand-in, C = 4): a chunk mutant's
    // random stage draws such rows; the decode lengths (at most 8 tokens) never do.
    for (const bool chunked : {true, false}) {
        INFO("chunked " << chunked);
        gdr::subjects::Registry registry;
        registry.add({"chunk-mutant:long_rows", "a CPU stand-in", gdr::subjects::Needs::cpu, gdr::subjects::Kind::mutant, {},
                      [chunked](int) {
                          return gdr::testing::wrong_past_tokens(8, chunked ? gdr::testing::cpu_chunked_stand_in()
                                                                            : gdr::testing::cpu_stand_in());
                      },
                      {}, ""});
        KillOptions options = options_with();
        options.seconds_per_mutant = chunked ? 120 : 2;
        const auto results = gdr::mutation::run_kill_table({&registry.at("chunk-mutant:long_rows")},
                                                           {gdr::mutation::random_campaign_stage(1)},
                                                           gdr::harness::ToleranceTable::load_default(), options);
        REQUIRE(results.size() == 1);
        INFO(results[0].case_text);
        if (chunked) {
            CHECK(results[0].killed());
            CHECK(results[0].stage == "random campaign");
            CHECK(gdr::harness::parse_text(results[0].case_text).longest_row() > 8);
        } else {
            CHECK(results[0].outcome == Outcome::passed);
            CHECK(results[0].timed_out);
        }
    }
}
