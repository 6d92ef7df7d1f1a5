// The cases `gdr verify` runs: each docs/SPEC.md feature at least once, at sizes a CPU oracle
// finishes in seconds. Each case says what it is there to catch.
#include "gdr/harness/runner.hpp"

namespace gdr::harness {

namespace {

CaseSpec shape(std::int64_t b, std::int64_t t, std::int64_t h, std::int64_t hv, std::int64_t k, std::int64_t v,
               std::uint64_t seed) {
    CaseSpec spec;
    spec.batch = b;
    spec.seq_len = t;
    spec.num_heads = h;
    spec.num_value_heads = hv;
    spec.key_dim = k;
    spec.value_dim = v;
    spec.seed = seed;
    return spec;
}

}  // namespace

std::vector<CaseSpec> default_verify_cases() {
    std::vector<CaseSpec> cases;

    // Qwen3-Next decode step (H=16, HV=32, K=V=128), rows scattered over a larger bank
    // with inactive rows mixed in: the production case, layout KV, fp32 state.
    CaseSpec qwen = shape(8, 1, 16, 32, 128, 128, 1);
    qwen.bank_entries = 24;
    qwen.indices = IndicesRule::permutation;
    qwen.inactive_rows = 2;
    cases.push_back(qwen);

    // The same in the transposed layout with a bf16 state: VK indexing and the bf16 store.
    CaseSpec qwen_vk = qwen;
    qwen_vk.layout = Layout::VK;
    qwen_vk.state_dtype = DType::bf16;
    qwen_vk.seed = 2;
    cases.push_back(qwen_vk);

    // Speculative decoding: T=4 tokens into Slots=4 circular slots, cache_seqlens past
    // multiples of Slots (wraparound), one negative (inactive) row, fp16 state with the
    // cache-dtype round trip, q/k/v as views of a fused projection.
    CaseSpec spec_decode = shape(6, 4, 2, 4, 64, 48, 3);
    spec_decode.layout = Layout::VK;
    spec_decode.state_dtype = DType::f16;
    spec_decode.circular = true;
    spec_decode.slots = 4;
    spec_decode.seqlen_max = 13;
    spec_decode.negative_seqlens = 1;
    spec_decode.strides = StrideRule::fused;
    cases.push_back(spec_decode);

    // Slots < T: later tokens overwrite earlier slots, the read slot included.
    CaseSpec few_slots = shape(3, 5, 1, 2, 32, 40, 4);
    few_slots.circular = true;
    few_slots.slots = 2;
    few_slots.seqlen_max = 9;
    few_slots.state_dtype = DType::bf16;
    cases.push_back(few_slots);

    // Slots == 1 with T > 1: every token overwrites the only slot.
    CaseSpec one_slot = shape(2, 3, 2, 2, 16, 16, 5);
    one_slot.circular = true;
    one_slot.slots = 1;
    one_slot.seqlen_max = 4;
    cases.push_back(one_slot);

    // Varlen prefill-style batch with an empty sequence, i64 cu_seqlens, indexed bank.
    CaseSpec varlen = shape(1, 9, 2, 4, 24, 20, 6);
    varlen.varlen = true;
    varlen.seq_lengths = {3, 0, 5, 1};
    varlen.cu_seqlens_type = IndexType::i64;
    varlen.bank_entries = 7;
    varlen.indices = IndicesRule::permutation;
    cases.push_back(varlen);

    // K != V, odd sizes, fp16 inputs with fp16 gates, padded strides: layout and tail bugs.
    CaseSpec odd = shape(3, 2, 1, 3, 7, 13, 7);
    odd.input_dtype = DType::f16;
    odd.gate_dtype = DType::f16;
    odd.strides = StrideRule::padded;
    odd.layout = Layout::VK;
    cases.push_back(odd);

    // Grouped heads, G = HV / H = 4: value head hv reads q/k head hv / 4.
    CaseSpec grouped = shape(4, 2, 2, 8, 32, 16, 8);
    grouped.input_dtype = DType::f32;
    cases.push_back(grouped);

    // Exact mode: dyadic inputs make every operation exact, so the comparison is bitwise;
    // circular with wraparound and a bf16 state.
    CaseSpec exact = shape(3, 4, 2, 4, 16, 24, 9);
    exact.exact = true;
    exact.use_qk_l2norm = false;
    exact.scale = 0.5;  // a power of two keeps q * scale exact
    exact.g = GateDistribution::zero;
    exact.beta = BetaDistribution::one;
    exact.circular = true;
    exact.slots = 3;
    exact.seqlen_max = 7;
    exact.state_dtype = DType::bf16;
    exact.layout = Layout::VK;
    cases.push_back(exact);

    // Huge negative g: alpha = exp(g) underflows to 0 and the state resets each token.
    CaseSpec decay = shape(4, 3, 1, 2, 64, 64, 10);
    decay.g = GateDistribution::huge_negative;
    cases.push_back(decay);

    // No g, no beta, no l2norm, an explicit scale: the optional paths' defaults.
    CaseSpec bare = shape(3, 2, 2, 2, 48, 32, 11);
    bare.has_g = false;
    bare.has_beta = false;
    bare.use_qk_l2norm = false;
    bare.scale = 0.25;
    bare.qk = QKDistribution::l2normalized;
    cases.push_back(bare);

    // output_final_state = false: o is written, the bank must stay bitwise unchanged.
    CaseSpec no_final = shape(3, 2, 1, 2, 32, 32, 12);
    no_final.output_final_state = false;
    no_final.circular = true;
    no_final.slots = 2;
    no_final.seqlen_max = 5;
    cases.push_back(no_final);

    // Special values (docs/SPEC.md "Special values"): NaN, Inf and subnormals must
    // propagate as IEEE arithmetic does and stay in their row and head (the isolation
    // check). K = 5 is not a multiple of 8: q/k rows past K belong to the next head or
    // row, where a NaN sits (k of head 1 next to head 0; q of row 2's first token right
    // after row 1's last), so a load that is masked by multiplying with 0 leaks it.
    CaseSpec specials = shape(4, 2, 2, 4, 5, 12, 13);
    specials.input_dtype = DType::f32;
    specials.bank_entries = 6;
    specials.indices = IndicesRule::permutation;
    specials.inactive_rows = 1;
    specials.specials = {{SpecialTensor::k, SpecialKind::nan, {1, 0, 1, 0}},
                         {SpecialTensor::q, SpecialKind::nan, {2, 0, 0, 0}},
                         {SpecialTensor::v, SpecialKind::pos_inf, {3, 1, 2, 7}},
                         {SpecialTensor::k, SpecialKind::subnormal, {0, 1, 0, 4}}};
    cases.push_back(specials);

    // The same kinds in the initial state, g and beta: circular with a 16-bit state (the
    // round trip of Inf and NaN), hashed elements (a state special goes where a row reads).
    CaseSpec special_state = one_slot;  // circular, 2 rows of 3 tokens, HV = 2
    special_state.seed = 14;
    special_state.state_dtype = DType::f16;
    special_state.slots = 4;
    special_state.specials = {{SpecialTensor::state, SpecialKind::neg_inf, {}},
                              {SpecialTensor::g, SpecialKind::neg_inf, {}},
                              {SpecialTensor::beta, SpecialKind::nan, {}},
                              {SpecialTensor::state, SpecialKind::subnormal, {}}};
    cases.push_back(special_state);

    return cases;
}

}  // namespace gdr::harness
