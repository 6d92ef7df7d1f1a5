// Mutation testing of the verification: deliberately wrong variants of the decode kernel
// (GDR_MUTANT_LIST) and of the chunked prefill kernel (GDR_CHUNK_MUTANT_LIST). The kernels'
// sources (cuda/src/decode/, cuda/src/chunk/) carry one-line hooks at the place of each bug:
// GDR_MUTATE(name, wrong, right), GDR_MUTANT_ONLY(name, stmt), GDR_UNLESS_MUTANT(name, stmt)
// (cuda/src/common/mutation_hooks.cuh). The production library (gdr_cuda) compiles them to
// the unhooked code; a second compilation of the same source (gdr_cuda_mutants,
// -DGDR_MUTANTS) tests a mutant id passed in the kernel arguments and exposes
// gdr::cuda::mutants::fused_recurrent_decode and gdr::cuda::mutants::chunked_prefill.
// A verification that cannot kill a mutant has a blind spot, unless the mutant is
// equivalent on every input it was given; each entry says where it hides.
#pragma once

#include <cuda_runtime_api.h>

#include <optional>
#include <string_view>
#include <vector>

#include "gdr/core/problem.hpp"
#include "gdr/cuda/chunked_prefill.hpp"

namespace gdr::cuda {

// X(name, bug class it models; the inputs on which it is equivalent, i.e. cannot be killed)
#define GDR_MUTANT_LIST(X)                                                                                               \
    X(kv_row_pitch_uses_key_dim, "layout KV: h[k][v] at k*K + v instead of k*V + v (KV/VK index mix-up); hidden when K == V") \
    X(layout_flag_inverted, "layout flag read backwards: a VK bank indexed as KV and vice versa (transposed state)")      \
    X(head_mapping_modulo, "q/k head h = hv % H instead of hv / G (interleaved head mapping); hidden when G == 1 or H == 1") \
    X(v_read_at_key_head, "v and o indexed by the q/k head instead of the value head; hidden when G == 1")                \
    X(state_indices_ignored, "row b uses bank entry b, state_indices ignored; hidden for identity indices")                \
    X(index_equal_n_active, "missing upper bound: state_indices[b] == N treated as active (one entry past the bank)")      \
    X(negative_seqlen_active, "cache_seqlens[b] < 0 not treated as inactive: the row runs on slot seqlen % Slots < 0")     \
    X(inactive_row_writes_state, "a row inactive by a negative cache_seqlen stores a zero state into slot 0 of its entry") \
    X(inactive_row_output_unwritten, "an inactive row leaves its o unwritten instead of exact zeros")                      \
    X(circular_write_slot_off_by_one, "token t stored to slot (r + t) % Slots, not (r + 1 + t): overwrites the read slot; hidden when Slots == 1") \
    X(circular_write_slot_unwrapped, "write slot r + 1 + t not taken mod Slots: lands in the next entry or past the bank; hidden while r + T < Slots") \
    X(read_slot_not_mod_slots, "read slot cache_seqlens[b], not cache_seqlens[b] % Slots; hidden while cache_seqlens < Slots") \
    X(circular_reads_slot_zero, "circular mode reads slot 0 instead of cache_seqlens % Slots; hidden when Slots divides cache_seqlens") \
    X(missing_cache_round_trip, "no cache-dtype round trip between tokens; hidden for an f32 state, T == 1, exact inputs or a packed 16-bit tile (whole tiles, which round by construction)") \
    X(round_trip_after_last_token, "the cache-dtype round trip also after the last token: EQUIVALENT (h is not read again); the control that must survive") \
    X(round_trip_in_non_circular_mode, "cache-dtype round trip between tokens of a non-circular call; hidden for an f32 state, T == 1 or exact inputs") \
    X(final_state_written_when_disabled, "output_final_state == false ignored: the bank is written")                        \
    X(bank_offset_32bit, "bank element offsets in 32 bits: wraps on banks of more than 2^31 elements (only a big bank reaches it)") \
    X(grid_clamp_without_stride_loop, "rows past the launched grid never run: gridDim.y clamped (to 2048 in the mutant) with no grid-stride loop over rows; hidden while B <= 2048") \
    X(l2norm_eps_dropped, "l2norm as x / sqrt(sum x^2) without + 1e-6; hidden unless some |q| or |k| is small (K == 1)")   \
    X(l2norm_skips_k, "use_qk_l2norm normalises q but not k; hidden for unit-norm k")                                      \
    X(l2norm_always_on, "q and k normalised although use_qk_l2norm is off; hidden for unit-norm q and k")                  \
    X(scale_applied_to_k, "scale multiplies k instead of q; hidden when scale == 1")                                       \
    X(decay_after_delta, "h = alpha (h + k u) with u from the undecayed h: decay after the delta; hidden when g == 0 or absent") \
    X(alpha_is_g, "alpha = g instead of exp(g); hidden when g is absent")                                                  \
    X(beta_ignored_without_g, "beta taken as 1 whenever g is absent (optional inputs coupled); hidden unless beta without g") \
    X(output_before_update, "o = h^T q from the state before the delta update")                                            \
    X(cross_warp_sum_missing_barrier, "no __syncthreads between the warps publishing partial sums (norms, K-sums) and adding them up, in 2-warp KV tiles: a race, may survive a run (racecheck finds it)") \
    X(norm_counts_duplicate_lanes, "the |q|^2, |k|^2 shuffle-sum also adds the lane that holds the same rows: each square counted twice, norms off by sqrt 2") \
    X(v_tail_dropped, "V / 8 tiles rounded down: the last V % 8 columns are never computed; hidden when 8 divides V")      \
    X(key_tail_unmasked, "q/k loaded without the k < K mask: rows past K read the next head's elements; hidden when K is 64, 128 or 256") \
    X(reduction_over_half_warp, "the K-sums skip the xor-16 shuffle: half the lanes that share a column; hidden when K <= 32 (K <= 8 in 16-bit KV tiles)") \
    X(strides_read_as_contiguous, "q, k, v, o strides ignored, dense strides assumed; hidden for contiguous tensors")       \
    X(gates_read_as_f32, "g and beta read as f32 when they are in the input dtype; hidden for f32 gates")                   \
    X(varlen_end_off_by_one, "varlen: sequence i runs tokens [cu[i], cu[i+1] + 1), one token too many; hidden without varlen") \
    X(output_rounded_through_state_dtype, "o rounded to the state dtype, then to its own (double rounding); hidden for an f32 state or one equal to the input dtype") \
    X(inactive_index_state_written, "a row inactive by its state index (< 0 or >= N) still stores its (zero) state through that index (the store guarded by the output path only): outside the bank, where the bank arena sees it") \
    X(key_tail_times_zero, "q/k rows past K loaded unmasked and multiplied by 0 instead of predicated: equal on finite inputs, but a NaN/Inf in the next head's or next row's q/k (0 * NaN = NaN) leaks into this head; hidden when 8 divides K or nothing non-finite lies past K (the last row's tail reads the poisoned guard band)") \
    X(small_outputs_reduced_precision, "a reduced-precision path for small heads: o elements below 1/16 in magnitude kept to 16 significant bits (up to 128 fp32 ulp of the element); a floor set by the largest head hides it; hidden for 16-bit outputs, while every |o| >= 1/16, and where o's terms cancel (the floor sits at their magnitude)") \
    X(fast_math_exp, "alpha = __expf(g) (fast-math intrinsic, 2 + floor(1.173 |g|) ulp) in a kernel that declares precise math (expf, 2 ulp); hidden where alpha h is small against the step's other terms or |g| < 1") \
    X(l2norm_skipped, "use_qk_l2norm ignored: neither q nor k normalised; hidden for unit-norm q and k")

// The chunked prefill kernel's mutants (cuda/src/chunk/), in the same form.
#define GDR_CHUNK_MUTANT_LIST(X)                                                                                         \
    X(chunk_tail_gates_past_row, "the tail chunk's decay exp(G_c) sums the gates of all C places, reading g past the row's end (the next row's tokens); hidden when every length is a multiple of C or the gates past the end are 0") \
    X(chunk_causal_mask_missing, "P = Q K^T o Gamma without the causal mask: later tokens of the chunk reach earlier outputs (undecayed); hidden for chunks of one token") \
    X(chunk_varlen_boundary_off_by_one, "varlen: the tail chunk takes one token more (length - first + 1): the next row's first token enters this row's last chunk; hidden without varlen") \
    X(chunk_inverse_transposed, "T = (I + A)^-1 stored transposed (T^T used in W and U): the inverse's transpose; hidden for chunks of one token or A = 0 (beta = 0)") \
    X(chunk_gamma_as_ratio, "Gamma_ij = D_i / D_j (a ratio of decays from the chunk start): 0 / 0 = NaN once exp(G) underflows (g very negative); hidden for moderate gates") \
    X(chunk_state_decay_missing, "S <- S + K^T (decayed U'): the whole chunk's decay exp(G_c) of the old state dropped; hidden when g == 0 or absent") \
    X(chunk_update_undecayed, "S <- exp(G_c) S + K^T U': the decay from each token to the chunk's end dropped; hidden when g == 0 or absent") \
    X(chunk_beta_missing_in_a, "A = strictLower(K K^T o Gamma) without diag(beta); hidden when beta == 1 or absent") \
    X(chunk_output_undecayed, "O = Q S + P U' without D: the decay from the chunk's start missing in the state's share of the output; hidden when g == 0 or absent") \
    X(chunk_l2norm_skips_k, "use_qk_l2norm normalises q but not k; hidden for unit-norm k") \
    X(chunk_head_mapping_modulo, "q/k head h = hv % H instead of hv / G (interleaved head mapping); hidden when G == 1 or H == 1") \
    X(chunk_circular_write_unwrapped, "circular: final slot cache_seqlens + len not taken mod Slots: lands in the next entry or past the bank; hidden while cache_seqlens + len < Slots") \
    X(chunk_inactive_row_writes_state, "an inactive row (negative cache_seqlen) stores a zero state into slot 0 of its entry") \
    X(chunk_value_tile_ignored_in_o, "o stored at the first value tile's columns for every tile: columns past 64 never written (poison), the first overwritten; hidden when V == the value tile") \
    X(chunk_stage_refill_race, "the state pass's end-of-chunk barrier dropped: the next chunk's copy refills a stage, and its phase 1 reads the state operand, while other warps are still in this chunk's phase 2: a race, may survive a run (racecheck finds it)")

enum class Mutant : int {
    none = 0,  // the production kernel, compiled in the mutant build: must pass everything
#define GDR_MUTANT_ENUMERATOR(name, bug_class) name,
    GDR_MUTANT_LIST(GDR_MUTANT_ENUMERATOR)
    GDR_CHUNK_MUTANT_LIST(GDR_MUTANT_ENUMERATOR)
#undef GDR_MUTANT_ENUMERATOR
};

struct MutantInfo {
    Mutant id;
    std::string_view name;
    std::string_view bug_class;  // what it models and where it hides
};

// Every decode kernel mutant, none excluded, in declaration order.
const std::vector<MutantInfo>& mutant_catalog();
// Every chunked prefill kernel mutant, in declaration order.
const std::vector<MutantInfo>& chunk_mutant_catalog();
// "none" or a name of either catalog; nullopt for anything else.
std::optional<Mutant> find_mutant(std::string_view name);
std::string_view mutant_name(Mutant mutant);

namespace mutants {
// gdr::cuda::fused_recurrent_decode (decode.hpp), the same checks and launch, with `mutant`
// switched on. Lives in gdr_cuda_mutants only, never in the production library.
void fused_recurrent_decode(const Problem& problem, Mutant mutant, cudaStream_t stream = nullptr);
// gdr::cuda::chunked_prefill (chunked_prefill.hpp), likewise.
void chunked_prefill(const Problem& problem, const ChunkCheckpoints& checkpoints, Mutant mutant,
                     cudaStream_t stream = nullptr);
}  // namespace mutants

}  // namespace gdr::cuda
