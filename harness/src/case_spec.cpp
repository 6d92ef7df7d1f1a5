#include "gdr/harness/case_spec.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string_view>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gdr/core/errors.hpp"
#include "gdr/harness/bank_arena.hpp"
#include "gdr/harness/special_values.hpp"

namespace gdr::harness {

namespace {

using json = nlohmann::json;

// Bounds that keep a spec (possibly written by a fuzzer) from allocating absurd memory.
constexpr std::int64_t kMaxDim = std::int64_t(1) << 20;       // any single size or list length
constexpr std::int64_t kMaxElements = std::int64_t(1) << 31;  // any one tensor's storage, in elements
// generate.cpp pads head, token and batch strides by at most this many elements.
constexpr std::int64_t kMaxPad = 4;

void require(bool ok, const char* key, const std::string& message) {
    if (!ok) throw InvalidArgument(key, message);
}

// Saturating arithmetic on non-negative sizes: the bounds checks stay meaningful for
// any input without signed overflow.
std::int64_t sat_mul(std::int64_t a, std::int64_t b) {
    std::int64_t out = 0;
    if (__builtin_mul_overflow(a, b, &out)) return std::numeric_limits<std::int64_t>::max();
    return out;
}
std::int64_t sat_add(std::int64_t a, std::int64_t b) {
    std::int64_t out = 0;
    if (__builtin_add_overflow(a, b, &out)) return std::numeric_limits<std::int64_t>::max();
    return out;
}

int significant_bits(DType dtype) {
    switch (dtype) {
    case DType::f32: return 24;
    case DType::f16: return 11;
    case DType::bf16: return 8;
    case DType::f64: return 53;
    }
    return 0;
}

int ceil_log2(std::int64_t x) {
    int bits = 0;
    while ((std::int64_t(1) << bits) < x) ++bits;
    return bits;
}

bool is_kernel_dtype(DType d) { return d == DType::f32 || d == DType::f16 || d == DType::bf16; }

// Storage (elements) of one strided input tensor [B, T, heads, dim] under a stride
// rule; an upper bound for padded (pads are at most kMaxPad per level).
std::int64_t input_storage_bound(const CaseSpec& s, std::int64_t heads, std::int64_t dim) {
    const std::int64_t b = s.varlen ? 1 : s.batch;
    const std::int64_t t = s.seq_len;
    switch (s.strides) {
    case StrideRule::contiguous: return sat_mul(sat_mul(b, t), sat_mul(heads, dim));
    case StrideRule::padded: {
        const std::int64_t token = sat_add(sat_mul(heads, sat_add(dim, kMaxPad)), kMaxPad);
        return sat_mul(b, sat_add(sat_mul(t, token), kMaxPad));
    }
    case StrideRule::fused: {
        const std::int64_t row = sat_add(sat_mul(2, sat_mul(s.num_heads, s.key_dim)),
                                         sat_mul(s.num_value_heads, s.value_dim));
        return sat_mul(sat_mul(b, t), row);
    }
    }
    return 0;
}

}  // namespace

std::int64_t CaseSpec::rows() const { return varlen ? std::int64_t(seq_lengths.size()) : batch; }

std::int64_t CaseSpec::resolved_bank_entries() const { return bank_entries != 0 ? bank_entries : rows(); }

std::int64_t CaseSpec::row_tokens(std::int64_t row) const {
    return varlen ? seq_lengths[std::size_t(row)] : seq_len;
}

std::int64_t CaseSpec::longest_row() const {
    if (!varlen) return seq_len;
    return seq_lengths.empty() ? 0 : *std::max_element(seq_lengths.begin(), seq_lengths.end());
}

void validate(const CaseSpec& s) {
    auto dim = [](std::int64_t value, const char* key, std::int64_t min) {
        require(value >= min && value <= kMaxDim, key,
                "must be in [" + std::to_string(min) + ", " + std::to_string(kMaxDim) + "], got " +
                    std::to_string(value));
    };
    dim(s.batch, "B", 0);
    dim(s.seq_len, "T", 0);
    dim(s.num_heads, "H", 1);
    dim(s.num_value_heads, "HV", 1);
    require(s.num_value_heads % s.num_heads == 0, "HV",
            "HV = " + std::to_string(s.num_value_heads) + " is not a multiple of H = " + std::to_string(s.num_heads));
    dim(s.key_dim, "K", 1);
    dim(s.value_dim, "V", 1);
    dim(s.bank_entries, "N", 0);
    dim(s.slots, "slots", 1);

    require(is_kernel_dtype(s.input_dtype), "in", "must be f32, f16 or bf16");
    require(s.gate_dtype == DType::f32 || s.gate_dtype == s.input_dtype, "gate",
            "must be f32 or the input dtype " + std::string(to_string(s.input_dtype)));
    require(is_kernel_dtype(s.state_dtype), "state", "must be f32, f16 or bf16");
    if (s.scale) require(std::isfinite(*s.scale), "scale", "must be finite");
    require(std::isfinite(s.state_scale) && s.state_scale >= 0, "state_scale", "must be finite and >= 0");
    require(s.generator == 1 || s.generator == 2, "generator", "must be 1 or 2, got " + std::to_string(s.generator));

    // Rows and token counts.
    std::int64_t max_row_tokens = s.seq_len;
    if (s.varlen) {
        require(s.batch == 1, "B", "must be 1 with varlen=1 (varlen inputs are [1, total, ...])");
        require(std::int64_t(s.seq_lengths.size()) <= kMaxDim, "seq_lengths",
                "more than " + std::to_string(kMaxDim) + " sequences");
        std::int64_t total = 0;
        max_row_tokens = 0;
        for (const std::int64_t len : s.seq_lengths) {
            require(len >= 0 && len <= kMaxDim, "seq_lengths",
                    "each length must be in [0, " + std::to_string(kMaxDim) + "], got " + std::to_string(len));
            total = sat_add(total, len);
            max_row_tokens = std::max(max_row_tokens, len);
        }
        require(s.seq_len == total, "T",
                "must equal the sum of seq_lengths (" + std::to_string(total) + ") with varlen=1, got " +
                    std::to_string(s.seq_len));
    } else {
        require(s.seq_lengths.empty(), "seq_lengths", "needs varlen=1");
    }
    const std::int64_t rows = s.rows();
    const std::int64_t n = s.resolved_bank_entries();
    require(n >= 1, "N", "the bank needs at least one entry; with no rows set N >= 1");

    // state_indices.
    require(s.inactive_rows >= 0, "inactive", "must be >= 0");
    if (!s.explicit_indices.empty()) {
        require(s.indices == IndicesRule::none, "indices", "explicit_indices replaces the rule; leave indices=none");
        require(s.inactive_rows == 0, "inactive", "explicit_indices decides the inactive rows; leave inactive=0");
        require(std::int64_t(s.explicit_indices.size()) == rows, "explicit_indices",
                "has " + std::to_string(s.explicit_indices.size()) + " entries for " + std::to_string(rows) +
                    " rows");
        // Values are taken as given apart from duplicates among active rows (checked below,
        // with circular mode's negative cache_seqlens): out-of-range ones make rows inactive,
        // and stay within the bank arena's reach.
        for (const std::int64_t index : s.explicit_indices)
            require(index >= -kMaxIndexMargin && index < sat_add(n, kMaxIndexMargin), "explicit_indices",
                    "each index must be in [-" + std::to_string(kMaxIndexMargin) + ", N + " +
                        std::to_string(kMaxIndexMargin) + ") (the bank arena's reach), got " + std::to_string(index));
    } else {
        switch (s.indices) {
        case IndicesRule::none:
            require(s.inactive_rows == 0, "inactive", "needs indices=permutation");
            require(rows == 0 || n == rows, "N",
                    "without state_indices the bank has one entry per row: N must be 0 or " + std::to_string(rows) +
                        ", got " + std::to_string(s.bank_entries));
            break;
        case IndicesRule::identity:
            require(s.inactive_rows == 0, "inactive", "needs indices=permutation");
            require(n >= rows, "N",
                    "indices=identity needs N >= rows = " + std::to_string(rows) + ", got " + std::to_string(n));
            break;
        case IndicesRule::permutation:
            require(s.inactive_rows <= rows, "inactive",
                    std::to_string(s.inactive_rows) + " inactive rows but only " + std::to_string(rows) + " rows");
            require(n >= rows - s.inactive_rows, "N",
                    "indices=permutation needs N >= active rows = " + std::to_string(rows - s.inactive_rows) +
                        ", got " + std::to_string(n));
            break;
        }
    }

    // Circular mode.
    if (s.circular) {
        require(s.seqlen_max >= 0 && s.seqlen_max <= std::numeric_limits<std::int32_t>::max(), "seqlen_max",
                "must be in [0, 2^31 - 1], got " + std::to_string(s.seqlen_max));
        require(s.negative_seqlens >= 0 && s.negative_seqlens <= rows, "neg_seqlens",
                "must be in [0, rows = " + std::to_string(rows) + "], got " + std::to_string(s.negative_seqlens));
        if (!s.explicit_cache_seqlens.empty()) {
            require(std::int64_t(s.explicit_cache_seqlens.size()) == rows, "cache_seqlens",
                    "has " + std::to_string(s.explicit_cache_seqlens.size()) + " entries for " +
                        std::to_string(rows) + " rows");
            require(s.seqlen_max == 0, "seqlen_max", "cache_seqlens replaces the rule; leave seqlen_max=0");
            require(s.negative_seqlens == 0, "neg_seqlens", "cache_seqlens replaces the rule; leave neg_seqlens=0");
        }
    } else {
        require(s.seqlen_max == 0, "seqlen_max", "needs circular=1");
        require(s.negative_seqlens == 0, "neg_seqlens", "needs circular=1");
        require(s.explicit_cache_seqlens.empty(), "cache_seqlens", "needs circular=1");
    }

    // Two active rows with the same explicit index would update one bank entry twice: the
    // contract (docs/SPEC.md) makes that invalid input, so the spec is rejected here, before
    // any oracle or subject runs. A row is active when its index is in [0, N) and, in
    // circular mode, its cache_seqlen is not negative; drawn cache_seqlens (neg_seqlens > 0)
    // could make a duplicate inactive only by chance, so they do not excuse one.
    if (!s.explicit_indices.empty()) {
        std::map<std::int64_t, std::int64_t> active_row_of_entry;
        for (std::int64_t row = 0; row < rows; ++row) {
            const std::int64_t entry = s.explicit_indices[std::size_t(row)];
            const bool negative_seqlen = s.circular && !s.explicit_cache_seqlens.empty() &&
                                         s.explicit_cache_seqlens[std::size_t(row)] < 0;
            if (entry < 0 || entry >= n || negative_seqlen) continue;
            const auto [it, fresh] = active_row_of_entry.emplace(entry, row);
            require(fresh, "explicit_indices",
                    "rows " + std::to_string(it->second) + " and " + std::to_string(row) + " are both active on bank entry " +
                        std::to_string(entry) + " (duplicate active state_indices are invalid input)");
        }
    }

    // Memory bounds, so that no spec allocates more than a few GiB per tensor.
    const std::int64_t qk = input_storage_bound(s, s.num_heads, s.key_dim);
    const std::int64_t vo = std::max(input_storage_bound(s, s.num_value_heads, s.value_dim),
                                     sat_mul(sat_mul(s.varlen ? 1 : s.batch, s.seq_len),
                                             sat_mul(s.num_value_heads, s.value_dim)));
    require(qk <= kMaxElements, "B",
            "q and k would need " + std::to_string(qk) + " elements each (limit 2^31); reduce B, T, H or K");
    require(vo <= kMaxElements, "B",
            "v and o would need " + std::to_string(vo) + " elements each (limit 2^31); reduce B, T, HV or V");
    const std::int64_t bank =
        sat_mul(sat_mul(n, s.slots), sat_mul(s.num_value_heads, sat_mul(s.key_dim, s.value_dim)));
    require(bank <= kMaxElements, "N",
            "the bank would need " + std::to_string(bank) + " elements (limit 2^31); reduce N, slots, HV, K or V");

    validate_specials(s);

    // Exact mode: every operation must be exact (see generate.hpp for the reasoning).
    if (s.exact) {
        require(!s.use_qk_l2norm, "l2norm", "must be 0 in exact mode (the norm is not exact)");
        require(!s.has_g || s.g == GateDistribution::zero, "gdist",
                "must be zero in exact mode (exp(g) != 1 is not exact), or set g=0");
        require(!s.has_beta || s.beta != BetaDistribution::uniform, "bdist", "must be one or half in exact mode");
        bool power_of_two = false;
        if (s.scale && *s.scale > 0) {
            int exponent = 0;
            power_of_two = std::frexp(*s.scale, &exponent) == 0.5 && exponent >= -23 && exponent <= 25;
        }
        require(power_of_two, "scale", "exact mode needs an explicit power-of-two scale in [2^-24, 2^24]");
        if (s.has_beta && s.beta == BetaDistribution::half) {
            const std::int64_t budget = exact_halving_budget(s.state_dtype, s.key_dim);
            require(max_row_tokens <= budget, s.varlen ? "seq_lengths" : "T",
                    "exact mode with bdist=half allows at most " + std::to_string(budget) +
                        " tokens per row for state=" + std::string(to_string(s.state_dtype)) +
                        " and K=" + std::to_string(s.key_dim) + ", got " + std::to_string(max_row_tokens));
        }
    }
}

std::int64_t exact_halving_budget(DType state_dtype, std::int64_t key_dim) {
    // After t halvings a state value is a multiple of 2^-(1+t) in [-1, 1]: at most 1+t
    // significant bits, so it is exact in a state dtype of p bits while t <= p - 1. The
    // K-sum for o has terms on the grid 2^-(2+t) * scale with |partial sums| <= K * scale:
    // exact in fp32 while K * 2^(2+t) <= 2^24. Both bounds are reached (tests show the
    // worst cases one step past them round).
    const std::int64_t by_state = significant_bits(state_dtype) - 1;
    const std::int64_t by_sum = 22 - ceil_log2(std::max<std::int64_t>(key_dim, 1));
    return std::max<std::int64_t>(0, std::min(by_state, by_sum));
}

}  // namespace gdr::harness
