// The random-case distribution that subjects are judged on (CPU stand-in and GPU kernel
// alike): every feature of docs/SPEC.md, with the work per case bounded for the CPU oracle.
#pragma once

#include <algorithm>
#include <cstdint>

#include "gdr/harness/case_gen.hpp"

namespace gdr::harness {

// B 1..64, T 1..8, H 1..4, G 1..4, K and V 1..256, Slots 1..10, every dtype pair, both
// layouts, circular, varlen, indices with inactive rows, strided views, exact mode, special
// values in about 6 % of cases.
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
    // Reach (issue 11): boundary head sizes, mostly inexact cases with l2norm, and circular
    // buffers that wrap, Slots == T included. tests/fuzz/test_distribution.cpp holds the
    // proportions this gives after bound_work().
    config.boundary_dims_percent = 50;
    config.exact_percent = 15;
    config.l2norm_percent = 80;
    config.circular_percent = 70;
    config.slots_equal_t_percent = 40;
    config.specials = true;
    return config;
}

namespace detail {

// After the rows of a generated spec (rules, no explicit arrays) went from `old_rows` down to
// spec.rows(): inactive rows and negative cache_seqlens keep their share of the rows (clipping
// them would make every row inactive: a case that writes nothing), and the bank still holds
// the rows that need an entry.
inline void keep_rows_consistent(CaseSpec& spec, std::int64_t old_rows) {
    const std::int64_t rows = spec.rows();
    spec.inactive_rows = spec.inactive_rows * rows / old_rows;
    spec.negative_seqlens = spec.negative_seqlens * rows / old_rows;
    if (spec.indices == IndicesRule::permutation)
        spec.bank_entries = std::max<std::int64_t>(spec.bank_entries, rows - spec.inactive_rows);
    else if (spec.indices == IndicesRule::none)
        spec.bank_entries = 0;
    else
        spec.bank_entries = std::max(spec.bank_entries, rows);
}

}  // namespace detail

// Bounds the CPU oracle's cost of a case, keeping the spec valid: lowers B until
// B x T x HV x K x V <= `budget` (the recurrence's work), then the bank's spare entries and
// its slots until N x Slots x HV x K x V <= max(budget, what the rows need) (generating,
// copying and comparing the bank costs per element too). Shrinking still works: the caps
// only ever lower sizes. A soft bound: one row may exceed the budget, and varlen cases are
// left as drawn (bound_long_rows() makes it hard).
inline void bound_work(CaseSpec& spec, std::int64_t budget) {
    const std::int64_t per_slot = spec.num_value_heads * spec.key_dim * spec.value_dim;
    const std::int64_t per_row = std::max<std::int64_t>(1, spec.seq_len) * per_slot;
    if (!spec.varlen && spec.batch * per_row > budget) {
        const std::int64_t old_batch = spec.batch;
        spec.batch = std::max<std::int64_t>(1, budget / per_row);
        detail::keep_rows_consistent(spec, old_batch);
    }
    const auto bank_elements = [&] { return spec.resolved_bank_entries() * spec.slots * per_slot; };
    if (bank_elements() <= budget) return;
    if (spec.indices != IndicesRule::none) {
        const std::int64_t needed = spec.indices == IndicesRule::permutation
                                        ? std::max<std::int64_t>(1, spec.rows() - spec.inactive_rows)
                                        : spec.rows();
        spec.bank_entries = std::max(needed, std::min(spec.bank_entries, budget / (spec.slots * per_slot)));
    }
    if (bank_elements() > budget)
        spec.slots = std::max<std::int64_t>(1, std::min(spec.slots, budget / (spec.resolved_bank_entries() * per_slot)));
}

// B x T x HV x K x V of a case (varlen: T x HV x K x V, T the sum of the sequences).
inline std::int64_t case_work(const CaseSpec& spec) {
    return (spec.varlen ? 1 : spec.batch) * spec.seq_len * spec.num_value_heads * spec.key_dim * spec.value_dim;
}

// After bound_work(), for rows as long as a chunk kernel's (CaseGenConfig::chunk_size: up to
// 3C + 1 tokens, where one row can be a hundred times the budget): makes case_work() <=
// `budget` while keeping the longest row as long as it can be. In this order, each only while
// still over: varlen drops its shortest non-empty sequence (down to one; empty ones cost
// nothing and stay), then HV falls (the group HV / H first, then H), and only then are the
// rows cut to the tokens that fit (at least 1; Slots == T is kept). K and V stay: they may
// come from a list the subject supports (--key-dims), so a single token over the budget
// (K x V > budget) stays over it. Only ever lowers sizes, so shrinks stay bounded and the
// bank within bound_work()'s bound.
inline void bound_long_rows(CaseSpec& spec, std::int64_t budget) {
    if (case_work(spec) <= budget) return;
    if (spec.varlen) {
        const std::int64_t old_rows = spec.rows();
        std::vector<std::int64_t>& lengths = spec.seq_lengths;
        const auto non_empty = [&] { return std::count_if(lengths.begin(), lengths.end(), [](auto n) { return n > 0; }); };
        while (case_work(spec) > budget && non_empty() > 1) {
            auto shortest = lengths.end();
            for (auto it = lengths.begin(); it != lengths.end(); ++it)
                if (*it > 0 && (shortest == lengths.end() || *it < *shortest)) shortest = it;
            spec.seq_len -= *shortest;
            lengths.erase(shortest);
        }
        detail::keep_rows_consistent(spec, old_rows);
    }
    if (case_work(spec) <= budget) return;
    const std::int64_t heads_that_fit = std::max<std::int64_t>(1, budget / (case_work(spec) / spec.num_value_heads));
    const std::int64_t group = spec.num_value_heads / spec.num_heads;
    if (heads_that_fit >= spec.num_heads) {
        spec.num_value_heads = spec.num_heads * std::min(group, heads_that_fit / spec.num_heads);
    } else {
        spec.num_heads = spec.num_value_heads = heads_that_fit;
    }
    if (case_work(spec) <= budget) return;
    // One value head and still over: the rows themselves are longer than the budget allows.
    const std::int64_t fitting = std::max<std::int64_t>(1, budget / (spec.num_value_heads * spec.key_dim * spec.value_dim));
    if (spec.varlen) {
        for (std::int64_t& length : spec.seq_lengths) length = std::min(length, fitting);
        spec.seq_len = 0;
        for (const std::int64_t length : spec.seq_lengths) spec.seq_len += length;
    } else {
        if (spec.circular && spec.slots == spec.seq_len) spec.slots = fitting;
        spec.seq_len = std::min(spec.seq_len, fitting);
    }
}

}  // namespace gdr::harness
