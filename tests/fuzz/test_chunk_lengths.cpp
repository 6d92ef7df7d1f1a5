// Chunk lengths (CaseGenConfig::chunk_size, `gdr fuzz --chunk-lengths`): a chunk kernel's
// campaign draws rows just before, at and after its chunk boundaries and over several
// chunks, fixed-length and varlen, every case within the work budget, shrinking toward
// the shortest rows, and the campaign's coverage shows it.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>

#include <fmt/format.h>

#include "gdr/core/errors.hpp"
#include "gdr/fuzz/campaign.hpp"
#include "gdr/fuzz/coverage.hpp"
#include "gdr/fuzz/records.hpp"
#include "gdr/fuzz/replay.hpp"
#include "gdr/harness/generate.hpp"
#include "gdr/harness/runner.hpp"
#include "support/builtin_subjects.hpp"
#include "support/long_row_bug.hpp"

using namespace gdr;
using namespace gdr::fuzz;

namespace {

CampaignConfig chunk_campaign(std::int64_t chunk_size, std::uint64_t seed = 1) {
    CampaignConfig config;
    config.seed = seed;
    config.generator.chunk_size = chunk_size;
    return config;
}

// What cases 0..count-1 of a campaign drew: T of fixed-length cases, the varlen sequences'
// lengths, and how many cases were over the work budget.
struct DrawnLengths {
    std::multiset<std::int64_t> fixed, varlen;
    std::int64_t over_budget = 0;
    std::string first_over_budget;
};

DrawnLengths drawn_lengths(const CampaignConfig& config, std::int64_t count) {
    DrawnLengths drawn;
    for (std::int64_t c = 0; c < count; ++c) {
        const harness::CaseSpec spec = campaign_case(config, c);
        if (spec.varlen) drawn.varlen.insert(spec.seq_lengths.begin(), spec.seq_lengths.end());
        else drawn.fixed.insert(spec.seq_len);
        if (harness::case_work(spec) > config.work_budget && !drawn.over_budget++) drawn.first_over_budget = to_text(spec);
    }
    return drawn;
}

// The lengths a chunk kernel of chunk size C must see that `drawn` lacks, by name.
std::set<std::string> missing_lengths(const DrawnLengths& drawn, std::int64_t chunk_size) {
    const std::int64_t c = chunk_size;
    std::set<std::string> missing;
    const auto require = [&](const char* name, bool met) {
        if (!met) missing.insert(name);
    };
    const auto has = [](const std::multiset<std::int64_t>& lengths, std::int64_t n) { return lengths.count(n) > 0; };
    const auto longest = [](const std::multiset<std::int64_t>& lengths) { return lengths.empty() ? 0 : *lengths.rbegin(); };
    require("T = C - 1", has(drawn.fixed, c - 1));
    require("T = C", has(drawn.fixed, c));
    require("T = C + 1", has(drawn.fixed, c + 1));
    require("T > 2C", longest(drawn.fixed) > 2 * c);
    require("varlen sequence at C - 1, C or C + 1", has(drawn.varlen, c - 1) || has(drawn.varlen, c) || has(drawn.varlen, c + 1));
    require("varlen sequence > 2C", longest(drawn.varlen) > 2 * c);
    require("empty varlen sequence", has(drawn.varlen, 0));
    return missing;
}

// Of the fixed-length cases, the fraction whose T is a boundary length of C.
double boundary_fraction(const DrawnLengths& drawn, std::int64_t chunk_size) {
    const std::vector<std::int64_t> boundary = harness::chunk_boundary_lengths(chunk_size);
    std::int64_t at_boundary = 0;
    for (const std::int64_t t : drawn.fixed) at_boundary += std::count(boundary.begin(), boundary.end(), t);
    return drawn.fixed.empty() ? 0 : double(at_boundary) / double(drawn.fixed.size());
}

std::string describe(const DrawnLengths& drawn) {
    std::string text = fmt::format("over budget: {} (first: {})\nfixed T:", drawn.over_budget, drawn.first_over_budget);
    for (const std::int64_t t : std::set<std::int64_t>(drawn.fixed.begin(), drawn.fixed.end()))
        text += fmt::format(" {}x{}", t, drawn.fixed.count(t));
    text += "\nvarlen:";
    for (const std::int64_t t : std::set<std::int64_t>(drawn.varlen.begin(), drawn.varlen.end()))
        text += fmt::format(" {}x{}", t, drawn.varlen.count(t));
    return text;
}

// Greedy descent through case `case_number`'s shrink tree, keeping the first shrink that
// still has a row of more than `tokens` tokens: where a campaign's shrinking of a bug that
// needs such a row ends.
harness::CaseSpec shrink_keeping_a_row_over(const CampaignConfig& config, std::int64_t case_number, std::int64_t tokens) {
    rc::Shrinkable<harness::CaseSpec> tree = campaign_case_tree(config, case_number);
    for (bool improved = true; improved;) {
        improved = false;
        rc::Seq<rc::Shrinkable<harness::CaseSpec>> shrinks = tree.shrinks();
        while (auto candidate = shrinks.next())
            if (candidate->value().longest_row() > tokens) {
                tree = std::move(*candidate);
                improved = true;
                break;
            }
    }
    return tree.value();
}

std::set<std::string> classes_of(const std::string& spec_text, std::int64_t chunk_size) {
    const auto classes = coverage_classes(harness::materialize_indexing(harness::parse_text(spec_text)), chunk_size);
    return {classes.begin(), classes.end()};
}

std::set<std::string> chunk_classes_of(const std::string& spec_text, std::int64_t chunk_size) {
    std::set<std::string> classes = classes_of(spec_text, chunk_size), chunk;
    for (const char* name : {coverage_class::multi_chunk, coverage_class::chunk_boundary})
        if (classes.count(name)) chunk.insert(name);
    return chunk;
}

}  // namespace

TEST_CASE("chunk lengths: the boundary lengths of a chunk size", "[distribution]") {
    using L = std::vector<std::int64_t>;
    CHECK(harness::chunk_boundary_lengths(64) == L{1, 63, 64, 65, 127, 128, 129, 193});
    CHECK(harness::chunk_boundary_lengths(4) == L{1, 3, 4, 5, 7, 8, 9, 13});
    CHECK(harness::chunk_boundary_lengths(1) == L{1, 2, 3, 4});  // no 0, no duplicates
    CHECK(harness::longest_chunk_length(64) == 193);
}

TEST_CASE("chunk lengths: rows reach C - 1, C, C + 1 and past 2C, fixed-length and varlen, for C = 4 and 64",
          "[distribution]") {
    for (const std::int64_t chunk_size : {4, 64}) {
        const DrawnLengths drawn = drawn_lengths(chunk_campaign(chunk_size), 400);
        INFO("C = " << chunk_size << "\n" << describe(drawn));
        CHECK(missing_lengths(drawn, chunk_size).empty());
        CHECK(boundary_fraction(drawn, chunk_size) >= 0.6);  // most of the weight on the boundaries
    }
}

TEST_CASE("chunk lengths: the checks fail on the decode lengths", "[distribution]") {
    // The default distribution (T <= 8): no row past 8 tokens, none at 63..65.
    const DrawnLengths decode = drawn_lengths(chunk_campaign(0), 400);
    INFO(describe(decode));
    CHECK(missing_lengths(decode, 4) == std::set<std::string>{"T > 2C", "varlen sequence > 2C"});
    CHECK(missing_lengths(decode, 64) == std::set<std::string>{"T = C - 1", "T = C", "T = C + 1", "T > 2C",
                                                                "varlen sequence at C - 1, C or C + 1",
                                                                "varlen sequence > 2C"});
    CHECK(boundary_fraction(decode, 64) < 0.6);
}

TEST_CASE("chunk lengths: every case is within the work budget, long rows included", "[distribution]") {
    for (const std::int64_t chunk_size : {4, 64}) {
        for (const std::int64_t budget : {std::int64_t(1) << 21, std::int64_t(1) << 16}) {
            CampaignConfig config = chunk_campaign(chunk_size, 5);
            config.work_budget = budget;
            const DrawnLengths drawn = drawn_lengths(config, 400);
            INFO("C = " << chunk_size << ", budget " << budget << "\n" << describe(drawn));
            CHECK(drawn.over_budget == 0);
            // The budget did not turn every row short: some still span more than two chunks.
            CHECK(*drawn.fixed.rbegin() > 2 * chunk_size);
        }
    }
    // The check sees a case over the budget: the decode distribution's bound is soft (one row,
    // and varlen cases, may exceed it), and a pinned seed draws such a case.
    const DrawnLengths decode = drawn_lengths(chunk_campaign(0), 400);
    CHECK(decode.over_budget > 0);
}

TEST_CASE("chunk lengths: bound_long_rows drops short sequences, then value heads, then tokens", "[distribution]") {
    // 3 + 193 + 0 + 5 tokens x HV 4 x 64 x 64: the short sequences go first, the empty one stays.
    harness::CaseSpec varlen = harness::parse_text("B=1 T=201 H=2 HV=4 K=64 V=64 varlen=1 seq_lengths=3,193,0,5 seed=1");
    harness::bound_long_rows(varlen, std::int64_t(1) << 21);
    CHECK(varlen.seq_lengths == std::vector<std::int64_t>{193, 0});
    CHECK(varlen.seq_len == 193);
    CHECK(varlen.num_heads == 2);
    CHECK(varlen.num_value_heads == 2);  // still over with one row: 193 x 64 x 64 x HV <= 2^21 at HV = 2 (group 1)
    harness::validate(varlen);
    // One row of 193 tokens at K = V = 256: one head and the tokens that fit (2^21 / 2^16 = 32).
    harness::CaseSpec fixed = harness::parse_text("B=1 T=193 H=2 HV=8 K=256 V=256 circular=1 slots=193 seed=1");
    harness::bound_long_rows(fixed, std::int64_t(1) << 21);
    CHECK(fixed.num_value_heads == 1);
    CHECK(fixed.num_heads == 1);
    CHECK(fixed.seq_len == 32);
    CHECK(fixed.slots == 32);  // Slots == T kept
    harness::validate(fixed);
    // Within the budget: untouched.
    const harness::CaseSpec small = harness::parse_text("B=4 T=9 H=1 HV=2 K=8 V=8 seed=1");
    harness::CaseSpec bounded = small;
    harness::bound_long_rows(bounded, std::int64_t(1) << 21);
    CHECK(bounded == small);
}

TEST_CASE("chunk lengths: shrinking a bug that needs a row past C ends at C + 1 tokens", "[distribution]") {
    for (const std::int64_t chunk_size : {4, 64}) {
        const CampaignConfig config = chunk_campaign(chunk_size, 9);
        // The first fixed-length case with a row of three chunks and more, as a campaign would find it.
        std::int64_t c = 0;
        while (campaign_case(config, c).varlen || campaign_case(config, c).longest_row() <= 2 * chunk_size) ++c;
        const harness::CaseSpec original = campaign_case(config, c);
        const harness::CaseSpec shrunk = shrink_keeping_a_row_over(config, c, chunk_size);
        INFO("C = " << chunk_size << ": " << to_text(original) << "\nshrunk to " << to_text(shrunk));
        CHECK(original.longest_row() != chunk_size + 1);  // the check below tells the original apart
        CHECK(shrunk.longest_row() == chunk_size + 1);
        CHECK(shrunk.batch == 1);
        CHECK(shrunk.num_value_heads == 1);
    }
}

TEST_CASE("chunk lengths: coverage names rows of several chunks and rows at a chunk boundary", "[distribution][coverage]") {
    namespace cc = coverage_class;
    using S = std::set<std::string>;
    const auto row = [](std::int64_t tokens) { return fmt::format("B=2 T={} H=1 HV=1 K=4 V=4 seed=3", tokens); };
    CHECK(chunk_classes_of(row(2), 4).empty());
    CHECK(chunk_classes_of(row(3), 4) == S{cc::chunk_boundary});  // C - 1
    CHECK(chunk_classes_of(row(4), 4) == S{cc::chunk_boundary});  // C
    CHECK(chunk_classes_of(row(5), 4) == S{cc::multi_chunk, cc::chunk_boundary});
    CHECK(chunk_classes_of(row(6), 4) == S{cc::multi_chunk});
    CHECK(chunk_classes_of(row(7), 4) == S{cc::multi_chunk, cc::chunk_boundary});  // 2C - 1
    CHECK(chunk_classes_of(row(129), 64) == S{cc::multi_chunk, cc::chunk_boundary});
    CHECK(chunk_classes_of(row(100), 64) == S{cc::multi_chunk});
    // Without a chunk size, neither; an inactive row does not count.
    CHECK(chunk_classes_of(row(5), 0).empty());
    CHECK(chunk_classes_of("B=1 T=11 H=1 HV=1 K=4 V=4 varlen=1 seq_lengths=3,8 circular=1 cache_seqlens=0,-1 seed=3", 4) ==
          S{cc::chunk_boundary});
    CHECK(chunk_classes_of("B=1 T=11 H=1 HV=1 K=4 V=4 varlen=1 seq_lengths=3,8 circular=1 cache_seqlens=0,0 seed=3", 4) ==
          S{cc::multi_chunk, cc::chunk_boundary});
    // The summary lists them (as 0 when not reached) only with a chunk size.
    const std::vector<std::string> with = all_coverage_classes(4), without = all_coverage_classes();
    CHECK(std::count(with.begin(), with.end(), cc::multi_chunk) == 1);
    CHECK(std::count(with.begin(), with.end(), cc::chunk_boundary) == 1);
    CHECK(std::count(without.begin(), without.end(), cc::multi_chunk) == 0);
    CHECK(std::vector<std::string>(with.begin(), with.begin() + std::ptrdiff_t(without.size())) == without);
}

TEST_CASE("chunk lengths: a campaign's cases reach the chunk classes, the decode lengths do not at C = 64",
          "[distribution][coverage]") {
    namespace cc = coverage_class;
    const auto fraction = [](const CampaignConfig& config, std::int64_t chunk_size, const char* name) {
        int hits = 0;
        for (std::int64_t c = 0; c < 300; ++c) {
            const auto classes = coverage_classes(harness::materialize_indexing(campaign_case(config, c)), chunk_size);
            hits += std::count(classes.begin(), classes.end(), name) > 0;
        }
        return hits / 300.0;
    };
    // Measured (seed 1, 300 cases): C = 4 0.41 and 0.52, C = 64 0.35 and 0.32 (inactive rows,
    // the smallest sizes' single tokens and the budget take the rest); the decode lengths at
    // C = 64: 0 and 0.
    for (const std::int64_t chunk_size : {4, 64}) {
        INFO("C = " << chunk_size);
        CHECK(fraction(chunk_campaign(chunk_size), chunk_size, cc::multi_chunk) >= 0.3);
        CHECK(fraction(chunk_campaign(chunk_size), chunk_size, cc::chunk_boundary) >= 0.25);
    }
    CHECK(fraction(chunk_campaign(0), 64, cc::multi_chunk) < 0.3);
    CHECK(fraction(chunk_campaign(0), 64, cc::chunk_boundary) < 0.25);
}

TEST_CASE("chunk lengths: the start record carries C, so a resume with other chunk lengths is refused", "[records]") {
    const nlohmann::json chunked = start_record(chunk_campaign(4), "cpu-chunked-emulated", false);
    CHECK(chunked.at("distribution").at("chunk_lengths") == 4);
    const auto classes = chunked.at("coverage_classes").get<std::vector<std::string>>();
    CHECK(std::count(classes.begin(), classes.end(), coverage_class::multi_chunk) == 1);
    CHECK(start_record(chunk_campaign(0), "cpu-chunked-emulated", false).at("distribution").is_null());
    CHECK_NOTHROW(require_same_campaign(chunked, start_record(chunk_campaign(4), "cpu-chunked-emulated", true), "--resume", true));
    CHECK_THROWS_WITH(
        require_same_campaign(chunked, start_record(chunk_campaign(0), "cpu-chunked-emulated", true), "--resume", true),
        Catch::Contains("--chunk-lengths"));
    CHECK_THROWS_WITH(
        require_same_campaign(chunked, start_record(chunk_campaign(8), "cpu-chunked-emulated", true), "--resume", true),
        Catch::Contains("--chunk-lengths"));
}

TEST_CASE("chunk lengths: a bad chunk size names --chunk-lengths", "[campaign]") {
    CampaignConfig config = chunk_campaign(-1);
    config.max_cases = 1;
    CHECK_THROWS_WITH(validate(config), Catch::Contains("--chunk-lengths"));
    config.generator.chunk_size = kMaxChunkLengths + 1;
    CHECK_THROWS_WITH(validate(config), Catch::Contains("--chunk-lengths"));
    config.generator.chunk_size = kMaxChunkLengths;
    CHECK_NOTHROW(validate(config));
}

TEST_CASE("chunk lengths: a campaign finds a bug past 2C, shrinks it to 2C + 1 tokens, and its replay file reproduces it",
          "[campaign]") {
    constexpr std::int64_t chunk_size = 4;  // cpu-chunked-emulated's
    const auto buggy = [] { return testing::wrong_past_tokens(2 * chunk_size, testing::cpu_chunked_stand_in()); };
    CampaignConfig config = chunk_campaign(chunk_size, 3);
    config.max_cases = 60;
    config.stop_at_first_failure = true;
    config.verdict.check_determinism = false;
    config.out_dir = std::filesystem::temp_directory_path() / fmt::format("gdr-chunk-lengths-test-{}", getpid());
    std::filesystem::remove_all(config.out_dir);
    const CampaignSummary summary =
        run_campaign(config, [&](int) { return buggy(); }, {0}, harness::ToleranceTable::load_default(), nullptr);
    REQUIRE(summary.failures.size() == 1);
    const CampaignFailure& failure = summary.failures.front();
    INFO("original: " << to_text(failure.original) << "\nshrunk: " << to_text(failure.shrunk));
    CHECK(failure.original.longest_row() > 2 * chunk_size);
    CHECK(failure.shrunk.longest_row() == 2 * chunk_size + 1);
    CHECK(summary.coverage.at(coverage_class::multi_chunk) > 0);
    // The replay file's case text carries T and the sequence lengths: nothing else is needed
    // for the same verdict.
    const ReplayFile replay = read_replay_file(failure.replay_file);
    auto subject = buggy();
    harness::RunOptions options;
    options.verdict = replay.options;
    const harness::CaseReport replayed = harness::run_case(replay.spec, *subject, harness::ToleranceTable::load_default(), options);
    CHECK(replayed.outcome == failure.report.outcome);
    CHECK(failure_class(replayed) == replay.failure_class);
    // The same bug is out of reach of the decode lengths (rows of at most 8 tokens).
    std::filesystem::remove_all(config.out_dir);
    config.generator.chunk_size = 0;
    config.out_dir.clear();
    CHECK(run_campaign(config, [&](int) { return buggy(); }, {0}, harness::ToleranceTable::load_default(), nullptr)
              .failures.empty());
}
