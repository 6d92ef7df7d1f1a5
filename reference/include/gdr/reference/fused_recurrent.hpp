// The Eigen oracle of the fused recurrent gated delta rule (docs/SPEC.md, "The recurrence").
#pragma once

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
// The *_flip arrays receive the largest change one rounding flip can make: in circular
// mode with an fp16/bf16 state, the cache round trip between tokens rounds values that a
// legal kernel computed a few fp32 ulps differently, so now and then one rounds the other
// way, a whole ulp of the state dtype, which later tokens inherit. Per value: the effect
// of one state element of the column read back one state ulp off (carried from earlier
// round trips through the steps in absolute values); 0 where no round trip preceded.
struct Magnitudes {
    double* o = nullptr;
    double* state = nullptr;
    double* o_flip = nullptr;
    double* state_flip = nullptr;
};

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
};

// Validates `problem` (host arrays, f64 storage allowed for the truth run) and throws
// gdr::InvalidArgument before writing anything; then writes o for every row (exact
// zeros for inactive rows) and the bank entries and slots docs/SPEC.md says are written.
// Nothing else is read or written.
void run_fused_recurrent(const Problem& problem, const OracleOptions& options);

}  // namespace gdr::reference
