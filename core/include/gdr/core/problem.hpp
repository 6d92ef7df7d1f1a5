// One call of the fused recurrent gated delta rule, described by pointers, sizes and
// strides (docs/SPEC.md). The Eigen oracle and the CUDA kernels take exactly this struct;
// validate() checks it against docs/SPEC.md before either touches memory.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "gdr/core/dtype.hpp"

namespace gdr {

// A strided view. Shapes come from the Problem; strides are in elements, one per
// logical dimension. q, k: [B, T, H, K]; v, o: [B, T, HV, V]; g, beta: [B, T, HV]
// (stride[3] unused). The innermost stride of q, k, v, o must be 1.
struct TensorArg {
    void* data = nullptr;  // nullptr: absent (allowed for g and beta only)
    DType dtype = DType::f32;
    std::array<std::int64_t, 4> stride{};

    bool present() const { return data != nullptr; }
};

struct Problem {
    // Sizes. Fixed-length batch: rows = batch, every row has seq_len tokens.
    // Varlen (cu_seqlens present): batch must be 1, seq_len is the total token count,
    // rows = num_sequences and row i owns tokens [cu[i], cu[i+1]).
    std::int64_t batch = 0;            // B
    std::int64_t seq_len = 0;          // T
    std::int64_t num_heads = 1;        // H, q/k heads
    std::int64_t num_value_heads = 1;  // HV, value heads; HV % H == 0
    std::int64_t key_dim = 1;          // K
    std::int64_t value_dim = 1;        // V
    Layout layout = Layout::KV;

    // Semantic dtypes (docs/SPEC.md): q, k, v, o share input_dtype; g and beta are gate_dtype
    // (f32 or input_dtype); the bank is state_dtype. Buffers must carry these dtypes,
    // except that the oracle's fp64 truth run may store o and the bank as f64.
    DType input_dtype = DType::f32;
    DType gate_dtype = DType::f32;
    DType state_dtype = DType::f32;

    TensorArg q, k, v, o, g, beta;

    // The bank, contiguous: [N, Slots, HV, K, V] (KV) or [N, Slots, HV, V, K] (VK); a
    // 4-D bank [N, HV, ., .] is given as Slots = 1. validate() checks the declared shape
    // against the layout, so a transposed bank is caught before it is read.
    void* state = nullptr;
    std::array<std::int64_t, 5> state_shape{};
    DType state_storage = DType::f32;  // state_dtype, or f64 in the oracle's truth run

    const std::int64_t* state_indices = nullptr;  // [rows], optional
    const std::int32_t* cache_seqlens = nullptr;  // [rows], optional: circular mode
    const void* cu_seqlens = nullptr;             // [num_sequences + 1], optional: varlen
    IndexType cu_seqlens_type = IndexType::i32;
    std::int64_t num_sequences = 0;

    std::optional<double> scale;  // default 1 / sqrt(K)
    bool use_qk_l2norm = false;
    bool output_final_state = true;

    std::int64_t bank_entries() const { return state_shape[0]; }  // N
    std::int64_t slots() const { return state_shape[1]; }         // Slots
    // Logical shapes of the strided tensors (g and beta: [B, T, HV, 1]).
    std::array<std::int64_t, 4> qk_shape() const { return {batch, seq_len, num_heads, key_dim}; }
    std::array<std::int64_t, 4> vo_shape() const { return {batch, seq_len, num_value_heads, value_dim}; }
    std::array<std::int64_t, 4> gate_shape() const { return {batch, seq_len, num_value_heads, 1}; }

    bool varlen() const { return cu_seqlens != nullptr; }
    bool circular() const { return cache_seqlens != nullptr; }
    std::int64_t rows() const { return varlen() ? num_sequences : batch; }
    double effective_scale() const;
    std::int64_t state_matrix_elements() const { return key_dim * value_dim; }
    // Elements from one bank entry to the next: Slots * HV * K * V (64-bit on purpose).
    std::int64_t bank_entry_elements() const { return slots() * num_value_heads * key_dim * value_dim; }
    std::int64_t bank_elements() const { return bank_entries() * bank_entry_elements(); }
};

// Elements from a view's first element to its last, inclusive: what a copy of the view
// must cover (0 when some extent is 0). 1 + sum over dims of (extent - 1) * stride.
std::int64_t view_span(const TensorArg& tensor, const std::array<std::int64_t, 4>& shape);

// Token range [begin, end) of a row along the T axis of its batch row (fixed-length:
// row b, tokens 0..T-1 of batch row b; varlen: batch row 0, tokens cu[i]..cu[i+1]-1).
// Reads cu_seqlens, so it needs host-visible arrays.
struct RowTokens {
    std::int64_t batch_row = 0;
    std::int64_t begin = 0;
    std::int64_t end = 0;
    std::int64_t length() const { return end - begin; }
};
RowTokens row_tokens(const Problem& problem, std::int64_t row);

// Whether row `row` is active (docs/SPEC.md "Active rows"); reads host-visible arrays.
bool row_is_active(const Problem& problem, std::int64_t row);
// The bank entry of an active row: state_indices[row], or row itself without indices.
std::int64_t row_bank_entry(const Problem& problem, std::int64_t row);
// The slot an active row reads: cache_seqlens[row] mod Slots in circular mode, else 0.
std::int64_t row_read_slot(const Problem& problem, std::int64_t row);

struct ValidateOptions {
    // The host can read state_indices, cache_seqlens and cu_seqlens (the oracle, or a
    // kernel caller with host copies): checks their contents too (distinct active
    // indices, monotone cu_seqlens). Off for device pointers: only shapes are checked.
    bool arrays_on_host = true;
    // The oracle's truth run may store o and the bank as f64.
    bool allow_f64_storage = false;
};

// Throws InvalidArgument naming the argument for anything docs/SPEC.md calls invalid.
// Reads nothing but the arrays named above and writes nothing.
void validate(const Problem& problem, const ValidateOptions& options = {});

}  // namespace gdr
