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
//     O = D Q S + P U',   P = (Q K^T) o Gamma  (causal: j <= i only),
// and (1) at i = c gives the state leaving the chunk:
//     S <- exp(G_c) S + K^T diag(exp(G_c - G)) U'.
// (docs/SPEC.md's and issue 14's V' is U' here; their scale is inside Q.)
// The run forms T explicitly (forward substitution of I, row i from rows j < i), as a
// tensor-core kernel does, so that W = T (diag(beta) D K) and U = T (diag(beta) V) are
// matrix products whose operands the emulated run can round (ChunkRoundingPoints).
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
//   where R64 rounds the state between tokens and this oracle does not. The recurrence
//   run with OracleOptions::state_writes = final_only writes what this oracle writes and
//   equals it everywhere (to fp64 rounding): the truth, with its bounds, of a chunk kernel.
// - Everything else is as docs/SPEC.md says for the recurrence: inactive rows give exact
//   zero output and leave the bank alone, rows with 0 tokens write nothing, no state is
//   written without output_final_state.
//
// Emulated precision (Rlp of a chunk kernel; ChunkedOptions::precision = emulated_fp32).
// The same algorithm, one implementation templated on the scalar, run in float: exp in
// float, every decay's exponent summed in float over its token range, T by forward
// substitution in float, and every sum strictly sequential in increasing index order
// (decreasing with ChunkedOptions::order = reversed): the K-sums (l2norms, K K^T, Q K^T, Q S, W S) and the token sums (T (.), P U', K^T (.)). A
// sequential sum is the least accurate common order: its error bound grows like the number
// of terms n (gamma_n = n u), a blocked, tree or tensor-core sum's like log n or n / block,
// so Rlp's error bounds what a kernel's own fp32 order makes, as the recurrence's Rlp does
// (fused_recurrent.hpp, ReductionOrder). Eigen's float products would not do: their order
// is blocked and vectorised, set by the build's SIMD width, and more accurate than a
// sequential one. The truth run keeps Eigen's products (an fp64 order does not matter).
// Roundings happen exactly at the declared ChunkRoundingPoints (one RNE rounding to the
// input dtype, or to the state dtype for state_between_chunks) and where values are stored:
// o to the input dtype, the final state and checkpoints to the state dtype, once each. A
// declared rounding beyond the dtype's range gives an infinity, as the kernel's would; a
// head run reports where (HeadChunked::run).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "gdr/core/problem.hpp"
#include "gdr/reference/fused_recurrent.hpp"  // Precision, HeadResults

namespace gdr::reference {

// The intermediates of the chunked form (names as in the derivation above) that a chunk
// kernel may round to the input dtype (f16/bf16; f32 inputs make these no-ops) before using
// them as operands of a tensor-core matrix product, which multiplies input-dtype operands
// and accumulates in fp32. A chunk kernel declares the set it rounds; the emulated run
// rounds exactly there, so that |Rlp - R64| is the error that kernel's own precision
// implies. Every flag is off in none(); each one changes the result when set alone (on
// inputs where the rounded value is not already representable).
struct ChunkRoundingPoints {
    // Q and K as the chunk holds them: l2-normalised if asked (in fp32, as the recurrence's
    // Rlp does it) and Q times the scale, rounded once before they enter any product
    // (K K^T, Q K^T, Q S or (D Q) S, K^T (.)). Needed by a kernel that normalises q and k
    // in-kernel or scales q before its products; without l2norm and with a power-of-two
    // scale (or none applied) the inputs are already representable and this does nothing.
    bool normalised_qk = false;
    // D Q (the queries scaled by exp(G_i)), rounded as the left operand of (D Q) S. Off:
    // the kernel multiplies Q S and scales the fp32 product's rows by exp(G_i) afterwards.
    bool gated_queries = false;
    // diag(beta) D K (the keys scaled by beta_i exp(G_i)), rounded as the right operand of
    // W = T (diag(beta) D K).
    bool gated_keys = false;
    // diag(beta) V, rounded as the right operand of U = T (diag(beta) V).
    bool beta_values = false;
    // A = strictLower(diag(beta) (K K^T o Gamma)), rounded before the substitution that
    // forms T (a kernel that stores A in the input dtype, or inverts it blockwise with
    // tensor cores).
    bool a = false;
    // T = (I + A)^-1, rounded as the left operand of W = T (.) and U = T (.).
    bool t = false;
    // W, rounded as the left operand of W S.
    bool w = false;
    // U, rounded before U' = U - W S (a kernel that stores U in the input dtype between
    // its passes; not a product operand itself).
    bool u = false;
    // U' = U - W S (docs/SPEC.md's V'), rounded once formed: the right operand of P U' and
    // the values the state update scales.
    bool u_prime = false;
    // diag(exp(G_c - G)) U', rounded as the right operand of the state update K^T (.). A
    // kernel that scales the keys instead (K^T diag(exp(G_c - G)) as the left operand) makes
    // one rounding of the same size on the other side; declare this flag for it too.
    bool decayed_u_prime = false;
    // The state S entering the chunk, rounded as the right operand of (D Q) S and W S (the
    // fp32 state itself carries on unrounded unless state_between_chunks).
    bool state_operand = false;
    // P = (Q K^T) o Gamma (masked: j <= i), rounded as the left operand of P U'.
    bool p = false;
    // The state after each chunk rounded to the STATE dtype and read back (a kernel that
    // keeps S in memory in the state dtype between chunks instead of fp32 registers). With
    // an f32 state it does nothing.
    bool state_between_chunks = false;

    // Pure fp32: nothing rounded but the stored o, final state and checkpoints.
    static constexpr ChunkRoundingPoints none() { return {}; }
    // A tensor-core kernel with every matrix-product operand in the input dtype and fp32
    // accumulation, fp32 state across chunks: normalised_qk, gated_keys, beta_values, t, w,
    // u_prime, decayed_u_prime, state_operand and p. Not gated_queries (the decay scales the
    // fp32 product Q S), not a (T is formed from fp32 A), not u (U' = U - W S is formed in
    // fp32 registers), not state_between_chunks.
    static constexpr ChunkRoundingPoints tensor_core_bf16() {
        ChunkRoundingPoints points;
        points.normalised_qk = points.gated_keys = points.beta_values = points.t = points.w = true;
        points.u_prime = points.decayed_u_prime = points.state_operand = points.p = true;
        return points;
    }
    // A tensor-core kernel in two passes (a chunk-local pass, then a state pass reading what
    // it stored in the input dtype): tensor_core_bf16() and u (U stored between the passes)
    // and gated_queries (D Q stored, so that O = (D Q) S + P U' is one accumulation).
    static constexpr ChunkRoundingPoints tensor_core_two_pass() {
        ChunkRoundingPoints points = tensor_core_bf16();
        points.u = points.gated_queries = true;
        return points;
    }
    bool any() const;  // any flag set
    friend bool operator==(const ChunkRoundingPoints&, const ChunkRoundingPoints&) = default;
};

// Every flag of ChunkRoundingPoints with its name, in declaration order: for declaring a
// kernel's points by name (a subject's registry entry, a report) and for visiting them all.
struct NamedRoundingPoint {
    bool ChunkRoundingPoints::*flag;
    const char* name;
};
inline constexpr std::array<NamedRoundingPoint, 13> kChunkRoundingPoints{{
    {&ChunkRoundingPoints::normalised_qk, "normalised_qk"},
    {&ChunkRoundingPoints::gated_queries, "gated_queries"},
    {&ChunkRoundingPoints::gated_keys, "gated_keys"},
    {&ChunkRoundingPoints::beta_values, "beta_values"},
    {&ChunkRoundingPoints::a, "a"},
    {&ChunkRoundingPoints::t, "t"},
    {&ChunkRoundingPoints::w, "w"},
    {&ChunkRoundingPoints::u, "u"},
    {&ChunkRoundingPoints::u_prime, "u_prime"},
    {&ChunkRoundingPoints::decayed_u_prime, "decayed_u_prime"},
    {&ChunkRoundingPoints::state_operand, "state_operand"},
    {&ChunkRoundingPoints::p, "p"},
    {&ChunkRoundingPoints::state_between_chunks, "state_between_chunks"},
}};
static_assert(sizeof(ChunkRoundingPoints) == kChunkRoundingPoints.size() * sizeof(bool),
              "a flag of ChunkRoundingPoints is missing from kChunkRoundingPoints");

inline bool ChunkRoundingPoints::any() const {
    for (const NamedRoundingPoint& point : kChunkRoundingPoints)
        if (this->*point.flag) return true;
    return false;
}

struct ChunkedOptions {
    // C, the tokens per chunk, >= 1. Any C is exact algebra: C = 1 is the recurrence token by
    // token, C >= the longest row one chunk per row; C need not divide any length.
    std::int64_t chunk_size = 64;
    // Optional state checkpoints, every C tokens (the checkpoint interval is C). Null: none.
    // For each row, the state after m * C of its tokens, for every m >= 1 with m * C <= len
    // (the final state too when C divides len), as f64 (the truth's unrounded, the emulated
    // run's rounded once to the state dtype), as [HV, K, V] (layout KV) or
    // [HV, V, K] (layout VK) matrices like the bank's. Rows are packed in row order:
    // row r's m-th checkpoint (m = 1, 2, ...) of value head hv is the K x V matrix starting at
    // element ((checkpoint_offsets(...)[r] + m - 1) * HV + hv) * K * V. Every row owns its
    // floor(len / C) places, so the layout depends on the lengths only; an inactive row's
    // places are not written. Checkpoints are written whatever output_final_state says (they
    // are a separate output, not the bank).
    double* checkpoints = nullptr;
    // truth_fp64: the fp64 oracle above. emulated_fp32: Rlp of a chunk kernel (see
    // "Emulated precision"), which stores what a kernel stores: o in the input dtype and the
    // bank in the state dtype (no f64 storage), checkpoints rounded to the state dtype.
    Precision precision = Precision::truth_fp64;
    // Where the emulated run rounds (emulated_fp32 only: the truth rounds nothing).
    ChunkRoundingPoints rounding_points{};
    // The emulated run's sequential sums (the K-sums and the token sums), from index 0 up
    // (forward: Rlp) or from the last index down (reversed: a second, differently rounded
    // legal order, the harness's CPU chunked stand-in). The truth sums in Eigen's order.
    ReductionOrder order = ReductionOrder::forward;
};

// Per row r, the index of its first checkpoint in ChunkedOptions::checkpoints (in units of
// [HV, K, V] blocks), and last, at [rows], the total: sum over rows of floor(len / C).
// Reads cu_seqlens (host arrays). Throws gdr::InvalidArgument ("chunk_size") for C < 1.
std::vector<std::int64_t> checkpoint_offsets(const Problem& problem, std::int64_t chunk_size);

// Validates `problem` as run_fused_recurrent does for the same precision (host arrays; f64
// storage of o and the bank allowed for the truth run only) and the options
// (gdr::InvalidArgument "chunk_size" for C < 1, "rounding_points" for any rounding point
// with truth_fp64), before writing anything; then writes o for every row (exact zeros for
// inactive rows), the final states described above, and the checkpoints. Nothing else is
// read or written.
void run_chunked(const Problem& problem, const ChunkedOptions& options = {});

// One (row, value head) of run_chunked into the caller's storage (HeadResults' o and state)
// instead of the problem's o and bank, as HeadRecurrence does for the recurrence: the
// harness judges a chunk kernel one head at a time, with this as its Rlp and the recurrence
// (StateWrites::final_only, with its bounds) as its truth. Validated once at construction
// (gdr::InvalidArgument, as run_chunked; "checkpoints" when options ask for them: a head
// run writes none). The problem's inputs and bank (problem.state: the initial values) are
// read; problem.o and problem.state are never written.
// - o: [length, V]; state: one K x V matrix in the bank's layout, the final state, when
//   output_final_state (written_matrices() == 1), else nothing.
// - values as run_chunked stores them, held as doubles: the truth unrounded, the emulated
//   run rounded once to the input dtype (o) or the state dtype (state), whatever the
//   problem's storage dtypes. The bound pointers of HeadResults are not written.
// - returned: where the declared precision overflowed, the first token (counted from the
//   row's first) of the first chunk in which a declared rounding (ChunkRoundingPoints: an
//   operand rounded to the input dtype, or state_between_chunks to the state dtype) took a
//   finite value to an infinity; nullopt when none did (always for the truth, which rounds
//   nothing). From that chunk on, the emulated run's o and state are no measure of the
//   kernel's error (docs/SPEC.md, chunked path: the harness leaves them unjudged). The
//   stores (o, the final state) are not declared roundings: an overflow there is R64's too.
// run() keeps no state between calls: one object may serve several threads.
class HeadChunked {
public:
    HeadChunked(const Problem& problem, const ChunkedOptions& options);
    ~HeadChunked();
    HeadChunked(HeadChunked&&) noexcept;
    HeadChunked& operator=(HeadChunked&&) noexcept;

    // The pairs run_chunked runs, in (row, hv) order: every value head of every active row
    // with at least one token.
    std::vector<std::pair<std::int64_t, std::int64_t>> heads() const;
    std::int64_t written_matrices() const;
    std::optional<std::int64_t> run(std::int64_t row, std::int64_t hv, const HeadResults& out) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace gdr::reference
