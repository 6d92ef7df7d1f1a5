#include "gdr/harness/memory_estimate.hpp"

#include <algorithm>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "gdr/harness/bank_arena.hpp"
#include "gdr/harness/generate.hpp"
#include "gdr/reference/oracle_threads.hpp"

namespace gdr::harness {

MemoryEstimate estimate_case_memory(const CaseSpec& spec) {
    const HostCase indexing = materialize_indexing(spec);  // validates; index arrays only
    const CaseSpec& s = indexing.spec;
    std::int64_t active = 0;
    for (std::int64_t r = 0; r < s.rows(); ++r) active += indexing.row_is_active(r) ? 1 : 0;
    const std::int64_t entries = s.resolved_bank_entries();
    const ArenaMargins margins = indexing.has_state_indices
                                     ? arena_margins(indexing.state_indices.data(), s.rows(), entries)
                                     : ArenaMargins{};
    const double matrix = double(s.key_dim * s.value_dim);
    const double entry = double(s.slots * s.num_value_heads) * matrix;
    const double state_size = double(dtype_size(s.state_dtype)), input_size = double(dtype_size(s.input_dtype));
    const double batch = double(s.varlen ? 1 : s.batch), tokens = double(s.seq_len);
    const double outputs = batch * tokens * double(s.num_value_heads * s.value_dim);
    // q, k, v (strided layouts pad by up to ~2x; fused ones span the whole projection), and
    // the snapshot that proves the subject only read them.
    const double inputs = 2 * 3 * input_size * batch * tokens *
                          double(std::max(s.num_heads * s.key_dim, s.num_value_heads * s.value_dim)) *
                          (s.strides == StrideRule::contiguous ? 1.0 : 3.0);
    const double arena = state_size * entry * double(margins.before + margins.after);
    const double banks = state_size * entry * double(2 * entries) + arena;
    // Determinism: o, the written slots and the arena of both runs.
    const double written_slots = double(active) * entry;
    const double snapshots = 2 * (outputs * input_size + written_slots * state_size + arena);
    // Per oracle thread, one head: a row's tokens of o and its written slots, in fp64: R64,
    // its two bounds and Rlp (x2 with stepped runs), the subject's slice and a slice's working
    // copies in the comparison.
    const double longest = double(s.longest_row());
    const double written_per_row = s.output_final_state ? (s.circular ? std::min(longest, double(s.slots)) : 1.0) : 0.0;
    const bool stepped = s.circular && s.output_final_state;
    const double head = 8 * (longest * double(s.value_dim) + written_per_row * matrix) * 4 * (stepped ? 2 : 1) +
                        8 * 4 * std::max(double(s.value_dim), matrix);
    const double oracle = head * double(std::max(1, reference::oracle_threads()));
    constexpr double baseline = 64e6;  // the process itself, tables, report
    MemoryEstimate estimate;
    estimate.bytes = std::int64_t(1.1 * (inputs + banks + snapshots + oracle + outputs * input_size) + baseline);
    estimate.breakdown = fmt::format(
        "bank {:.2f} GB x2 (initial, subject's), determinism copies {:.2f} GB, oracle {:.2f} GB ({} threads x one "
        "head{}), inputs and outputs {:.2f} GB",
        state_size * entry * double(entries) / 1e9, snapshots / 1e9, oracle / 1e9,
        std::max(1, reference::oracle_threads()), stepped ? ", stepped runs" : "", (inputs + outputs * input_size) / 1e9);
    return estimate;
}

std::int64_t available_memory_bytes() {
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    std::int64_t kilobytes = 0;
    std::string unit;
    while (meminfo >> key >> kilobytes >> unit)
        if (key == "MemAvailable:") return kilobytes * 1024;
    return 0;
}

}  // namespace gdr::harness
