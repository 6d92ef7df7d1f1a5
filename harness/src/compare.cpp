#include "gdr/harness/compare.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "gdr/reference/numeric.hpp"

namespace gdr::harness {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ||d|| / ||t||, with ||t|| == 0 read as: no error at all is 0, any error is unbounded.
double relative(double diff_sq, double truth_sq) {
    if (truth_sq > 0) return std::sqrt(diff_sq / truth_sq);
    return diff_sq > 0 ? kInf : 0.0;
}

// NaN, +Inf, -Inf or finite: the classes a non-finite truth must be matched in.
int value_class(double x) {
    if (std::isnan(x)) return 1;
    if (std::isinf(x)) return x > 0 ? 2 : 3;
    return 0;
}

void check_sizes(const SliceInput& in, bool need_emulated) {
    const auto n = in.subject.size();
    auto bad = [&](std::string_view what) {
        throw std::invalid_argument(fmt::format("compare {}: {}", in.label, what));
    };
    if (in.truth.size() != n) bad(fmt::format("truth has {} elements, subject {}", in.truth.size(), n));
    if ((need_emulated || !in.emulated.empty()) && in.emulated.size() != n)
        bad(fmt::format("emulated has {} elements, subject {}", in.emulated.size(), n));
    if (!in.subject_poison.empty() && in.subject_poison.size() != n)
        bad(fmt::format("subject_poison has {} elements, subject {}", in.subject_poison.size(), n));
    if (!in.shape.empty()) {
        std::int64_t product = 1;
        for (auto d : in.shape) product *= d;
        if (product != std::int64_t(n)) bad(fmt::format("shape holds {} elements, subject {}", product, n));
    }
}

// Whether a / b (a, b >= 0) may exceed `best`, at the cost of one multiplication: the
// running maxima of quotients below divide only where this holds, and give bitwise the
// same maxima as dividing everywhere (fl(a / b) >= best needs a >= best b (1 - 2u), and
// fl(best b) is within (1 + u) of best b; a NaN product divides). The divisions' latency
// was most of the comparison's time.
bool may_exceed(double a, double b, double best) { return a > 0 && !(a < best * b * (1 - 0x1p-50)); }

// Keeps the count, the first `keep` and the last `keep` mismatches in flat order.
class MismatchRecorder {
public:
    MismatchRecorder(const SliceInput& in, std::size_t keep) : in_(in), keep_(keep) {}

    void add(std::int64_t i, std::string what) {
        ++count_;
        ++by_what_[what];
        if (first_.size() < keep_) {
            first_.push_back(make(i, std::move(what)));
            return;
        }
        if (keep_ == 0) return;
        last_.push_back(make(i, std::move(what)));
        if (last_.size() > keep_) last_.pop_front();
    }

    void finish(SliceMetrics& m) {
        m.mismatch_count = count_;
        m.first_mismatches = std::move(first_);
        m.last_mismatches.assign(last_.begin(), last_.end());
    }

    std::int64_t count_of(const std::string& what) const {
        auto it = by_what_.find(what);
        return it == by_what_.end() ? 0 : it->second;
    }

private:
    Mismatch make(std::int64_t i, std::string what) const {
        Mismatch mm;
        mm.flat = i;
        mm.index = unravel(i, shape());
        mm.subject = in_.subject[i];
        mm.truth = in_.truth[i];
        mm.emulated = in_.emulated.empty() ? kNaN : in_.emulated[i];
        mm.what = std::move(what);
        return mm;
    }
    std::vector<std::int64_t> shape() const {
        return in_.shape.empty() ? std::vector<std::int64_t>{std::int64_t(in_.subject.size())} : in_.shape;
    }

    const SliceInput& in_;
    std::size_t keep_;
    std::int64_t count_ = 0;
    std::vector<Mismatch> first_;
    std::deque<Mismatch> last_;
    std::map<std::string, std::int64_t> by_what_;
};

// Metrics shared by both modes, over elements where rounded truth and subject are finite.
struct Accumulator {
    double max_abs = -1;
    std::int64_t max_at = -1;
    double max_rel = 0;
    double diff_sq = 0, truth_sq = 0;

    void add(std::int64_t i, double s, double t) {
        const double d = std::abs(s - t);
        if (d > max_abs) {
            max_abs = d;
            max_at = i;
        }
        if (t != 0 && may_exceed(d, std::abs(t), max_rel)) max_rel = std::max(max_rel, d / std::abs(t));
        diff_sq += d * d;
        truth_sq += t * t;
    }
};

SliceMetrics start(const SliceInput& in) {
    SliceMetrics m;
    m.label = in.label;
    m.dim_names = in.dim_names;
    m.elements = std::int64_t(in.subject.size());
    return m;
}

void fill_error_metrics(SliceMetrics& m, const SliceInput& in, const Accumulator& acc) {
    if (acc.max_at >= 0) {
        m.max_abs_error = acc.max_abs;
        m.max_abs_index = unravel(acc.max_at, in.shape.empty() ? std::vector<std::int64_t>{m.elements} : in.shape);
        m.subject_at_max = in.subject[acc.max_at];
        m.truth_at_max = in.truth[acc.max_at];
        m.emulated_at_max = in.emulated.empty() ? kNaN : in.emulated[acc.max_at];
    }
    m.max_rel_error = acc.max_rel;
    m.rel_frobenius = relative(acc.diff_sq, acc.truth_sq);
}

bool is_poison_at(const SliceInput& in, std::size_t i) { return !in.subject_poison.empty() && in.subject_poison[i]; }

void add_why(SliceMetrics& m, const std::string& reason) {
    m.passed = false;
    m.why += (m.why.empty() ? "" : "; ") + reason;
}

void fail_poison_survivors(SliceMetrics& m) {
    if (m.poison_survivors) add_why(m, fmt::format("{} elements never written (poison survived)", m.poison_survivors));
}

// A slice where the subject's declared precision overflowed (SliceInput::operand_overflow):
// R64 is no reference there, so the only rule left is that every element was written.
SliceMetrics judge_poison_only(const SliceInput& in, bool exact, std::size_t keep) {
    SliceMetrics m = start(in);
    m.exact = exact;
    MismatchRecorder rec(in, keep);
    for (std::size_t i = 0; i < in.subject.size(); ++i) {
        const double s = in.subject[i];
        if (is_poison_at(in, i)) {
            ++m.poison_survivors;
            rec.add(std::int64_t(i), "poison");
            continue;
        }
        if (std::isnan(s)) ++m.nan_count;
        if (std::isinf(s)) ++m.inf_count;
        ++m.operand_overflow_unjudged;
    }
    rec.finish(m);
    fail_poison_survivors(m);
    return m;
}

}  // namespace

double SliceMetrics::error_ratio() const {
    if (worst_ratio >= 0) return worst_ratio;
    if (max_abs_error == 0) return 0;
    if (threshold_abs == 0) return kInf;
    return max_abs_error / threshold_abs;
}

double SliceMetrics::error_at_threshold() const {
    if (worst_ratio >= 0 && std::isfinite(worst_ratio)) return worst_ratio * threshold_abs;
    return max_abs_error;
}

std::vector<std::int64_t> unravel(std::int64_t flat, const std::vector<std::int64_t>& shape) {
    std::vector<std::int64_t> index(shape.size());
    for (std::size_t d = shape.size(); d-- > 0;) {
        const std::int64_t extent = std::max<std::int64_t>(shape[d], 1);
        index[d] = flat % extent;
        flat /= extent;
    }
    return index;
}

std::string format_index(const std::vector<std::string>& dim_names, const std::vector<std::int64_t>& index) {
    std::string out = "(";
    for (std::size_t d = 0; d < index.size(); ++d) {
        if (d) out += ", ";
        if (d < dim_names.size() && !dim_names[d].empty()) out += dim_names[d] + "=";
        out += std::to_string(index[d]);
    }
    return out + ")";
}

SliceMetrics judge_slice(const SliceInput& in, const ToleranceRow& row, std::size_t keep) {
    check_sizes(in, true);
    if (in.operand_overflow) return judge_poison_only(in, false, keep);
    SliceMetrics m = start(in);
    const std::size_t n = in.subject.size();

    // This runs for every element of every slice, billions at serving scale: the magnitudes
    // are computed once into the thread's scratch array, and pass 2 computes an element's
    // exact threshold only where a cheap lower bound cannot decide it.
    thread_local std::vector<double> magnitude_scratch;
    if (magnitude_scratch.size() < n) magnitude_scratch.resize(n);
    double* const magnitudes = magnitude_scratch.data();  // M_i = max(|t_i|, magnitude_i)
    const double* const truth = in.truth.data();
    const double* const emulated = in.emulated.data();
    const double* const subject = in.subject.data();
    const double* const flips = in.flip.empty() ? nullptr : in.flip.data();
    const std::uint8_t* const poison = in.subject_poison.empty() ? nullptr : in.subject_poison.data();
    // Whether truth rounds to a finite value in the stored dtype (the rounded value itself
    // only matters on the rare non-finite paths).
    const double overflow = reference::overflow_threshold(in.value_dtype);
    const auto finite_in_dtype = [truth, overflow](std::size_t i) { return std::abs(truth[i]) < overflow; };
    if (in.magnitude.empty()) {
        for (std::size_t i = 0; i < n; ++i) magnitudes[i] = std::max(std::abs(truth[i]), 0.0);
    } else {
        const double* const given = in.magnitude.data();
        for (std::size_t i = 0; i < n; ++i) magnitudes[i] = std::max(std::abs(truth[i]), given[i]);
    }
    const reference::detail::Format value_format = reference::detail::format_of(in.value_dtype),
                                    f32_format = reference::detail::format_of(DType::f32);
    const double floor_ulps = row.floor_ulps;
    // The floor: the store rounds once at the value (|t_i|, in the stored dtype), and the
    // fp32 arithmetic before it rounds at the magnitude of its terms (M_i, in fp32), where
    // Rlp may happen to be exact. ulp(stored dtype, M_i) would let a 16-bit output slip by
    // 2^13 x the fp32 arithmetic's error where the terms cancel.
    const auto floor_at = [=](std::size_t i) {
        return floor_ulps * (reference::ulp(value_format, std::abs(truth[i])) + reference::ulp(f32_format, magnitudes[i]));
    };
    const auto flip_at = [flips](std::size_t i) { return flips ? flips[i] : 0.0; };
    const auto unbounded_at = [flips](std::size_t i) { return flips && !std::isfinite(flips[i]); };

    // Pass 1: the emulated oracle's own error and the slice's magnitude set the thresholds.
    double max_magnitude = 0, e_max = 0, e_relative_max = 0, e_diff_sq = 0, t_sq = 0, magnitude_sq = 0, flip_max = 0,
           flip_sq = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (unbounded_at(i)) {
            ++m.unbounded;
            continue;
        }
        if (!finite_in_dtype(i)) continue;
        const double t = truth[i], e = emulated[i];
        if (!std::isfinite(e)) {
            // Rlp is a legal order too: near the top of the stored dtype it may overflow where
            // R64 rounds to finite (f16: R64 = -65498, Rlp = -Inf), and that element then says
            // nothing about Rlp's error. Anywhere else a non-finite Rlp leaves no valid threshold.
            const double bound = floor_at(i) + flip_at(i);
            const bool legal_overflow = std::isinf(e) && reference::round_to(in.value_dtype, t + std::copysign(bound, e)) == e;
            if (legal_overflow) ++m.emulated_overflows;
            else ++m.emulated_nonfinite;
            continue;
        }
        const double magnitude = magnitudes[i], e_error = std::abs(e - t);
        if (e != t && may_exceed(e_error, magnitude, e_relative_max))
            e_relative_max = std::max(e_relative_max, magnitude > 0 ? e_error / magnitude : kInf);
        max_magnitude = std::max(max_magnitude, magnitude);
        magnitude_sq += magnitude * magnitude;
        if (flips) {
            flip_max = std::max(flip_max, flips[i]);
            flip_sq += flips[i] * flips[i];
        }
        e_max = std::max(e_max, e_error);
        e_diff_sq += (e - t) * (e - t);
        t_sq += t * t;
    }
    m.emulated_max_abs_error = e_max;
    m.emulated_rel_frobenius = relative(e_diff_sq, t_sq);
    // Rounding error scales with the magnitude of the terms summed, not with the result:
    // where they cancel, the floor (and the Frobenius cap's floor term) grow with it.
    // Per element i, at the magnitude M_i of the terms it sums (legal rounding errors scale
    // with it): rho x Rlp's largest error relative to magnitude in the slice, x M_i, + a
    // floor of floor_ulps at M_i, + the computed bound B_i of legal deviations Rlp need not
    // show (the math mode's elementary functions, cache-rounding flips: reference::Magnitudes).
    // A small element is judged at its own scale, not at the slice's largest.
    m.emulated_relative_max = e_relative_max;
    const double rlp_scale = row.rho * e_relative_max;
    const auto threshold_at = [=](std::size_t i) { return rlp_scale * magnitudes[i] + floor_at(i) + flip_at(i); };
    // A lower bound of threshold_at(i) without ulp's bit work: ulp(x) >= max(|x| 2^-p, the
    // subnormal spacing), both exact or rounded down, and every operation after it is
    // monotone, so lower_at(i) <= threshold_at(i) holds for the rounded values too.
    const auto ulp_below = [](const reference::detail::Format& f) {
        return std::pair{std::ldexp(1.0, -f.precision), std::ldexp(1.0, f.min_exponent - f.precision + 1)};
    };
    const auto [value_scale, value_spacing] = ulp_below(value_format);
    const auto [f32_scale, f32_spacing] = ulp_below(f32_format);
    const auto lower_at = [=](std::size_t i) {
        const double floor_below = floor_ulps * (std::max(std::abs(truth[i]) * value_scale, value_spacing) +
                                                 std::max(magnitudes[i] * f32_scale, f32_spacing));
        return rlp_scale * magnitudes[i] + floor_below + flip_at(i);
    };
    // Reported until pass 2 finds the element closest to (or furthest beyond) its threshold.
    m.max_magnitude = max_magnitude;
    m.floor_abs = row.floor_ulps * reference::ulp(in.value_dtype, max_magnitude);
    m.flip_abs = flip_max;
    m.threshold_abs = row.rho * e_relative_max * max_magnitude + m.floor_abs + m.flip_abs;
    const double cancellation = t_sq > 0 ? std::sqrt(magnitude_sq / t_sq) : 1.0;
    m.threshold_frobenius = row.rho * m.emulated_rel_frobenius +
                            row.frobenius_units * reference::unit_roundoff(in.value_dtype) * cancellation +
                            (t_sq > 0 ? std::sqrt(flip_sq / t_sq) : 0.0);

    // Pass 2: judge each element against the thresholds.
    MismatchRecorder rec(in, keep);
    Accumulator acc;
    std::int64_t worst_at = -1;
    for (std::size_t i = 0; i < n; ++i) {
        const double s = subject[i], t = truth[i];
        const auto at = std::int64_t(i);
        if (poison && poison[i]) {
            ++m.poison_survivors;
            rec.add(at, "poison");
            continue;
        }
        if (!std::isfinite(s) || !finite_in_dtype(i) || unbounded_at(i)) {
            // The rare paths, off the loop's common one.
            if (std::isnan(s)) ++m.nan_count;
            if (std::isinf(s)) ++m.inf_count;
            if (unbounded_at(i)) continue;
            const double rounded = reference::round_to(in.value_dtype, t);
            if (!std::isfinite(rounded)) {
                // The reverse of a legal overflow: R64 just beyond the top of the dtype, a legal
                // order's value just below it stores finite; legal within the threshold.
                const bool legal_finite = std::isinf(rounded) && std::isfinite(t) && std::isfinite(s) &&
                                          std::abs(s - t) <= threshold_at(i);
                const bool any_nonfinite = in.nonfinite_inputs && !std::isfinite(s);
                if (value_class(s) != value_class(rounded) && !legal_finite && !any_nonfinite) rec.add(at, "class");
                continue;
            }
            // Near the top of the stored dtype a legal value within the threshold of R64 may
            // round to Inf (f16: anything from 65520 up), so Inf is legal exactly where
            // R64 moved by the threshold towards it would round to the same Inf.
            const bool legal_overflow =
                std::isinf(s) && reference::round_to(in.value_dtype, t + std::copysign(threshold_at(i), s)) == s;
            if (legal_overflow) continue;
            if (in.nonfinite_allowed) ++m.nonfinite_allowed_count;
            else rec.add(at, "non-finite");
            continue;
        }
        acc.add(at, s, t);
        const double error = std::abs(s - t);
        if (worst_at >= 0) {
            // Most elements: within the lower bound, so within the threshold, and below the
            // worst ratio so far even against the lower bound (may_exceed's argument).
            const double lower = lower_at(i);
            if (error <= lower && !may_exceed(error, lower, m.worst_ratio)) continue;
        }
        const double threshold = threshold_at(i);
        if (worst_at < 0 || may_exceed(error, threshold, m.worst_ratio)) {
            const double ratio = error == 0 ? 0.0 : threshold > 0 ? error / threshold : kInf;
            if (worst_at < 0 || ratio > m.worst_ratio) {
                worst_at = at;
                m.worst_ratio = ratio;
            }
        }
        if (error > threshold) rec.add(at, "abs");
    }
    if (worst_at >= 0) {  // the thresholds reported are the worst element's
        const auto i = std::size_t(worst_at);
        m.max_magnitude = magnitudes[i];
        m.floor_abs = floor_at(i);
        m.flip_abs = flip_at(i);
        m.threshold_abs = threshold_at(i);
        m.worst_index = unravel(worst_at, in.shape.empty() ? std::vector<std::int64_t>{m.elements} : in.shape);
    }
    rec.finish(m);
    fill_error_metrics(m, in, acc);

    fail_poison_survivors(m);
    if (const auto c = rec.count_of("non-finite"))
        add_why(m, fmt::format("{} NaN/Inf in the subject where R64 is finite", c));
    if (const auto c = rec.count_of("class"))
        add_why(m, fmt::format("{} elements where R64 is non-finite and the subject is not the same NaN/Inf", c));
    if (const auto c = rec.count_of("abs"))
        add_why(m, fmt::format("{} elements beyond their threshold; worst at {}: error {:.3g} vs threshold {:.3g}; "
                               "max abs error {:.3g}",
                               c, format_index(m.dim_names, m.worst_index), m.error_at_threshold(), m.threshold_abs,
                               m.max_abs_error));
    if (acc.truth_sq > 0) {
        if (m.rel_frobenius > m.threshold_frobenius)
            add_why(m, fmt::format("relative Frobenius error {:.3g} > {:.3g}", m.rel_frobenius, m.threshold_frobenius));
    } else if (acc.diff_sq > 0) {
        // R64 is exactly 0 on every compared element (terms that cancel exactly: e.g. alpha
        // underflowed to 0 and k . q == 0 in fp64), so no relative error exists, and a legal
        // fp32 order leaves residues of the size of the terms' rounding. The same cap with
        // ||t|| multiplied through: ||s - t|| <= rho ||e - t|| + units u ||M|| + ||flip||.
        // (Found by an H200 campaign, fuzz/corpus/decode/regress-zero-truth-cancellation-k2.json.)
        const double allowed = row.rho * std::sqrt(e_diff_sq) +
                               row.frobenius_units * reference::unit_roundoff(in.value_dtype) * std::sqrt(magnitude_sq) +
                               std::sqrt(flip_sq);
        if (std::sqrt(acc.diff_sq) > allowed)
            add_why(m, fmt::format("Frobenius error {:.3g} > {:.3g} (R64 is 0 on the whole slice: judged absolutely)",
                                   std::sqrt(acc.diff_sq), allowed));
    }
    if (m.emulated_nonfinite)
        add_why(m, fmt::format("{} Rlp values non-finite where R64 is finite: no valid threshold", m.emulated_nonfinite));
    return m;
}

SliceMetrics judge_slice_exact(const SliceInput& in, std::size_t keep) {
    check_sizes(in, false);
    if (in.operand_overflow) return judge_poison_only(in, true, keep);
    SliceMetrics m = start(in);
    m.exact = true;
    const std::size_t n = in.subject.size();

    MismatchRecorder rec(in, keep);
    Accumulator acc;
    double e_max = 0, e_diff_sq = 0, t_sq = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double s = in.subject[i], t = in.truth[i];
        const double expected = reference::round_to(in.value_dtype, t);
        const auto at = std::int64_t(i);
        if (is_poison_at(in, i)) {
            ++m.poison_survivors;
            rec.add(at, "poison");
            continue;
        }
        if (std::isnan(s)) ++m.nan_count;
        if (std::isinf(s)) ++m.inf_count;
        // == treats +0 and -0 as equal, which is intended; NaN matches NaN by class.
        const bool equal = !std::isfinite(expected) && in.nonfinite_inputs ? !std::isfinite(s)
                           : std::isnan(expected)                         ? std::isnan(s)
                                                                          : s == expected;
        if (!equal) {
            if (in.nonfinite_allowed && std::isfinite(expected) && !std::isfinite(s)) ++m.nonfinite_allowed_count;
            else rec.add(at, "exact");
        }
        if (std::isfinite(expected) && std::isfinite(s)) acc.add(at, s, t);
        if (!in.emulated.empty() && std::isfinite(in.emulated[i]) && std::isfinite(t)) {
            const double d = in.emulated[i] - t;
            e_max = std::max(e_max, std::abs(d));
            e_diff_sq += d * d;
            t_sq += t * t;
        }
    }
    rec.finish(m);
    fill_error_metrics(m, in, acc);
    m.emulated_max_abs_error = e_max;
    m.emulated_rel_frobenius = relative(e_diff_sq, t_sq);

    fail_poison_survivors(m);
    if (const auto others = rec.count_of("exact"); others > 0)
        add_why(m, fmt::format("{} elements differ from the exactly rounded R64 (exact case, no tolerance); max abs "
                               "error {:.3g}",
                               others, m.max_abs_error));
    return m;
}

BitwiseResult compare_bytes(std::span<const std::byte> a, std::span<const std::byte> b, std::size_t element_size) {
    if (a.size() != b.size())
        throw std::invalid_argument(fmt::format("compare_bytes: sizes differ ({} vs {} bytes)", a.size(), b.size()));
    if (element_size == 0) throw std::invalid_argument("compare_bytes: element_size is 0");
    BitwiseResult r;
    r.bytes = std::int64_t(a.size());
    r.element_size = std::int64_t(element_size);
    // The common verdict, equal, at memcmp's speed (banks are gigabytes); the byte walk
    // below only where something differs.
    if (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0) {
        r.identical = true;
        return r;
    }
    std::int64_t last_element = -1;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i] == b[i]) continue;
        ++r.differing_bytes;
        if (r.first_differing_offset < 0) r.first_differing_offset = std::int64_t(i);
        r.last_differing_offset = std::int64_t(i);
        const auto element = std::int64_t(i / element_size);
        if (element != last_element) {
            ++r.differing_elements;
            last_element = element;
        }
    }
    r.identical = r.differing_bytes == 0;
    return r;
}

BitwiseResult compare_bytes(const void* a, const void* b, std::size_t bytes, std::size_t element_size) {
    return compare_bytes(std::span(static_cast<const std::byte*>(a), bytes),
                         std::span(static_cast<const std::byte*>(b), bytes), element_size);
}

}  // namespace gdr::harness
