// The Eigen oracle of the fused recurrent gated delta rule (SPEC.md, "The recurrence").
#pragma once

#include "gdr/core/problem.hpp"

namespace gdr::reference {

enum class Precision {
    // R64, the truth: fp64 arithmetic on the stored inputs. With f64 buffers for o and
    // the bank (ValidateOptions::allow_f64_storage) nothing is rounded but the
    // cache-dtype round trip that SPEC.md writes into the recurrence.
    truth_fp64,
    // Rlp, emulated precision: fp32 arithmetic and accumulation, rounding wherever a
    // kernel stores (o, every state write, the cache-dtype round trip).
    emulated_fp32,
};

// The order of the K-sums (h^T k and h^T q). Both are legal; `reversed` gives a second,
// differently-rounded emulated run that the harness uses as a CPU test subject.
enum class ReductionOrder { forward, reversed };

struct OracleOptions {
    Precision precision = Precision::truth_fp64;
    ReductionOrder order = ReductionOrder::forward;
};

// Validates `problem` (host arrays, f64 storage allowed for the truth run) and throws
// gdr::InvalidArgument before writing anything; then writes o for every row (exact
// zeros for inactive rows) and the bank entries and slots SPEC.md says are written.
// Nothing else is read or written.
void run_fused_recurrent(const Problem& problem, const OracleOptions& options);

}  // namespace gdr::reference
