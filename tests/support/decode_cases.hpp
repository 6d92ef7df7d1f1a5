// The random-case distribution that subjects are judged on (CPU stand-in and GPU kernel
// alike): every feature of SPEC.md, with the work per case bounded for the CPU oracle.
#pragma once

#include <algorithm>
#include <cstdint>

#include "support/case_gen.hpp"

namespace gdr::testing {

// B 1..64, T 1..8, H 1..4, G 1..4, K and V 1..256, Slots 1..10, every dtype pair, both
// layouts, circular, varlen, indices with inactive rows, strided views, exact mode.
inline CaseGenConfig decode_case_config() {
    CaseGenConfig config;
    config.max_batch = 64;
    config.max_seq_len = 8;
    config.max_heads = 4;
    config.max_group = 4;
    config.max_key_dim = 256;
    config.max_value_dim = 256;
    config.max_slots = 10;
    config.max_extra_entries = 8;
    config.max_sequences = 6;
    return config;
}

// Lowers B until B x T x HV x K x V <= `budget`, keeping the spec valid. Shrinking still
// works: the cap only ever lowers B.
inline void bound_work(harness::CaseSpec& spec, std::int64_t budget) {
    const std::int64_t per_row =
        std::max<std::int64_t>(1, spec.seq_len) * spec.num_value_heads * spec.key_dim * spec.value_dim;
    if (spec.varlen || spec.batch * per_row <= budget) return;
    spec.batch = std::max<std::int64_t>(1, budget / per_row);
    spec.inactive_rows = std::min(spec.inactive_rows, spec.batch);
    spec.negative_seqlens = std::min(spec.negative_seqlens, spec.batch);
    if (spec.indices == harness::IndicesRule::permutation)
        spec.bank_entries = std::max<std::int64_t>(spec.bank_entries, spec.batch - spec.inactive_rows);
    else if (spec.indices == harness::IndicesRule::none)
        spec.bank_entries = 0;
    else
        spec.bank_entries = std::max(spec.bank_entries, spec.batch);
}

}  // namespace gdr::testing
