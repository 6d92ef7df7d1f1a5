// The rule allows the documented errors of the elementary functions a subject declares
// (math_mode.hpp), computed by R64 and carried across tokens, and no more: CPU subjects
// with a kernel's token prologue show both sides (support/prologue_subject.hpp).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "gdr/harness/runner.hpp"
#include "gdr/reference/numeric.hpp"
#include "support/damaged_subject.hpp"
#include "support/prologue_subject.hpp"

using namespace gdr;
using namespace gdr::harness;
using gdr::testing::Prologue;
using gdr::testing::PrologueSubject;

namespace {

CaseReport run(const std::string& spec, harness::Subject& subject, std::optional<MathMode> math = std::nullopt) {
    RunOptions options;
    options.verdict.math = math;
    return run_case(parse_text(spec), subject, ToleranceTable::load_default(), options);
}

// The largest error / threshold over the o and state checks against R64.
double worst_ratio(const CaseReport& report) {
    double worst = 0;
    for (const CheckResult& check : report.checks)
        if (check.worst_slice && !check.worst_slice->exact) worst = std::max(worst, check.worst_slice->error_ratio());
    return worst;
}

// The same, against the threshold less the computed bound (the rule before it).
double worst_ratio_without_bound(const CaseReport& report) {
    double worst = 0;
    for (const CheckResult& check : report.checks)
        if (const auto& m = check.worst_slice; m && !m.value().exact && m->threshold_abs > m->flip_abs)
            worst = std::max(worst, m->max_abs_error / (m->threshold_abs - m->flip_abs));
    return worst;
}

// Did some slice need the computed bound (its error beyond the threshold without it)?
bool needed_the_bound(const CaseReport& report) {
    for (const CheckResult& check : report.checks)
        if (const auto& m = check.worst_slice; m && !m.value().exact && m->flip_abs > 0 &&
                                               m->max_abs_error > m->threshold_abs - m->flip_abs)
            return true;
    return false;
}

// The kernel's precise prologue at its worst: expf 2 ulp off the correctly rounded value
// (away from the truth's side alternately), reciprocal-then-multiply l2norm.
Prologue cuda_precise() {
    return {gdr::testing::reciprocal_then_multiply(),
            gdr::testing::exp_off_by([](float g) { return std::signbit(g) == (int(std::abs(g) * 1e4f) % 2 == 0) ? 2 : -2; }),
            MathMode::precise};
}

// The H200 case of the elementary-function defect (K = 1: no summation order, only the
// prologue decides), and others like it.
std::vector<std::string> prologue_cases() {
    std::vector<std::string> cases = {"B=3 T=2 H=1 HV=2 K=1 V=1 layout=kv in=f32 state=f32 seed=68"};
    for (int seed = 1; seed <= 40; ++seed) {
        cases.push_back(fmt::format("B=3 T=4 H=1 HV=2 K=1 V=3 layout=kv in=f32 state=f32 l2norm=1 gdist=strong seed={}", seed));
        cases.push_back(fmt::format("B=2 T=3 H=2 HV=4 K=5 V=2 layout=vk in=f32 gate=f32 state=f32 l2norm=1 seed={}", seed));
        cases.push_back(fmt::format("B=2 T=4 H=1 HV=2 K=3 V=2 layout=kv in=f32 gate=f32 state=f16 l2norm=1 slots=4 circular=1 "
                                    "seed={}",
                                    seed));
    }
    return cases;
}

}  // namespace

TEST_CASE("elementary functions: the CUDA kernel's precise prologue (expf 2 ulp, 1 / sqrtf then multiply) passes",
          "[tolerance][math]") {
    PrologueSubject subject(cuda_precise());
    int needed = 0;
    for (const std::string& spec : prologue_cases()) {
        const CaseReport report = run(spec, subject);
        INFO(format_failure(report));
        CHECK(report.outcome == Outcome::passed);
        CHECK(report.math == "precise");
        needed += needed_the_bound(report);
    }
    // The defect this fixes: without the computed bound some of these fail (as the H200 did).
    std::printf("precise prologue: %d of %zu cases needed the elementary-function bound\n", needed,
                prologue_cases().size());
    CHECK(needed > 0);
}

TEST_CASE("elementary functions: l2norm without its epsilon stays INCORRECT at K = 1", "[tolerance][math]") {
    PrologueSubject subject({gdr::testing::reciprocal_then_multiply(0.0f), {}, MathMode::precise});
    double smallest_margin = INFINITY, smallest_margin_before = INFINITY;
    for (int seed = 1; seed <= 20; ++seed) {
        const CaseReport report =
            run(fmt::format("B=3 T=2 H=1 HV=2 K=1 V=1 layout=kv in=f32 state=f32 l2norm=1 qk=uniform seed={}", seed), subject);
        INFO(format_failure(report));
        CHECK(report.outcome == Outcome::incorrect);
        smallest_margin = std::min(smallest_margin, worst_ratio(report));
        smallest_margin_before = std::min(smallest_margin_before, worst_ratio_without_bound(report));
    }
    std::printf("l2norm_eps_dropped analogue: every case INCORRECT, error >= %.3g x threshold (%.3g x without the "
                "elementary-function bound)\n",
                smallest_margin, smallest_margin_before);
}

TEST_CASE("elementary functions: l2norm skipped for q and k is INCORRECT", "[tolerance][math]") {
    PrologueSubject subject({[](float*, std::int64_t) {}, {}, MathMode::fast});  // not even fast math allows it
    for (int seed = 1; seed <= 10; ++seed) {
        const CaseReport report =
            run(fmt::format("B=2 T=2 H=1 HV=2 K=8 V=4 layout=kv in=f32 state=f32 l2norm=1 qk=uniform seed={}", seed), subject);
        INFO(format_failure(report));
        CHECK(report.outcome == Outcome::incorrect);
    }
}

TEST_CASE("elementary functions: a fast exp is INCORRECT in a subject that declares precise math, and legal in fast",
          "[tolerance][math]") {
    // __expf's documented error, at its worst: 2 + floor(|1.173 g|) ulp. It shows only where
    // alpha h dominates the step (a large state, K = 1, a small beta) and |g| is large
    // enough for the bound to exceed expf's 2 ulp by more than the floor: rarely.
    const auto fast_exp = gdr::testing::exp_off_by([](float g) { return -(2 + int(std::floor(std::abs(1.173f * g)))); });
    PrologueSubject subject({{}, fast_exp, MathMode::precise});
    int killed = 0;
    for (int seed = 1; seed <= 20; ++seed) {
        const std::string spec = fmt::format(
            "B=64 T=2 H=1 HV=4 K=1 V=2 layout=kv in=f32 gate=f32 state=f32 gdist=strong state_scale=10000 seed={}", seed);
        const CaseReport precise = run(spec, subject);
        killed += precise.outcome == Outcome::incorrect;
        const CaseReport fast = run(spec, subject, MathMode::fast);
        INFO(format_failure(fast));
        CHECK(fast.outcome == Outcome::passed);
        CHECK(fast.math == "fast");
        CHECK(fast.reproduce.find("--math fast") != std::string::npos);
    }
    std::printf("fast_math_exp analogue (alpha off by __expf's bound) in a precise subject: %d of 20 cases INCORRECT\n",
                killed);
    CHECK(killed > 0);
}

TEST_CASE("granularity: small outputs kept to 16 significant bits are INCORRECT (mutant small_outputs_reduced_precision)",
          "[tolerance][granularity]") {
    // The CUDA mutant's damage on the CPU stand-in: o elements below 1/16 rounded to 16 bits.
    gdr::testing::DamagedSubject subject([](const Problem& p, int, SubjectRunResult&) {
        const std::int64_t n = p.batch * p.seq_len * p.num_value_heads * p.value_dim;
        for (std::int64_t i = 0; i < n; ++i) {
            const float x = float(reference::load_double(p.o.data, p.o.dtype, i));
            if (!(std::abs(x) < 0.0625f)) continue;
            const int exponent = std::ilogb(x);
            const double step = std::ldexp(1.0, exponent - 15);
            reference::store_double(p.o.data, p.o.dtype, i, x == 0 ? 0.0 : std::nearbyint(x / step) * step);
        }
    });
    int killed = 0;
    for (int seed = 1; seed <= 10; ++seed) {
        const CaseReport report =
            run(fmt::format("B=2 T=2 H=1 HV=4 K=2 V=16 layout=kv in=f32 state=f32 seed={}", seed), subject);
        killed += report.outcome == Outcome::incorrect;
    }
    std::printf("small_outputs_reduced_precision analogue: %d of 10 cases INCORRECT\n", killed);
    CHECK(killed >= 5);
}
