// The Eigen oracle of the fused recurrent gated delta rule (docs/SPEC.md, "The recurrence").
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "gdr/core/problem.hpp"

namespace gdr::reference {

enum class Precision {
    // R64, the truth: fp64 arithmetic on the stored inputs. With f64 buffers for o and
    // the bank (ValidateOptions::allow_f64_storage) nothing is rounded but the
    // cache-dtype round trip that docs/SPEC.md writes into the recurrence.
    truth_fp64,
    // Rlp, emulated precision: fp32 arithmetic and accumulation, rounding wherever a
    // kernel stores (o, every state write, the cache-dtype round trip).
    emulated_fp32,
};

// The order of the emulated run's K-sums (h^T k and h^T q): strictly sequential, from
// k = 0 up or from k = K-1 down. A sequential sum is the least accurate common order (its
// error grows like K, a tree's like log K), so Rlp's error bounds what faster, more
// accurate kernel orders make; `reversed` is a second, differently-rounded run that the
// harness uses as a CPU test subject. R64 sums in any order (fp64 error is negligible).
enum class ReductionOrder { forward, reversed };

// Where the truth run writes, for every value it computes, the magnitude of the terms its
// last step sums: the step evaluated in absolute values (|R64| itself where nothing
// cancels). The rounding error of any fp32 evaluation order scales with it, not with the
// result, so the harness sets its ulp floor there. Element offsets are those of the
// problem's o and state; f64; only the elements the call writes are written.
//
// The *_flip arrays receive the computed bound on a legal kernel's deviation from R64 that
// Rlp cannot show, carried from token to token by first-order propagation in fp64 (the
// running error bound of each state element, in absolute values):
// - elementary functions: a kernel's alpha = exp(g) and its l2 normalisation of q and k
//   are not correctly rounded (CUDA's expf is 2 ulp, reciprocal-then-multiply, fast-math
//   intrinsics more); ElementaryErrors gives their relative bounds, which the run
//   propagates through the decay, u = beta (v - h^T k), h + k u and o = h^T q;
// - cache-rounding flips: in circular mode with an fp16/bf16 state, the round trip between
//   tokens rounds a legal kernel's value, which differs from R64's by the carried bound plus
//   the fp32 rounding of the step (at most gamma_(K+4) x its magnitude), and may round it
//   to another state value (any number of elements, across any number of tokens). Where no
//   value of that interval rounds differently the kernel stores R64's value exactly and the
//   bound restarts at 0; where one rounds to Inf (or R64's does), R64 is no reference for
//   what follows and the bound is +Inf (the harness leaves such elements unjudged).
// 0 where nothing is inexact (exact inputs, correctly rounded functions, no round trip).
struct Magnitudes {
    double* o = nullptr;
    double* state = nullptr;
    double* o_flip = nullptr;
    double* state_flip = nullptr;
};

// Relative error bounds, against the exact value, of what a kernel computes with
// elementary functions (harness::MathMode gives them for a subject's declared math mode).
// All 0: the oracle's own correctly rounded choices, no allowance.
struct ElementaryErrors {
    // alpha = exp(g): relative error <= alpha_base + alpha_per_unit_g * |g|.
    double alpha_base = 0, alpha_per_unit_g = 0;
    // Each element of an l2-normalised q or k, relative (the norm's sqrt and division).
    double l2norm = 0;
};

// The states a circular call writes (docs/SPEC.md). every_token: the recurrence's, as a
// decode kernel writes them: token t into slot (read + 1 + t) mod Slots, with the
// cache-dtype round trip between tokens. final_only: the chunked path's, as a prefill
// kernel writes them: only the final state, into slot (read + length) mod Slots (the slot
// the last token writes in every_token), and no round trip between tokens, so the truth of
// a chunk kernel's call with bounds. Without circular mode both write slot 0 once.
enum class StateWrites { every_token, final_only };

struct OracleOptions {
    Precision precision = Precision::truth_fp64;
    ReductionOrder order = ReductionOrder::forward;
    Magnitudes magnitudes{};  // truth_fp64 only; null pointers: not computed
    // Circular mode only: a bank shaped like problem.state, in the state dtype, holding a
    // subject's written slots. After each token but the last the run continues from this
    // bank's copy of the slot the token wrote, instead of from its own rounded state, so
    // that every token is one step of the recurrence from the state the subject stored
    // (its rounding flips and a missing round trip then show). Needs every written slot to
    // survive the call (Slots >= T). Null: the ordinary run.
    const void* resume_bank = nullptr;
    // The kernel's elementary-function errors that magnitudes' *_flip bounds carry.
    ElementaryErrors elementary{};
    // every_token (resume_bank needs it) or final_only.
    StateWrites state_writes = StateWrites::every_token;
};

// Validates `problem` (host arrays, f64 storage allowed for the truth run) and throws
// gdr::InvalidArgument before writing anything; then writes o for every row (exact
// zeros for inactive rows) and the bank entries and slots docs/SPEC.md says are written.
// Nothing else is read or written.
void run_fused_recurrent(const Problem& problem, const OracleOptions& options);

// One (row, value head) recurrence's results in the caller's storage instead of the
// problem's o and bank: a serving-size case is judged one head at a time and never holds
// an fp64 copy of its bank. Each value is what run_fused_recurrent stores, as a double:
// R64 unrounded (its f64 storage), Rlp rounded once to the input dtype (o) or the state
// dtype (state). Null pointers are not written.
// - o: the row's tokens, [length, V].
// - state: [W, K x V], one matrix per slot the row writes, in the bank's layout ([K][V] for
//   KV, [V][K] for VK): circular mode writing every token, matrix j is slot
//   (read + 1 + j) mod Slots for j < min(length, Slots) (the last token to write it);
//   otherwise W = 1: slot 0, or (read + length) mod Slots when circular and final_only.
// - the bounds (Magnitudes' four arrays, the same shapes): truth run only.
struct HeadResults {
    double* o = nullptr;
    double* state = nullptr;
    double* o_magnitude = nullptr;
    double* state_magnitude = nullptr;
    double* o_flip = nullptr;
    double* state_flip = nullptr;
};

// The recurrence of single (row, value head) pairs of `problem`, validated once at
// construction (gdr::InvalidArgument, as run_fused_recurrent). It reads the problem's
// inputs and bank (problem.state: the initial values; options.resume_bank as there) and
// writes only the HeadResults given to run(): problem.o and problem.state are never
// written. options.magnitudes must be empty: `bounds` asks run() for them (truth only).
// run() uses the object's working storage: one object per thread.
class HeadRecurrence {
public:
    HeadRecurrence(const Problem& problem, const OracleOptions& options, bool bounds);
    ~HeadRecurrence();
    HeadRecurrence(HeadRecurrence&&) noexcept;
    HeadRecurrence& operator=(HeadRecurrence&&) noexcept;

    // The pairs run_fused_recurrent runs, in (row, hv) order: every value head of every
    // active row with at least one token.
    std::vector<std::pair<std::int64_t, std::int64_t>> heads() const;
    // Matrices `out.state` receives for `row`: W above (0 without output_final_state).
    std::int64_t written_matrices(std::int64_t row) const;
    void run(std::int64_t row, std::int64_t hv, const HeadResults& out);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace gdr::reference
