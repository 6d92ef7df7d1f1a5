// The shape palette (`gdr fuzz --shape-palette N`): a campaign draws N shapes once from its
// seed, every case and every shrink of it takes one of them, and the rest of the case still
// varies, so a JIT-compiled subject compiles a bounded number of kernel variants.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include <fmt/format.h>

#include "gdr/core/errors.hpp"
#include "gdr/fuzz/campaign.hpp"

using namespace gdr;
using namespace gdr::harness;
using namespace gdr::fuzz;

namespace {

// The shape a case has, as the palette writes it (T is the palette's only without varlen).
CaseShape shape_of_case(const CaseSpec& spec) {
    CaseShape shape;
    shape.heads = spec.num_heads;
    shape.group = spec.num_value_heads / spec.num_heads;
    shape.key_dim = spec.key_dim;
    shape.value_dim = spec.value_dim;
    shape.seq_len = spec.seq_len;
    shape.layout = spec.layout;
    shape.input_dtype = spec.input_dtype;
    shape.state_dtype = spec.state_dtype;
    shape.gate_is_input = spec.gate_dtype == spec.input_dtype;
    return shape;
}

// Whether `spec` has one of the palette's shapes (T compared only without varlen, and the
// gate dtype only where it can tell: with f32 inputs both choices give f32 gates).
bool in_palette(const CaseSpec& spec, const std::vector<CaseShape>& palette) {
    const CaseShape s = shape_of_case(spec);
    for (const CaseShape& p : palette) {
        const bool gate_matches =
            spec.input_dtype == DType::f32 || spec.gate_dtype == (p.gate_is_input ? p.input_dtype : DType::f32);
        if (p.heads == s.heads && p.group == s.group && p.key_dim == s.key_dim && p.value_dim == s.value_dim &&
            (spec.varlen || p.seq_len == s.seq_len) && p.layout == s.layout && p.input_dtype == s.input_dtype &&
            p.state_dtype == s.state_dtype && gate_matches)
            return true;
    }
    return false;
}

CampaignConfig paletted_campaign(std::uint64_t seed, int palette_size) {
    CampaignConfig config;
    config.seed = seed;
    config.generator.shape_palette = draw_shape_palette(config.generator, seed, palette_size);
    return config;
}

}  // namespace

TEST_CASE("shape palette: the same seed draws the same palette, another seed another", "[campaign][palette]") {
    const CaseGenConfig generator = decode_case_config();
    const auto a = draw_shape_palette(generator, 7, 12), b = draw_shape_palette(generator, 7, 12);
    const auto c = draw_shape_palette(generator, 8, 12);
    REQUIRE(a.size() == 12);
    std::vector<std::string> ta, tb, tc;
    for (std::size_t i = 0; i < a.size(); ++i) {
        ta.push_back(to_text(a[i]));
        tb.push_back(to_text(b[i]));
        tc.push_back(to_text(c[i]));
    }
    CHECK(ta == tb);
    CHECK(ta != tc);
    CHECK(std::set<std::string>(ta.begin(), ta.end()).size() >= 8);  // shapes, not one shape twelve times
    CHECK(draw_shape_palette(generator, 7, 0).empty());
    CHECK_THROWS_AS(draw_shape_palette(generator, 7, -1), InvalidArgument);
}

TEST_CASE("shape palette: every case and every shrink takes a palette shape, while B, slots and values vary",
          "[campaign][palette]") {
    const CampaignConfig config = paletted_campaign(11, 5);
    std::set<std::string> shapes;
    std::set<std::int64_t> batches, slots;
    std::set<std::uint64_t> seeds;
    for (std::int64_t c = 0; c < 300; ++c) {
        const rc::Shrinkable<CaseSpec> tree = campaign_case_tree(config, c);
        const CaseSpec spec = tree.value();
        INFO("case " << c << ": " << to_text(spec));
        REQUIRE(in_palette(spec, config.generator.shape_palette));
        shapes.insert(to_text(shape_of_case(spec)) + (spec.varlen ? " varlen" : ""));
        batches.insert(spec.batch);
        slots.insert(spec.slots);
        seeds.insert(spec.seed);
        if (c % 50 == 0) {
            int checked = 0;
            for (auto shrinks = tree.shrinks(); checked < 40; ++checked) {
                const auto next = shrinks.next();
                if (!next) break;
                INFO("shrink: " << to_text(next->value()));
                REQUIRE(in_palette(next->value(), config.generator.shape_palette));
            }
        }
    }
    CHECK(batches.size() >= 10);
    CHECK(slots.size() >= 5);
    CHECK(seeds.size() == 300);
}

TEST_CASE("shape palette: the check fails on cases drawn without the palette", "[campaign][palette]") {
    // The membership test above must be able to fail: the unpaletted distribution leaves it.
    const CampaignConfig paletted = paletted_campaign(11, 5);
    CampaignConfig unpaletted;
    unpaletted.seed = 11;
    int outside = 0;
    for (std::int64_t c = 0; c < 100; ++c)
        outside += !in_palette(campaign_case(unpaletted, c), paletted.generator.shape_palette);
    CHECK(outside >= 80);
}

TEST_CASE("shape palette: 18 entries or more hold each layout with each dtype pair", "[campaign][palette]") {
    for (const std::uint64_t seed : {1u, 2u, 3u}) {
        std::set<std::string> kinds;
        for (const CaseShape& shape : draw_shape_palette(decode_case_config(), seed, 18))
            kinds.insert(fmt::format("{} {} {}", to_string(shape.layout), to_string(shape.input_dtype),
                                     to_string(shape.state_dtype)));
        CHECK(kinds.size() == 18);
    }
    CaseGenConfig kv_only = decode_case_config();
    kv_only.vk_layout = false;
    kv_only.state_dtypes = {DType::bf16};
    for (const CaseShape& shape : draw_shape_palette(kv_only, 5, 7)) {
        CHECK(shape.layout == Layout::KV);
        CHECK(shape.state_dtype == DType::bf16);
    }
}

TEST_CASE("shape palette: --key-dims and --value-dims lists bound the palette's head sizes", "[campaign][palette]") {
    CaseGenConfig generator = decode_case_config();
    generator.key_dims = {64, 128};
    generator.value_dims = {32, 96};
    for (const CaseShape& shape : draw_shape_palette(generator, 3, 20)) {
        CHECK((shape.key_dim == 64 || shape.key_dim == 128));
        CHECK((shape.value_dim == 32 || shape.value_dim == 96));
    }
}

TEST_CASE("shape palette: with --palette-features every case and every shrink keeps its entry's features",
          "[campaign][palette]") {
    CampaignConfig config;
    config.seed = 21;
    config.generator.shape_palette = draw_shape_palette(config.generator, config.seed, 4, true);
    const std::vector<CaseShape>& palette = config.generator.shape_palette;
    for (const CaseShape& entry : palette) {
        CHECK(entry.with_features);
        CHECK(to_text(entry).find(" strides=") != std::string::npos);  // the start record shows them
    }
    // The features a spec shows, as an entry fixes them (l2norm and the scale only where the
    // case is not exact: exact mode turns l2norm off and fixes the scale).
    const auto features_of = [](const CaseSpec& spec) {
        return fmt::format("g={:d} beta={:d} final={:d} circular={:d} varlen={:d} strides={} exact={:d}", spec.has_g,
                           spec.has_beta, spec.output_final_state, spec.circular, spec.varlen, to_string(spec.strides),
                           spec.exact) +
               (spec.exact ? "" : fmt::format(" l2norm={:d} scale={}", spec.use_qk_l2norm, spec.scale.value_or(0.0)));
    };
    const auto entry_features = [&](const CaseShape& entry) {
        CaseChoices choices;
        apply_shape(entry, choices);
        return features_of(spec_from_choices(choices));
    };
    std::set<std::string> allowed, seen_features;
    for (const CaseShape& entry : palette) allowed.insert(entry_features(entry));
    const auto check_features = [&](const CaseSpec& spec) {
        INFO(to_text(spec));
        REQUIRE(in_palette(spec, palette));
        // Where spec_from_choices clips a feature (circular without rows to write, ...), the
        // spec shows less than its entry: compare the features the entry fixes.
        const std::string features = features_of(spec);
        bool from_an_entry = false;
        for (const std::string& entry : allowed) from_an_entry = from_an_entry || entry == features;
        CHECK(from_an_entry);
        seen_features.insert(features);
    };
    std::set<std::int64_t> batches;
    for (std::int64_t c = 0; c < 200; ++c) {
        const rc::Shrinkable<CaseSpec> tree = campaign_case_tree(config, c);
        check_features(tree.value());
        batches.insert(tree.value().batch);
        if (c % 40 == 0) {
            int checked = 0;
            for (auto shrinks = tree.shrinks(); checked < 30; ++checked) {
                const auto next = shrinks.next();
                if (!next) break;
                check_features(next->value());
            }
        }
    }
    CHECK(seen_features.size() <= palette.size());
    CHECK(batches.size() >= 5);  // B still varies within an entry

    // Without the option the features vary freely: more combinations than entries.
    const CampaignConfig free = paletted_campaign(21, 4);
    std::set<std::string> free_features;
    for (std::int64_t c = 0; c < 200; ++c) free_features.insert(features_of(campaign_case_tree(free, c).value()));
    CHECK(free_features.size() > palette.size());
}
