// The default campaign distribution reaches what issue 11 found it missing: boundary head
// sizes, inexact cases with l2norm, circular buffers that wrap, Slots == T. Measured on the
// cases a campaign actually runs (campaign_case: after bound_work), with the coverage classes
// the campaign summary counts, so the test fails when the distribution regresses.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>

#include <fmt/format.h>

#include "gdr/fuzz/campaign.hpp"
#include "gdr/fuzz/coverage.hpp"
#include "gdr/harness/generate.hpp"

using namespace gdr;
using namespace gdr::fuzz;

namespace {

// Fraction of cases 0..count-1 of `config`'s campaign in each coverage class.
std::map<std::string, double> class_fractions(const CampaignConfig& config, std::int64_t count) {
    std::map<std::string, double> fractions;
    for (const std::string& name : all_coverage_classes()) fractions[name] = 0;
    for (std::int64_t c = 0; c < count; ++c)
        for (const std::string& name : coverage_classes(harness::materialize_indexing(campaign_case(config, c))))
            fractions[name] += 1.0 / double(count);
    return fractions;
}

// The requirements of issue 11 item 6 that `f` misses, by class name.
std::set<std::string> shortfalls(const std::map<std::string, double>& f) {
    namespace cc = coverage_class;
    std::set<std::string> missed;
    const auto require = [&](const char* name, bool met) {
        if (!met) missed.insert(name);
    };
    require(cc::exact, f.at(cc::exact) <= 0.20 && f.at(cc::exact) >= 0.05);  // present, for bit-exact checks
    require(cc::l2norm, f.at(cc::l2norm) >= 0.60);
    require(cc::wraparound, f.at(cc::wraparound) >= 0.25);
    require(cc::slots_equal_t, f.at(cc::slots_equal_t) >= 0.10);
    require(cc::boundary_key_dim, f.at(cc::boundary_key_dim) >= 0.40);
    require(cc::boundary_value_dim, f.at(cc::boundary_value_dim) >= 0.40);
    return missed;
}

std::string describe(const std::map<std::string, double>& f) {
    std::string text;
    for (const auto& [name, fraction] : f) text += fmt::format("{}: {:.3f}\n", name, fraction);
    return text;
}

}  // namespace

TEST_CASE("distribution: the default campaign reaches boundary sizes, l2norm, wraparound and Slots == T",
          "[distribution]") {
    CampaignConfig config;
    for (const std::uint64_t seed : {1u, 2u}) {
        config.seed = seed;
        const auto f = class_fractions(config, 3000);
        INFO("seed " << seed << "\n" << describe(f));
        CHECK(shortfalls(f).empty());
    }
}

TEST_CASE("distribution: the requirements fail on the old distribution and on rare circular buffers", "[distribution]") {
    namespace cc = coverage_class;
    // The pre-issue-11 generator: every feature a fair coin, no boundary draws.
    CampaignConfig config;
    config.generator.boundary_dims_percent = 0;
    config.generator.exact_percent = 50;
    config.generator.l2norm_percent = 50;
    config.generator.circular_percent = 50;
    config.generator.slots_equal_t_percent = 0;
    const auto old = class_fractions(config, 1000);
    INFO(describe(old));
    CHECK(shortfalls(old) == std::set<std::string>{cc::exact, cc::l2norm, cc::slots_equal_t, cc::boundary_key_dim,
                                                   cc::boundary_value_dim});
    // Circular buffers in one case in six: too little wraparound.
    CampaignConfig rare_circular;
    rare_circular.generator.circular_percent = 16;
    CHECK(shortfalls(class_fractions(rare_circular, 1000)).count(cc::wraparound) == 1);
}

TEST_CASE("distribution: every boundary head size is drawn", "[distribution]") {
    CampaignConfig config;
    std::map<std::int64_t, int> key_dims, value_dims;
    for (std::int64_t c = 0; c < 3000; ++c) {
        const auto spec = campaign_case(config, c);
        ++key_dims[spec.key_dim];
        ++value_dims[spec.value_dim];
    }
    for (const std::int64_t d : harness::boundary_head_dims()) {
        INFO("size " << d);
        CHECK(key_dims[d] >= 20);
        CHECK(value_dims[d] >= 20);
    }
}
