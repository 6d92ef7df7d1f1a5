// Comparison metrics and the pass rule for one slice of an output (one token's o, one
// written state slot), and a bitwise compare for untouched memory and determinism.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gdr/core/dtype.hpp"
#include "gdr/harness/tolerance.hpp"

namespace gdr::harness {

// One slice, already decoded to double. subject: the implementation under test; truth:
// R64 (fp64, unrounded); emulated: Rlp (the emulated-precision oracle run).
struct SliceInput {
    std::string label;                   // e.g. "o[b=1,t=0]" or "state[n=3,slot=1]"
    std::vector<std::string> dim_names;  // e.g. {"hv", "v"} or {"hv", "k", "v"}
    std::vector<std::int64_t> shape;     // of the slice, row-major; product == subject.size()
    std::span<const double> subject;
    std::span<const double> truth;
    std::span<const double> emulated;    // judge_slice: same size; judge_slice_exact: may be empty
    // 1 where the subject's bytes still hold the poison pattern. May be empty (no poison
    // information); a poison element still decodes to NaN and fails as non-finite then.
    std::span<const std::uint8_t> subject_poison;
    DType value_dtype = DType::f32;      // the dtype the subject stored
    // judge_slice: per element, the magnitude of the terms the last step summed
    // (reference::Magnitudes); the ulp floor sits at the slice's largest. May be empty:
    // then |truth| (right where nothing cancels).
    std::span<const double> magnitude = {};
    // judge_slice: per element, the computed bound on a legal deviation that Rlp cannot show
    // (reference::Magnitudes::o_flip: the declared math mode's elementary-function errors
    // and cache-rounding flips, carried across tokens); the slice's largest finite one is
    // added to the threshold. +Inf (or NaN): a legal order may overflow where R64 does not,
    // or the reverse, before this element; it is left unjudged (counted in `unbounded`).
    // May be empty: no such deviation.
    std::span<const double> flip = {};
    // The case places NaN or Inf among its inputs (spec key specials). Then where R64 is
    // non-finite any NaN or Inf matches: inf - inf and 0 x inf make the class depend on the
    // order of operations (h + k beta (v - k^T h) and (I - beta k k^T) h + beta k v give NaN
    // and -Inf for the same inputs). Without them a non-finite R64 is an overflow, whose
    // class a legal result must have.
    bool nonfinite_inputs = false;
    // The slice lies in a chunk that a NaN or Inf input of a chunk kernel may poison
    // (docs/SPEC.md, chunked path; NonfiniteChunks): where R64 rounded is finite, a NaN or
    // Inf of the subject is left unjudged (counted in `nonfinite_allowed_count`) and out of
    // every metric; finite values are judged as anywhere else.
    bool nonfinite_allowed = false;
    // The slice lies where a chunk kernel's declared precision overflowed: Rlp, its emulated
    // run, rounded a finite intermediate it declares (ChunkRoundingPoints) to an infinity in
    // this (row, value head) at or before this slice's chunk (docs/SPEC.md, chunked path).
    // R64 is no reference for what that precision computes afterwards: no element is judged
    // (counted in `operand_overflow_unjudged`), finite or not, but poison still fails.
    bool operand_overflow = false;
};

struct Mismatch {
    std::int64_t flat = 0;             // row-major index within the slice
    std::vector<std::int64_t> index;   // the same, per dimension of the slice
    double subject = 0, truth = 0, emulated = 0;
    // "abs" (beyond threshold_abs), "non-finite" (subject NaN/Inf, truth finite),
    // "class" (truth non-finite, subject a different class), "poison" (never written),
    // "exact" (exact mode: differs from round_to(value_dtype, truth)).
    std::string what;
};

struct SliceMetrics {
    std::string label;
    std::vector<std::string> dim_names;
    std::int64_t elements = 0;

    // Over elements where truth (rounded to value_dtype) is finite and the subject finite.
    double max_abs_error = 0;                 // max |s - t|
    std::vector<std::int64_t> max_abs_index;  // where; empty when no such element
    double subject_at_max = 0, truth_at_max = 0, emulated_at_max = 0;
    double max_rel_error = 0;                 // max |s - t| / |t| over t != 0
    double rel_frobenius = 0;                 // ||s - t|| / ||t||; ||t|| == 0: 0 if s == t there, else inf
    double emulated_max_abs_error = 0;        // max |e - t|
    double emulated_rel_frobenius = 0;        // ||e - t|| / ||t||, same convention

    // judge_slice judges element i against rho * emulated_relative_max * M_i + floor_ulps *
    // ulp(M_i) + flip_i (M_i: the larger of |t_i| and magnitude_i). The slice's numbers below
    // are those of its worst element (largest error / threshold; worst_index), or of the
    // largest magnitude when nothing was compared. 0 in exact mode.
    double threshold_abs = 0;        // rho * emulated_relative_max * max_magnitude + floor_abs + flip_abs
    // rho * emulated_rel_frobenius + units * u * (||magnitude|| / ||t||) (0 in exact mode)
    double threshold_frobenius = 0;
    double max_magnitude = 0;        // M at the worst element
    double emulated_relative_max = 0;        // max over the slice of |e - t| / M
    double worst_ratio = -1;                 // max of |s - t| / threshold_i; -1: not judged per element
    std::vector<std::int64_t> worst_index;   // where
    double flip_abs = 0;             // the computed bound (`flip`) at the worst element
    double floor_abs = 0;            // floor_ulps * ulp(value_dtype, max_magnitude)

    std::int64_t mismatch_count = 0;
    std::vector<Mismatch> first_mismatches;  // in flat order, at most `keep` each
    std::vector<Mismatch> last_mismatches;   // the last ones not already in first_mismatches

    std::int64_t nan_count = 0;             // subject NaNs that are not poison
    std::int64_t inf_count = 0;             // subject infinities
    std::int64_t poison_survivors = 0;
    std::int64_t emulated_nonfinite = 0;    // Rlp non-finite where truth is finite: no valid threshold
    // Rlp overflowed where R64 rounds to finite, within the floor and the computed bound of the
    // top of the stored dtype (a legal order may): left out of Rlp's error, judged as usual.
    std::int64_t emulated_overflows = 0;
    std::int64_t unbounded = 0;             // elements whose computed bound is not finite: unjudged
    // NaN/Inf where R64 is finite, in a chunk a non-finite input may poison (nonfinite_allowed): unjudged
    std::int64_t nonfinite_allowed_count = 0;
    // Elements of a slice where the declared precision overflowed (operand_overflow): unjudged
    std::int64_t operand_overflow_unjudged = 0;

    bool exact = false;  // judged by judge_slice_exact
    bool passed = true;
    std::string why;     // empty when passed; otherwise every rule that failed, "; "-joined

    // max_abs_error / threshold_abs (inf when the threshold is 0 and the error is not),
    // for ranking slices; 0 when both are 0.
    double error_ratio() const;
    // The error at the element that threshold_abs belongs to (the worst element when judged
    // per element, else max_abs_error): the pair a report prints side by side. The slice's
    // max_abs_error may sit at a larger element with a larger threshold.
    double error_at_threshold() const;
};

// Per element: poison survivors fail; where round_to(value_dtype, truth) is non-finite
// the subject must be the same class (NaN, +Inf or -Inf: overflow to Inf is the correct
// rounding of a finite fp64 value beyond the dtype's range) and the element is left out
// of the numeric metrics; where it is finite, a non-finite subject fails (unless the slice
// is nonfinite_allowed), and a finite one must satisfy |s - t| <= threshold_abs. Per
// slice, rel_frobenius <= threshold_frobenius.
// A non-finite Rlp where truth is finite fails the slice: the threshold would be infinite.
// An operand_overflow slice is judged for poison only (both judges).
// Throws std::invalid_argument when sizes disagree.
SliceMetrics judge_slice(const SliceInput& input, const ToleranceRow& row, std::size_t keep = 5);

// For exact cases (every operation exact): the subject must equal round_to(value_dtype,
// truth) exactly; +0 and -0 are equal (docs/SPEC.md leaves the sign of a zero result to the
// order of operations, e.g. -0 + 0 vs 0 + -0, and no consumer can tell them apart), NaN
// equals NaN; anything else, poison included, is a mismatch, but for NaN or Inf where the
// rounded R64 is finite in a nonfinite_allowed slice (counted, not judged).
SliceMetrics judge_slice_exact(const SliceInput& input, std::size_t keep = 5);

// Row-major unravel of `flat` over `shape`.
std::vector<std::int64_t> unravel(std::int64_t flat, const std::vector<std::int64_t>& shape);
// "(hv=3, v=5)"; falls back to "(3, 5)" when names are missing.
std::string format_index(const std::vector<std::string>& dim_names, const std::vector<std::int64_t>& index);

struct BitwiseResult {
    std::int64_t bytes = 0;                     // compared bytes
    std::int64_t element_size = 1;
    std::int64_t differing_bytes = 0;
    std::int64_t differing_elements = 0;        // elements with at least one differing byte
    std::int64_t first_differing_offset = -1;   // byte offset, -1 when identical
    std::int64_t last_differing_offset = -1;
    bool identical = true;
};

// Byte-for-byte compare (memcmp semantics, no tolerance): untouched bank entries against
// a snapshot, guard bands, two runs of one case. Throws std::invalid_argument when the
// sizes differ or element_size is 0.
BitwiseResult compare_bytes(std::span<const std::byte> a, std::span<const std::byte> b, std::size_t element_size = 1);
BitwiseResult compare_bytes(const void* a, const void* b, std::size_t bytes, std::size_t element_size = 1);

}  // namespace gdr::harness
