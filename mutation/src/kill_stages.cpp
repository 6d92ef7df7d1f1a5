// The fixed stages of the kill table: the default `gdr verify` cases and cases aimed at
// mutants that those and random cases rarely reach.
#include <memory>
#include <optional>

#include "gdr/fuzz/campaign.hpp"
#include "gdr/mutation/kill_table.hpp"

namespace gdr::mutation {

KillStage case_list_stage(std::string name, std::vector<harness::CaseSpec> cases) {
    // Oracle runs are the slow part: each case is prepared on first use and kept for
    // every later mutant (the stage object is shared by the whole table).
    auto shared = std::make_shared<std::vector<harness::SharedCase>>(cases.begin(), cases.end());
    return KillStage{std::move(name), [shared](const MutantUnderTest& target, KillProgress& progress) {
                         for (harness::SharedCase& one : *shared) {
                             if (progress.out_of_time()) return;
                             if (progress.record(one.run(target.subject, target.tolerances, target.run_options)))
                                 return;
                         }
                     }};
}

std::vector<harness::CaseSpec> targeted_kill_cases() {
    return {
        // index_equal_n_active: row 1 names entry N = 3, one past the bank (inactive).
        harness::parse_text("B=3 T=1 H=1 HV=2 K=32 V=24 N=3 explicit_indices=2,3,0 seed=101"),
        // beta_ignored_without_g: beta present, g absent (no default case has that pair).
        harness::parse_text("B=2 T=2 H=1 HV=2 K=32 V=16 g=0 seed=102"),
        // output_rounded_through_state_dtype: an f32 output would carry bf16 precision.
        harness::parse_text("B=2 T=2 H=1 HV=2 K=32 V=16 in=f32 state=bf16 seed=103"),
        // l2norm_eps_dropped: with K = 1 some |q| and |k| are small enough for eps to count.
        harness::parse_text("B=8 T=2 H=4 HV=4 K=1 V=16 in=f32 state=f32 seed=104"),
        // round_trip_in_non_circular_mode: several tokens, a bf16 state, no cache_seqlens.
        harness::parse_text("B=2 T=4 H=1 HV=2 K=32 V=32 state=bf16 seed=105"),
        // missing_cache_round_trip: circular, Slots >= T so that the stepped checks see each
        // token resume from the stored bf16 slot, and an f32 output fine enough to show it.
        // K = 48 takes the general tiling, whose f32 tile can skip the round trip; a whole
        // tile keeps a 16-bit state packed, rounded by construction.
        harness::parse_text("B=2 T=4 H=1 HV=2 K=48 V=32 layout=vk in=f32 state=bf16 slots=4 circular=1 seqlen_max=6 "
                            "qk=l2normalized seed=106"),
        // fast_math_exp: __expf(g) = ex2.approx(fl(g log2 e)) errs by about |g| / 2 ulp (the
        // rounding of the product), beyond precise math's 2 ulp only for large |g|, and shows
        // only where alpha h dominates a step: g ~ [-1e4, -50] with a state of 1e37, so that
        // the heads with g in [-85, -50] (0.35 %, about 29 of the 8192 (row, head) here) carry
        // alpha h of 1 to 1e15 against beta k v of about 1; T = 1 so that no later token's
        // decay wipes the error out. H200 (2026-12-03): the kernel passes at 0.50 of its
        // thresholds, the mutant fails 15 slices at up to 5x; the earlier T = 2 case with a
        // 1e30 state (about 16 heads in the window, each erased by the second token's decay)
        // did not kill it in 60 s.
        harness::parse_text("B=1024 T=1 H=1 HV=8 K=1 V=2 layout=kv in=f32 gate=f32 state=f32 l2norm=0 "
                            "gdist=huge_negative state_scale=1e37 seed=113"),
        // small_outputs_reduced_precision: f32 outputs, small heads, K = 2 (little cancellation).
        harness::parse_text("B=2 T=2 H=1 HV=4 K=2 V=16 layout=kv in=f32 state=f32 seed=108"),
        // l2norm_skipped: l2norm on, q and k far from unit norm.
        harness::parse_text("B=2 T=2 H=1 HV=2 K=8 V=4 layout=kv in=f32 state=f32 l2norm=1 qk=uniform seed=109"),
        // grid_clamp_without_stride_loop: B = 2100 rows, more than the mutant launches (2048).
        harness::parse_text("B=2100 T=1 H=8 HV=32 K=16 V=16 layout=kv in=bf16 state=f32 seed=65536"),
        // The chunk kernel's (C = 64; the decode mutants run them too): rows crossing chunk
        // boundaries at C - 1, C, C + 1 and past 2C in varlen (the tail's gates, the boundary,
        // the causal mask, the inverse, the decays, beta), grouped heads (head mapping), two
        // value tiles (V = 128), l2norm of non-unit q and k.
        harness::parse_text("B=1 T=260 H=2 HV=4 K=64 V=128 layout=kv in=bf16 state=f32 varlen=1 seq_lengths=63,64,65,68 "
                            "l2norm=1 qk=uniform seed=201"),
        // chunk_tail_gates_past_row: short varlen rows (weak gates), so that the state's
        // exp(G_c) share is large and the gates the mutant sums past a row's end (the next
        // rows' tokens) move it by far more than the tolerance; in the case above the rows are
        // 63 tokens and more, exp(G_c) ~ 0.04 and the error stays within it.
        harness::parse_text("B=1 T=68 H=1 HV=2 K=64 V=64 layout=kv in=bf16 state=f32 varlen=1 seq_lengths=3,5,60 seed=204"),
        // chunk_gamma_as_ratio: gates so negative that exp of their sum from the chunk's start
        // underflows within a few tokens.
        harness::parse_text("B=2 T=70 H=1 HV=2 K=64 V=64 layout=vk in=bf16 state=f32 gdist=huge_negative seed=202"),
        // chunk_circular_write_unwrapped, chunk_inactive_row_writes_state: circular rows of 70
        // tokens over 3 slots, one with a negative cache_seqlen.
        harness::parse_text("B=3 T=70 H=1 HV=2 K=64 V=64 layout=kv in=f16 state=bf16 circular=1 slots=3 seqlen_max=6 "
                            "neg_seqlens=1 seed=203"),
    };
}

KillStage big_bank_stage() {
    return KillStage{"big bank", [](const MutantUnderTest& target, KillProgress& progress) {
                         if (target.entry.run_big_bank_case && !progress.out_of_time())
                             progress.record(target.entry.run_big_bank_case());
                     }};
}

KillStage random_campaign_stage(std::uint64_t seed) {
    return KillStage{"random campaign", [seed](const MutantUnderTest& target, KillProgress& progress) {
                         fuzz::CampaignConfig config;
                         config.seed = seed;
                         // A chunk kernel's mutants get rows around and past its chunk boundaries.
                         if (const auto contract = target.subject.chunked())
                             config.generator.chunk_size = contract->chunk_size;
                         for (std::int64_t c = 0; !progress.out_of_time(); ++c)
                             if (progress.record(harness::run_case(fuzz::campaign_case(config, c), target.subject,
                                                                   target.tolerances, target.run_options)))
                                 return;
                     }};
}

std::vector<KillStage> standard_kill_stages(std::uint64_t seed) {
    return {case_list_stage("default cases", harness::default_verify_cases()),
            case_list_stage("targeted cases", targeted_kill_cases()), big_bank_stage(), random_campaign_stage(seed)};
}

}  // namespace gdr::mutation
