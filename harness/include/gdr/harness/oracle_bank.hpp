// The bank entries the active rows touch, as a compact bank: a serving engine's state pool
// is far larger than its batch (hundreds to thousands of entries for tens of rows). Whole
// oracle runs that store their results (a failing case's tensor dump, tests) run on it,
// with each row's index renumbered into it; the checks themselves judge one head at a time
// (oracle_checks.hpp) and store no oracle bank at all.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "gdr/core/problem.hpp"
#include "gdr/harness/chunked_contract.hpp"
#include "gdr/harness/generate.hpp"
#include "gdr/harness/host_tensor.hpp"
#include "gdr/reference/fused_recurrent.hpp"

namespace gdr::harness {

struct OracleBank {
    // Compact entry c holds the case's bank entry entries[c]; ascending.
    std::vector<std::int64_t> entries;
    // Per row: the compact entry it reads and writes, -1 where the row is inactive (the
    // compact problem's state_indices).
    std::vector<std::int64_t> row_indices;
    // The compact entry of a bank entry, -1 when no active row touches it.
    std::int64_t compact_entry(std::int64_t bank_entry) const;
    // Entries of the compact bank: at least 1 (a bank needs one), unused when no row is active.
    std::int64_t bank_entries() const { return entries.empty() ? 1 : std::int64_t(entries.size()); }
};

// The entries the active rows of `host_case` touch (rows with zero tokens included: they
// touch nothing, but a compact index keeps them active as in the full problem).
OracleBank oracle_bank(const HostCase& host_case);

// The compact bank's entries of `bank` (a tensor shaped like the case's bank): the same
// dtype, shape [bank_entries(), Slots, HV, ., .]; entries of an empty OracleBank stay 0.
HostTensor gather_entries(const HostTensor& bank, const OracleBank& oracle);

// make_run_buffers for an oracle run: o as there (poisoned, [B, T, HV, V]), the bank
// compact (the initial values of the entries it holds, in `bank_storage`; zeros without
// `initial_values`, for the magnitude and bound outputs, which the run writes where it writes).
RunBuffers make_oracle_buffers(const HostCase& host_case, const OracleBank& oracle, DType o_storage, DType bank_storage,
                               bool initial_values = true);
// make_problem with the compact bank and the renumbered indices.
Problem make_oracle_problem(const HostCase& host_case, const OracleBank& oracle, RunBuffers& buffers);
// One whole oracle run on the compact bank, without bounds: R64 (o and bank stored as
// f64, nothing rounded) or Rlp (the case's dtypes). With a chunk kernel's contract, those
// of the chunked path: R64 writing the final state only, Rlp the chunked oracle's.
RunBuffers oracle_run(const HostCase& host_case, const OracleBank& oracle, reference::Precision precision,
                      const std::optional<ChunkedContract>& chunked = std::nullopt);

}  // namespace gdr::harness
