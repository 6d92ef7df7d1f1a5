// A subject's o and written state judged against the oracle one (row, value head) at a
// time. For each head, R64 with its bounds (magnitudes, flip bounds) and Rlp run into the
// worker thread's own storage (reference::HeadRecurrence) and every slice of the head is
// judged at once, so a case holds no oracle copy of its bank: at serving scale that copy
// was 24 bytes an element (R64's values, magnitudes and bounds in fp64), most of a case's
// memory, and its first touch most of its time. Memory follows the threads, not the bank.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "gdr/core/problem.hpp"
#include "gdr/harness/chunked_contract.hpp"
#include "gdr/harness/generate.hpp"
#include "gdr/harness/math_mode.hpp"
#include "gdr/harness/report.hpp"
#include "gdr/harness/stage_profile.hpp"
#include "gdr/harness/tolerance.hpp"

namespace gdr::harness {

struct OracleCheckInputs {
    const HostCase& host;
    const Problem& subject_problem;  // the subject's run (host arrays): its rows, tokens and active flags
    const RunBuffers& subject;       // what the subject stored
    // The (bank entry, slot) pairs the call writes (written_bank_slices), each judged per head.
    const std::vector<std::pair<std::int64_t, std::int64_t>>& written;
    MathMode math;                   // the elementary-function errors the flip bounds allow
    const ToleranceRow* o_row;       // null in exact mode
    const ToleranceRow* state_row;
    // Also judge every token against R64 and Rlp resumed from the subject's own stored slot
    // (reference::OracleOptions::resume_bank); steps_checkable() says when that applies.
    bool stepped;
    // A chunk kernel's contract: R64 and its bounds from the recurrence writing only the
    // final state (StateWrites::final_only), Rlp from the chunked oracle in emulated fp32
    // with the contract's C and rounding points; `written` must list the final slots only
    // and `stepped` be false. nullopt: a decode kernel, judged by the recurrence's R64 and Rlp.
    std::optional<ChunkedContract> chunked = std::nullopt;
};

// "o vs R64", "state vs R64" (against the chunked path's oracles for a chunk kernel) and, with `stepped`, "o vs stepped R64" and "state vs stepped
// R64", in that order. Every slice is one value head (o[b, t, hv] of V elements,
// state[n, slot, hv] of K x V); each check is INCORRECT if any slice fails, reporting the
// first failing one, else the slice closest to its threshold. Slices are judged on any
// thread and folded in (row, token, head) and (row, written slot, head) order, so the
// verdict and its report do not depend on the thread count. `stages` receives the wall
// time of the oracle runs and the checks (split by their share of the threads' time).
std::vector<CheckResult> judge_against_oracle(const OracleCheckInputs& inputs, std::vector<StageTiming>& stages);

// Circular calls that write every token's state into a slot that survives the call
// (Slots >= T for every active row), with some row of two tokens or more: each token can
// be judged as one step from the state the subject itself stored for the token before.
bool steps_checkable(const CaseSpec& spec, const Problem& problem);

}  // namespace gdr::harness
