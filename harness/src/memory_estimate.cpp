#include "gdr/harness/memory_estimate.hpp"

#include <fstream>
#include <string>

#include <fmt/format.h>

#include "gdr/harness/bank_arena.hpp"
#include "gdr/harness/generate.hpp"

namespace gdr::harness {

MemoryEstimate estimate_case_memory(const CaseSpec& spec, bool other_math_mode) {
    const HostCase indexing = materialize_indexing(spec);  // validates; index arrays only
    const CaseSpec& s = indexing.spec;
    std::int64_t active = 0;
    for (std::int64_t r = 0; r < s.rows(); ++r) active += indexing.row_is_active(r) ? 1 : 0;
    const std::int64_t entries = s.resolved_bank_entries();
    const ArenaMargins margins = indexing.has_state_indices
                                     ? arena_margins(indexing.state_indices.data(), s.rows(), entries)
                                     : ArenaMargins{};
    const double entry = double(s.slots * s.num_value_heads * s.key_dim * s.value_dim);
    const double state_size = double(dtype_size(s.state_dtype)), input_size = double(dtype_size(s.input_dtype));
    const double batch = double(s.varlen ? 1 : s.batch), tokens = double(s.seq_len);
    const double outputs = batch * tokens * double(s.num_value_heads * s.value_dim);
    // q, k, v (strided layouts pad by up to ~2x; fused ones span the whole projection), and
    // the snapshot that proves the subject only read them.
    const double inputs = 2 * 3 * input_size * batch * tokens *
                          double(std::max(s.num_heads * s.key_dim, s.num_value_heads * s.value_dim)) *
                          (s.strides == StrideRule::contiguous ? 1.0 : 3.0);
    const double banks = state_size * entry * double(2 * entries + margins.before + margins.after);
    // One oracle set: R64, magnitudes and flip bounds (f64) and Rlp (stored dtypes), compact.
    const double oracle_set = double(std::max<std::int64_t>(active, 1)) * entry * (3 * 8 + state_size) +
                              outputs * (3 * 8 + input_size);
    const bool stepped = s.circular && s.output_final_state;
    const double oracle = oracle_set * (1 + (stepped ? 1 : 0) + (other_math_mode ? 1 : 0)) +
                          (stepped ? double(std::max<std::int64_t>(active, 1)) * entry * state_size : 0);
    const double subject_outputs = outputs * input_size * 2;  // o and its determinism snapshot
    const double snapshot = double(active) * entry * state_size;  // written slices, determinism
    constexpr double baseline = 64e6;  // the process itself, tables, report
    MemoryEstimate estimate;
    estimate.bytes = std::int64_t(1.1 * (inputs + banks + oracle + subject_outputs + snapshot) + baseline);
    estimate.breakdown = fmt::format(
        "bank {:.2f} GB x2 (initial, subject's), oracle {:.2f} GB ({} active rows{}{}), inputs and outputs {:.2f} GB",
        state_size * entry * double(entries) / 1e9, oracle / 1e9, active, stepped ? ", stepped runs" : "",
        other_math_mode ? ", a second math mode" : "", (inputs + subject_outputs) / 1e9);
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
