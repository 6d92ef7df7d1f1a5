// Campaigns at scale (gdr/fuzz/records.hpp, merge.hpp): several workers run exactly the
// one-worker campaign, a stop request ends a campaign with everything recorded, a resumed
// campaign runs only what its records lack, and merging rejects parts that are not one
// campaign or that overlap.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "gdr/core/errors.hpp"
#include "gdr/fuzz/campaign.hpp"
#include "gdr/fuzz/merge.hpp"
#include "gdr/fuzz/records.hpp"
#include "support/builtin_subjects.hpp"

using namespace gdr;
using namespace gdr::fuzz;

namespace {

class CaseTexts final : public CampaignProgress {
public:
    void on_case(const CampaignCase& done, const CampaignSummary&) override {
        cases.emplace(done.case_number, to_text(*done.spec));
    }
    std::map<std::int64_t, std::string> cases;
};

std::filesystem::path fresh_dir(const std::string& name) {
    const auto dir = std::filesystem::temp_directory_path() / ("gdr-records-test-" + std::to_string(getpid()) + "-" + name);
    std::filesystem::remove_all(dir);
    return dir;
}

// A campaign of `cases` cases recording into a fresh directory `name`.
CampaignConfig recorded(std::uint64_t seed, std::int64_t cases, const std::string& name) {
    CampaignConfig config;
    config.seed = seed;
    config.max_cases = cases;
    config.out_dir = fresh_dir(name);
    return config;
}

CampaignSummary run_cpu(const CampaignConfig& config, CampaignProgress* progress) {
    return run_campaign(
        config, [](int) { return gdr::testing::cpu_stand_in(); }, {0}, ToleranceTable::load_default(), progress);
}

std::vector<nlohmann::json> read_records(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::vector<nlohmann::json> records;
    for (std::string line; std::getline(in, line);) records.push_back(nlohmann::json::parse(line));
    return records;
}

std::string argument_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const InvalidArgument& error) {
        return error.argument() + " | " + error.what();
    }
    return "(no error)";
}

// The CPU stand-in, 20 ms slower per run: its time must count as the subject's.
class SlowSubject final : public harness::Subject {
public:
    std::string name() const override { return inner_->name(); }
    std::string description() const override { return inner_->description(); }
    std::optional<std::string> unavailable_reason() const override { return inner_->unavailable_reason(); }
    harness::MathMode math_mode() const override { return inner_->math_mode(); }
    harness::SubjectRunResult run(const Problem& problem) override {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return inner_->run(problem);
    }

private:
    std::unique_ptr<harness::Subject> inner_ = gdr::testing::cpu_stand_in();
};

}  // namespace

TEST_CASE("campaign records: each case records its wall time and the subject's, and the overhead excludes the subject",
          "[records]") {
    CampaignConfig config = recorded(23, 12, "timing");
    const CampaignSummary summary = run_campaign(
        config, [](int) { return std::make_unique<SlowSubject>(); }, {0}, ToleranceTable::load_default(), nullptr);
    REQUIRE(summary.cases == 12);
    REQUIRE(summary.harness_overhead_ms.size() == 12);
    int progress_cases = 0;
    for (const nlohmann::json& record : read_records(config.out_dir / "campaign.jsonl")) {
        if (record["record"] != "progress") continue;
        for (const nlohmann::json& entry : record["cases"]) {
            REQUIRE(entry.size() == 5);
            const double wall_ms = entry[3].get<double>(), subject_ms = entry[4].get<double>();
            // Two subject runs at least (the first and the determinism run), 20 ms each.
            CHECK(subject_ms >= 40);
            CHECK(wall_ms >= subject_ms);
            ++progress_cases;
        }
    }
    CHECK(progress_cases == 12);
    // The sleeps are the subject's: the overhead of these small cases stays far below them
    // (in the optimised build; the sanitizers make the harness 10-20x slower).
    const double median = summary.overhead_quantile_ms(0.5);
    CHECK(median >= 0);
#ifndef GDR_TESTS_SANITIZED
    CHECK(median < 40);
#endif
    CHECK(summary.overhead_quantile_ms(0.9) >= median);
    const nlohmann::json json = to_json(summary, config);
    CHECK(json["harness_overhead_ms"]["median"].get<double>() == median);
    std::filesystem::remove_all(config.out_dir);
}

TEST_CASE("campaign records: three workers per device run exactly the one-worker campaign's cases", "[records]") {
    CampaignConfig config;
    config.seed = 21;
    config.max_cases = 24;
    CaseTexts one, three;
    run_cpu(config, &one);
    config.workers_per_device = 3;
    const CampaignSummary summary = run_cpu(config, &three);
    CHECK(summary.workers == 3);
    CHECK(summary.cases == 24);
    CHECK(three.cases == one.cases);
    CHECK(one.cases.size() == 24);
}

TEST_CASE("campaign records: a stop request finishes the cases under way and records every case", "[records]") {
    CampaignConfig config = recorded(22, 1000, "stop");
    config.workers_per_device = 2;
    std::atomic<int> polls{0};
    config.stop_requested = [&polls]() -> std::optional<std::string> {
        return ++polls > 6 ? std::optional<std::string>("SIGTERM") : std::nullopt;
    };
    const CampaignSummary summary = run_cpu(config, nullptr);
    REQUIRE(summary.stopped_by);
    CHECK(*summary.stopped_by == "SIGTERM");
    CHECK(summary.cases >= 1);
    CHECK(summary.cases < 10);
    const std::vector<nlohmann::json> records = read_records(config.out_dir / "campaign.jsonl");
    REQUIRE(records.size() >= 3);
    CHECK(records.front()["record"] == "start");
    CHECK(records.back()["record"] == "summary");
    CHECK(records.back()["stopped_by"] == "SIGTERM");
    const CampaignRecords read = read_campaign_records(config.out_dir, "--resume");
    CHECK(std::int64_t(read.cases.size()) == summary.cases);
    std::filesystem::remove_all(config.out_dir);
}

TEST_CASE("campaign records: a resumed campaign runs only the cases its records lack", "[records]") {
    const CampaignConfig config = recorded(23, 10, "resume");
    CaseTexts first;
    run_cpu(config, &first);

    const CampaignRecords records = read_campaign_records(config.out_dir, "--resume");
    CHECK(records.cases.size() == 10);
    CampaignConfig resumed = config;
    resumed.max_cases = 16;
    resumed.resume = &records;
    CaseTexts second;
    const CampaignSummary summary = run_cpu(resumed, &second);
    std::set<std::int64_t> ran;
    for (const auto& [number, text] : second.cases) ran.insert(number);
    CHECK(ran == std::set<std::int64_t>{10, 11, 12, 13, 14, 15});
    CHECK(summary.cases == 16);
    CHECK(summary.resumed_cases == 10);

    // The file now holds both runs: each case once, merged as 0..15.
    const MergedCampaign merged = merge_campaigns({read_campaign_records(config.out_dir, "merge")}, "merge");
    CHECK(merged.case_ranges() == std::vector<std::pair<std::int64_t, std::int64_t>>{{0, 15}});
    std::int64_t coverage_total = 0;
    for (const auto& [name, count] : merged.coverage)
        if (name.rfind("layout=", 0) == 0) coverage_total += count;
    CHECK(coverage_total == 16);  // every case in exactly one layout class

    // Another work budget is another campaign: refused, naming the field.
    CampaignConfig other = config;
    other.work_budget = 1 << 10;
    CHECK_THAT(argument_of([&] {
                   require_same_campaign(records.start, start_record(other, records.subject(), true), "--resume", true);
               }),
               Catch::StartsWith("--resume | --resume: not the same campaign: work_budget"));
    std::filesystem::remove_all(config.out_dir);
}

TEST_CASE("campaign records: merging rejects overlapping parts and foreign campaigns", "[records]") {
    CampaignConfig config = recorded(24, 6, "merge0");
    config.shard_count = 2;
    run_cpu(config, nullptr);
    CampaignConfig whole = config;
    whole.shard_count = 1;
    whole.out_dir = fresh_dir("merge-whole");
    run_cpu(whole, nullptr);
    CampaignConfig other_seed = config;
    other_seed.seed = 25;
    other_seed.shard_index = 1;
    other_seed.out_dir = fresh_dir("merge-other");
    run_cpu(other_seed, nullptr);

    const auto shard0 = read_campaign_records(config.out_dir, "merge");
    CHECK(shard0.cases.size() == 3);
    CHECK_THAT(argument_of([&] { merge_campaigns({shard0, read_campaign_records(whole.out_dir, "merge")}, "merge"); }),
               Catch::Contains("case 0 is in both") && Catch::Contains("overlap"));
    CHECK_THAT(argument_of([&] { merge_campaigns({shard0, read_campaign_records(other_seed.out_dir, "merge")}, "merge"); }),
               Catch::Contains("not the same campaign: seed"));
    CHECK_THAT(argument_of([&] { read_campaign_records(fresh_dir("missing"), "merge"); }), Catch::Contains("cannot read"));
    for (const auto& dir : {config.out_dir, whole.out_dir, other_seed.out_dir}) std::filesystem::remove_all(dir);
}
