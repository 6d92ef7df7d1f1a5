// Metrics on known answers, and the pass rule fed right and wrong answers: every kind of
// check here is shown failing on a wrong answer, not only passing on a right one.
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <random>
#include <cstring>
#include <limits>
#include <vector>

#include "gdr/core/poison.hpp"
#include "gdr/harness/compare.hpp"
#include "gdr/reference/numeric.hpp"

using namespace gdr;
using namespace gdr::harness;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Owns the arrays a SliceInput views.
struct Slice {
    std::vector<double> subject, truth, emulated, magnitude, flip;
    std::vector<std::uint8_t> poison;
    std::vector<std::int64_t> shape;
    DType dtype = DType::f32;
    bool nonfinite_inputs = false;
    bool nonfinite_allowed = false;
    bool operand_overflow = false;

    SliceInput input() const {
        SliceInput in;
        in.label = "o[b=0,t=0]";
        in.dim_names = {"hv", "v"};
        in.shape = shape;
        in.subject = subject;
        in.truth = truth;
        in.emulated = emulated;
        in.subject_poison = poison;
        in.value_dtype = dtype;
        in.magnitude = magnitude;
        in.flip = flip;
        in.nonfinite_inputs = nonfinite_inputs;
        in.nonfinite_allowed = nonfinite_allowed;
        in.operand_overflow = operand_overflow;
        return in;
    }
};

ToleranceRow rule(double rho = 2, double floor_ulps = 2, double frobenius_units = 2) {
    ToleranceRow row;
    row.id = "test";
    row.rho = rho;
    row.floor_ulps = floor_ulps;
    row.frobenius_units = frobenius_units;
    return row;
}

// 2 x 3 slice; Rlp's error is 2e-6 at its worst, so the threshold is 4e-6 + 2 ulp(f32, 4).
Slice known() {
    Slice s;
    s.shape = {2, 3};
    s.truth = {1, -2, 3, 4, 0.5, -0.25};
    s.emulated = s.truth;
    s.emulated[0] += 1e-6;
    s.emulated[2] -= 2e-6;
    s.subject = s.truth;
    s.subject[3] += 3e-6;
    return s;
}

// Element i's threshold: rho x Rlp's largest error relative to magnitude (1e-6 / 1, at
// element 0) x |t_i| + 2 ulps of the store at |t_i| + 2 ulps of fp32 at the magnitude (|t_i|).
double threshold_for(double t) { return 2 * 1e-6 * std::abs(t) + 4 * reference::ulp(DType::f32, t); }
double known_threshold() { return threshold_for(4.0); }  // at element 3, the one that errs

}  // namespace

TEST_CASE("judge_slice: metrics on a known answer", "[compare]") {
    const Slice s = known();
    const SliceMetrics m = judge_slice(s.input(), rule());
    CHECK(m.passed);
    CHECK(m.why.empty());
    CHECK(m.elements == 6);
    CHECK(m.max_abs_error == Approx(3e-6).epsilon(1e-9));
    CHECK(m.max_abs_index == std::vector<std::int64_t>{1, 0});
    CHECK(m.subject_at_max == s.subject[3]);
    CHECK(m.truth_at_max == 4.0);
    CHECK(m.emulated_at_max == 4.0);
    CHECK(m.max_rel_error == Approx(3e-6 / 4).epsilon(1e-9));
    const double truth_norm = std::sqrt(1 + 4 + 9 + 16 + 0.25 + 0.0625);
    CHECK(m.rel_frobenius == Approx(3e-6 / truth_norm).epsilon(1e-9));
    CHECK(m.emulated_max_abs_error == Approx(2e-6).epsilon(1e-9));
    CHECK(m.emulated_rel_frobenius == Approx(std::sqrt(5e-12) / truth_norm).epsilon(1e-9));
    CHECK(m.floor_abs == 4 * reference::ulp(DType::f32, 4.0));
    CHECK(m.threshold_abs == Approx(known_threshold()).epsilon(1e-9));
    CHECK(m.worst_index == std::vector<std::int64_t>{1, 0});
    CHECK(m.threshold_frobenius ==
          Approx(2 * m.emulated_rel_frobenius + 2 * reference::unit_roundoff(DType::f32)).epsilon(1e-9));
    CHECK(m.mismatch_count == 0);
    CHECK(m.nan_count == 0);
    CHECK(m.inf_count == 0);
    CHECK(m.poison_survivors == 0);
    CHECK(m.error_ratio() == Approx(3e-6 / known_threshold()));
}

TEST_CASE("judge_slice: one element 10x beyond the threshold is named", "[compare]") {
    Slice s = known();
    s.subject[4] = s.truth[4] + 10 * known_threshold();
    const SliceMetrics m = judge_slice(s.input(), rule());
    CHECK_FALSE(m.passed);
    CHECK(m.mismatch_count == 1);
    REQUIRE(m.first_mismatches.size() == 1);
    CHECK(m.last_mismatches.empty());
    CHECK(m.first_mismatches[0].flat == 4);
    CHECK(m.first_mismatches[0].index == std::vector<std::int64_t>{1, 1});
    CHECK(m.first_mismatches[0].what == "abs");
    CHECK(m.first_mismatches[0].subject == s.subject[4]);
    CHECK(m.first_mismatches[0].truth == 0.5);
    CHECK(m.max_abs_index == std::vector<std::int64_t>{1, 1});
    CHECK(m.why.find("beyond their threshold") != std::string::npos);
}

TEST_CASE("judge_slice: an error just inside passes and just outside fails", "[compare]") {
    Slice s = known();
    const double t = threshold_for(s.truth[5]);  // per element, at its own magnitude
    s.subject[5] = s.truth[5] + 0.99 * t;
    CHECK(judge_slice(s.input(), rule(2, 2, 1e6)).passed);
    s.subject[5] = s.truth[5] + 1.01 * t;
    CHECK_FALSE(judge_slice(s.input(), rule(2, 2, 1e6)).passed);
}

TEST_CASE("judge_slice: the relative Frobenius cap fails a spread error", "[compare]") {
    // Rlp errs in one element (large max, small norm); the subject errs a little everywhere.
    Slice s;
    s.shape = {10, 10};
    s.truth.assign(100, 1.0);
    s.emulated = s.truth;
    s.emulated[7] += 1e-5;
    s.subject = s.truth;
    for (double& x : s.subject) x += 1.5e-5;
    const SliceMetrics m = judge_slice(s.input(), rule());
    CHECK(m.mismatch_count == 0);
    CHECK(m.rel_frobenius == Approx(1.5e-5));
    CHECK_FALSE(m.passed);
    CHECK(m.why.find("Frobenius") != std::string::npos);
}

TEST_CASE("judge_slice: where the summed terms cancel, the floor sits at their magnitude", "[compare]") {
    // One element: R64 = 0.001 from terms of magnitude 1 (what a K-sum with cancellation
    // gives). Rlp happens to be exact; a legal order is off by 4 ulps of the terms.
    Slice s;
    s.shape = {1, 1};
    s.truth = {0.001};
    s.emulated = s.truth;
    const double term_ulp = reference::ulp(DType::f32, 1.0);
    s.subject = {0.001 + 4 * term_ulp};
    CHECK_FALSE(judge_slice(s.input(), rule(2, 2, 1e6)).passed);  // floor at |R64|: 2 ulps of 0.001

    s.magnitude = {1.0};
    const SliceMetrics m = judge_slice(s.input(), rule(2, 8, 16));
    CHECK(m.max_magnitude == 1.0);
    CHECK(m.floor_abs == 8 * (term_ulp + reference::ulp(DType::f32, 0.001)));  // fp32 at M, the store at |t|
    CHECK(m.passed);
    // The Frobenius cap's floor term grows by the same factor (1 / 0.001): 16 u x 1000.
    CHECK(m.threshold_frobenius == Approx(16 * reference::unit_roundoff(DType::f32) * 1000));

    // A wrong answer is still wrong: 10 ulps of the terms beyond an 8-ulp floor.
    s.subject = {0.001 + 10 * term_ulp};
    CHECK_FALSE(judge_slice(s.input(), rule(2, 8, 16)).passed);
}

TEST_CASE("judge_slice: one cache-rounding flip is allowed, two are not", "[compare]") {
    // A token after a low-precision round trip: the subject read one state element back
    // one ulp off, which moved this o element by 1e-3 (the flip allowance R64 computed).
    Slice s;
    s.shape = {1, 2};
    s.truth = {1.0, 2.0};
    s.emulated = s.truth;
    s.flip = {1e-3, 5e-4};
    s.subject = {1.0 + 1e-3, 2.0};
    const SliceMetrics m = judge_slice(s.input(), rule(2, 2, 4));
    CHECK(m.flip_abs == 1e-3);
    CHECK(m.passed);
    s.subject = {1.0 + 2e-3, 2.0};  // twice the largest single flip
    CHECK_FALSE(judge_slice(s.input(), rule(2, 2, 4)).passed);
    s.flip.clear();  // no round trip before this token: the first error alone fails
    s.subject = {1.0 + 1e-3, 2.0};
    CHECK_FALSE(judge_slice(s.input(), rule(2, 2, 4)).passed);
}

TEST_CASE("judge_slice: a magnitude below |R64| never lowers the floor", "[compare]") {
    Slice s = known();
    s.magnitude.assign(s.truth.size(), 0.0);
    const SliceMetrics m = judge_slice(s.input(), rule());
    CHECK(m.max_magnitude == 4.0);
    CHECK(m.floor_abs == 4 * reference::ulp(DType::f32, 4.0));
}

TEST_CASE("judge_slice: NaN and Inf in the subject fail", "[compare]") {
    Slice s = known();
    s.subject[2] = kNaN;
    s.subject[1] = -kInf;
    const SliceMetrics m = judge_slice(s.input(), rule());
    CHECK_FALSE(m.passed);
    CHECK(m.nan_count == 1);
    CHECK(m.inf_count == 1);
    CHECK(m.mismatch_count == 2);
    REQUIRE(m.first_mismatches.size() == 2);
    CHECK(m.first_mismatches[0].flat == 1);
    CHECK(m.first_mismatches[0].what == "non-finite");
    CHECK(m.first_mismatches[1].flat == 2);
    // The finite elements still give the error metrics.
    CHECK(m.max_abs_index == std::vector<std::int64_t>{1, 0});
    CHECK(m.why.find("NaN/Inf") != std::string::npos);
}

TEST_CASE("judge_slice: in a slice a non-finite input may poison, NaN and Inf where R64 is finite are not judged",
          "[compare]") {
    // docs/SPEC.md, chunked path: o in the chunk of a NaN/Inf input of a chunk kernel.
    Slice s = known();
    s.subject[2] = kNaN;
    s.subject[1] = -kInf;
    s.nonfinite_allowed = true;
    SliceMetrics m = judge_slice(s.input(), rule());
    CHECK(m.passed);
    CHECK(m.nonfinite_allowed_count == 2);
    CHECK(m.mismatch_count == 0);
    CHECK(m.nan_count == 1);
    CHECK(m.inf_count == 1);
    // Out of every metric, as the Frobenius cap needs: the others' numbers are unchanged.
    Slice finite = known();
    finite.truth[1] = finite.emulated[1] = finite.subject[1] = 0;
    finite.truth[2] = finite.emulated[2] = finite.subject[2] = 0;
    const SliceMetrics without = judge_slice(finite.input(), rule());
    CHECK(m.max_abs_error == without.max_abs_error);
    CHECK(m.rel_frobenius == without.rel_frobenius);
    CHECK(m.max_rel_error == without.max_rel_error);
    CHECK(m.worst_ratio == without.worst_ratio);

    // A finite value there is still judged against its threshold.
    s.subject[4] = s.truth[4] + 10 * known_threshold();
    m = judge_slice(s.input(), rule());
    CHECK_FALSE(m.passed);
    CHECK(m.why.find("beyond their threshold") != std::string::npos);
    s.subject[4] = s.truth[4];
    // A slice without the allowance fails the same NaN and Inf.
    s.nonfinite_allowed = false;
    m = judge_slice(s.input(), rule());
    CHECK_FALSE(m.passed);
    CHECK(m.nonfinite_allowed_count == 0);
    CHECK(m.why.find("NaN/Inf in the subject where R64 is finite") != std::string::npos);
    // Nor does it touch what R64's non-finite elements demand: an overflow's class still counts.
    s = known();
    s.nonfinite_allowed = true;
    s.truth[0] = s.emulated[0] = kInf;
    s.subject[0] = kNaN;
    CHECK_FALSE(judge_slice(s.input(), rule()).passed);
    // Nor poison: never written is never allowed.
    s = known();
    s.nonfinite_allowed = true;
    s.poison.assign(6, 0);
    s.poison[5] = 1;
    s.subject[5] = kNaN;
    CHECK_FALSE(judge_slice(s.input(), rule()).passed);
}

TEST_CASE("judge_slice_exact: in a slice a non-finite input may poison, NaN and Inf where R64 is finite are counted",
          "[compare]") {
    Slice s = known();
    s.subject = s.truth;
    s.subject[0] = kNaN;
    s.subject[3] = kInf;
    s.nonfinite_allowed = true;
    SliceMetrics m = judge_slice_exact(s.input());
    CHECK(m.passed);
    CHECK(m.nonfinite_allowed_count == 2);
    s.subject[4] = 0.75;  // a finite value must still be exact
    m = judge_slice_exact(s.input());
    CHECK_FALSE(m.passed);
    CHECK(m.mismatch_count == 1);
    s.subject[4] = s.truth[4];
    s.nonfinite_allowed = false;
    m = judge_slice_exact(s.input());
    CHECK_FALSE(m.passed);
    CHECK(m.mismatch_count == 2);
    CHECK(m.nonfinite_allowed_count == 0);
}

TEST_CASE("judge_slice and judge_slice_exact: where the declared precision overflowed, nothing but poison is judged",
          "[compare]") {
    // docs/SPEC.md, chunked path: o from the chunk where a chunk kernel's Rlp overflowed a
    // declared rounding on, and its stored state. Rlp itself is Inf there, R64 finite.
    Slice s = known();
    s.emulated[1] = kInf;
    s.subject[0] = 1e30;  // any value: finite and far off,
    s.subject[2] = kNaN;  // or NaN,
    s.subject[4] = -kInf;  // or an infinity
    for (const bool exact : {false, true}) {
        INFO((exact ? "judge_slice_exact" : "judge_slice"));
        const auto judge = [&](const Slice& x) {
            return exact ? judge_slice_exact(x.input()) : judge_slice(x.input(), rule());
        };
        s.operand_overflow = true;
        SliceMetrics m = judge(s);
        CHECK(m.passed);
        CHECK(m.operand_overflow_unjudged == 6);
        CHECK(m.mismatch_count == 0);
        CHECK(m.emulated_nonfinite == 0);  // Rlp's Inf sets no threshold: none is used
        CHECK(m.nan_count == 1);
        CHECK(m.inf_count == 1);
        // The same slice without the allowance fails, and counts nothing unjudged.
        s.operand_overflow = false;
        m = judge(s);
        CHECK_FALSE(m.passed);
        CHECK(m.operand_overflow_unjudged == 0);
        // Never written is never allowed.
        Slice poisoned = s;
        poisoned.operand_overflow = true;
        poisoned.poison.assign(6, 0);
        poisoned.poison[5] = 1;
        poisoned.subject[5] = kNaN;
        m = judge(poisoned);
        CHECK_FALSE(m.passed);
        CHECK(m.poison_survivors == 1);
        CHECK(m.operand_overflow_unjudged == 5);
        CHECK(m.why.find("poison survived") != std::string::npos);
    }
}

TEST_CASE("judge_slice: a surviving poison fails", "[compare]") {
    Slice s = known();
    s.poison.assign(6, 0);
    s.poison[5] = 1;
    s.subject[5] = kNaN;  // how the signalling-NaN pattern decodes
    const SliceMetrics m = judge_slice(s.input(), rule());
    CHECK_FALSE(m.passed);
    CHECK(m.poison_survivors == 1);
    CHECK(m.nan_count == 0);  // counted as poison, not as an arithmetic NaN
    REQUIRE(m.first_mismatches.size() == 1);
    CHECK(m.first_mismatches[0].what == "poison");
    CHECK(m.first_mismatches[0].index == std::vector<std::int64_t>{1, 2});
    CHECK(m.why.find("poison") != std::string::npos);

    // A poison flag fails even where the decoded value would be right.
    s.subject[5] = s.truth[5];
    CHECK_FALSE(judge_slice(s.input(), rule()).passed);
}

TEST_CASE("judge_slice: non-finite truth needs the same class in the subject", "[compare]") {
    Slice s = known();
    s.truth[0] = kInf;
    s.emulated[0] = kInf;
    s.subject[0] = kInf;
    SliceMetrics m = judge_slice(s.input(), rule());
    CHECK(m.passed);
    CHECK(m.inf_count == 1);

    s.subject[0] = kNaN;
    m = judge_slice(s.input(), rule());
    CHECK_FALSE(m.passed);
    REQUIRE(m.first_mismatches.size() == 1);
    CHECK(m.first_mismatches[0].what == "class");

    s.subject[0] = -kInf;
    CHECK_FALSE(judge_slice(s.input(), rule()).passed);
    s.subject[0] = 1e30;
    CHECK_FALSE(judge_slice(s.input(), rule()).passed);
}

TEST_CASE("judge_slice: overflow of the stored dtype is judged on rounded truth", "[compare]") {
    // 70000 is finite in fp64 but rounds to +Inf in f16: +Inf is the correct stored value.
    Slice s;
    s.dtype = DType::f16;
    s.shape = {3};
    s.truth = {70000, 1, 2};
    s.emulated = {kInf, 1, 2};
    s.subject = {kInf, 1, 2};
    CHECK(judge_slice(s.input(), rule()).passed);
    s.subject[0] = 65504;
    CHECK_FALSE(judge_slice(s.input(), rule()).passed);
}

TEST_CASE("judge_slice: Inf is legal where R64 within the threshold would round to it", "[compare]") {
    // Found by the CPU subject property (f16 state, K = 96): R64 = 65519.88 stores as 65504,
    // a legal fp32 order gave 65536, which stores as +Inf. The threshold here is about 1000.
    Slice s;
    s.dtype = DType::f16;
    s.shape = {3};
    s.truth = {65519.884, 1, 2};
    s.emulated = {65504, 1, 2};
    s.subject = {kInf, 1, 2};
    s.magnitude = {894235, 1, 2};
    CHECK(judge_slice(s.input(), rule()).passed);
    s.subject[0] = -kInf;  // the wrong sign is never a rounding of a value near +65520
    CHECK_FALSE(judge_slice(s.input(), rule()).passed);
    s.subject[0] = kNaN;
    CHECK_FALSE(judge_slice(s.input(), rule()).passed);
    s.truth[0] = 60000;  // far below the overflow: no value within the threshold rounds to Inf
    s.emulated[0] = 60000;
    s.magnitude[0] = 60000;
    s.subject[0] = kInf;
    CHECK_FALSE(judge_slice(s.input(), rule()).passed);
}

TEST_CASE("judge_slice: a non-finite Rlp where truth is finite fails instead of an infinite threshold", "[compare]") {
    Slice s = known();
    s.emulated[1] = kNaN;
    const SliceMetrics m = judge_slice(s.input(), rule());
    CHECK_FALSE(m.passed);
    CHECK(m.emulated_nonfinite == 1);
    CHECK(std::isfinite(m.threshold_abs));
}

TEST_CASE("judge_slice: Rlp may overflow where R64 rounds finite only at the top of the dtype", "[compare]") {
    // Found by the H200 campaign (f16 state, K = 36): R64 = -65498.02 stores as -65504, the
    // emulated oracle's legal order gave -Inf. That element says nothing about Rlp's error.
    Slice s;
    s.dtype = DType::f16;
    s.shape = {3};
    s.truth = {-65498.0167, 1, 2};
    s.emulated = {-kInf, 1, 2};
    s.subject = {-65504, 1, 2};
    s.magnitude = {70000, 1, 2};
    SliceMetrics m = judge_slice(s.input(), rule());
    CHECK(m.passed);
    CHECK(m.emulated_overflows == 1);
    CHECK(m.emulated_nonfinite == 0);
    s.subject[0] = -kInf;  // the subject may overflow there too
    CHECK(judge_slice(s.input(), rule()).passed);
    s.emulated[0] = kInf;  // the wrong sign is no rounding of a value near -65520
    m = judge_slice(s.input(), rule());
    CHECK_FALSE(m.passed);
    CHECK(m.emulated_nonfinite == 1);
    s.truth[0] = -30000;  // far below the overflow: no valid threshold
    s.emulated[0] = -kInf;
    s.subject[0] = -30000;
    s.magnitude[0] = 30000;
    m = judge_slice(s.input(), rule());
    CHECK_FALSE(m.passed);
    CHECK(m.emulated_nonfinite == 1);
}

TEST_CASE("judge_slice: with non-finite inputs, NaN and Inf are one class where R64 is non-finite", "[compare]") {
    // Found by the H200 campaign: k = Inf and an Inf in the state give R64 = -Inf through
    // (I - beta k k^T) h + beta k v and NaN through h + k beta (v - k^T h) (inf - inf).
    Slice s;
    s.shape = {3};
    s.truth = {-kInf, kNaN, 2};
    s.emulated = {-kInf, kNaN, 2};
    s.subject = {kNaN, kInf, 2};
    CHECK_FALSE(judge_slice(s.input(), rule()).passed);  // no non-finite input: an overflow's class counts
    CHECK_FALSE(judge_slice_exact(s.input()).passed);
    s.nonfinite_inputs = true;
    CHECK(judge_slice(s.input(), rule()).passed);
    CHECK(judge_slice_exact(s.input()).passed);
    s.subject[0] = -1e30;  // a finite value where R64 is non-finite still fails
    CHECK_FALSE(judge_slice(s.input(), rule()).passed);
    CHECK_FALSE(judge_slice_exact(s.input()).passed);
    s.subject[0] = kNaN;
    s.subject[2] = kNaN;  // and a NaN where R64 is finite
    CHECK_FALSE(judge_slice(s.input(), rule()).passed);
    CHECK_FALSE(judge_slice_exact(s.input()).passed);
}

TEST_CASE("judge_slice: first and last mismatches", "[compare]") {
    Slice s;
    s.shape = {4, 5};
    s.truth.assign(20, 1.0);
    s.emulated = s.truth;
    s.subject = s.truth;
    for (int i = 1; i < 20; i += 2) s.subject[i] = 2.0;  // flats 1, 3, ..., 19
    SliceMetrics m = judge_slice(s.input(), rule(), 3);
    CHECK(m.mismatch_count == 10);
    REQUIRE(m.first_mismatches.size() == 3);
    REQUIRE(m.last_mismatches.size() == 3);
    CHECK(m.first_mismatches[0].flat == 1);
    CHECK(m.first_mismatches[2].flat == 5);
    CHECK(m.last_mismatches[0].flat == 15);
    CHECK(m.last_mismatches[2].flat == 19);
    CHECK(m.last_mismatches[2].index == std::vector<std::int64_t>{3, 4});

    // With fewer mismatches than 2 * keep, the last list holds only those not in the first.
    std::fill(s.subject.begin() + 14, s.subject.end(), 1.0);  // leaves 1, 3, ..., 13: seven
    m = judge_slice(s.input(), rule());
    CHECK(m.mismatch_count == 7);
    CHECK(m.first_mismatches.size() == 5);
    REQUIRE(m.last_mismatches.size() == 2);
    CHECK(m.last_mismatches[0].flat == 11);
    CHECK(m.last_mismatches[1].flat == 13);
}

TEST_CASE("judge_slice: an all-zero truth", "[compare]") {
    Slice s;
    s.shape = {4};
    s.truth.assign(4, 0.0);
    s.emulated = s.truth;
    s.subject = {0.0, -0.0, 0.0, 0.0};
    SliceMetrics m = judge_slice(s.input(), rule());
    CHECK(m.passed);
    CHECK(m.rel_frobenius == 0);

    s.subject[2] = 1e-30;  // an inactive row must be exactly zero
    m = judge_slice(s.input(), rule());
    CHECK_FALSE(m.passed);
    CHECK(m.mismatch_count == 1);
    CHECK(std::isinf(m.rel_frobenius));
}

TEST_CASE("judge_slice: R64 exactly 0 from terms that cancel is judged by an absolute Frobenius cap", "[compare]") {
    // o = (k . q) v with k . q == 0 exactly in fp64 and terms of 0.05: a legal fp32 order
    // leaves a residue of the terms' rounding (H200 campaign: -5.8e-10 in bf16), which a
    // relative Frobenius error (division by ||t|| = 0) called infinite.
    Slice s;
    s.shape = {4};
    s.truth.assign(4, 0.0);
    s.emulated = s.truth;
    s.magnitude.assign(4, 0.05);
    s.subject = {-5.8e-10, 0.0, 0.0, 0.0};
    SliceMetrics m = judge_slice(s.input(), rule());
    CHECK(m.passed);
    INFO(m.why);

    s.subject[1] = 1e-4;  // far beyond the terms' rounding: both rules fail it
    m = judge_slice(s.input(), rule());
    CHECK_FALSE(m.passed);
    CHECK(m.mismatch_count == 1);

    // A floor so wide that every element passes on its own: the Frobenius cap still fails
    // a slice of residues far beyond units x u x ||M||.
    s.subject = {1e-6, -1e-6, 1e-6, -1e-6};
    m = judge_slice(s.input(), rule(2, 1e6, 2));
    CHECK(m.mismatch_count == 0);
    CHECK_FALSE(m.passed);
    CHECK_THAT(m.why, Catch::Contains("judged absolutely"));
}

TEST_CASE("judge_slice: sizes that disagree are a programming error", "[compare]") {
    Slice s = known();
    s.emulated.pop_back();
    CHECK_THROWS_AS(judge_slice(s.input(), rule()), std::invalid_argument);
    s = known();
    s.shape = {4, 2};
    CHECK_THROWS_AS(judge_slice(s.input(), rule()), std::invalid_argument);
    s = known();
    s.poison.assign(2, 0);
    CHECK_THROWS_AS(judge_slice(s.input(), rule()), std::invalid_argument);
}

TEST_CASE("judge_slice_exact: equality with the rounded truth", "[compare]") {
    Slice s;
    s.shape = {5};
    s.truth = {0.5, 1.0, -0.0, 3.0, 1.0 / 3.0};
    s.subject = {0.5, 1.0, 0.0, 3.0, double(float(1.0 / 3.0))};  // +0 for -0 is accepted
    SliceMetrics m = judge_slice_exact(s.input());
    CHECK(m.passed);
    CHECK(m.exact);
    CHECK(m.threshold_abs == 0);

    SECTION("a one-ulp difference is caught") {
        s.subject[1] = std::nextafter(1.0f, 2.0f);
        m = judge_slice_exact(s.input());
        CHECK_FALSE(m.passed);
        CHECK(m.mismatch_count == 1);
        REQUIRE(m.first_mismatches.size() == 1);
        CHECK(m.first_mismatches[0].flat == 1);
        CHECK(m.first_mismatches[0].what == "exact");
        CHECK(m.max_abs_error == Approx(reference::ulp(DType::f32, 1.0)));
    }
    SECTION("the unrounded fp64 value is not the stored value") {
        s.subject[4] = 1.0 / 3.0;
        CHECK_FALSE(judge_slice_exact(s.input()).passed);
    }
    SECTION("poison fails") {
        s.poison.assign(5, 0);
        s.poison[0] = 1;
        m = judge_slice_exact(s.input());
        CHECK_FALSE(m.passed);
        CHECK(m.poison_survivors == 1);
    }
    SECTION("NaN where truth is finite fails") {
        s.subject[3] = kNaN;
        CHECK_FALSE(judge_slice_exact(s.input()).passed);
    }
}

TEST_CASE("unravel and format_index", "[compare]") {
    CHECK(unravel(0, {2, 3, 4}) == std::vector<std::int64_t>{0, 0, 0});
    CHECK(unravel(23, {2, 3, 4}) == std::vector<std::int64_t>{1, 2, 3});
    CHECK(unravel(13, {2, 3, 4}) == std::vector<std::int64_t>{1, 0, 1});
    CHECK(format_index({"hv", "k", "v"}, {1, 0, 1}) == "(hv=1, k=0, v=1)");
    CHECK(format_index({}, {1, 2}) == "(1, 2)");
}

TEST_CASE("compare_bytes: one changed byte is found", "[compare]") {
    std::vector<std::byte> a(64), b;
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = std::byte(i * 7);
    b = a;
    BitwiseResult r = compare_bytes(a, b, 4);
    CHECK(r.identical);
    CHECK(r.differing_bytes == 0);
    CHECK(r.first_differing_offset == -1);

    b[37] ^= std::byte{0x01};
    r = compare_bytes(a, b, 4);
    CHECK_FALSE(r.identical);
    CHECK(r.differing_bytes == 1);
    CHECK(r.differing_elements == 1);
    CHECK(r.first_differing_offset == 37);
    CHECK(r.last_differing_offset == 37);

    b[38] ^= std::byte{0x80};  // same element
    b[60] ^= std::byte{0xFF};  // another one
    r = compare_bytes(a.data(), b.data(), a.size(), 4);
    CHECK(r.differing_bytes == 3);
    CHECK(r.differing_elements == 2);
    CHECK(r.last_differing_offset == 60);

    CHECK_THROWS_AS(compare_bytes(std::span(a), std::span(b).first(10)), std::invalid_argument);
    CHECK_THROWS_AS(compare_bytes(a, b, 0), std::invalid_argument);
}

TEST_CASE("compare_bytes: a changed guard byte is found", "[compare]") {
    // A guard band of bf16 poison around a buffer; a write one element past the end.
    std::vector<std::byte> guard(32);
    fill_poison(guard.data(), guard.size(), DType::bf16);
    const std::vector<std::byte> snapshot = guard;
    CHECK(compare_bytes(guard, snapshot, 2).identical);
    const std::uint16_t one = 0x3F80;  // bf16 1.0, as a kernel overrunning by one would store
    std::memcpy(guard.data(), &one, sizeof one);
    const BitwiseResult r = compare_bytes(guard, snapshot, 2);
    CHECK_FALSE(r.identical);
    CHECK(r.first_differing_offset == 0);
    CHECK(r.differing_elements == 1);
}

TEST_CASE("judge_slice: NaN where R64 is NaN matches, NaN elsewhere does not", "[compare]") {
    // Special values (docs/SPEC.md): an input NaN makes R64 NaN where IEEE carries it.
    Slice s = known();
    s.truth[0] = s.emulated[0] = s.subject[0] = kNaN;
    SliceMetrics m = judge_slice(s.input(), rule());
    CHECK(m.passed);
    CHECK(m.nan_count == 1);
    s.subject[0] = 0.0;  // a finite value where the truth is NaN: the NaN was dropped
    CHECK_FALSE(judge_slice(s.input(), rule()).passed);
    s.subject[0] = kNaN;
    s.subject[1] = kNaN;  // a NaN that leaked next to it
    m = judge_slice(s.input(), rule());
    CHECK_FALSE(m.passed);
    CHECK(m.why.find("NaN/Inf in the subject where R64 is finite") != std::string::npos);

    Slice exact;
    exact.shape = {2};
    exact.truth = {kNaN, 1.0};
    exact.subject = {kNaN, 1.0};
    CHECK(judge_slice_exact(exact.input()).passed);
    exact.subject = {kNaN, kNaN};
    CHECK_FALSE(judge_slice_exact(exact.input()).passed);
}

TEST_CASE("judge_slice: the worst element, its ratio and every mismatch are those of the exact per-element thresholds",
          "[compare]") {
    // judge_slice computes an element's exact threshold only where a cheap lower bound cannot
    // decide it. Against the definition, on random slices whose errors straddle the
    // thresholds (f32, bf16 and f16 stores, flips and magnitudes on and off, subnormal and
    // zero truths): the same worst ratio, worst index and mismatches, or the skip lies.
    std::mt19937_64 rng(23);
    std::normal_distribution<double> normal;
    std::uniform_real_distribution<double> unit(0, 1);
    const ToleranceRow row = rule(2, 2, 1e9);  // the Frobenius cap out of the way
    int failing_trials = 0;
    for (int trial = 0; trial < 300; ++trial) {
        Slice s;
        const std::int64_t n = 64 + std::int64_t(rng() % 512);
        s.shape = {n};
        s.dtype = std::array{DType::f32, DType::bf16, DType::f16}[rng() % 3];
        const double scale = std::ldexp(1.0, int(rng() % 24) - 12);
        const double spread = std::ldexp(1.0, -int(rng() % 20) - 4);
        const bool with_magnitude = rng() % 2, with_flip = rng() % 3 == 0;
        for (std::int64_t i = 0; i < n; ++i) {
            double t = normal(rng) * scale;
            if (rng() % 40 == 0) t = 0;
            if (rng() % 40 == 0) t = std::ldexp(normal(rng), -140);  // below f32's normals
            s.truth.push_back(t);
            // Relative errors, the subject's sometimes far beyond Rlp's.
            s.emulated.push_back(t * (1 + normal(rng) * spread));
            s.subject.push_back(t * (1 + normal(rng) * spread * (rng() % 100 == 0 ? 8 : 1.5)));
            if (with_magnitude) s.magnitude.push_back(std::abs(t) * (1 + 3 * unit(rng)));
            if (with_flip) s.flip.push_back(unit(rng) * spread * scale * 0.1);
        }
        const SliceMetrics m = judge_slice(s.input(), row, 1000);
        // The definition (compare.hpp): M_i = max(|t_i|, magnitude_i); threshold_i = rho x
        // max_j(|e_j - t_j| / M_j) x M_i + floor_ulps (ulp(stored, |t_i|) + ulp(f32, M_i)) + flip_i.
        std::vector<double> magnitude(static_cast<std::size_t>(n));
        double e_relative = 0;
        for (std::int64_t i = 0; i < n; ++i) {
            const auto k = std::size_t(i);
            magnitude[k] = std::max(std::abs(s.truth[k]), with_magnitude ? s.magnitude[k] : 0.0);
            const double e_error = std::abs(s.emulated[k] - s.truth[k]);
            if (e_error > 0) e_relative = std::max(e_relative, magnitude[k] > 0 ? e_error / magnitude[k] : kInf);
        }
        double worst = -1;
        std::int64_t worst_at = -1, mismatches = 0;
        for (std::int64_t i = 0; i < n; ++i) {
            const auto k = std::size_t(i);
            const double threshold = row.rho * e_relative * magnitude[k] +
                                     row.floor_ulps * (reference::ulp(s.dtype, std::abs(s.truth[k])) +
                                                       reference::ulp(DType::f32, magnitude[k])) +
                                     (with_flip ? s.flip[k] : 0.0);
            const double error = std::abs(s.subject[k] - s.truth[k]);
            const double ratio = error == 0 ? 0.0 : threshold > 0 ? error / threshold : kInf;
            if (ratio > worst) {
                worst = ratio;
                worst_at = i;
            }
            mismatches += error > threshold;
        }
        INFO("trial " << trial << ", n " << n << ", dtype " << to_string(s.dtype));
        REQUIRE(m.worst_ratio == worst);
        REQUIRE(m.worst_index == std::vector<std::int64_t>{worst_at});
        REQUIRE(m.mismatch_count == mismatches);
        failing_trials += mismatches > 0;
    }
    // Both kinds of slice occur, so the comparison above is not of zeros alone.
    CHECK(failing_trials > 30);
    CHECK(failing_trials < 270);
}
