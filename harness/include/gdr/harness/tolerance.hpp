// The tolerance table: data, not literals in tests (harness/tolerances.json, compiled in).
// A row is keyed by (subject, input dtype, state dtype, output kind, T bucket, feature);
// each key field is a value or "*" (any). lookup() takes the most specific matching row
// (most non-"*" fields). The table is rejected at load time if some key could match two
// rows of equal, highest specificity, so lookup never has to break a tie silently, and a
// key that matches no row is an error, never a default.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "gdr/core/dtype.hpp"

namespace gdr::harness {

// Malformed table, or a key with no row.
class ToleranceError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class OutputKind { o, state };
std::string_view to_string(OutputKind kind);            // "o", "state"
std::optional<OutputKind> parse_output_kind(std::string_view text);

// Tokens per sequence of the case (for varlen, the longest sequence): "1", "2-8", "9+".
enum class TBucket { t1, t2_8, t9_plus };
std::string_view to_string(TBucket bucket);
std::optional<TBucket> parse_t_bucket(std::string_view text);
// Throws std::invalid_argument for tokens < 1 (a case with no tokens compares nothing).
TBucket t_bucket_for(std::int64_t tokens);

// Feature names a row or a key may use. "default": ordinary inputs. "huge-decay":
// g ~ [-1e4, -50], where alpha = exp(g) underflows and a kernel's fast exp differs from
// the oracle's most; kept separate so it can be calibrated on its own.
inline constexpr std::array<std::string_view, 2> kToleranceFeatures = {"default", "huge-decay"};

// What one comparison is: the lookup key. Every field is concrete.
struct ToleranceKey {
    std::string subject;  // e.g. "cuda-decode", "cpu-emulated-reversed"
    DType input_dtype = DType::bf16;
    DType state_dtype = DType::f32;
    OutputKind kind = OutputKind::o;
    TBucket t_bucket = TBucket::t1;
    std::string feature = "default";
};
std::string to_string(const ToleranceKey& key);  // "subject=cuda-decode input=bf16 ..."

struct ToleranceRow {
    std::string id;
    // nullopt is "*": matches anything.
    std::optional<std::string> subject;
    std::optional<DType> input_dtype;
    std::optional<DType> state_dtype;
    std::optional<OutputKind> kind;
    std::optional<TBucket> t_bucket;
    std::optional<std::string> feature;

    // The rule (compare.hpp, judge_slice), per slice = one value head of one token's o or of
    // one written state slot (runner.cpp says why per head): every element i
    //   |s_i - t_i| <= rho * max_j(|e_j - t_j| / M_j) * M_i
    //                  + floor_ulps * (ulp(stored dtype, |t_i|) + ulp(f32, M_i)) + B_i
    // and relF(s, t) <= rho * relF(e, t) + frobenius_units * u(stored dtype) * ||M|| / ||t||
    //                   + ||B|| / ||t||,
    // maxima and norms over the slice; t = R64, e = Rlp, M = per element the larger of |t|
    // and the magnitude of the terms its step sums (the state's carried across tokens), so
    // each element is judged at its own scale; B = per element the computed bound
    // (reference::Magnitudes: the subject's math mode's elementary-function errors and
    // cache-rounding flips, carried across tokens; elements where B is +Inf, after a
    // possible overflow of the state dtype, are left unjudged).
    double rho = 2.0;
    double floor_ulps = 2.0;
    double frobenius_units = 2.0;

    std::string reason;         // why these numbers
    std::string calibrated_on;  // what data (GPU, cases) they were checked against

    int specificity() const;    // number of non-"*" key fields
    bool matches(const ToleranceKey& key) const;
};

class ToleranceTable {
public:
    // Parses and validates: unknown or missing fields, wrong types, unknown dtype / kind /
    // bucket / feature names, non-finite or negative numbers, empty reasons, duplicate ids
    // and ambiguous rows each throw ToleranceError naming the source, the row and the field.
    static ToleranceTable from_json_text(std::string_view text, std::string source_name);
    static ToleranceTable load_file(const std::filesystem::path& path);
    // The compiled-in harness/tolerances.json.
    static ToleranceTable load_default();

    // The most specific row that matches; throws ToleranceError naming the key otherwise.
    const ToleranceRow& lookup(const ToleranceKey& key) const;
    // Same, but nullptr when no row matches.
    const ToleranceRow* find(const ToleranceKey& key) const;

    const std::vector<ToleranceRow>& rows() const { return rows_; }
    const std::string& source() const { return source_; }

private:
    std::vector<ToleranceRow> rows_;
    std::string source_;
};

// Generated at build time from harness/tolerances.json (src/default_tolerances.cpp.in).
std::string_view default_tolerance_json();

}  // namespace gdr::harness
