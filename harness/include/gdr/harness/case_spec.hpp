// A problem spec: everything needed to rebuild one test case bit for bit (shapes, flags,
// dtypes, layout, strides, the rules or explicit arrays for state_indices, cache_seqlens
// and sequence lengths, the value distributions, the seed). It has a one-line text form
// ("B=2 T=3 H=1 HV=2 K=5 V=7 layout=vk ... seed=42") used by the CLI, the reproduce
// commands and replay files, and a JSON form; both round-trip exactly.
//
// Text keys, in canonical order (JSON uses the same keys):
//   B T H HV K V         sizes (int)                  batch, seq_len, num_heads, num_value_heads, key_dim, value_dim
//   layout               kv | vk                      state layout
//   in gate state        f32 | f16 | bf16             input (q, k, v, o), gate (g, beta) and state dtypes
//   g beta               0 | 1                        has_g, has_beta (0: the tensor is absent)
//   l2norm final         0 | 1                        use_qk_l2norm, output_final_state
//   scale                number, or key left out      absent: 1/sqrt(K)
//   N slots              int                          bank_entries (0: one per row), slots
//   indices              none | identity | permutation
//   inactive             int                          inactive_rows (permutation only)
//   explicit_indices     comma-separated int64        replaces the rule; each in [-64, N + 64) (bank_arena.hpp)
//   circular             0 | 1
//   seqlen_max           int                          cache_seqlens drawn in [0, seqlen_max]
//   neg_seqlens          int                          negative_seqlens: rows given a negative cache_seqlen
//   cache_seqlens        comma-separated int32        explicit_cache_seqlens, replaces the rule
//   varlen               0 | 1
//   seq_lengths          comma-separated int64        one per sequence (varlen only; T must be their sum)
//   cu_type              i32 | i64                    cu_seqlens_type
//   strides              contiguous | padded | fused
//   qk                   normal | l2normalized | uniform
//   gdist                weak | strong | zero | huge_negative
//   bdist                uniform | one | half
//   state_scale          number
//   generator            1 | 2                        how the bank's N(0,1) draws are made (default 2;
//                                                     1: the values of gdr-replay/1 files)
//   exact                0 | 1
//   specials             ITEM,ITEM,...                special values (special_values.hpp), e.g.
//                        v:nan@1.0.2.3,state:inf,k:sub   ITEM = TENSOR:KIND[@COORDS]: TENSOR q k v g
//                        beta state; KIND nan inf -inf sub; COORDS dot-separated logical
//                        coordinates (q, k, v: row.position.head.i; g, beta: row.position.hv;
//                        state: entry.slot.hv.k.v), left out: an element hashed from the seed
//   seed                 uint64
// Booleans are 0/1, enum values lowercase words (dtypes also accept fp32, bfloat16, ...),
// doubles are printed in the shortest form that reads back to the same bits. In JSON,
// booleans are true/false, lists are arrays, enums strings, and scale may be null.
//
// Decisions (validate() enforces them):
// - A distribution of an absent tensor is ignored (gdist with g=0, bdist with beta=0);
//   so is qk in exact mode and cu_type without varlen. Counts and arrays that belong to a
//   feature that is off are errors instead (inactive without indices=permutation,
//   seqlen_max / neg_seqlens / cache_seqlens without circular=1, seq_lengths without
//   varlen=1), since they would silently test nothing.
// - Explicit arrays replace the rule (indices must stay none, inactive/seqlen_max/
//   neg_seqlens 0) and are taken as given apart from their length and duplicates: two
//   active rows (index in [0, N), and not given a negative cache_seqlen) on one entry are
//   invalid input (key explicit_indices), as docs/SPEC.md says.
// - varlen=1 needs B=1 and T = sum(seq_lengths).
// - Exact mode is rejected, not silently repaired: it needs l2norm=0, g=0 or gdist=zero,
//   beta=0 or bdist one|half, an explicit power-of-two scale, and with bdist=half at most
//   exact_halving_budget(state, K) tokens per row (generate.hpp explains why).
// - Bounds, so that a fuzzed spec cannot allocate terabytes: every size and list length
//   <= 2^20, every tensor (with its stride padding) and the bank <= 2^31 elements.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "gdr/core/dtype.hpp"

namespace gdr::harness {

// How state_indices is made. none: no array (N == rows, row b uses entry b).
// identity: [0, 1, ..., rows-1]. permutation: distinct entries drawn from a larger bank
// [0, N), with `inactive_rows` rows made inactive (-1, -5, N, N + 7 in turn).
enum class IndicesRule { none, identity, permutation };

// How q, k, v are laid out. contiguous: dense tensors. padded: token and head strides
// padded beyond the dense size. fused: q, k, v are views into one fused projection
// [B, T, 2*H*K + HV*V] (q, k, v heads side by side), as serving engines pass them.
enum class StrideRule { contiguous, padded, fused };

// Value distributions.
enum class QKDistribution { normal, l2normalized, uniform };      // before in-kernel l2norm, if on
enum class GateDistribution { weak, strong, zero, huge_negative };  // g: log decay; weak ~ [-0.1, 0], strong ~ [-5, -0.5], huge_negative ~ [-1e4, -50]
enum class BetaDistribution { uniform, one, half };                 // beta in [0,1], exactly 1, exactly 1/2

// A special value placed into one element of an input (docs/SPEC.md "Special values").
enum class SpecialTensor { q, k, v, g, beta, state };
enum class SpecialKind { nan, pos_inf, neg_inf, subnormal };  // subnormal: 0.375 x the dtype's smallest normal
struct SpecialValue {
    SpecialTensor tensor = SpecialTensor::v;
    SpecialKind kind = SpecialKind::nan;
    std::vector<std::int64_t> at;  // logical coordinates (see the key list); empty: hashed
    bool operator==(const SpecialValue&) const = default;
};

// The generator version of new cases (CaseSpec::generator).
inline constexpr std::int64_t kCurrentGenerator = 2;

struct CaseSpec {
    // Shapes. varlen: `batch` must be 1 and `seq_lengths` gives each sequence's length
    // (seq_len = their sum); otherwise every one of `batch` rows has `seq_len` tokens.
    std::int64_t batch = 1;
    std::int64_t seq_len = 1;
    std::int64_t num_heads = 1;
    std::int64_t num_value_heads = 1;
    std::int64_t key_dim = 16;
    std::int64_t value_dim = 16;
    Layout layout = Layout::KV;

    DType input_dtype = DType::bf16;
    DType gate_dtype = DType::f32;
    DType state_dtype = DType::f32;

    bool has_g = true;
    bool has_beta = true;
    bool use_qk_l2norm = true;
    bool output_final_state = true;
    std::optional<double> scale;  // absent: 1/sqrt(K)

    // The bank: N entries (0 = as many as rows) of `slots` slots.
    std::int64_t bank_entries = 0;
    std::int64_t slots = 1;

    IndicesRule indices = IndicesRule::none;
    std::int64_t inactive_rows = 0;
    std::vector<std::int64_t> explicit_indices;  // non-empty: used instead of the rule

    // Circular mode: cache_seqlens present. Each row's value is drawn in
    // [0, seqlen_max] (so wraparound past multiples of Slots happens), with
    // `negative_seqlens` rows set negative (inactive).
    bool circular = false;
    std::int64_t seqlen_max = 0;
    std::int64_t negative_seqlens = 0;
    std::vector<std::int32_t> explicit_cache_seqlens;  // non-empty: used instead

    // Varlen.
    bool varlen = false;
    std::vector<std::int64_t> seq_lengths;  // one per sequence, may contain 0
    IndexType cu_seqlens_type = IndexType::i32;

    StrideRule strides = StrideRule::contiguous;

    QKDistribution qk = QKDistribution::normal;
    GateDistribution g = GateDistribution::weak;
    BetaDistribution beta = BetaDistribution::uniform;
    double state_scale = 1.0;  // initial bank values ~ state_scale * N(0,1)
    // How the bank's N(0,1) draws are made (generate.hpp): 2, the default, one hashed pair
    // per two elements (Marsaglia's polar method); 1, Box-Muller per element, the values of
    // replay files of format gdr-replay/1, which keep them.
    std::int64_t generator = kCurrentGenerator;
    // Exact mode: g = 0, beta in {1, 1/2}, one-hot k, few-bit dyadic q, v and state,
    // chosen so that every operation is exact; results are compared bitwise.
    bool exact = false;

    // NaN, +-Inf or subnormals placed after generation (at most 64).
    std::vector<SpecialValue> specials;

    std::uint64_t seed = 0;

    std::int64_t rows() const;                // batch, or the number of sequences
    std::int64_t resolved_bank_entries() const;  // bank_entries, or rows() when 0
    std::int64_t row_tokens(std::int64_t row) const;  // seq_len, or the row's varlen length
    std::int64_t longest_row() const;                 // the most tokens of any row

    bool operator==(const CaseSpec&) const = default;
};

// Throws gdr::InvalidArgument naming the spec key (e.g. "K", "slots", "indices") for
// anything inconsistent: sizes < 0 (or < 1 where docs/SPEC.md needs it), HV % H != 0,
// inactive_rows > rows, a permutation that needs more distinct entries than N, explicit
// arrays of the wrong length, varlen with batch != 1, gate dtype not f32/input, ...
void validate(const CaseSpec& spec);

// Exact mode with beta = 1/2: the most tokens per row whose results stay exact (each
// token may halve the grid of one state row) for this state dtype and key size.
std::int64_t exact_halving_budget(DType state_dtype, std::int64_t key_dim);

// The case-spec text's name of a stride rule ("contiguous", "padded", "fused").
std::string to_string(StrideRule rule);

// One line, `key=value` separated by single spaces, canonical key order; every field
// that differs from the default is written, and always B T H HV K V layout dtypes seed.
std::string to_text(const CaseSpec& spec);
// Parses the text form; unknown keys, malformed values and repeated keys are
// InvalidArgument naming the key. Missing keys keep their defaults. Validates.
CaseSpec parse_text(const std::string& text);

nlohmann::json to_json(const CaseSpec& spec);
// Unknown keys are errors, as in parse_text. Validates.
CaseSpec from_json(const nlohmann::json& json);

}  // namespace gdr::harness
