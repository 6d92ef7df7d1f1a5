// The rule must judge every value head at its own scale: a subject whose error is x10 (or
// x3) that of a legal one, on the smallest-magnitude head only, fails. The damaged subject
// is the correct CPU stand-in with its deviation from R64 multiplied by x on that head (o
// of every token and every written state slot), over the random distribution subjects are
// judged on (decode_case_config).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include <rapidcheck.h>

#include "gdr/harness/decode_cases.hpp"
#include "gdr/harness/oracle_bank.hpp"
#include "gdr/harness/runner.hpp"
#include "gdr/reference/numeric.hpp"
#include "support/damaged_subject.hpp"

using namespace gdr;
using namespace gdr::harness;
using gdr::testing::DamagedSubject;

namespace {

// R64 of the case, stored (o and the compact bank of the active rows' entries).
struct StoredTruth {
    OracleBank bank;
    RunBuffers runs;
};

StoredTruth stored_truth(const HostCase& host) {
    StoredTruth truth{oracle_bank(host), {}};
    truth.runs = oracle_run(host, truth.bank, reference::Precision::truth_fp64);
    return truth;
}

// The value head whose largest |R64 o| over all tokens is smallest.
std::int64_t smallest_head(const CaseSpec& spec, const StoredTruth& stored) {
    const std::vector<double> truth = stored.runs.o.to_doubles();
    std::vector<double> largest(std::size_t(spec.num_value_heads), 0.0);
    for (std::size_t i = 0; i < truth.size(); ++i) {
        const auto hv = std::size_t(std::int64_t(i) / spec.value_dim % spec.num_value_heads);
        if (std::isfinite(truth[i])) largest[hv] = std::max(largest[hv], std::abs(truth[i]));
    }
    return std::int64_t(std::min_element(largest.begin(), largest.end()) - largest.begin());
}

// s = t + x (s - t) on head `hv` of o (contiguous [B, T, HV, V]) and of the bank
// (contiguous [N, Slots, HV, K, V]); `changed` tells whether any element moved.
DamagedSubject::Damage amplify_head(const CaseSpec& spec, const StoredTruth& stored, std::int64_t hv, double x,
                                    bool& changed) {
    return [&spec, &stored, hv, x, &changed](const Problem& p, int, SubjectRunResult&) {
        const auto amplify = [&](void* data, DType dtype, const std::vector<double>& truth, std::int64_t inner) {
            for (std::size_t i = 0; i < truth.size(); ++i) {
                if (std::int64_t(i) / inner % spec.num_value_heads != hv) continue;
                const double s = reference::load_double(data, dtype, std::int64_t(i)), t = truth[i];
                if (!std::isfinite(s) || !std::isfinite(t) || s == t) continue;
                const double damaged = reference::round_to(dtype, t + x * (s - t));
                changed = changed || damaged != s;
                reference::store_double(data, dtype, std::int64_t(i), damaged);
            }
        };
        amplify(p.o.data, p.o.dtype, stored.runs.o.to_doubles(), spec.value_dim);
        // R64's bank is compact (oracle_bank.hpp): spread it over the subject's entries.
        const std::int64_t entry_elements = spec.slots * spec.num_value_heads * spec.key_dim * spec.value_dim;
        const std::vector<double> compact = stored.runs.bank.to_doubles();
        std::vector<double> truth_bank(std::size_t(p.bank_elements()), std::numeric_limits<double>::quiet_NaN());
        for (std::size_t c = 0; c < stored.bank.entries.size(); ++c)
            std::copy_n(compact.begin() + std::ptrdiff_t(c) * entry_elements, entry_elements,
                        truth_bank.begin() + std::ptrdiff_t(stored.bank.entries[c] * entry_elements));
        amplify(p.state, p.state_dtype, truth_bank, spec.key_dim * spec.value_dim);
    };
}

struct Figures {
    int population = 0, incorrect_x10 = 0, incorrect_x3 = 0;
    int precise_x10 = 0, precise_x3 = 0;  // the same subjects judged as if they declared precise math
};

// Random cases of the fuzz distribution with two value heads or more, not exact mode, in
// which the damage moves some element of the smallest head (the population).
Figures measure(int cases) {
    const ToleranceTable tolerances = ToleranceTable::load_default();
    const CaseGenConfig config = decode_case_config();
    Figures figures;
    for (int c = 0; c < cases; ++c) {
        const rc::Random random(rc::Random::Key{0x5eed0001u, std::uint64_t(c), 7u, 11u});
        CaseSpec spec = rc::gen::map(gen_case(config), [](CaseSpec s) {
            bound_work(s, std::int64_t(1) << 14);
            return s;
        })(random, c % 101).value();
        if (spec.exact || spec.num_value_heads < 2) continue;
        const PreparedCase prepared = prepare_case(spec);
        const StoredTruth truth = stored_truth(prepared.host);
        const std::int64_t hv = smallest_head(spec, truth);
        bool changed = false;
        DamagedSubject x10(amplify_head(spec, truth, hv, 10.0, changed));
        const bool killed_x10 = run_case(prepared, x10, tolerances).outcome == Outcome::incorrect;
        if (!changed) continue;
        bool changed_x3 = false;
        DamagedSubject x3(amplify_head(spec, truth, hv, 3.0, changed_x3));
        const bool killed_x3 = run_case(prepared, x3, tolerances).outcome == Outcome::incorrect;
        RunOptions as_precise;
        as_precise.verdict.math = MathMode::precise;
        ++figures.population;
        figures.incorrect_x10 += killed_x10;
        figures.incorrect_x3 += killed_x3;
        figures.precise_x10 += run_case(prepared, x10, tolerances, as_precise).outcome == Outcome::incorrect;
        figures.precise_x3 += run_case(prepared, x3, tolerances, as_precise).outcome == Outcome::incorrect;
    }
    return figures;
}

}  // namespace

// The figures are measured on 1500 cases in the optimised build (about 75 s on 2 cores);
// under the sanitizers (Debug, 10-20x slower) 100 cases run the same code for memory and UB
// errors, with the population and the figure's bound scaled to what 100 cases can show.
#ifdef GDR_TESTS_SANITIZED
constexpr int kCases = 100, kMinimumPopulation = 12;
constexpr double kMinimumX10 = 0.80;
#else
constexpr int kCases = 1500, kMinimumPopulation = 200;
constexpr double kMinimumX10 = 0.95;
#endif

TEST_CASE("granularity: x10 the legal error on the smallest head alone is INCORRECT in 95 % of random cases",
          "[tolerance][granularity]") {
    const Figures f = measure(kCases);
    const double x10 = double(f.incorrect_x10) / f.population, x3 = double(f.incorrect_x3) / f.population;
    std::printf("damaged subject, smallest head only, %d random cases (HV >= 2, not exact, damage moves some element): "
                "x10 INCORRECT %.1f %%, x3 INCORRECT %.1f %% (math correctly-rounded, as the stand-in declares); "
                "judged as precise math: x10 %.1f %%, x3 %.1f %%\n",
                f.population, 100 * x10, 100 * x3, 100.0 * f.precise_x10 / f.population,
                100.0 * f.precise_x3 / f.population);
    REQUIRE(f.population >= kMinimumPopulation);
    // Measured 98.5 % (2026-12-03, 721 cases; x3 7.5 %); the rule before issue 11 (a slice of
    // all heads, the floor at its largest magnitude) gave 45.7 % (x3 2.6 %). Every one of the
    // 11 misses has f32 outputs and no state written (final=0), so o alone carries the damage,
    // and there the floor of 2 ulp at |t| plus 2 ulp at the terms' magnitude (a legal fp32
    // K-sum in any order) is 10-13x the stand-in's actual error: x10 lands at 0.6-0.9 of the
    // threshold. The issue asks 99 %; the floor is not tightened without a kernel's evidence
    // that a legal order stays within less.
    CHECK(x10 >= kMinimumX10);
    // x3 is reported, not asserted beyond what is robust: a legal error three times over
    // is often within rho = 2 plus the floor.
    CHECK(f.incorrect_x3 > 0);
}
