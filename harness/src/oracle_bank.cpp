#include "gdr/harness/oracle_bank.hpp"

#include <algorithm>
#include <cstring>

namespace gdr::harness {

std::int64_t OracleBank::compact_entry(std::int64_t bank_entry) const {
    const auto found = std::lower_bound(entries.begin(), entries.end(), bank_entry);
    return found != entries.end() && *found == bank_entry ? std::int64_t(found - entries.begin()) : -1;
}

OracleBank oracle_bank(const HostCase& c) {
    const std::int64_t rows = c.spec.rows();
    OracleBank oracle;
    for (std::int64_t r = 0; r < rows; ++r)
        if (c.row_is_active(r)) oracle.entries.push_back(c.bank_entry(r));
    std::sort(oracle.entries.begin(), oracle.entries.end());  // distinct: validate() saw to it
    oracle.row_indices.assign(std::size_t(rows), -1);
    for (std::int64_t r = 0; r < rows; ++r)
        if (c.row_is_active(r))
            oracle.row_indices[std::size_t(r)] =
                oracle.compact_entry(c.bank_entry(r));
    return oracle;
}

HostTensor gather_entries(const HostTensor& bank, const OracleBank& oracle) {
    std::vector<std::int64_t> shape = bank.shape();
    const std::size_t entry_bytes = shape[0] > 0 ? bank.storage_bytes() / std::size_t(shape[0]) : 0;
    shape[0] = oracle.bank_entries();
    HostTensor compact(bank.dtype(), shape);
    const auto* from = static_cast<const std::byte*>(bank.data());
    auto* to = static_cast<std::byte*>(compact.data());
    for (std::size_t c = 0; c < oracle.entries.size(); ++c)
        std::memcpy(to + c * entry_bytes, from + std::size_t(oracle.entries[c]) * entry_bytes, entry_bytes);
    return compact;
}

RunBuffers make_oracle_buffers(const HostCase& c, const OracleBank& oracle, DType o_storage, DType bank_storage,
                               bool initial_values) {
    const CaseSpec& s = c.spec;
    RunBuffers buffers;
    buffers.o = HostTensor(o_storage, {s.varlen ? 1 : s.batch, s.seq_len, s.num_value_heads, s.value_dim});
    buffers.o.poison();
    if (initial_values) {
        buffers.bank = gather_entries(c.initial_bank, oracle).converted(bank_storage);
    } else {
        std::vector<std::int64_t> shape = c.initial_bank.shape();
        shape[0] = oracle.bank_entries();
        buffers.bank = HostTensor(bank_storage, shape);
    }
    return buffers;
}

Problem make_oracle_problem(const HostCase& c, const OracleBank& oracle, RunBuffers& buffers) {
    Problem problem = make_problem(c, buffers);
    problem.state_indices = oracle.row_indices.data();
    return problem;
}

RunBuffers oracle_run(const HostCase& c, const OracleBank& oracle, reference::Precision precision,
                      const std::optional<ChunkedContract>& chunked) {
    const bool truth = precision == reference::Precision::truth_fp64;
    RunBuffers buffers = make_oracle_buffers(c, oracle, truth ? DType::f64 : c.spec.input_dtype,
                                             truth ? DType::f64 : c.spec.state_dtype);
    const Problem problem = make_oracle_problem(c, oracle, buffers);
    if (chunked && !truth) {
        reference::run_chunked(problem, emulated_options(*chunked));
    } else {
        reference::OracleOptions options{precision};
        options.state_writes = state_writes_for(chunked);
        reference::run_fused_recurrent(problem, options);
    }
    return buffers;
}

}  // namespace gdr::harness
