// The case runner must fail every kind of wrong subject: each test wraps the correct CPU
// subject, breaks one thing the way a buggy kernel would, and expects the check that
// exists to see it to report INCORRECT (or the outcome that fits an error).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>

#include "gdr/core/errors.hpp"
#include "gdr/core/poison.hpp"
#include "gdr/harness/oracle_bank.hpp"
#include "gdr/harness/runner.hpp"
#include "gdr/reference/numeric.hpp"
#include "support/damaged_subject.hpp"

using namespace gdr;
using namespace gdr::harness;

namespace {

using gdr::testing::DamagedSubject;

CaseReport run(const std::string& spec_text, DamagedSubject::Damage damage) {
    DamagedSubject subject(std::move(damage));
    return run_case(parse_text(spec_text), subject, ToleranceTable::load_default());
}

const CheckResult& check_named(const CaseReport& report, const std::string& name) {
    for (const CheckResult& check : report.checks)
        if (check.name == name) return check;
    FAIL("no check named " << name << " in the report");
    throw std::logic_error("unreachable");
}

// Element `index` of o (contiguous in the runner's buffers), read and written as double.
double o_at(const Problem& p, std::int64_t index) { return reference::load_double(p.o.data, p.o.dtype, index); }
void set_o(const Problem& p, std::int64_t index, double value) { reference::store_double(p.o.data, p.o.dtype, index, value); }

// Two rows name entries of a bank of 5 (a permutation): most entries are untouched.
const std::string kIndexed = "B=2 T=2 H=1 HV=2 K=8 V=6 layout=vk in=f32 state=f32 N=5 indices=permutation seed=3";

}  // namespace

TEST_CASE("runner: the correct subject passes every check", "[runner]") {
    const CaseReport report = run(kIndexed, [](const Problem&, int, SubjectRunResult&) {});
    INFO(format_failure(report));
    CHECK(report.outcome == Outcome::passed);
    for (const char* name : {"o vs R64", "state vs R64", "untouched bank", "poison survivors", "determinism", "inputs unchanged"})
        CHECK(check_named(report, name).outcome == Outcome::passed);
}

TEST_CASE("runner: a wrong output element is INCORRECT and named", "[runner]") {
    const CaseReport report = run(kIndexed, [](const Problem& p, int, SubjectRunResult&) { set_o(p, 7, o_at(p, 7) + 0.5); });
    const CheckResult& check = check_named(report, "o vs R64");
    CHECK(check.outcome == Outcome::incorrect);
    REQUIRE(check.worst_slice);
    CHECK(check.worst_slice->label.find("t=0") != std::string::npos);
    CHECK(report.outcome == Outcome::incorrect);
}

TEST_CASE("runner: a wrong written state element is INCORRECT", "[runner]") {
    const CaseReport report = run(kIndexed, [](const Problem& p, int, SubjectRunResult&) {
        // Bank entry of active row 0, slot 0 (non-circular: the one written slot).
        const std::int64_t entry = p.state_indices[0];
        if (entry < 0 || entry >= p.bank_entries()) return;
        const std::int64_t index = entry * p.bank_entry_elements() + 3;
        reference::store_double(p.state, p.state_storage, index, reference::load_double(p.state, p.state_storage, index) * 1.01 + 1e-3);
    });
    CHECK(check_named(report, "state vs R64").outcome == Outcome::incorrect);
}

TEST_CASE("runner: writing a bank entry no row owns is INCORRECT (bitwise)", "[runner]") {
    const CaseReport report = run(kIndexed, [](const Problem& p, int, SubjectRunResult&) {
        // Flip the lowest bit of one element of every entry no active row names.
        for (std::int64_t n = 0; n < p.bank_entries(); ++n) {
            bool owned = false;
            for (std::int64_t r = 0; r < p.rows(); ++r) owned = owned || (row_is_active(p, r) && row_bank_entry(p, r) == n);
            if (!owned) static_cast<std::uint8_t*>(p.state)[n * p.bank_entry_elements() * 4] ^= 1;
        }
    });
    CHECK(check_named(report, "untouched bank").outcome == Outcome::incorrect);
}

TEST_CASE("runner: an output element never written is a poison survivor", "[runner]") {
    const CaseReport report = run(kIndexed, [](const Problem& p, int, SubjectRunResult&) {
        fill_poison(static_cast<std::byte*>(p.o.data) + 5 * dtype_size(p.o.dtype), dtype_size(p.o.dtype), p.o.dtype);
    });
    CHECK(check_named(report, "poison survivors").outcome == Outcome::incorrect);
    CHECK(check_named(report, "o vs R64").outcome == Outcome::incorrect);
}

TEST_CASE("runner: a NaN in the output is INCORRECT", "[runner]") {
    const CaseReport report = run(kIndexed, [](const Problem& p, int, SubjectRunResult&) { set_o(p, 2, std::nan("")); });
    const CheckResult& check = check_named(report, "o vs R64");
    CHECK(check.outcome == Outcome::incorrect);
    REQUIRE(check.worst_slice);
    CHECK(check.worst_slice->nan_count == 1);
}

TEST_CASE("runner: a different second run fails determinism", "[runner]") {
    const CaseReport report = run(kIndexed, [](const Problem& p, int run, SubjectRunResult&) {
        if (run == 1) set_o(p, 0, o_at(p, 0) + reference::ulp(p.o.dtype, o_at(p, 0)));  // one ulp
    });
    CHECK(check_named(report, "determinism").outcome == Outcome::incorrect);
}

TEST_CASE("runner: the second run, in the first one's memory, must reproduce the state and the arena", "[runner]") {
    const HostCase host = materialize(parse_text(kIndexed));
    const std::vector<std::int64_t> written = oracle_bank(host).entries;
    REQUIRE(!written.empty());
    std::int64_t untouched_entry = 0;
    while (std::count(written.begin(), written.end(), untouched_entry)) ++untouched_entry;
    REQUIRE(untouched_entry < host.spec.resolved_bank_entries());
    // A written state element one ulp off in the second run only.
    const CaseReport state = run(kIndexed, [&](const Problem& p, int run, SubjectRunResult&) {
        if (run != 1) return;
        const std::int64_t at = p.bank_entry_elements() * written[0];
        const double x = reference::load_double(p.state, p.state_dtype, at);
        reference::store_double(p.state, p.state_dtype, at, x + reference::ulp(p.state_dtype, x));
    });
    CHECK(check_named(state, "determinism").outcome == Outcome::incorrect);
    CHECK_THAT(check_named(state, "determinism").detail, Catch::Contains("1 of the written state"));
    // An untouched entry changed by the second run only (the first left it intact).
    const auto change_untouched_in = [&](int changing_run) {
        return [&, changing_run](const Problem& p, int run, SubjectRunResult&) {
            if (run == changing_run)
                reference::store_double(p.state, p.state_dtype, p.bank_entry_elements() * untouched_entry, 7.0);
        };
    };
    const CaseReport untouched = run(kIndexed, change_untouched_in(1));
    CHECK(check_named(untouched, "untouched bank").outcome == Outcome::passed);
    CHECK(check_named(untouched, "determinism").outcome == Outcome::incorrect);
    CHECK_THAT(check_named(untouched, "determinism").detail, Catch::Contains("changed untouched slices"));
    // When the first run already changed an untouched entry the second is not judged.
    const CaseReport first = run(kIndexed, change_untouched_in(0));
    CHECK(check_named(first, "untouched bank").outcome == Outcome::incorrect);
    CHECK(check_named(first, "determinism").outcome == Outcome::not_run);
}

TEST_CASE("runner: a case over the memory budget is NOT_RUN before anything is allocated", "[runner]") {
    int runs = 0;
    DamagedSubject subject([&runs](const Problem&, int, SubjectRunResult&) { ++runs; });
    RunOptions options;
    options.memory_budget_bytes = 1000;  // less than any case
    const CaseReport report = run_case(parse_text(kIndexed), subject, ToleranceTable::load_default(), options);
    CHECK(report.outcome == Outcome::not_run);
    CHECK_THAT(report.message, Catch::Contains("over the budget") && Catch::Contains("--memory-budget"));
    CHECK(runs == 0);
    SharedCase shared(parse_text(kIndexed));
    CHECK(shared.run(subject, ToleranceTable::load_default(), options).outcome == Outcome::not_run);
    CHECK(runs == 0);
    options.memory_budget_bytes = std::int64_t(1) << 32;
    CHECK(run_case(parse_text(kIndexed), subject, ToleranceTable::load_default(), options).outcome == Outcome::passed);
    CHECK(runs == 2);
}

TEST_CASE("runner: each stage's time and peak memory are in the report", "[runner]") {
    const CaseReport report = run(kIndexed, [](const Problem&, int, SubjectRunResult&) {});
    std::vector<std::string> stages;
    for (const StageTiming& stage : report.stages) {
        stages.push_back(stage.stage);
        CHECK(stage.seconds >= 0);
        CHECK(stage.peak_rss_bytes > 0);
    }
    for (const char* stage : {"generation", "subject run", "R64 (bounds: correctly-rounded math)", "Rlp",
                              "o and state checks", "untouched bank", "determinism"})
        CHECK(std::find(stages.begin(), stages.end(), stage) != stages.end());
    CHECK(to_json(report).at("stages").size() == report.stages.size());
}

TEST_CASE("runner: a subject that writes its inputs is INCORRECT", "[runner]") {
    const CaseReport report = run(kIndexed, [](const Problem& p, int, SubjectRunResult&) {
        reference::store_double(p.q.data, p.q.dtype, 0, 123.0);
    });
    CHECK(check_named(report, "inputs unchanged").outcome == Outcome::incorrect);
}

TEST_CASE("runner: damaged guard bands are INCORRECT", "[runner]") {
    const CaseReport report = run(kIndexed, [](const Problem&, int, SubjectRunResult& result) {
        result.has_guard_bands = true;
        result.damaged_guard_bytes = 4;
        result.guard_detail = "o: 4 bytes";
    });
    CHECK(check_named(report, "guard bands").outcome == Outcome::incorrect);
}

TEST_CASE("runner: an inactive row with a nonzero output is INCORRECT whatever the tolerance", "[runner]") {
    // Row 1 is inactive (negative cache_seqlens); a tiny value where 0 is required must fail.
    const std::string spec = "B=2 T=1 H=1 HV=1 K=4 V=4 in=f32 state=f32 circular=1 seqlen_max=3 neg_seqlens=1 seed=9";
    const CaseReport report = run(spec, [](const Problem& p, int, SubjectRunResult&) {
        for (std::int64_t r = 0; r < p.rows(); ++r)
            if (!row_is_active(p, r)) set_o(p, r * p.value_dim, 1e-30);
    });
    CHECK(check_named(report, "o vs R64").outcome == Outcome::incorrect);
}

TEST_CASE("runner: exact mode catches a one-ulp difference", "[runner]") {
    const std::string spec = "B=1 T=2 H=1 HV=1 K=4 V=4 in=bf16 state=bf16 l2norm=0 scale=1 gdist=zero bdist=one exact=1 seed=4";
    const CaseReport report = run(spec, [](const Problem& p, int, SubjectRunResult&) {
        set_o(p, 1, o_at(p, 1) + reference::ulp(DType::bf16, o_at(p, 1)));  // one bf16 ulp
    });
    const CheckResult& check = check_named(report, "o vs R64");
    CHECK(check.outcome == Outcome::incorrect);
    CHECK(check.tolerance_row_id == "exact");
}

TEST_CASE("runner: errors, refusals and absent subjects get their own outcomes", "[runner]") {
    const CaseReport failed = run(kIndexed, [](const Problem&, int, SubjectRunResult&) { throw std::runtime_error("boom"); });
    CHECK(failed.outcome == Outcome::failed);
    CHECK(failed.message.find("boom") != std::string::npos);
    const CaseReport refused = run(kIndexed, [](const Problem&, int, SubjectRunResult&) { throw NotSupported("K"); });
    CHECK(refused.outcome == Outcome::not_supported);

    class Absent final : public Subject {
        std::string name() const override { return "absent"; }
        std::string description() const override { return ""; }
        std::optional<std::string> unavailable_reason() const override { return "not on this machine"; }
        SubjectRunResult run(const Problem&) override { throw std::logic_error("must not run"); }
    } absent;
    const CaseReport not_run = run_case(parse_text(kIndexed), absent, ToleranceTable::load_default());
    CHECK(not_run.outcome == Outcome::not_run);
    CHECK(not_run.message == "not on this machine");
}

TEST_CASE("runner: the reproduce command names the subject and the exact case", "[runner]") {
    const CaseSpec spec = parse_text(kIndexed);
    const std::string command = reproduce_command(spec, "cuda-decode");
    CHECK(command.rfind("gdr check --subject cuda-decode --case '", 0) == 0);
    CHECK(command.find(to_text(spec)) != std::string::npos);
}

TEST_CASE("runner: legal rounding on one-element slices passes (regressions of the tolerance rule)", "[runner]") {
    // Each found by a property test, V = 1 and K = 4, with the reversed-order subject:
    const std::string spec = GENERATE(
        // (GPU property test) 2.6 ulp from R64 with Rlp 0.6 ulp off: inside the 2-ulp floor
        // plus rho x Rlp, but a relative error of 3.7u; the Frobenius cap must be at least
        // the floor's relative size (4u).
        std::string("B=1 T=1 H=1 HV=1 K=4 V=1 layout=kv in=f32 gate=f32 state=f32 g=0 beta=0 l2norm=0 varlen=1 "
                    "seq_lengths=0,0,0,1 qk=l2normalized state_scale=0.25 seed=12370982454051081643"),
        // (CPU subject property) the K terms cancel: 3.6 ulp of |o| off while Rlp happened
        // to be 0.6 ulp off; the floor sits at the magnitude of the terms, not of |o|.
        std::string("B=1 T=3 H=1 HV=1 K=4 V=1 layout=kv in=f32 gate=f32 state=f32 varlen=1 seq_lengths=0,0,3 "
                    "qk=l2normalized state_scale=8 seed=1735860969503707210"));
    const CaseReport report = run(spec, [](const Problem&, int, SubjectRunResult&) {});
    INFO(spec << "\n" << format_failure(report));
    CHECK(report.outcome == Outcome::passed);
}

TEST_CASE("runner: each circular token is judged as one step from the slot the subject stored", "[runner]") {
    // Two tokens, Slots = 2, bf16 state, f32 output: token 0's state goes to slot
    // (c mod 2 + 1) mod 2, and token 1 reads it back. The correct subject passes the
    // stepped checks too.
    const std::string spec = "B=1 T=2 H=1 HV=1 K=16 V=16 layout=vk in=f32 gate=f32 state=bf16 slots=2 circular=1 "
                             "seqlen_max=3 qk=l2normalized seed=5";
    const CaseReport good = run(spec, [](const Problem&, int, SubjectRunResult&) {});
    INFO(format_failure(good));
    CHECK(good.outcome == Outcome::passed);
    CHECK(check_named(good, "o vs stepped R64").outcome == Outcome::passed);
    CHECK(check_named(good, "state vs stepped R64").outcome == Outcome::passed);

    // A subject that stores token 0's state one bf16 ulp off in one element but goes on
    // from the value it did not store: one rounding flip, which the ordinary checks must
    // allow, but token 1 is no longer a step from the stored state.
    const CaseReport bad = run(spec, [](const Problem& p, int, SubjectRunResult&) {
        const std::int64_t slot = (p.cache_seqlens[0] % p.slots() + 1) % p.slots();
        auto* bank = static_cast<std::uint16_t*>(p.state);
        bank[slot * p.key_dim * p.value_dim + 3] += 1;  // entry 0, head 0, element 3
    });
    INFO(format_failure(bad));
    CHECK(check_named(bad, "o vs R64").outcome == Outcome::passed);
    CHECK(check_named(bad, "state vs R64").outcome == Outcome::passed);
    CHECK(check_named(bad, "o vs stepped R64").outcome == Outcome::incorrect);
}

TEST_CASE("runner: the stepped checks need every token's slot to survive the call", "[runner]") {
    // Slots = 1 < T: token 1 overwrites token 0's slot, so there is nothing to step from.
    const CaseReport report = run("B=1 T=2 H=1 HV=1 K=8 V=8 layout=kv in=f32 state=bf16 slots=1 circular=1 seed=2",
                                  [](const Problem&, int, SubjectRunResult&) {});
    INFO(format_failure(report));
    CHECK(report.outcome == Outcome::passed);
    for (const CheckResult& check : report.checks) CHECK(check.name.find("stepped") == std::string::npos);
}

namespace {

// The correct subject, then one element of state written through every inactive row's
// index, as a kernel that forgets the active test would write it (entry idx, slot 0).
void write_through_inactive_indices(const Problem& p, int, SubjectRunResult&) {
    for (std::int64_t r = 0; r < p.rows(); ++r) {
        if (row_is_active(p, r)) continue;
        const std::int64_t index = p.state_indices[r];
        reference::store_double(p.state, p.state_storage, index * p.bank_entry_elements() + 1, 0.25);
    }
}

}  // namespace

TEST_CASE("runner: a state write through an out-of-range index lands in the bank arena and is INCORRECT", "[runner]") {
    // Four inactive rows: the rule gives them -1, -5, N and N + 7 (in a hashed order).
    const std::string spec = "B=6 T=2 H=1 HV=2 K=8 V=6 in=f32 state=f32 N=4 indices=permutation inactive=4 seed=5";
    const CaseReport clean = run(spec, [](const Problem&, int, SubjectRunResult&) {});
    INFO(format_failure(clean));
    CHECK(clean.outcome == Outcome::passed);
    CHECK(check_named(clean, "bank arena").outcome == Outcome::passed);

    const CaseReport damaged = run(spec, write_through_inactive_indices);
    const CheckResult& arena = check_named(damaged, "bank arena");
    CHECK(arena.outcome == Outcome::incorrect);
    for (const char* entry : {"entry -5:", "entry -1:", "entry 4:", "entry 11:"}) CHECK_THAT(arena.detail, Catch::Contains(entry));
    CHECK(damaged.outcome == Outcome::incorrect);
}

TEST_CASE("runner: the bank arena covers explicit indices and circular slots", "[runner]") {
    // Slot 2 of entry N + 60 (near kMaxIndexMargin), and of entry -64.
    const std::string spec = "B=3 T=1 H=1 HV=1 K=4 V=3 in=f32 state=f32 N=2 slots=3 circular=1 cache_seqlens=1,0,1 "
                             "explicit_indices=1,62,-64 seed=9";
    const CaseReport damaged = run(spec, [](const Problem& p, int, SubjectRunResult&) {
        for (std::int64_t r = 0; r < p.rows(); ++r)
            if (!row_is_active(p, r))
                reference::store_double(p.state, p.state_storage,
                                        p.state_indices[r] * p.bank_entry_elements() + 2 * p.num_value_heads * p.key_dim * p.value_dim, 1.0);
    });
    const CheckResult& arena = check_named(damaged, "bank arena");
    CHECK(arena.outcome == Outcome::incorrect);
    CHECK_THAT(arena.detail, Catch::Contains("entry 62:") && Catch::Contains("entry -64:"));
}

namespace {

// The default case with special values: NaN in k of (row 1, head 1) and in q of row 2's
// first token, Inf in v, a subnormal k (harness/src/default_cases.cpp).
CaseSpec default_special_case() {
    for (const CaseSpec& spec : default_verify_cases())
        if (spec.specials.size() == 4 && spec.key_dim == 5) return spec;
    FAIL("the default cases lost their special-value case");
    throw std::logic_error("unreachable");
}

// A masked load done as a multiplication by zero: o of each (row, token, head) gets
// 0 x the q/k element just past the head's K (the next head's, or the next token's),
// as a kernel that loads 8 rows unmasked and zeroes the tail by multiplying would.
void tail_times_zero(const Problem& p, int, SubjectRunResult&) {
    for (std::int64_t b = 0; b < p.batch; ++b)
        for (std::int64_t t = 0; t < p.seq_len; ++t)
            for (std::int64_t hv = 0; hv < p.num_value_heads; ++hv) {
                const std::int64_t head = hv / (p.num_value_heads / p.num_heads);
                if (b == p.batch - 1 && t == p.seq_len - 1 && head == p.num_heads - 1) continue;  // past the end
                const std::int64_t past = b * p.k.stride[0] + t * p.k.stride[1] + head * p.k.stride[2] + p.key_dim;
                const double next = reference::load_double(p.k.data, p.k.dtype, past) +
                                    reference::load_double(p.q.data, p.q.dtype, past);
                const std::int64_t o = ((b * p.seq_len + t) * p.num_value_heads + hv) * p.value_dim;
                set_o(p, o, o_at(p, o) + 0.0 * next);
            }
}

}  // namespace

TEST_CASE("runner: special values pass on the correct subject and the isolation check runs", "[runner]") {
    for (const CaseSpec& spec : default_verify_cases()) {
        if (spec.specials.empty()) continue;
        INFO(to_text(spec));
        DamagedSubject subject([](const Problem&, int, SubjectRunResult&) {});
        const CaseReport report = run_case(spec, subject, ToleranceTable::load_default());
        INFO(format_failure(report));
        CHECK(report.outcome == Outcome::passed);
        const CheckResult& isolation = check_named(report, "isolation");
        CHECK(isolation.outcome == Outcome::passed);
        CHECK_THAT(isolation.detail, Catch::Contains("excluded"));
    }
}

TEST_CASE("runner: a NaN leaking across rows and heads fails isolation", "[runner]") {
    const CaseSpec spec = default_special_case();
    const CaseReport clean = run_case(spec, *std::make_unique<DamagedSubject>([](const Problem&, int, SubjectRunResult&) {}),
                                      ToleranceTable::load_default());
    CHECK(clean.outcome == Outcome::passed);

    DamagedSubject leaky(tail_times_zero);
    const CaseReport report = run_case(spec, leaky, ToleranceTable::load_default());
    const CheckResult& isolation = check_named(report, "isolation");
    CHECK(isolation.outcome == Outcome::incorrect);
    CHECK(report.outcome == Outcome::incorrect);

    // Without the special values the same subject is bitwise correct: only they expose it.
    CaseSpec plain = spec;
    plain.specials.clear();
    DamagedSubject leaky_plain(tail_times_zero);
    const CaseReport plain_report = run_case(plain, leaky_plain, ToleranceTable::load_default());
    INFO(format_failure(plain_report));
    CHECK(plain_report.outcome == Outcome::passed);
}

TEST_CASE("runner: isolation compares bytes, not values within tolerance", "[runner]") {
    // A one-ulp change in a unit no special value reaches is legal for 'o vs R64' but not
    // for isolation (the subject is compared with itself).
    const CaseSpec spec = parse_text("B=2 T=1 H=1 HV=1 K=4 V=4 in=f32 state=f32 specials=v:nan@0.0.0.0 seed=8");
    DamagedSubject subject([](const Problem& p, int run, SubjectRunResult&) {
        if (run != 1) return;  // run 0: the case; 1: without specials (isolation); 2: the determinism twin
        const std::int64_t o = 1 * p.value_dim;  // row 1
        set_o(p, o, std::nextafter(float(o_at(p, o)), 10.0f));
    });
    const CaseReport report = run_case(spec, subject, ToleranceTable::load_default());
    const CheckResult& isolation = check_named(report, "isolation");
    CHECK(isolation.outcome == Outcome::incorrect);
    CHECK_THAT(isolation.detail, Catch::Contains("o[b=1,t=0,hv=0]"));
    CHECK(check_named(report, "o vs R64").outcome == Outcome::passed);
}

TEST_CASE("runner: after a gate of -Inf (a full reset) the state is still judged", "[runner]") {
    // g = -Inf at row 0, token 1, value head 1: exp(g) = 0 exactly resets that head's state.
    // Its computed bounds must stay finite there (exp's error bound times 0, not Inf x 0 =
    // NaN, which would leave every later element of the head unjudged), so a state that is
    // wrong after the reset fails.
    const std::string reset = "B=2 T=3 H=1 HV=2 K=8 V=6 layout=kv in=f32 state=f32 seed=25 specials=g:-inf@0.1.1";
    const CaseReport good = run(reset, [](const Problem&, int, SubjectRunResult&) {});
    INFO(format_failure(good));
    REQUIRE(good.outcome == Outcome::passed);
    const CaseReport bad = run(reset, [](const Problem& p, int, SubjectRunResult&) {
        const std::int64_t element = p.key_dim * p.value_dim + 5;  // entry 0, value head 1
        reference::store_double(p.state, p.state_storage, element, reference::load_double(p.state, p.state_storage, element) + 1.0);
    });
    INFO(format_failure(bad));
    CHECK(bad.outcome == Outcome::incorrect);
    CHECK(check_named(bad, "state vs R64").outcome == Outcome::incorrect);
}
