// RapidCheck generators of whole test cases (gdr::harness::CaseSpec), shared by the
// property tests and the fuzz campaign (campaign.hpp).
//
// A case is generated as a bundle of independent choices (gen::build over CaseChoices)
// and then mapped to a spec that validate() accepts. Every choice shrinks toward the
// simplest case: B = 1, T = 1, H = HV = 1, K = V = 1 (the configured minimums), one slot, f32 (or the first dtype
// listed), layout KV, no g, no beta, no l2norm, final state written, no indices, no
// circular buffer, fixed length, contiguous strides, default distributions, not exact.
// The seed never shrinks, and tensor values are a pure function of (seed, tensor,
// coordinates), so a shrunk case keeps the values of the elements it still has.
//
//   gdr::harness::CaseGenConfig config;          // everything may appear
//   config.exact = gdr::harness::ExactMode::always;
//   config.circular = false;
//   check_property("...", [&] { const auto spec = *gdr::harness::gen_case(config); ... });
//
// Sizes grow with RapidCheck's size (0..100): early cases are small and fast. Feature
// choices are drawn over all their options at every size.
//
// For chunk (prefill) kernels, CaseGenConfig::chunk_size = C draws the token counts around
// C's chunk boundaries instead of the short decode lengths (chunk_boundary_lengths()).
#pragma once

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <vector>

#include <rapidcheck.h>

#include "gdr/harness/case_spec.hpp"

namespace gdr::harness {

// RapidCheck shows a CaseSpec in counterexamples as its text form (found by ADL).
inline void showValue(const CaseSpec& spec, std::ostream& os) { os << to_text(spec); }

enum class ExactMode { never, sometimes, always };

// Head sizes where kernels change tiling, vector width or masking (powers of two and one
// either side), drawn often by decode_case_config(): uniform draws rarely land on them.
inline const std::vector<std::int64_t>& boundary_head_dims() {
    static const std::vector<std::int64_t> dims{1,  2,  3,  7,  8,   15,  16,  17,  31, 32,
                                                33, 63, 64, 65, 127, 128, 129, 255, 256};
    return dims;
}

// Token counts where a chunk kernel of chunk size C changes what it does: one token, a row
// ending just before, at and just after the first and second chunk boundaries, and a short
// tail after three whole chunks (1, C - 1, C, C + 1, 2C - 1, 2C, 2C + 1, 3C + 1, without
// duplicates or 0, ascending). Drawn often when CaseGenConfig::chunk_size is C.
inline std::vector<std::int64_t> chunk_boundary_lengths(std::int64_t chunk_size) {
    const std::int64_t c = chunk_size;
    std::vector<std::int64_t> lengths{1, c - 1, c, c + 1, 2 * c - 1, 2 * c, 2 * c + 1, 3 * c + 1};
    std::erase_if(lengths, [](std::int64_t length) { return length < 1; });
    std::sort(lengths.begin(), lengths.end());
    lengths.erase(std::unique(lengths.begin(), lengths.end()), lengths.end());
    return lengths;
}

// The longest token count drawn for chunk size C: three whole chunks and a tail.
inline std::int64_t longest_chunk_length(std::int64_t chunk_size) { return 3 * chunk_size + 1; }

// The part of a case that decides which kernel variant a JIT-compiled subject (Triton,
// TileLang) compiles: head counts and sizes, T, layout and dtypes. A shape palette
// (CaseGenConfig::shape_palette) holds a few of them, so that compilation is paid a bounded
// number of times while everything else varies case by case.
//
// Some subjects also compile a variant per feature: TileLang keys its cache on the scale,
// the strides and the mode flags too (lmdeploy), Triton on constexpr flags (fla's g, beta,
// l2norm, varlen). With `with_features` (`gdr fuzz --palette-features`) a palette entry
// fixes those as well, so such a subject compiles at most one variant per entry; B, values,
// indices, inactive rows, slots, cache_seqlens and sequence lengths still vary.
struct CaseShape {
    std::int64_t heads = 1, group = 1, key_dim = 1, value_dim = 1, seq_len = 1;
    Layout layout = Layout::KV;
    DType input_dtype = DType::f32, state_dtype = DType::f32;
    bool gate_is_input = false;
    bool with_features = false;  // the fields below are the entry's, not drawn per case
    bool has_g = false, has_beta = false, l2norm = false, skip_final = false, circular = false, varlen = false;
    bool exact = false;    // exact cases also fix l2norm off and the scale (spec_from_choices)
    int scale_choice = 0;  // as CaseChoices::scale_choice
    StrideRule strides = StrideRule::contiguous;
};

struct CaseGenConfig {
    // Inclusive ranges. RapidCheck's size (0..100) scales how far above the minimum a
    // draw may go, so early cases are small; shrinking goes back to the minimum.
    std::int64_t min_batch = 1, max_batch = 3;
    std::int64_t min_seq_len = 1, max_seq_len = 5;
    std::int64_t min_heads = 1, max_heads = 2;
    std::int64_t min_group = 1, max_group = 3;  // HV / H
    std::int64_t min_key_dim = 1, max_key_dim = 12;
    std::int64_t min_value_dim = 1, max_value_dim = 12;
    // Non-empty: K (V) is drawn from this list instead (shrinks toward the first entry),
    // e.g. the head sizes a kernel supports.
    std::vector<std::int64_t> key_dims, value_dims;
    std::int64_t max_slots = 4;
    std::int64_t max_extra_entries = 3;  // bank entries beyond what the rows need
    std::int64_t max_sequences = 4;      // varlen
    // A chunk kernel's C (0: off). On, T and every varlen sequence's length are drawn in
    // [min_seq_len (varlen: 0), longest_chunk_length(C)] instead of up to max_seq_len: a
    // chunk_boundary_lengths(C) entry (varlen: or 0) in kChunkBoundaryPercent % of draws, a
    // uniform length otherwise, both growing with the size and shrinking toward the shortest.
    std::int64_t chunk_size = 0;

    // Features that may appear (each also may not: they are choices, not forcing).
    bool vk_layout = true;
    bool gates = true;          // g and beta present
    bool l2norm = true;
    bool skip_final_state = true;  // output_final_state = false
    bool explicit_scale = true;
    bool circular = true;
    bool negative_seqlens = true;
    bool varlen = true;
    bool indices = true;        // identity and permutation
    bool inactive_rows = true;  // with permutation
    bool strides = true;        // padded and fused
    bool distributions = true;  // other qk / g / beta / state distributions than the first
    bool gate_input_dtype = true;  // gate dtype = input dtype, not only f32
    // Special values (NaN, +-Inf, subnormals at hashed elements) in about 6 % of cases.
    // Off by default: properties that compare values numerically opt in when they judge
    // them as the harness does (the fuzz distribution, decode_cases.hpp, does).
    bool specials = false;
    std::vector<DType> input_dtypes{DType::f32, DType::bf16, DType::f16};  // first = simplest
    std::vector<DType> state_dtypes{DType::f32, DType::bf16, DType::f16};
    ExactMode exact = ExactMode::sometimes;

    // How often (percent of cases, 0..100) a feature that may appear does appear. Each draw
    // shrinks toward the simpler side (off; the uniform size).
    int exact_percent = 50;     // with ExactMode::sometimes
    int l2norm_percent = 50;    // before exact mode turns it off
    int circular_percent = 50;
    int slots_equal_t_percent = 0;  // of circular cases: Slots = T (the production setting; it wraps)
    // K and V (each) from boundary_head_dims() within the configured range, else as above.
    int boundary_dims_percent = 0;

    // Non-empty: every case takes its shape from one of these (shrinking toward the first
    // entry) instead of drawing it; B, T of varlen sequences, values, indices, inactive rows,
    // slots, cache_seqlens and the feature flags are drawn as without it.
    std::vector<CaseShape> shape_palette;
};

// How often a chunk-length draw (CaseGenConfig::chunk_size) takes a boundary length: most of
// the time, since a uniform draw in [1, 3C + 1] lands on C - 1, C or C + 1 once in C.
inline constexpr int kChunkBoundaryPercent = 75;

// The raw choices; public so that tests can see what a spec was made from.
struct CaseChoices {
    std::int64_t batch = 1, seq_len = 1, heads = 1, group = 1, key_dim = 1, value_dim = 1;
    Layout layout = Layout::KV;
    DType input_dtype = DType::f32, state_dtype = DType::f32;
    bool gate_is_input = false;
    bool has_g = false, has_beta = false, l2norm = false, skip_final = false;
    int scale_choice = 0;  // 0: absent (exact: 1), 1: 1, 2: 1/2, 3: 1/8
    bool circular = false;
    bool slots_equal_t = false;  // with circular and not varlen: slots = seq_len
    std::int64_t slots = 1, seqlen_max = 0, negative_seqlens = 0;
    bool varlen = false;
    std::int64_t sequences = 1;
    std::vector<std::int64_t> lengths;  // max_sequences entries; the first `sequences` are used
    bool cu_i64 = false;
    IndicesRule indices = IndicesRule::none;
    std::int64_t inactive = 0, extra_entries = 0;
    StrideRule strides = StrideRule::contiguous;
    QKDistribution qk = QKDistribution::normal;
    GateDistribution gdist = GateDistribution::weak;
    BetaDistribution bdist = BetaDistribution::uniform;
    double state_scale = 1.0;
    bool exact = false;
    int special_draw = 0;  // 0..99; >= 94: 1 to 3 hashed special values (shrinks to none)
    std::size_t shape_index = 0;  // into CaseGenConfig::shape_palette, when it has entries
    std::uint64_t seed = 0;
};

// The shape of drawn choices; `with_features`: their features too.
inline CaseShape shape_of(const CaseChoices& c, bool with_features = false) {
    CaseShape shape{c.heads, c.group, c.key_dim, c.value_dim, c.seq_len, c.layout, c.input_dtype, c.state_dtype,
                    c.gate_is_input};
    if (with_features) {
        shape.with_features = true;
        shape.has_g = c.has_g, shape.has_beta = c.has_beta, shape.l2norm = c.l2norm, shape.skip_final = c.skip_final;
        shape.circular = c.circular, shape.varlen = c.varlen, shape.exact = c.exact;
        shape.scale_choice = c.scale_choice, shape.strides = c.strides;
    }
    return shape;
}

inline void apply_shape(const CaseShape& shape, CaseChoices& c) {
    c.heads = shape.heads;
    c.group = shape.group;
    c.key_dim = shape.key_dim;
    c.value_dim = shape.value_dim;
    c.seq_len = shape.seq_len;
    c.layout = shape.layout;
    c.input_dtype = shape.input_dtype;
    c.state_dtype = shape.state_dtype;
    c.gate_is_input = shape.gate_is_input;
    if (shape.with_features) {
        c.has_g = shape.has_g, c.has_beta = shape.has_beta, c.l2norm = shape.l2norm, c.skip_final = shape.skip_final;
        c.circular = shape.circular, c.varlen = shape.varlen, c.exact = shape.exact;
        c.scale_choice = shape.scale_choice, c.strides = shape.strides;
    }
}

// The special values a draw asks for: kinds and tensors hashed from the seed, elements
// left to the generator's hash (so that any shape takes them).
inline std::vector<SpecialValue> specials_from_draw(const CaseSpec& s, int draw) {
    std::vector<SpecialValue> out;
    if (draw < 94) return out;
    std::int64_t tokens = 0;
    for (std::int64_t r = 0; r < s.rows(); ++r) tokens += s.row_tokens(r);
    if (tokens == 0) return out;
    std::vector<SpecialTensor> tensors{SpecialTensor::q, SpecialTensor::k, SpecialTensor::v, SpecialTensor::state};
    if (s.has_g) tensors.push_back(SpecialTensor::g);
    if (s.has_beta) tensors.push_back(SpecialTensor::beta);
    std::uint64_t h = s.seed ^ 0x5BEC1A1u;
    for (int i = 0; i < 1 + (draw - 94) / 2; ++i) {
        h = h * 6364136223846793005ull + 1442695040888963407ull;
        const auto tensor = tensors[std::size_t((h >> 33) % tensors.size())];
        // Exact cases take no subnormal: products with one underflow (validate_specials).
        const auto kind = static_cast<SpecialKind>((h >> 17) % (s.exact ? 3 : 4));
        out.push_back(SpecialValue{tensor, kind, {}});
    }
    return out;
}

// The spec the choices describe, fixed up so that validate() accepts it (counts clipped to
// the rows that exist, exact-mode constraints applied: l2norm off, gdist zero, bdist one
// unless half fits exact_halving_budget, a power-of-two scale).
inline CaseSpec spec_from_choices(const CaseChoices& c) {
    CaseSpec s;
    s.seq_len = c.seq_len;
    s.num_heads = c.heads;
    s.num_value_heads = c.heads * c.group;
    s.key_dim = c.key_dim;
    s.value_dim = c.value_dim;
    s.layout = c.layout;
    s.input_dtype = c.input_dtype;
    s.state_dtype = c.state_dtype;
    s.gate_dtype = c.gate_is_input ? c.input_dtype : DType::f32;
    s.has_g = c.has_g;
    s.has_beta = c.has_beta;
    s.use_qk_l2norm = c.l2norm;
    s.output_final_state = !c.skip_final;
    static constexpr double scales[] = {0.0, 1.0, 0.5, 0.125};
    if (c.scale_choice > 0) s.scale = scales[c.scale_choice];

    if (c.varlen) {
        s.varlen = true;
        s.batch = 1;
        s.seq_lengths.assign(c.lengths.begin(), c.lengths.begin() + std::min<std::size_t>(c.lengths.size(), std::size_t(c.sequences)));
        s.seq_len = 0;
        for (const auto len : s.seq_lengths) s.seq_len += len;
        s.cu_seqlens_type = c.cu_i64 ? IndexType::i64 : IndexType::i32;
    } else {
        s.batch = c.batch;
    }
    const std::int64_t rows = s.rows();

    s.indices = c.indices;
    switch (c.indices) {
    case IndicesRule::none: s.bank_entries = 0; break;
    case IndicesRule::identity: s.bank_entries = rows + c.extra_entries; break;
    case IndicesRule::permutation:
        s.inactive_rows = std::min(c.inactive, rows);
        s.bank_entries = std::max<std::int64_t>(1, rows - s.inactive_rows + c.extra_entries);
        break;
    }
    s.slots = c.circular && c.slots_equal_t && !c.varlen ? std::max<std::int64_t>(1, c.seq_len) : c.slots;
    if (c.circular) {
        s.circular = true;
        s.seqlen_max = c.seqlen_max;
        // Spread over 0..rows (min() would make every row inactive whenever the draw is >= rows,
        // a circular case that writes nothing).
        s.negative_seqlens = c.negative_seqlens % (rows + 1);
    }
    s.strides = c.strides;
    s.qk = c.qk;
    s.g = c.gdist;
    s.beta = c.bdist;
    s.state_scale = c.state_scale;
    s.seed = c.seed;

    if (c.exact) {
        s.exact = true;
        s.use_qk_l2norm = false;
        s.g = GateDistribution::zero;
        if (s.beta == BetaDistribution::uniform) s.beta = BetaDistribution::one;
        if (s.beta == BetaDistribution::half && s.longest_row() > exact_halving_budget(s.state_dtype, s.key_dim))
            s.beta = BetaDistribution::one;
        if (!s.scale) s.scale = 1.0;
    }
    s.specials = specials_from_draw(s, c.special_draw);
    return s;
}

namespace detail {

// The top of [lo, hi] reachable at RapidCheck size `size`: it grows with the size and
// reaches hi at size 50, so half of all cases may use the full range (gen::inRange alone
// would reach hi only at size 100).
inline std::int64_t sized_top(std::int64_t lo, std::int64_t hi, int size) {
    return lo + ((hi - lo) * std::min(size, 50) + 49) / 50;
}

// An integer in [lo, hi] that shrinks toward lo, up to sized_top().
inline rc::Gen<std::int64_t> sized(std::int64_t lo, std::int64_t hi) {
    hi = std::max(lo, hi);
    return rc::gen::withSize([lo, hi](int size) {
        return rc::gen::resize(100, rc::gen::inRange<std::int64_t>(lo, sized_top(lo, hi, size) + 1));
    });
}

// gen::element/elementOf never shrink: pick by an index that shrinks toward 0 (the first,
// simplest option) and is drawn over the whole list at every size.
template <typename T>
rc::Gen<T> choose(bool enabled, std::vector<T> options) {
    if (!enabled || options.size() == 1) return rc::gen::just(options.front());
    const std::size_t n = options.size();
    return rc::gen::map(rc::gen::resize(100, rc::gen::inRange<std::size_t>(0, n)),
                        [options = std::move(options)](std::size_t i) { return options[i]; });
}

inline rc::Gen<bool> flag(bool enabled) {
    return enabled ? rc::gen::resize(100, rc::gen::arbitrary<bool>()) : rc::gen::just(false);
}

// True in `percent` % of cases; shrinks toward false.
inline rc::Gen<bool> percent(bool enabled, int percent) {
    if (!enabled || percent <= 0) return rc::gen::just(false);
    if (percent >= 100) return rc::gen::just(true);
    return rc::gen::map(rc::gen::resize(100, rc::gen::inRange(0, 100)), [percent](int i) { return i >= 100 - percent; });
}

// One of the `boundaries` (ascending) in [lo, sized_top()] in `boundary_percent` % of cases
// (so small sizes still give small cases), sized(lo, hi) otherwise; shrinks toward lo.
inline rc::Gen<std::int64_t> sized_or_boundary(std::int64_t lo, std::int64_t hi, std::vector<std::int64_t> boundaries,
                                               int boundary_percent) {
    hi = std::max(lo, hi);
    const auto boundary_within = [lo, boundaries = std::move(boundaries)](std::int64_t top) {
        std::vector<std::int64_t> boundary;
        for (const std::int64_t d : boundaries)
            if (d >= lo && d <= top) boundary.push_back(d);
        return boundary;
    };
    if (boundary_within(hi).empty() || boundary_percent <= 0) return sized(lo, hi);
    return rc::gen::mapcat(percent(true, boundary_percent), [lo, hi, boundary_within](bool at_boundary) {
        if (!at_boundary) return sized(lo, hi);
        return rc::gen::withSize([lo, hi, boundary_within](int size) {
            std::vector<std::int64_t> boundary = boundary_within(sized_top(lo, hi, size));
            return boundary.empty() ? sized(lo, hi) : choose(true, std::move(boundary));
        });
    });
}

// From `list` when non-empty; else sized_or_boundary() over the boundary head sizes.
inline rc::Gen<std::int64_t> dimension(std::int64_t lo, std::int64_t hi, const std::vector<std::int64_t>& list,
                                       int boundary_percent) {
    if (!list.empty()) return choose(true, list);
    return sized_or_boundary(lo, hi, boundary_head_dims(), boundary_percent);
}

// A token count of at least `lo` for chunk size C (CaseGenConfig::chunk_size); lo = 0 (a
// varlen sequence) makes 0 a boundary length too, so empty sequences stay common.
inline rc::Gen<std::int64_t> chunk_length(std::int64_t lo, std::int64_t chunk_size) {
    std::vector<std::int64_t> lengths = chunk_boundary_lengths(chunk_size);
    if (lo == 0) lengths.insert(lengths.begin(), 0);
    return sized_or_boundary(lo, longest_chunk_length(chunk_size), std::move(lengths), kChunkBoundaryPercent);
}

// T (lo = min_seq_len) or a varlen sequence's length (lo = 0): a decode case's few tokens, or
// chunk lengths when C is set.
inline rc::Gen<std::int64_t> token_count(const CaseGenConfig& config, std::int64_t lo) {
    if (config.chunk_size > 0) return chunk_length(lo, config.chunk_size);
    return sized(lo, config.max_seq_len);
}

}  // namespace detail

inline rc::Gen<CaseChoices> gen_case_choices(const CaseGenConfig& config = {}) {
    using detail::choose;
    using detail::flag;
    using detail::sized;
    const bool exact_allowed = config.exact != ExactMode::never;
    std::vector<std::size_t> palette_indices{0};
    for (std::size_t i = 1; i < config.shape_palette.size(); ++i) palette_indices.push_back(i);
    auto choices = rc::gen::build<CaseChoices>(
        rc::gen::set(&CaseChoices::batch, sized(config.min_batch, config.max_batch)),
        rc::gen::set(&CaseChoices::seq_len, detail::token_count(config, config.min_seq_len)),
        rc::gen::set(&CaseChoices::heads, sized(config.min_heads, config.max_heads)),
        rc::gen::set(&CaseChoices::group, sized(config.min_group, config.max_group)),
        rc::gen::set(&CaseChoices::key_dim, detail::dimension(config.min_key_dim, config.max_key_dim, config.key_dims,
                                                              config.boundary_dims_percent)),
        rc::gen::set(&CaseChoices::value_dim, detail::dimension(config.min_value_dim, config.max_value_dim,
                                                                config.value_dims, config.boundary_dims_percent)),
        rc::gen::set(&CaseChoices::layout, choose(config.vk_layout, std::vector<Layout>{Layout::KV, Layout::VK})),
        rc::gen::set(&CaseChoices::input_dtype, choose(true, config.input_dtypes)),
        rc::gen::set(&CaseChoices::state_dtype, choose(true, config.state_dtypes)),
        rc::gen::set(&CaseChoices::gate_is_input, flag(config.gate_input_dtype)),
        rc::gen::set(&CaseChoices::has_g, flag(config.gates)),
        rc::gen::set(&CaseChoices::has_beta, flag(config.gates)),
        rc::gen::set(&CaseChoices::l2norm, detail::percent(config.l2norm, config.l2norm_percent)),
        rc::gen::set(&CaseChoices::skip_final, flag(config.skip_final_state)),
        rc::gen::set(&CaseChoices::scale_choice, choose(config.explicit_scale, std::vector<int>{0, 1, 2, 3})),
        rc::gen::set(&CaseChoices::circular, detail::percent(config.circular, config.circular_percent)),
        rc::gen::set(&CaseChoices::slots_equal_t, detail::percent(config.circular, config.slots_equal_t_percent)),
        rc::gen::set(&CaseChoices::slots, sized(1, config.max_slots)),
        rc::gen::set(&CaseChoices::seqlen_max, sized(0, 3 * config.max_slots)),
        rc::gen::set(&CaseChoices::negative_seqlens,
                     config.negative_seqlens ? sized(0, config.max_batch) : rc::gen::just<std::int64_t>(0)),
        rc::gen::set(&CaseChoices::varlen, flag(config.varlen)),
        rc::gen::set(&CaseChoices::sequences, sized(1, config.max_sequences)),
        rc::gen::set(&CaseChoices::lengths,
                     rc::gen::container<std::vector<std::int64_t>>(std::size_t(std::max<std::int64_t>(1, config.max_sequences)),
                                                                    detail::token_count(config, 0))),
        rc::gen::set(&CaseChoices::cu_i64, flag(config.varlen)),
        rc::gen::set(&CaseChoices::indices,
                     choose(config.indices, std::vector<IndicesRule>{IndicesRule::none, IndicesRule::identity,
                                                                     IndicesRule::permutation})),
        rc::gen::set(&CaseChoices::inactive,
                     config.inactive_rows ? sized(0, config.max_batch) : rc::gen::just<std::int64_t>(0)),
        rc::gen::set(&CaseChoices::extra_entries, sized(0, config.max_extra_entries)),
        rc::gen::set(&CaseChoices::strides,
                     choose(config.strides, std::vector<StrideRule>{StrideRule::contiguous, StrideRule::padded,
                                                                    StrideRule::fused})),
        rc::gen::set(&CaseChoices::qk, choose(config.distributions,
                                              std::vector<QKDistribution>{QKDistribution::normal, QKDistribution::uniform,
                                                                          QKDistribution::l2normalized})),
        rc::gen::set(&CaseChoices::gdist,
                     choose(config.distributions,
                            std::vector<GateDistribution>{GateDistribution::weak, GateDistribution::zero,
                                                          GateDistribution::strong, GateDistribution::huge_negative})),
        rc::gen::set(&CaseChoices::bdist,
                     choose(config.distributions, std::vector<BetaDistribution>{BetaDistribution::uniform,
                                                                                BetaDistribution::one,
                                                                                BetaDistribution::half})),
        rc::gen::set(&CaseChoices::state_scale, choose(config.distributions, std::vector<double>{1.0, 0.0, 0.25, 8.0})),
        rc::gen::set(&CaseChoices::exact, config.exact == ExactMode::always
                                              ? rc::gen::just(true)
                                              : detail::percent(exact_allowed, config.exact_percent)),
        rc::gen::set(&CaseChoices::special_draw,
                     config.specials ? rc::gen::resize(100, rc::gen::inRange(0, 100)) : rc::gen::just(0)),
        // Full-range seeds at every size; never shrunk, so shrinking keeps the values.
        rc::gen::set(&CaseChoices::shape_index, choose(!config.shape_palette.empty(), palette_indices)),
        rc::gen::set(&CaseChoices::seed, rc::gen::noShrink(rc::gen::resize(100, rc::gen::arbitrary<std::uint64_t>()))));
    if (config.shape_palette.empty()) return choices;
    return rc::gen::map(std::move(choices), [palette = config.shape_palette](CaseChoices c) {
        apply_shape(palette[c.shape_index], c);
        return c;
    });
}

// Valid specs drawn per `config`.
inline rc::Gen<CaseSpec> gen_case(const CaseGenConfig& config = {}) {
    return rc::gen::map(gen_case_choices(config), [](const CaseChoices& c) { return spec_from_choices(c); });
}

}  // namespace gdr::harness

namespace rc {
// `[](const gdr::harness::CaseSpec& spec) {...}` properties draw from the default config.
template <>
struct Arbitrary<gdr::harness::CaseSpec> {
    static Gen<gdr::harness::CaseSpec> arbitrary() { return gdr::harness::gen_case(); }
};
}  // namespace rc
