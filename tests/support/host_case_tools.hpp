// Small tools the tests use to take cases apart and put them back together: logical
// indexing of HostTensors, which rows are active and which tokens they own, oracle runs
// into fresh buffers, token and row surgery.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "gdr/harness/generate.hpp"
#include "gdr/reference/fused_recurrent.hpp"

namespace gdr::testing {

// Row-major flat index of `index` in `shape`.
inline std::int64_t flat(const std::vector<std::int64_t>& shape, const std::vector<std::int64_t>& index) {
    std::int64_t i = 0;
    for (std::size_t d = 0; d < shape.size(); ++d) i = i * shape[d] + index[d];
    return i;
}

// Calls fn(index) for every index of `shape`, row-major; nothing for an empty shape.
template <class Fn>
void for_each_index(const std::vector<std::int64_t>& shape, Fn&& fn) {
    if (shape.empty()) return;
    for (const auto extent : shape)
        if (extent == 0) return;
    std::vector<std::int64_t> index(shape.size(), 0);
    while (true) {
        fn(index);
        std::size_t d = shape.size();
        while (true) {
            if (d == 0) return;
            --d;
            if (++index[d] < shape[d]) break;
            index[d] = 0;
        }
    }
}

// The stored bytes of one logical element, for bitwise comparisons.
inline std::uint64_t element_bits(const harness::HostTensor& tensor, std::int64_t logical_index) {
    std::uint64_t bits = 0;
    const std::size_t size = dtype_size(tensor.dtype());
    std::memcpy(&bits, static_cast<const std::byte*>(tensor.data()) + tensor.offset_of(logical_index) * size, size);
    return bits;
}

// Whether row r of the case is active: a state index inside [0, N) if the case has
// indices, and a non-negative cache_seqlen if it is circular (docs/SPEC.md).
inline bool row_active(const harness::HostCase& c, std::int64_t r) {
    if (c.has_state_indices) {
        const auto n = c.state_indices[std::size_t(r)];
        if (n < 0 || n >= c.spec.resolved_bank_entries()) return false;
    }
    return !(c.spec.circular && c.cache_seqlens[std::size_t(r)] < 0);
}

// Row r's batch row and its tokens [begin, end), from the spec's lengths (varlen rows are
// consecutive token ranges of batch row 0).
struct RowInfo {
    std::int64_t batch_row, begin, end;
};
inline RowInfo row_info(const harness::HostCase& c, std::int64_t r) {
    if (!c.spec.varlen) return {r, 0, c.spec.seq_len};
    std::int64_t begin = 0;
    for (std::int64_t i = 0; i < r; ++i) begin += c.spec.seq_lengths[std::size_t(i)];
    return {0, begin, begin + c.spec.seq_lengths[std::size_t(r)]};
}

// The oracle on `host_case` into fresh buffers: f64 outputs for the truth run, the case's
// dtypes for the emulated run.
inline harness::RunBuffers run_oracle(const harness::HostCase& host_case, reference::Precision precision,
                                      reference::ReductionOrder order = reference::ReductionOrder::forward) {
    const bool truth = precision == reference::Precision::truth_fp64;
    harness::RunBuffers buffers = harness::make_run_buffers(host_case, truth ? DType::f64 : host_case.spec.input_dtype,
                                                            truth ? DType::f64 : host_case.spec.state_dtype);
    reference::run_fused_recurrent(harness::make_problem(host_case, buffers), {precision, order});
    return buffers;
}

// Tokens [begin, end) of a [B, T, ...] tensor as a contiguous [B, end - begin, ...] one
// (same values, exactly); an empty tensor stays empty.
inline harness::HostTensor token_slice(const harness::HostTensor& source, std::int64_t begin, std::int64_t end) {
    if (source.shape().empty()) return {};
    std::vector<std::int64_t> shape = source.shape();
    shape[1] = end - begin;
    harness::HostTensor out(source.dtype(), shape);
    for_each_index(shape, [&](std::vector<std::int64_t> index) {
        const std::int64_t destination = flat(shape, index);
        index[1] += begin;
        out.set(destination, source.get(flat(source.shape(), index)));
    });
    return out;
}

// Copies batch row `from` of `source` into batch row `to` of `destination` (same shapes).
inline void copy_batch_row(harness::HostTensor& destination, std::int64_t to, const harness::HostTensor& source,
                           std::int64_t from) {
    if (source.shape().empty()) return;
    std::int64_t row_elements = 1;
    for (std::size_t d = 1; d < source.shape().size(); ++d) row_elements *= source.shape()[d];
    for (std::int64_t i = 0; i < row_elements; ++i)
        destination.set(to * row_elements + i, source.get(from * row_elements + i));
}

}  // namespace gdr::testing
