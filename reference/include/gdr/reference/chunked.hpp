// A second fp64 oracle of the gated delta rule: the chunked (WY / UT-transform) form that
// prefill kernels compute (docs/SPEC.md, "Variable-length batches (prefill, chunked path)").
// It shares nothing with run_fused_recurrent but the validation and the element
// conversions, so that the two algorithms agreeing is evidence for both.
//
// Derivation. Per (row, value head), take one chunk of c <= C tokens (i, j = 1..c), S the
// K x V state entering it, K, Q (q already normalised and scaled), V the chunk's keys,
// queries and values as rows, and the chunk-local log decays G_i = g_1 + ... + g_i,
// Gamma_ij = exp(G_i - G_j) for j <= i (the decay from after token j to after token i),
// D = diag(exp(G)). The recurrence (h = a h; u = beta (v - h^T k); h += k u^T; o = h^T q)
// unrolls, by induction on i, to
//     S_i = exp(G_i) S + sum_{j <= i} Gamma_ij k_j u_j^T.                                (1)
// Putting S_{i-1} from (1) into u_i = beta_i (v_i - a_i S_{i-1}^T k_i) gives
//     u_i + beta_i sum_{j < i} Gamma_ij (k_i . k_j) u_j = beta_i v_i - beta_i exp(G_i) S^T k_i,
// i.e. (I + A) U' = diag(beta) V - diag(beta) D K S with U' the u_i^T as rows and
// A = strictLower(diag(beta) (K K^T o Gamma)). With T = (I + A)^-1 (unit lower triangular,
// applied by forward substitution):
//     W = T diag(beta) D K,   U = T diag(beta) V,   U' = U - W S.
// Then o_i = S_i^T q_i from (1) gives, with Gamma including its diagonal (Gamma_ii = 1),
//     O = D Q S + ((Q K^T) o Gamma) U',
// and (1) at i = c gives the state leaving the chunk:
//     S <- exp(G_c) S + K^T diag(exp(G_c - G)) U'.
// (docs/SPEC.md's and issue 14's V' is U' here; their scale is inside Q.)
//
// Numerics. Every decay is exp of a sum of gates over a token range, G_i - G_j formed as
// g_{j+1} + ... + g_i (the same number up to rounding): never a ratio exp(G_i) / exp(G_j),
// which is 0/0 once exp underflows (g = -80 per token underflows within 10 tokens), and no
// cancellation between two large cumulative sums; a gate of -Inf (a full reset) gives
// decays of 0, not exp(-Inf + Inf) = NaN. Chunks are exactly the row's tokens: a tail chunk
// is shorter (c < C), never padded, so nothing beyond the row reaches G_c or the state.
//
// Semantics, relative to run_fused_recurrent's truth run (R64):
// - o and the stored states are R64's values up to fp64 rounding (the two differ only in
//   the order of their sums), rounded once to the storage dtype when stored (f64 storage:
//   not at all).
// - Circular mode (cache_seqlens given) follows the chunked path of docs/SPEC.md: the row
//   starts from slot cache_seqlens mod Slots and writes ONLY its final state, into slot
//   (cache_seqlens + len) mod Slots, the slot the recurrence's last token writes. The
//   recurrence writes every token's slot (r + 1 + t) mod Slots; here the other slots are
//   left untouched. And there is no cache-dtype round trip between tokens: the only
//   roundings are the stored o and the stored final state. So this oracle equals R64 (to
//   fp64 rounding) except in circular mode with an f16/bf16 state and output_final_state,
//   where R64 rounds the state between tokens and this oracle does not.
// - Everything else is as docs/SPEC.md says for the recurrence: inactive rows give exact
//   zero output and leave the bank alone, rows with 0 tokens write nothing, no state is
//   written without output_final_state.
#pragma once

#include <cstdint>
#include <vector>

#include "gdr/core/problem.hpp"

namespace gdr::reference {

struct ChunkedOptions {
    // C, the tokens per chunk, >= 1. Any C is exact algebra: C = 1 is the recurrence token by
    // token, C >= the longest row one chunk per row; C need not divide any length.
    std::int64_t chunk_size = 64;
    // Optional state checkpoints, every C tokens (the checkpoint interval is C). Null: none.
    // For each row, the state after m * C of its tokens, for every m >= 1 with m * C <= len
    // (the final state too when C divides len), unrounded f64, as [HV, K, V] (layout KV) or
    // [HV, V, K] (layout VK) matrices like the bank's. Rows are packed in row order:
    // row r's m-th checkpoint (m = 1, 2, ...) of value head hv is the K x V matrix starting at
    // element ((checkpoint_offsets(...)[r] + m - 1) * HV + hv) * K * V. Every row owns its
    // floor(len / C) places, so the layout depends on the lengths only; an inactive row's
    // places are not written. Checkpoints are written whatever output_final_state says (they
    // are a separate output, not the bank).
    double* checkpoints = nullptr;
};

// Per row r, the index of its first checkpoint in ChunkedOptions::checkpoints (in units of
// [HV, K, V] blocks), and last, at [rows], the total: sum over rows of floor(len / C).
// Reads cu_seqlens (host arrays). Throws gdr::InvalidArgument ("chunk_size") for C < 1.
std::vector<std::int64_t> checkpoint_offsets(const Problem& problem, std::int64_t chunk_size);

// Validates `problem` as run_fused_recurrent's truth run does (host arrays, f64 storage of o
// and the bank allowed) and the options (gdr::InvalidArgument "chunk_size" for C < 1), before
// writing anything; then writes o for every row (exact zeros for inactive rows), the final
// states described above, and the checkpoints. Nothing else is read or written.
void run_chunked(const Problem& problem, const ChunkedOptions& options = {});

}  // namespace gdr::reference
