// Fuzz campaigns (gdr/fuzz/campaign.hpp): the same seed gives the same cases, shards
// partition the case numbers, a broken subject's failure shrinks to the smallest case that
// shows it and becomes a replay file, and the outcomes that are not failures are counted
// apart.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <stdexcept>

#include "gdr/core/errors.hpp"
#include "gdr/fuzz/campaign.hpp"
#include "gdr/fuzz/records.hpp"
#include "gdr/fuzz/replay.hpp"
#include "gdr/harness/runner.hpp"
#include "gdr/reference/numeric.hpp"
#include "support/damaged_subject.hpp"
#include "support/builtin_subjects.hpp"

using namespace gdr;
using namespace gdr::harness;
using namespace gdr::fuzz;
using gdr::testing::DamagedSubject;

namespace {

// Records every case a campaign ran, in the order they finished.
class RecordingProgress final : public CampaignProgress {
public:
    void on_case(const CampaignCase& done, const CampaignSummary&) override {
        cases.emplace_back(done.case_number, to_text(*done.spec));
    }
    void on_failure(const CampaignFailure& failure) override { failures.push_back(failure.case_number); }

    std::vector<std::pair<std::int64_t, std::string>> cases;
    std::vector<std::int64_t> failures;
};

std::filesystem::path fresh_dir(const std::string& name) {
    const auto dir = std::filesystem::temp_directory_path() / ("gdr-campaign-test-" + std::to_string(getpid()) + "-" + name);
    std::filesystem::remove_all(dir);
    return dir;
}

CampaignSummary run_cpu_campaign(const CampaignConfig& config, CampaignProgress* progress, int workers = 1) {
    std::vector<int> devices(static_cast<std::size_t>(workers));
    for (int i = 0; i < workers; ++i) devices[std::size_t(i)] = i;
    return run_campaign(
        config, [](int) { return gdr::testing::cpu_stand_in(); }, devices, ToleranceTable::load_default(), progress);
}

// Wrong by 1 in the first output element whenever K > 2: a bug that needs K >= 3 to show.
std::unique_ptr<Subject> wrong_when_k_above_2() {
    return std::make_unique<DamagedSubject>([](const Problem& p, int, SubjectRunResult&) {
        if (p.key_dim > 2 && p.o.data && p.batch * p.seq_len > 0)
            reference::store_double(p.o.data, p.o.dtype, 0, reference::load_double(p.o.data, p.o.dtype, 0) + 1.0);
    });
}

std::set<std::int64_t> case_numbers(const RecordingProgress& progress) {
    std::set<std::int64_t> numbers;
    for (const auto& [number, text] : progress.cases) numbers.insert(number);
    return numbers;
}

}  // namespace

TEST_CASE("campaign: the same seed gives the same cases, another seed other cases", "[campaign]") {
    CampaignConfig config;
    config.seed = 42;
    config.max_cases = 12;
    RecordingProgress first, second, other;
    const CampaignSummary summary = run_cpu_campaign(config, &first);
    run_cpu_campaign(config, &second);
    CHECK(summary.cases == 12);
    CHECK(first.cases == second.cases);
    for (const auto& [number, text] : first.cases) CHECK(text == to_text(campaign_case(config, number)));

    config.seed = 43;
    run_cpu_campaign(config, &other);
    REQUIRE(other.cases.size() == first.cases.size());
    int same = 0;
    for (std::size_t i = 0; i < other.cases.size(); ++i) same += other.cases[i].second == first.cases[i].second;
    CHECK(same < 3);  // a few tiny cases may coincide in shape, never in seed
}

TEST_CASE("campaign: sizes cycle over 0..100 like a property test's", "[campaign]") {
    CampaignConfig config;
    config.seed = 7;
    // Size 0 draws every size at its minimum (K = 1); size 100 reaches far beyond it.
    std::int64_t largest_k_small = 0, largest_k_large = 0;
    for (std::int64_t c = 0; c < 5; ++c) largest_k_small = std::max(largest_k_small, campaign_case(config, c * 101).key_dim);
    for (std::int64_t c = 0; c < 20; ++c) largest_k_large = std::max(largest_k_large, campaign_case(config, c * 101 + 100).key_dim);
    CHECK(largest_k_small == 1);
    CHECK(largest_k_large > 64);
}

TEST_CASE("campaign: shards partition the case numbers", "[campaign]") {
    CampaignConfig config;
    config.seed = 5;
    config.max_cases = 10;
    RecordingProgress whole, shard0, shard1;
    run_cpu_campaign(config, &whole, /*workers=*/2);
    config.shard_count = 2;
    config.shard_index = 0;
    run_cpu_campaign(config, &shard0);
    config.shard_index = 1;
    run_cpu_campaign(config, &shard1);

    const std::set<std::int64_t> all = case_numbers(whole), even = case_numbers(shard0), odd = case_numbers(shard1);
    CHECK(all == std::set<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    CHECK(even == std::set<std::int64_t>{0, 2, 4, 6, 8});
    CHECK(odd == std::set<std::int64_t>{1, 3, 5, 7, 9});
    // The sharded cases are the unsharded campaign's cases, not merely the same numbers.
    std::map<std::int64_t, std::string> whole_text(whole.cases.begin(), whole.cases.end());
    for (const auto& [number, text] : shard1.cases) CHECK(whole_text[number] == text);
}

TEST_CASE("campaign: a bad config names the option", "[campaign]") {
    CampaignConfig config;
    config.max_cases = 1;
    const auto argument_of = [](const CampaignConfig& c) {
        try {
            validate(c);
        } catch (const InvalidArgument& error) {
            return error.argument();
        }
        return std::string("(accepted)");
    };
    CHECK(argument_of(config) == "(accepted)");
    config.shard_count = 2;
    config.shard_index = 2;
    CHECK(argument_of(config) == "--shard");
    config.shard_index = -1;
    CHECK(argument_of(config) == "--shard");
    config.shard_count = 0;
    config.shard_index = 0;
    CHECK(argument_of(config) == "--shard");
    config.shard_count = 1;
    config.max_cases.reset();
    CHECK(argument_of(config) == "--cases");
    config.max_seconds = -1;
    CHECK(argument_of(config) == "--seconds");
    CHECK_THROWS_AS(run_campaign(config, [](int) { return gdr::testing::cpu_stand_in(); }, {0},
                                 ToleranceTable::load_default(), nullptr),
                    InvalidArgument);
}

TEST_CASE("campaign: a failure shrinks to the smallest case that shows it and becomes a replay file", "[campaign]") {
    CampaignConfig config;
    config.seed = 3;
    config.max_cases = 60;
    config.stop_at_first_failure = true;
    config.out_dir = fresh_dir("shrink");
    RecordingProgress progress;
    const CampaignSummary summary = run_campaign(
        config, [](int) { return wrong_when_k_above_2(); }, {0}, ToleranceTable::load_default(), &progress);

    REQUIRE(summary.failures.size() == 1);  // stop_at_first_failure
    CHECK(progress.failures.size() == 1);
    const CampaignFailure& failure = summary.failures.front();
    INFO("original: " << to_text(failure.original) << "\nshrunk: " << to_text(failure.shrunk));
    CHECK(failure.original.key_dim > 2);
    CHECK(failure.shrunk.key_dim == 3);
    CHECK(failure.shrunk.batch == 1);
    CHECK(failure.shrunk.num_value_heads == 1);
    CHECK(failure.shrink_steps > 0);
    CHECK(failure.failure_class == "o vs R64");
    CHECK(failure.report.outcome == Outcome::incorrect);
    CHECK(failure.report.case_text == to_text(failure.shrunk));
    CHECK(summary.failures_by_class.at("o vs R64") == 1);
    CHECK(summary.cases == failure.case_number + 1);  // it stopped there
    // Every case but the failing one passed; the failure counts as generated, not shrunk.
    CHECK(summary.outcomes == std::map<std::string, std::int64_t>{{"PASSED", summary.cases - 1}, {"INCORRECT", 1}});

    const ReplayFile replay = read_replay_file(failure.replay_file);
    CHECK(replay.spec == failure.shrunk);
    CHECK(replay.subject == "cpu-emulated-reversed");
    CHECK(replay.failure_class == "o vs R64");
    CHECK(replay.campaign_seed == config.seed);
    CHECK(replay.case_number == failure.case_number);
    CHECK(replay.original_case == to_text(failure.original));
    // The replayed case still fails on the broken subject.
    auto broken = wrong_when_k_above_2();
    CHECK(run_case(replay.spec, *broken, ToleranceTable::load_default()).outcome == Outcome::incorrect);

    std::ifstream jsonl(config.out_dir / "campaign.jsonl");
    std::vector<nlohmann::json> records;
    for (std::string line; std::getline(jsonl, line);) records.push_back(nlohmann::json::parse(line));
    // The JSON-lines file: a start record, the cases run (progress), one failure record, the summary.
    REQUIRE(records.size() == 4);
    CHECK(records[0]["record"] == "start");
    CHECK(records[1]["record"] == "progress");
    CHECK(records[1]["cases"].back()[0] == failure.case_number);
    CHECK(records[2]["record"] == "failure");
    CHECK(records[2]["shrunk"] == to_text(failure.shrunk));
    CHECK(records[3]["record"] == "summary");
    CHECK(records[3]["failure_count"] == 1);
    std::filesystem::remove_all(config.out_dir);
}

TEST_CASE("campaign: without shrinking the failure is reported as generated", "[campaign]") {
    CampaignConfig config;
    config.seed = 3;
    config.max_cases = 60;
    config.stop_at_first_failure = true;
    config.shrink = false;
    const CampaignSummary summary = run_campaign(
        config, [](int) { return wrong_when_k_above_2(); }, {0}, ToleranceTable::load_default(), nullptr);
    REQUIRE(summary.failures.size() == 1);
    CHECK(summary.failures[0].shrunk == summary.failures[0].original);
    CHECK(summary.failures[0].replay_file.empty());  // no out_dir
}

TEST_CASE("campaign: NOT_SUPPORTED is counted apart, NOT_RUN stops the campaign", "[campaign]") {
    class Declines final : public Subject {
        std::string name() const override { return "cpu-emulated-reversed"; }
        std::string description() const override { return ""; }
        std::optional<std::string> unavailable_reason() const override { return std::nullopt; }
        SubjectRunResult run(const Problem&) override { throw NotSupported("not this shape"); }
    };
    class Absent final : public Subject {
        std::string name() const override { return "absent"; }
        std::string description() const override { return ""; }
        std::optional<std::string> unavailable_reason() const override { return "not on this machine"; }
        SubjectRunResult run(const Problem&) override { throw std::logic_error("must not run"); }
    };
    CampaignConfig config;
    config.max_cases = 5;
    const CampaignSummary declined = run_campaign(
        config, [](int) { return std::make_unique<Declines>(); }, {0}, ToleranceTable::load_default(), nullptr);
    CHECK(declined.cases == 5);
    CHECK(declined.not_supported == 5);
    CHECK(declined.outcomes == std::map<std::string, std::int64_t>{{"NOT_SUPPORTED", 5}});
    CHECK(declined.unexpected_not_supported == 5);  // nothing declared: a strict gate fails them
    CHECK(declined.first_unexpected_not_supported.find("gdr check --subject cpu-emulated-reversed") == 0);
    CHECK(declined.failures.empty());
    config.declared_limitation = [](const CaseSpec&, std::string_view reason) -> std::optional<std::string> {
        if (reason == "not this shape") return "every-shape";
        return std::nullopt;
    };
    const CampaignSummary declared = run_campaign(
        config, [](int) { return std::make_unique<Declines>(); }, {0}, ToleranceTable::load_default(), nullptr);
    CHECK(declared.not_supported == 5);
    CHECK(declared.unexpected_not_supported == 0);

    const CampaignSummary absent = run_campaign(
        config, [](int) { return std::make_unique<Absent>(); }, {0, 1}, ToleranceTable::load_default(), nullptr);
    CHECK(absent.cases == 0);
    REQUIRE(absent.not_run_reason);
    CHECK(*absent.not_run_reason == "not on this machine");
}

TEST_CASE("campaign: coverage counts every class, reached or not", "[campaign]") {
    CampaignConfig config;
    config.seed = 11;
    config.max_cases = 30;
    const CampaignSummary summary = run_cpu_campaign(config, nullptr);
    for (const std::string& name : all_coverage_classes()) CHECK(summary.coverage.count(name) == 1);
    CHECK(summary.coverage.at("layout=kv") + summary.coverage.at("layout=vk") == summary.cases);
    std::int64_t pairs = 0;
    for (const auto& [name, count] : summary.coverage)
        if (name.rfind("in=", 0) == 0) pairs += count;
    CHECK(pairs == summary.cases);
}

TEST_CASE("campaign: about 6 % of cases carry special values", "[campaign]") {
    CampaignConfig config;
    config.seed = 3;
    int with_specials = 0;
    for (std::int64_t c = 0; c < 1000; ++c) with_specials += campaign_case(config, c).specials.empty() ? 0 : 1;
    CHECK(with_specials >= 30);
    CHECK(with_specials <= 100);
}

TEST_CASE("campaign: a device whose subject cannot be made stops its workers, the others go on, and the summary "
          "and records say so", "[campaign]") {
    CampaignConfig config;
    config.max_cases = 12;
    config.out_dir = fresh_dir("device-failed");
    const auto make = [](int device) -> std::unique_ptr<Subject> {
        if (device == 1) throw std::runtime_error("cudaSetDevice(1): out of memory");
        return gdr::testing::cpu_stand_in();
    };
    const CampaignSummary summary = run_campaign(config, make, {0, 1, 0, 1}, ToleranceTable::load_default(), nullptr);
    CHECK(summary.cases == 12);  // device 0's two workers ran every case
    CHECK(summary.failures.empty());
    CHECK(summary.failed_devices == std::vector<FailedDevice>{{1, "cudaSetDevice(1): out of memory"}});  // once
    const nlohmann::json json = gdr::fuzz::to_json(summary, config);
    CHECK(json.at("failed_devices") == nlohmann::json::parse(R"([{"device": 1, "reason": "cudaSetDevice(1): out of memory"}])"));
    CHECK(format_summary(summary).find("device 1 FAILED") != std::string::npos);
    // The records keep it, and a resumed campaign reads them (and tries the device again).
    std::ifstream jsonl(config.out_dir / "campaign.jsonl");
    std::string all((std::istreambuf_iterator<char>(jsonl)), std::istreambuf_iterator<char>());
    CHECK(all.find(R"("record":"device_failed")") != std::string::npos);
    const gdr::fuzz::CampaignRecords records = gdr::fuzz::read_campaign_records(config.out_dir, "--resume");
    CHECK(records.cases.size() == 12);

    std::filesystem::remove_all(config.out_dir);

    // Every device failing: no case runs, every device is listed.
    config.out_dir.clear();
    const CampaignSummary none = run_campaign(
        config, [](int device) -> std::unique_ptr<Subject> { throw std::runtime_error("lost " + std::to_string(device)); },
        {0, 1}, ToleranceTable::load_default(), nullptr);
    CHECK(none.cases == 0);
    CHECK(none.failed_devices == std::vector<FailedDevice>{{0, "lost 0"}, {1, "lost 1"}});
}
