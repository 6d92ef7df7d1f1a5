// The host memory run_case needs for a case, estimated from the spec before anything is
// allocated, so that a case that cannot fit is refused with a message instead of being
// killed by the kernel's out-of-memory handler halfway (--memory-budget).
#pragma once

#include <cstdint>
#include <string>

#include "gdr/harness/case_spec.hpp"

namespace gdr::harness {

struct MemoryEstimate {
    std::int64_t bytes = 0;
    std::string breakdown;  // e.g. "bank 1.34 GB x2 (initial, subject's), oracle 0.94 GB, ..."
};

// What prepare_case and run_case hold at their peak: the initial bank and the subject's
// (with its arena), in the stored dtype; the oracle's compact bank (R64, magnitudes, flip
// bounds in f64, Rlp in the state dtype) and outputs; the stepped runs' where the case has
// them; a second R64 run when `other_math_mode` (a subject judged in another math mode than
// the prepared one); inputs and their snapshot. Throws InvalidArgument for an invalid spec.
MemoryEstimate estimate_case_memory(const CaseSpec& spec, bool other_math_mode = false);

// The memory this machine has available now (MemAvailable), 0 when unknown.
std::int64_t available_memory_bytes();

}  // namespace gdr::harness
