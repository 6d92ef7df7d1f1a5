// Materialises a CaseSpec into host tensors. Every value is a pure function of
// (seed, tensor, logical coordinates) through a counter-based hash, so a shrunk case (a
// smaller B, T or K) keeps the values of the elements it still has. The one exception is
// deliberate: a bank slot no active row reads holds a cheap hashed fill instead of the
// N(0,1) draws (so a slot's values depend on whether some active row reads it).
//
// Counters: splitmix64 over (seed, a stream per tensor or decision, a hash of the
// element's logical coordinates), never a flat index, so no extent enters a value:
// q, k [row, position, h, k]; v [row, position, hv, v]; g, beta [row, position, hv];
// bank [entry, slot, hv, k, v] in both layouts (KV and VK hold the same logical state).
// For varlen, (row, position) is (sequence, token within it): B equal-length rows and one
// varlen batch of those sequences get identical values. Two things depend on K by
// design: the l2normalized distribution (normalised over K) and the one-hot position of
// k in exact mode (hash mod K).
//
// Distributions: q, k normal N(0,1), uniform U[-1,1], or l2normalized (normal, divided by
// its norm per token and head); v N(0,1); g weak U[-0.1,0], strong U[-5,-0.5], zero,
// huge_negative U[-1e4,-50]; beta U[0,1], 1 or 1/2; bank state_scale * N(0,1) in the slots active
// rows read, state_scale * U[-sqrt 3, sqrt 3] elsewhere (variance 1, 20x cheaper). Values are
// rounded once to their storage dtype. The bank's N(0,1) draws depend on CaseSpec::generator:
// 2 (the default) gives elements (k, 2j) and (k, 2j + 1) of a matrix the two values of one
// polar-method draw keyed by (entry, slot, hv) and (k, j); 1 (gdr-replay/1 files) draws each
// element by Box-Muller over the hash of its coordinates, 5x slower.
//
// Exact mode (validate() enforces its preconditions; nothing is silently forced):
//   g = 0 exactly (alpha = exp(0) = 1), beta in {1, 1/2}, l2norm off, a power-of-two scale;
//   k one-hot: +-1 at a hashed position; q, v and the bank: multiples of 1/2 in [-1, 1].
// Why every fp32 operation is then exact: with k one-hot at p (sign s), h^T k = s*h[p][.],
// u = beta*(v - s*h[p]) and the update touches row p only: h[p] <- (1-beta)*h[p] + beta*s*v.
// With beta = 1 that is s*v: every state value stays on the grid 1/2 in [-1, 1] for any T.
// With beta = 1/2 it is the mean of two grid values: each token may add one bit, so after
// t tokens values are multiples of 2^-(1+t) in [-1, 1] (at most 1+t significant bits;
// exact in a state dtype of p bits while t <= p - 1: bf16 7, f16 10, f32 23 tokens, so the
// cache-dtype round trip is the identity). o = sum_k h[k][v] * q[k] * scale has terms on
// the grid 2^-(2+t) * scale and partial sums bounded by K * scale, so any summation order
// is exact in fp32 while K * 2^(2+t) <= 2^24. exact_halving_budget() (case_spec.hpp) is
// the smaller bound; validate() rejects bdist=half with longer rows (T = 16 needs K <= 64
// with an f32 state; bf16/f16 states allow 7/10 tokens: restrict to bdist=one beyond).
// The stored o is then the one correctly rounded image of an exact value, identical for
// every implementation; the state is stored without rounding.
//
// Strides: contiguous; padded (head, token and batch strides padded by 1..4 hashed
// elements); fused (q, k, v each a separate allocation with the strides of a fused
// [B, T, 2*H*K + HV*V] projection: token stride 2*H*K + HV*V, head stride K or V). Gaps
// hold hashed garbage of magnitude 100..1000, never poison, so reading one gives a
// visibly wrong number. g and beta are contiguous.
//
// state_indices: identity [0, rows); permutation: active rows take distinct hashed entries
// of [0, N), `inactive` hashed rows take -1, -5, N, N+7 in turn: every index lies in
// [-5, N + 8), inside the bank arena a subject runs on (bank_arena.hpp). cache_seqlens: hashed in
// [0, seqlen_max], `neg_seqlens` hashed rows -1, -(1..1000) or INT32_MIN in turn.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "gdr/core/problem.hpp"
#include "gdr/harness/bank_arena.hpp"
#include "gdr/harness/case_spec.hpp"
#include "gdr/harness/host_tensor.hpp"
#include "gdr/reference/fused_recurrent.hpp"  // StateWrites

namespace gdr::harness {

struct HostCase {
    CaseSpec spec;
    HostTensor q, k;          // [B, T, H, K], input dtype, strided per spec.strides
    HostTensor v;             // [B, T, HV, V]
    HostTensor g, beta;       // [B, T, HV], gate dtype; empty when absent
    HostTensor initial_bank;  // [N, Slots, HV, K, V] (KV) or [N, Slots, HV, V, K] (VK), state dtype
    bool has_state_indices = false;
    std::vector<std::int64_t> state_indices;  // [rows] when has_state_indices
    std::vector<std::int32_t> cache_seqlens;  // [rows] when spec.circular
    std::vector<std::int32_t> cu_seqlens_i32;  // [rows + 1] when varlen and i32
    std::vector<std::int64_t> cu_seqlens_i64;  // [rows + 1] when varlen and i64

    // docs/SPEC.md "Active rows" on the materialized arrays (core's row_is_active reads a
    // Problem; this is the same rule before any Problem exists).
    bool row_is_active(std::int64_t row) const;
    // The bank entry row `row` names: state_indices[row], or the row itself without indices
    // (meaningful for active rows).
    std::int64_t bank_entry(std::int64_t row) const { return has_state_indices ? state_indices[std::size_t(row)] : row; }
};

// Counter-based uniform in [0, 1): a pure function of its arguments (splitmix64-style).
double uniform01(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter);
// Standard normal from the same counters (Box-Muller over two uniforms).
double standard_normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter);

// Validates the spec (InvalidArgument naming the key) and builds every input.
HostCase materialize(const CaseSpec& spec);
// The same case's index arrays only (state indices, cache_seqlens, cu_seqlens; no tensors):
// enough for row_is_active() and coverage classes, at no tensor cost.
HostCase materialize_indexing(const CaseSpec& spec);

// Buffers one implementation writes: o (poisoned) and its copy of the bank (initial
// values; every slot that an active row will write other than the one it reads is
// poisoned, so a kernel that reads a wrong slot reads NaN and one that skips a write
// leaves poison behind).
struct RunBuffers {
    HostTensor o;     // [B, T, HV, V], contiguous
    HostTensor bank;  // like initial_bank
    // Subjects' buffers only (make_subject_buffers): when the indices reach outside [0, N),
    // the bank's storage has poisoned margins of whole entries around it, its arena
    // (bank_arena.hpp; HostTensor::with_margins).
    ArenaMargins margins;
    // Whose writes the poisoned slots are: a decode kernel's (every token's slot) or a
    // chunk kernel's (the final slot only; written_bank_slices).
    reference::StateWrites state_writes = reference::StateWrites::every_token;
};
RunBuffers make_run_buffers(const HostCase& host_case, DType o_storage, DType bank_storage,
                            reference::StateWrites writes = reference::StateWrites::every_token);
// make_run_buffers with the bank inside its arena, for a subject to run on.
RunBuffers make_subject_buffers(const HostCase& host_case, DType o_storage, DType bank_storage,
                                reference::StateWrites writes = reference::StateWrites::every_token);
// The buffers as make_subject_buffers made them (o poisoned, the bank initial and poisoned
// where written), for another run in the same memory; the arena's margins are left as
// they are.
void reset_subject_buffers(const HostCase& host_case, RunBuffers& buffers);
// Arena elements outside the bank that no longer hold poison.
ArenaDamage arena_damage(const RunBuffers& buffers);

// The Problem that points at host_case's inputs and buffers' outputs.
Problem make_problem(const HostCase& host_case, RunBuffers& buffers);

// (entry, slot) pairs of the bank that the call writes, in docs/SPEC.md order; every other
// (entry, slot) must stay bitwise unchanged. Rows with zero tokens write nothing. In circular
// mode every_token lists each token's slot (the recurrence), final_only only the slot
// (cache_seqlens + length) mod Slots (the chunked path).
std::vector<std::pair<std::int64_t, std::int64_t>> written_bank_slices(
    const HostCase& host_case, reference::StateWrites writes = reference::StateWrites::every_token);

}  // namespace gdr::harness
