// A decode call on a bank of more than 2^31 elements (2^31 + 2^20 bf16 elements, 4.3 GB),
// with its rows at entries N-1 and N-3 near the end, where a 32-bit element offset wraps:
// the same launch must give bitwise the same o and state matrices as on a two-entry bank,
// and leave entry N-2 (between them) untouched. The harness's own cases cannot hold such a
// bank (a spec's bank is at most 2^31 elements, and it is mirrored on the host), so this
// one lives on the device only. CUDA builds only.
#pragma once

#include <string>

#include "gdr/harness/case_spec.hpp"
#include "gdr/harness/report.hpp"
#include "gdr/subjects/cuda_launch_subject.hpp"

namespace gdr::subjects {

// The small case both runs share: B=2 T=2 H=1 HV=1 K=V=128, layout VK, bf16.
harness::CaseSpec big_bank_small_case();

// Never throws: a launch error (an illegal address, say) is FAILED, a device that cannot
// hold the bank NOT_RUN, a difference INCORRECT naming the check ("o vs small bank",
// "state vs small bank", "untouched entry").
harness::CaseReport run_big_bank_case(const std::string& subject_name, const DeviceLaunch& launch);

}  // namespace gdr::subjects
