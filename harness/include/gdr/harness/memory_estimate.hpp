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
// (with its arena), in the stored dtype; the determinism run's copies of o, the written
// slots and the arena; inputs and their snapshot; and each oracle thread's storage for one
// head (oracle_checks.hpp: R64, its bounds and Rlp of a row's tokens and written slots in
// fp64, twice with stepped runs). Throws InvalidArgument for an invalid spec.
MemoryEstimate estimate_case_memory(const CaseSpec& spec);

// The memory this machine has available now (MemAvailable), 0 when unknown.
std::int64_t available_memory_bytes();

}  // namespace gdr::harness
