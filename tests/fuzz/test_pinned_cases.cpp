// The decode distribution is pinned: a campaign seed gives the cases, and the shrinks, it gave
// before chunk lengths (CaseGenConfig::chunk_size) existed, so recorded seeds, resumed
// campaigns and their fingerprints stay valid. The texts and hashes below were taken from the
// generator before that change; a change to the default distribution must change them
// knowingly (and say so: old seeds then give other cases).
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>

#include <fmt/format.h>

#include "gdr/fuzz/campaign.hpp"
#include "gdr/harness/mix64.hpp"

using namespace gdr;
using namespace gdr::fuzz;

namespace {

std::uint64_t hash_text(std::uint64_t h, const std::string& text) {
    for (const char ch : text) h = harness::mix64(h ^ std::uint8_t(ch));
    return h;
}

// Cases 0..count-1 of the campaign, as one hash of their texts.
std::string campaign_hash(const CampaignConfig& config, std::int64_t count) {
    std::uint64_t h = harness::mix64(config.seed);
    for (std::int64_t c = 0; c < count; ++c) h = hash_text(h, harness::to_text(campaign_case(config, c)));
    return fmt::format("{:016x}", h);
}

// The first shrinks of case `case_number`: how many, and one hash of their texts.
std::string shrinks_hash(const CampaignConfig& config, std::int64_t case_number) {
    std::uint64_t h = 0;
    int count = 0;
    rc::Seq<rc::Shrinkable<harness::CaseSpec>> shrinks = campaign_case_tree(config, case_number).shrinks();
    while (auto shrink = shrinks.next()) {
        h = hash_text(h, harness::to_text(shrink->value()));
        ++count;
    }
    return fmt::format("{} {:016x}", count, h);
}

CampaignConfig seeded(std::uint64_t seed, std::int64_t chunk_size = 0) {
    CampaignConfig config;
    config.seed = seed;
    config.generator.chunk_size = chunk_size;
    return config;
}

// The property tests' generator (CaseGenConfig{}) with the campaign's random and sizes,
// unbounded.
CampaignConfig property_generator(std::uint64_t seed) {
    CampaignConfig config = seeded(seed);
    config.generator = harness::CaseGenConfig{};
    config.work_budget = std::numeric_limits<std::int64_t>::max();
    return config;
}

// Cases of the decode campaign (seed, case number, its text), taken before chunk lengths.
struct PinnedCase {
    std::uint64_t seed;
    std::int64_t case_number;
    const char* text;
};
const PinnedCase kPinnedCases[] = {
    {1, 3,
     "B=2 T=1 H=1 HV=2 K=8 V=7 layout=vk in=bf16 gate=f32 state=f16 beta=0 final=0 slots=2 circular=1 neg_seqlens=1 "
     "qk=l2normalized bdist=half state_scale=0 specials=g:sub seed=11748866673595882909"},
    {1, 57,
     "B=1 T=30 H=2 HV=6 K=235 V=128 layout=vk in=bf16 gate=bf16 state=bf16 l2norm=0 scale=0.5 N=1 slots=5 "
     "indices=permutation inactive=6 circular=1 seqlen_max=4 neg_seqlens=6 varlen=1 seq_lengths=6,4,7,6,2,5 "
     "cu_type=i64 strides=padded gdist=huge_negative seed=8583455667861182523"},
    {1, 250,
     "B=58 T=2 H=2 HV=2 K=33 V=132 layout=vk in=bf16 gate=f32 state=bf16 g=0 beta=0 N=58 slots=4 indices=identity "
     "circular=1 seqlen_max=19 neg_seqlens=20 qk=l2normalized gdist=strong state_scale=8 seed=10929676471135878916"},
    {7, 57,
     "B=1 T=20 H=1 HV=1 K=32 V=7 layout=kv in=f16 gate=f32 state=bf16 beta=0 final=0 scale=1 slots=9 varlen=1 "
     "seq_lengths=8,4,7,1 qk=l2normalized gdist=huge_negative bdist=half seed=7273255804540711995"},
    {2024, 100,
     "B=1 T=22 H=3 HV=9 K=155 V=256 layout=vk in=f16 gate=f16 state=f16 g=0 beta=0 scale=0.5 circular=1 "
     "seqlen_max=18 neg_seqlens=5 varlen=1 seq_lengths=7,1,3,4,3,4 strides=padded qk=l2normalized bdist=half "
     "state_scale=0.25 seed=1953682371485134800"},
};

}  // namespace

TEST_CASE("pinned cases: the decode distribution draws what it drew before chunk lengths", "[distribution][campaign]") {
    for (const PinnedCase& pinned : kPinnedCases) {
        INFO("seed " << pinned.seed << ", case " << pinned.case_number);
        CHECK(harness::to_text(campaign_case(seeded(pinned.seed), pinned.case_number)) == pinned.text);
    }
    CHECK(campaign_hash(seeded(1), 600) == "9f61016c603544db");
    CHECK(campaign_hash(seeded(7), 600) == "8cb66297008e90ab");
    CHECK(campaign_hash(seeded(2024), 600) == "fffe47f621c2027f");
    CHECK(shrinks_hash(seeded(1), 57) == "116 24c1d55d2e2ddce0");
    CHECK(shrinks_hash(seeded(1), 100) == "98 d10d074a771b8e82");
    CHECK(shrinks_hash(seeded(1), 333) == "108 3b9460c7126d3234");
    CHECK(harness::to_text(campaign_case(property_generator(3), 77)) ==
          "B=1 T=3 H=2 HV=2 K=7 V=5 layout=vk in=f32 gate=f32 state=f16 l2norm=0 scale=1 slots=4 strides=padded "
          "qk=l2normalized gdist=zero bdist=one state_scale=0.25 exact=1 seed=15690720173222905427");
    CHECK(campaign_hash(property_generator(3), 300) == "7f8f5e8f28cb26fb");
    CHECK(campaign_hash(property_generator(11), 300) == "37b6c7e818ba861c");
}

TEST_CASE("pinned cases: the pins tell another distribution apart", "[distribution][campaign]") {
    // Chunk lengths (any C) draw other cases from the same seeds, and the pins see it.
    CHECK(campaign_hash(seeded(1, 4), 600) != "9f61016c603544db");
    CHECK(campaign_hash(seeded(7, 64), 600) != "8cb66297008e90ab");
    CHECK(shrinks_hash(seeded(1, 4), 57) != "116 24c1d55d2e2ddce0");
    CHECK(harness::to_text(campaign_case(seeded(1, 4), 57)) != kPinnedCases[1].text);
}
