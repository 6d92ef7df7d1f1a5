#include "gdr/core/problem.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <unordered_map>
#include <vector>

#include "gdr/core/errors.hpp"

namespace gdr {

double Problem::effective_scale() const { return scale ? *scale : 1.0 / std::sqrt(double(key_dim)); }

namespace {

std::int64_t cu_value(const Problem& p, std::int64_t i) {
    return p.cu_seqlens_type == IndexType::i32 ? std::int64_t(static_cast<const std::int32_t*>(p.cu_seqlens)[i])
                                               : static_cast<const std::int64_t*>(p.cu_seqlens)[i];
}

std::string shape_text(const std::array<std::int64_t, 5>& s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

// The message is built only on failure: validate() runs before every kernel launch.
template <class MakeMessage>
void require(bool ok, const char* argument, MakeMessage&& make_message) {
    if (!ok) throw InvalidArgument(argument, make_message());
}

bool is_kernel_dtype(DType d) { return d == DType::f32 || d == DType::f16 || d == DType::bf16; }

// A view must not write one element twice: with its dims sorted by stride, each stride
// must step over the whole extent of the smaller ones.
bool strides_do_not_overlap(std::array<std::int64_t, 4> extent, std::array<std::int64_t, 4> stride, int rank) {
    std::array<int, 4> order{0, 1, 2, 3};
    std::sort(order.begin(), order.begin() + rank, [&](int a, int b) { return stride[a] < stride[b]; });
    std::int64_t span = 1;  // elements covered by the dims seen so far
    for (int i = 0; i < rank; ++i) {
        const int d = order[i];
        if (extent[d] <= 1) continue;
        if (stride[d] < span) return false;
        span = stride[d] * extent[d];
    }
    return true;
}

void check_tensor(const TensorArg& t, const char* name, DType expected, bool allow_f64, bool required,
                  std::array<std::int64_t, 4> extent, int rank, bool written) {
    if (!t.present()) {
        require(!required, name, [&] { return std::string("is required but the pointer is null"); });
        return;
    }
    const bool dtype_ok = t.dtype == expected || (allow_f64 && t.dtype == DType::f64);
    require(dtype_ok, name, [&] {
        return std::string("dtype " + std::string(to_string(t.dtype)) + " does not match the expected " +
                           std::string(to_string(expected)));
    });
    for (int d = 0; d < rank; ++d) require(t.stride[d] >= 0, name, [&] { return std::string("strides must be >= 0"); });
    if (rank == 4)
        require(t.stride[3] == 1 || extent[3] <= 1, name,
                [&] { return std::string("the innermost stride must be 1"); });
    if (written)
        require(strides_do_not_overlap(extent, t.stride, rank), name,
                [&] { return std::string("strides make elements overlap"); });
}

}  // namespace

std::int64_t view_span(const TensorArg& tensor, const std::array<std::int64_t, 4>& shape) {
    std::int64_t span = 1;
    for (std::size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == 0) return 0;
        span += (shape[d] - 1) * tensor.stride[d];
    }
    return span;
}

RowTokens row_tokens(const Problem& p, std::int64_t row) {
    if (p.varlen()) return RowTokens{0, cu_value(p, row), cu_value(p, row + 1)};
    return RowTokens{row, 0, p.seq_len};
}

bool row_is_active(const Problem& p, std::int64_t row) {
    if (p.state_indices) {
        const std::int64_t n = p.state_indices[row];
        if (n < 0 || n >= p.bank_entries()) return false;
    }
    if (p.cache_seqlens && p.cache_seqlens[row] < 0) return false;
    return true;
}

std::int64_t row_bank_entry(const Problem& p, std::int64_t row) { return p.state_indices ? p.state_indices[row] : row; }

std::int64_t row_read_slot(const Problem& p, std::int64_t row) {
    return p.circular() ? std::int64_t(p.cache_seqlens[row]) % p.slots() : 0;
}

void validate(const Problem& p, const ValidateOptions& options) {
    require(p.batch >= 0, "batch", [&] { return std::string("must be >= 0, got " + std::to_string(p.batch)); });
    require(p.seq_len >= 0, "seq_len", [&] { return std::string("must be >= 0, got " + std::to_string(p.seq_len)); });
    require(p.num_heads >= 1, "num_heads",
            [&] { return std::string("must be >= 1, got " + std::to_string(p.num_heads)); });
    require(p.num_value_heads >= 1, "num_value_heads",
            [&] { return std::string("must be >= 1, got " + std::to_string(p.num_value_heads)); });
    require(p.num_value_heads % p.num_heads == 0, "num_value_heads", [&] {
        return std::string("HV = " + std::to_string(p.num_value_heads) +
                           " is not a multiple of H = " + std::to_string(p.num_heads));
    });
    require(p.key_dim >= 1, "key_dim", [&] { return std::string("K must be >= 1, got " + std::to_string(p.key_dim)); });
    require(p.value_dim >= 1, "value_dim",
            [&] { return std::string("V must be >= 1, got " + std::to_string(p.value_dim)); });
    if (p.scale) require(std::isfinite(*p.scale), "scale", [&] { return std::string("must be finite"); });

    require(is_kernel_dtype(p.input_dtype), "input_dtype", [&] { return std::string("must be f32, f16 or bf16"); });
    require(p.gate_dtype == DType::f32 || p.gate_dtype == p.input_dtype, "gate_dtype",
            [&] { return std::string("must be f32 or the input dtype " + std::string(to_string(p.input_dtype))); });
    require(is_kernel_dtype(p.state_dtype), "state_dtype", [&] { return std::string("must be f32, f16 or bf16"); });

    // The bank: its declared shape must be [N, Slots, HV, K, V] or [N, Slots, HV, V, K].
    const auto& s = p.state_shape;
    require(s[0] >= 1, "state",
            [&] { return std::string("bank has N = " + std::to_string(s[0]) + " entries; at least 1 is needed"); });
    require(s[1] >= 1, "state", [&] { return std::string("Slots must be >= 1, got " + std::to_string(s[1])); });
    require(s[2] == p.num_value_heads, "state", [&] {
        return std::string("shape " + shape_text(s) +
                           ": dimension 2 must be HV = " + std::to_string(p.num_value_heads));
    });
    const bool kv = p.layout == Layout::KV;
    const std::int64_t d3 = kv ? p.key_dim : p.value_dim, d4 = kv ? p.value_dim : p.key_dim;
    require(s[3] == d3 && s[4] == d4, "state", [&] {
        return std::string("shape " + shape_text(s) + " does not match layout " + std::string(to_string(p.layout)) +
                           ": expected [" + std::to_string(s[0]) + ", " + std::to_string(s[1]) + ", " +
                           std::to_string(s[2]) + ", " + std::to_string(d3) + ", " + std::to_string(d4) + "]");
    });
    require(p.state_storage == p.state_dtype || (options.allow_f64_storage && p.state_storage == DType::f64), "state",
            [&] {
                return std::string("storage dtype " + std::string(to_string(p.state_storage)) +
                                   " does not match state_dtype " + std::string(to_string(p.state_dtype)));
            });

    // Rows and their token ranges.
    if (p.varlen()) {
        require(p.batch == 1, "batch",
                [&] { return std::string("must be 1 with cu_seqlens (varlen inputs are [1, total, ...])"); });
        require(p.num_sequences >= 0, "cu_seqlens", [&] { return std::string("num_sequences must be >= 0"); });
        if (options.arrays_on_host) {
            require(cu_value(p, 0) == 0, "cu_seqlens",
                    [&] { return std::string("cu_seqlens[0] must be 0, got " + std::to_string(cu_value(p, 0))); });
            for (std::int64_t i = 0; i < p.num_sequences; ++i)
                require(cu_value(p, i + 1) >= cu_value(p, i), "cu_seqlens",
                        [&] { return std::string("decreases at index " + std::to_string(i + 1)); });
            require(cu_value(p, p.num_sequences) == p.seq_len, "cu_seqlens", [&] {
                return std::string("last value " + std::to_string(cu_value(p, p.num_sequences)) +
                                   " must equal the total token count " + std::to_string(p.seq_len));
            });
        }
    }
    const std::int64_t rows = p.rows();
    const bool any_tokens = p.batch > 0 && p.seq_len > 0;
    if (!p.state_indices && !p.varlen())
        require(rows == 0 || p.bank_entries() == rows, "state", [&] {
            return std::string("without state_indices the bank needs N == B = " + std::to_string(rows) +
                               " entries, got " + std::to_string(p.bank_entries()));
        });
    if (!p.state_indices && p.varlen())
        require(rows == 0 || p.bank_entries() == rows, "state", [&] {
            return std::string("without state_indices the bank needs N == N_seq = " + std::to_string(rows) +
                               " entries, got " + std::to_string(p.bank_entries()));
        });
    if (rows > 0)
        require(p.state != nullptr, "state", [&] { return std::string("is required but the pointer is null"); });

    // Tensors.
    const std::array<std::int64_t, 4> qk_extent = p.qk_shape(), vo_extent = p.vo_shape(), gate_extent = p.gate_shape();
    check_tensor(p.q, "q", p.input_dtype, false, any_tokens, qk_extent, 4, false);
    check_tensor(p.k, "k", p.input_dtype, false, any_tokens, qk_extent, 4, false);
    check_tensor(p.v, "v", p.input_dtype, false, any_tokens, vo_extent, 4, false);
    check_tensor(p.o, "o", p.input_dtype, options.allow_f64_storage, any_tokens, vo_extent, 4, true);
    check_tensor(p.g, "g", p.gate_dtype, false, false, gate_extent, 3, false);
    check_tensor(p.beta, "beta", p.gate_dtype, false, false, gate_extent, 3, false);

    // Distinct bank entries among active rows.
    if (options.arrays_on_host && p.state_indices) {
        std::unordered_map<std::int64_t, std::int64_t> first_row;
        for (std::int64_t r = 0; r < rows; ++r) {
            if (!row_is_active(p, r)) continue;
            const auto [it, inserted] = first_row.emplace(p.state_indices[r], r);
            require(inserted, "state_indices", [&] {
                return std::string("rows " + std::to_string(it->second) + " and " + std::to_string(r) +
                                   " both name bank entry " + std::to_string(p.state_indices[r]) +
                                   "; active rows must name distinct entries");
            });
        }
    }
}

}  // namespace gdr
