// The checks judge one (row, value head) at a time from reference::HeadRecurrence
// (oracle_checks.hpp). A head run must give, bitwise, what the whole stored run gives at
// that head (values, magnitudes, flip bounds, resumed runs), and the verdict must not
// depend on the thread count.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "gdr/harness/case_spec.hpp"
#include "gdr/harness/math_mode.hpp"
#include "gdr/harness/runner.hpp"
#include "gdr/reference/fused_recurrent.hpp"
#include "gdr/reference/numeric.hpp"
#include "gdr/reference/oracle_threads.hpp"
#include "support/damaged_subject.hpp"

using namespace gdr;
using namespace gdr::harness;

namespace {

constexpr const char* kCases[] = {
    "B=4 T=3 H=2 HV=4 K=16 V=8 N=40 indices=permutation inactive=1 seed=2",
    "B=3 T=4 H=1 HV=2 K=8 V=8 layout=vk state=bf16 slots=4 circular=1 seqlen_max=9 N=12 indices=permutation seed=3",
    "B=2 T=5 H=1 HV=2 K=8 V=4 state=f16 slots=3 circular=1 seqlen_max=7 l2norm=1 seed=8",
    "B=1 T=5 H=1 HV=2 K=8 V=4 varlen=1 seq_lengths=2,0,3 N=6 indices=permutation seed=4",
    "B=2 T=2 H=1 HV=1 K=4 V=4 in=bf16 gate=bf16 seed=5",
};

// The whole run's values at one head, widened: o of the row's tokens, then the matrices
// HeadResults lists (circular: slot (read + 1 + j) mod Slots; else slot 0).
struct Widened {
    std::vector<double> o, state;
};

Widened at_head(const Problem& p, const void* o, DType o_dtype, const void* bank, DType bank_dtype, std::int64_t row,
                std::int64_t hv, std::int64_t matrices) {
    Widened out;
    const RowTokens tokens = row_tokens(p, row);
    for (std::int64_t token = tokens.begin; token < tokens.end; ++token)
        for (std::int64_t v = 0; v < p.value_dim; ++v)
            out.o.push_back(reference::load_double(
                o, o_dtype, ((tokens.batch_row * p.seq_len + token) * p.num_value_heads + hv) * p.value_dim + v));
    const std::int64_t matrix = p.key_dim * p.value_dim;
    for (std::int64_t j = 0; j < matrices; ++j) {
        const std::int64_t slot = p.circular() ? (row_read_slot(p, row) + 1 + j) % p.slots() : 0;
        const std::int64_t begin = ((row_bank_entry(p, row) * p.slots() + slot) * p.num_value_heads + hv) * matrix;
        for (std::int64_t i = 0; i < matrix; ++i) out.state.push_back(reference::load_double(bank, bank_dtype, begin + i));
    }
    return out;
}

// Every head of `host` run alone equals the whole run (R64 with its bounds, and Rlp),
// resumed from `resume` when not null (a bank shaped like the case's).
bool heads_match_whole_run(const HostCase& host, const void* resume) {
    const reference::ElementaryErrors elementary = elementary_errors(MathMode::fast);
    RunBuffers truth = make_run_buffers(host, DType::f64, DType::f64);
    RunBuffers magnitude = make_run_buffers(host, DType::f64, DType::f64), flip = make_run_buffers(host, DType::f64, DType::f64);
    const reference::Magnitudes bounds{static_cast<double*>(magnitude.o.data()), static_cast<double*>(magnitude.bank.data()),
                                       static_cast<double*>(flip.o.data()), static_cast<double*>(flip.bank.data())};
    const Problem truth_problem = make_problem(host, truth);
    reference::run_fused_recurrent(truth_problem,
                                   {reference::Precision::truth_fp64, reference::ReductionOrder::forward, bounds, resume, elementary});
    RunBuffers emulated = make_run_buffers(host, host.spec.input_dtype, host.spec.state_dtype);
    const Problem emulated_problem = make_problem(host, emulated);
    reference::run_fused_recurrent(emulated_problem,
                                   {reference::Precision::emulated_fp32, reference::ReductionOrder::forward, {}, resume});

    // The head runs read the initial bank as stored and write nothing of the problem's.
    RunBuffers untouched = make_run_buffers(host, host.spec.input_dtype, host.spec.state_dtype);
    Problem problem = make_problem(host, untouched);
    problem.state = const_cast<void*>(host.initial_bank.data());
    const gdr::harness::TensorBytes o_before = untouched.o.bytes();
    reference::HeadRecurrence head_truth(problem, {reference::Precision::truth_fp64, reference::ReductionOrder::forward, {}, resume, elementary}, true);
    reference::HeadRecurrence head_emulated(problem, {reference::Precision::emulated_fp32, reference::ReductionOrder::forward, {}, resume}, false);
    bool all = true;
    for (const auto& [row, hv] : head_truth.heads()) {
        const std::int64_t matrices = head_truth.written_matrices(row);
        const Widened expect_t = at_head(truth_problem, truth.o.data(), DType::f64, truth.bank.data(), DType::f64, row, hv, matrices);
        const Widened expect_m = at_head(truth_problem, magnitude.o.data(), DType::f64, magnitude.bank.data(), DType::f64, row, hv, matrices);
        const Widened expect_f = at_head(truth_problem, flip.o.data(), DType::f64, flip.bank.data(), DType::f64, row, hv, matrices);
        const Widened expect_e = at_head(emulated_problem, emulated.o.data(), host.spec.input_dtype, emulated.bank.data(),
                                         host.spec.state_dtype, row, hv, matrices);
        std::vector<double> o(expect_t.o.size()), state(expect_t.state.size()), om(o.size()), sm(state.size()),
            of(o.size()), sf(state.size()), eo(o.size()), es(state.size());
        head_truth.run(row, hv, {o.data(), state.data(), om.data(), sm.data(), of.data(), sf.data()});
        head_emulated.run(row, hv, {eo.data(), es.data()});
        // Bitwise: NaN == NaN as bits (memcmp through the vectors' bytes).
        const auto same = [](const std::vector<double>& a, const std::vector<double>& b) {
            return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
        };
        const bool match = same(o, expect_t.o) && same(state, expect_t.state) && same(om, expect_m.o) &&
                           same(sm, expect_m.state) && same(of, expect_f.o) && same(sf, expect_f.state) &&
                           same(eo, expect_e.o) && same(es, expect_e.state);
        if (!match) UNSCOPED_INFO("head (row " << row << ", hv " << hv << ") differs from the whole run");
        all = all && match;
    }
    return all && untouched.o.bytes() == o_before &&
           std::memcmp(untouched.bank.data(), make_run_buffers(host, host.spec.input_dtype, host.spec.state_dtype).bank.data(),
                       untouched.bank.storage_bytes()) == 0;
}

}  // namespace

TEST_CASE("head runs: every (row, head) alone is bitwise the whole run, bounds included", "[oracle_checks]") {
    for (const char* text : kCases) {
        INFO(text);
        CHECK(heads_match_whole_run(materialize(parse_text(text)), nullptr));
    }
}

TEST_CASE("head runs: resumed from a subject's slots, bitwise the whole resumed run", "[oracle_checks]") {
    for (const char* text : {kCases[1], kCases[2]}) {
        INFO(text);
        const HostCase host = materialize(parse_text(text));
        // A subject's stored slots: Rlp's own bank, in the state dtype and the case's shape.
        RunBuffers stored = make_run_buffers(host, host.spec.input_dtype, host.spec.state_dtype);
        reference::run_fused_recurrent(make_problem(host, stored), {reference::Precision::emulated_fp32,
                                                                    reference::ReductionOrder::reversed});
        CHECK(heads_match_whole_run(host, stored.bank.data()));
    }
}

TEST_CASE("head runs: magnitudes in the options are refused, naming them", "[oracle_checks]") {
    const HostCase host = materialize(parse_text(kCases[4]));
    RunBuffers buffers = make_run_buffers(host, host.spec.input_dtype, host.spec.state_dtype);
    double sink = 0;
    REQUIRE_THROWS_WITH(reference::HeadRecurrence(make_problem(host, buffers),
                                                  {reference::Precision::truth_fp64, reference::ReductionOrder::forward,
                                                   {&sink, nullptr, nullptr, nullptr}},
                                                  true),
                        Catch::Contains("magnitudes"));
    REQUIRE_THROWS_WITH(
        reference::HeadRecurrence(make_problem(host, buffers), {reference::Precision::emulated_fp32}, true),
        Catch::Contains("magnitudes"));
}

TEST_CASE("oracle checks: the verdict and its report do not depend on the thread count", "[oracle_checks]") {
    const ToleranceTable tolerances = ToleranceTable::load_default();
    // A subject far off on one element of the second head, so that a slice fails and the
    // report names the first failing slice in fold order.
    const auto damaged = [](const Problem& p, int, SubjectRunResult&) {
        const std::int64_t at = p.value_dim * 1 + 2;  // o[b=0, t=0, hv=1, v=2]
        reference::store_double(p.o.data, p.o.dtype, at, 2 * reference::load_double(p.o.data, p.o.dtype, at) + 1);
    };
    const int threads = reference::oracle_threads();
    std::vector<std::string> reports;
    for (int count : {1, 3}) {
        reference::set_oracle_threads(count);
        gdr::testing::DamagedSubject subject(damaged);
        CaseReport report = run_case(parse_text(kCases[1]), subject, tolerances);
        CHECK(report.outcome == Outcome::incorrect);
        report.stages.clear();
        report.seconds = report.subject_seconds = 0;
        reports.push_back(to_json(report).dump());
    }
    reference::set_oracle_threads(threads);
    CHECK(reports[0] == reports[1]);
}
