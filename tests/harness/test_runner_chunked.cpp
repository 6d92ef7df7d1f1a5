// The harness's chunked path (docs/SPEC.md, "Variable-length batches (prefill, chunked
// path)"): a subject that declares a ChunkedContract is judged against the recurrence
// writing only the final state (truth, bounds) and the chunked oracle (Rlp). Each test
// wraps the CPU chunk stand-in, breaks one thing a buggy chunk kernel would, and expects
// the check that exists to see it to fail; the untouched stand-in passes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "gdr/harness/check_names.hpp"
#include "gdr/harness/runner.hpp"
#include "gdr/reference/numeric.hpp"
#include "support/builtin_subjects.hpp"
#include "support/damaged_subject.hpp"

using namespace gdr;
using namespace gdr::harness;

namespace {

using gdr::testing::DamagedSubject;
using Slices = std::vector<std::pair<std::int64_t, std::int64_t>>;

CaseReport run_chunked_subject(const std::string& spec_text, DamagedSubject::Damage damage) {
    DamagedSubject subject(std::move(damage), gdr::testing::cpu_chunked_stand_in());
    return run_case(parse_text(spec_text), subject, ToleranceTable::load_default());
}

void no_damage(const Problem&, int, SubjectRunResult&) {}

const CheckResult* find_check(const CaseReport& report, const std::string& name) {
    const auto found = std::find_if(report.checks.begin(), report.checks.end(),
                                    [&](const CheckResult& check) { return check.name == name; });
    return found == report.checks.end() ? nullptr : &*found;
}

Outcome outcome_of(const CaseReport& report, const std::string& name) {
    const CheckResult* check = find_check(report, name);
    INFO("check " << name);
    REQUIRE(check);
    return check->outcome;
}

// First element of S[n, slot, hv] in the problem's bank (64-bit offsets, as the kernels).
std::int64_t matrix_offset(const Problem& p, std::int64_t n, std::int64_t slot, std::int64_t hv) {
    return ((n * p.slots() + slot) * p.num_value_heads + hv) * p.key_dim * p.value_dim;
}

// The element of o or of the bank at which `check` found its closest slice (the worst
// element of the slice nearest its threshold), as a flat index into the problem's buffer.
std::int64_t closest_element(const Problem& p, const CheckResult& check) {
    const SliceMetrics& slice = *check.worst_slice;
    long a = 0, b = 0, hv = 0;
    if (std::sscanf(slice.label.c_str(), "o[b=%ld,t=%ld,hv=%ld]", &a, &b, &hv) == 3)
        return ((a * p.seq_len + b) * p.num_value_heads + hv) * p.value_dim + slice.worst_index.at(0);
    REQUIRE(std::sscanf(slice.label.c_str(), "state[n=%ld,slot=%ld,hv=%ld]", &a, &b, &hv) == 3);
    const std::int64_t inner = p.layout == Layout::KV ? p.value_dim : p.key_dim;
    return matrix_offset(p, a, b, hv) + slice.worst_index.at(0) * inner + slice.worst_index.at(1);
}

// The correct run, then the element nearest its threshold in `check_name`'s slices moved by
// three times that threshold: a few units of the rule beyond it, and nothing else wrong.
DamagedSubject::Damage beyond_the_rule(const CaseReport& good, const std::string& check_name) {
    const CheckResult* check = find_check(good, check_name);
    REQUIRE(check);
    REQUIRE(check->worst_slice);
    REQUIRE(check->worst_slice->threshold_abs > 0);
    const bool o = check_name == check_names::o_vs_r64;
    return [check = *check, o](const Problem& p, int, SubjectRunResult&) {
        void* data = o ? p.o.data : p.state;
        const DType dtype = o ? p.o.dtype : p.state_storage;
        const std::int64_t index = closest_element(p, check);
        reference::store_double(data, dtype, index,
                                reference::load_double(data, dtype, index) + 3 * check.worst_slice->threshold_abs);
    };
}

// Circular, Slots = 8 > T = 7 (a decode subject would get the stepped checks), bf16 state
// (the recurrence would round-trip it between tokens; the chunked path does not), two
// chunks of C = 4 with a tail of 3.
const std::string kCircular =
    "B=2 T=7 H=1 HV=2 K=16 V=12 layout=vk in=bf16 state=bf16 slots=8 circular=1 seqlen_max=20 seed=21";
// f32 throughout, T = 6: a chunk of C = 4 and a tail of 2.
const std::string kPlainF32 = "B=2 T=6 H=1 HV=2 K=16 V=12 layout=kv in=f32 state=f32 seed=22";

}  // namespace

TEST_CASE("chunked path: written_bank_slices final_only lists only the slot the last token writes", "[runner][chunked]") {
    const HostCase host = materialize(parse_text(kCircular));
    const Slices final_only = written_bank_slices(host, reference::StateWrites::final_only);
    REQUIRE(final_only.size() == 2);
    for (std::int64_t r = 0; r < 2; ++r)
        CHECK(final_only[std::size_t(r)] == std::pair<std::int64_t, std::int64_t>{r, (host.cache_seqlens[std::size_t(r)] + 7) % 8});
    CHECK(written_bank_slices(host).size() == 14);  // the recurrence: every token's slot
    // Only the final slots are poisoned in a chunk kernel's buffers.
    const RunBuffers buffers = make_subject_buffers(host, DType::bf16, DType::bf16, reference::StateWrites::final_only);
    const std::int64_t slice = 2 * 16 * 12;
    std::int64_t poisoned_slices = 0;
    for (std::int64_t n = 0; n < 2; ++n)
        for (std::int64_t slot = 0; slot < 8; ++slot) {
            const auto mask = buffers.bank.poison_mask((n * 8 + slot) * slice, slice);
            poisoned_slices += std::count(mask.begin(), mask.end(), std::uint8_t(1)) == slice;
        }
    CHECK(poisoned_slices == 2);
}

TEST_CASE("chunked path: the chunk stand-in passes and the report carries its contract", "[runner][chunked]") {
    const CaseReport report = run_chunked_subject(kCircular, no_damage);
    INFO(format_failure(report));
    CHECK(report.outcome == Outcome::passed);
    CHECK(report.chunked.find("C=4") != std::string::npos);
    CHECK(report.chunked.find("t, w, u_prime") != std::string::npos);
    CHECK(to_json(report).at("chunked") == report.chunked);
    for (const char* name : {check_names::o_vs_r64, check_names::state_vs_r64, check_names::poison_survivors,
                             check_names::determinism, check_names::inputs_unchanged})
        CHECK(outcome_of(report, name) == Outcome::passed);
    // 2 entries x 8 slots, of which the call writes one per row: the other 14 bitwise as they were.
    const CheckResult* untouched = find_check(report, check_names::untouched_bank);
    REQUIRE(untouched);
    CHECK(untouched->outcome == Outcome::passed);
    CHECK(untouched->detail.find("14 untouched slices") == 0);
    // No token's state is stored to step from: listed as not applicable, outside the outcome.
    for (const char* name : {check_names::o_vs_stepped_r64, check_names::state_vs_stepped_r64}) {
        const CheckResult* stepped = find_check(report, name);
        REQUIRE(stepped);
        CHECK(stepped->outcome == Outcome::not_run);
        CHECK(stepped->detail.find("chunked path") != std::string::npos);
    }
}

TEST_CASE("chunked path: o or the final state a few units beyond the rule is INCORRECT", "[runner][chunked]") {
    const CaseReport good = run_chunked_subject(kPlainF32, no_damage);
    INFO(format_failure(good));
    REQUIRE(good.outcome == Outcome::passed);
    const CaseReport bad_o = run_chunked_subject(kPlainF32, beyond_the_rule(good, check_names::o_vs_r64));
    INFO(format_failure(bad_o));
    CHECK(outcome_of(bad_o, check_names::o_vs_r64) == Outcome::incorrect);
    CHECK(outcome_of(bad_o, check_names::state_vs_r64) == Outcome::passed);
    CHECK(bad_o.outcome == Outcome::incorrect);
    const CaseReport bad_state = run_chunked_subject(kPlainF32, beyond_the_rule(good, check_names::state_vs_r64));
    INFO(format_failure(bad_state));
    CHECK(outcome_of(bad_state, check_names::state_vs_r64) == Outcome::incorrect);
    CHECK(outcome_of(bad_state, check_names::o_vs_r64) == Outcome::passed);
}

TEST_CASE("chunked path: also writing an intermediate circular slot fails the untouched bank", "[runner][chunked]") {
    // The slot the recurrence's first token writes, (read + 1) mod Slots, gets a copy of the
    // final state, as a chunk kernel that stores a state after its first chunk would.
    const CaseReport bad = run_chunked_subject(kCircular, [](const Problem& p, int, SubjectRunResult&) {
        const std::int64_t read = p.cache_seqlens[0] % p.slots(), length = p.seq_len;
        const std::int64_t matrix = p.key_dim * p.value_dim;
        std::vector<double> state(static_cast<std::size_t>(matrix));
        reference::load_doubles(p.state, p.state_storage, matrix_offset(p, 0, (read + length) % p.slots(), 0), matrix,
                                state.data());
        reference::store_doubles(p.state, p.state_storage, matrix_offset(p, 0, (read + 1) % p.slots(), 0), 1, matrix,
                                 state.data());
    });
    INFO(format_failure(bad));
    CHECK(outcome_of(bad, check_names::untouched_bank) == Outcome::incorrect);
    CHECK(outcome_of(bad, check_names::o_vs_r64) == Outcome::passed);
    CHECK(outcome_of(bad, check_names::state_vs_r64) == Outcome::passed);
    CHECK(bad.outcome == Outcome::incorrect);
}

namespace {

// Another way of computing under the chunk stand-in's name and contract: `run` is the
// kernel, the harness judges it as the chunked path says.
class UnderChunkedContract final : public Subject {
public:
    explicit UnderChunkedContract(std::function<SubjectRunResult(const Problem&)> run) : run_(std::move(run)) {}
    std::string name() const override { return contract_->name(); }
    std::string description() const override { return "a wrong chunk kernel"; }
    std::optional<std::string> unavailable_reason() const override { return std::nullopt; }
    MathMode math_mode() const override { return contract_->math_mode(); }
    std::optional<ChunkedContract> chunked() const override { return contract_->chunked(); }
    SubjectRunResult run(const Problem& problem) override { return run_(problem); }

private:
    std::unique_ptr<Subject> contract_ = gdr::testing::cpu_chunked_stand_in();
    std::function<SubjectRunResult(const Problem&)> run_;
};

}  // namespace

TEST_CASE("chunked path: a kernel that ignores the tail chunk is INCORRECT", "[runner][chunked]") {
    // Its grid covers T / C whole chunks (integer division): the tail's tokens are never
    // computed, their o never written, and the state stored is the one after the last
    // whole chunk.
    const std::shared_ptr<Subject> stand_in = gdr::testing::cpu_chunked_stand_in();
    const std::int64_t chunk = stand_in->chunked()->chunk_size;
    REQUIRE(parse_text(kPlainF32).seq_len % chunk != 0);
    UnderChunkedContract subject([&](const Problem& problem) {
        Problem whole_chunks = problem;
        whole_chunks.seq_len -= problem.seq_len % chunk;
        return stand_in->run(whole_chunks);
    });
    const CaseReport report = run_case(parse_text(kPlainF32), subject, ToleranceTable::load_default());
    INFO(format_failure(report));
    CHECK(outcome_of(report, check_names::o_vs_r64) == Outcome::incorrect);
    CHECK(outcome_of(report, check_names::state_vs_r64) == Outcome::incorrect);
    CHECK(outcome_of(report, check_names::poison_survivors) == Outcome::incorrect);
}

TEST_CASE("chunked path: a decode kernel's every-token writes fail as a chunk kernel's", "[runner][chunked]") {
    // The decode stand-in (every token's slot, the round trip) under a chunk kernel's
    // contract: the slots it writes for earlier tokens were not the call's to write.
    const std::shared_ptr<Subject> decode = gdr::testing::cpu_stand_in();
    UnderChunkedContract subject([&](const Problem& problem) { return decode->run(problem); });
    const CaseReport report = run_case(parse_text(kCircular), subject, ToleranceTable::load_default());
    INFO(format_failure(report));
    CHECK(outcome_of(report, check_names::untouched_bank) == Outcome::incorrect);
}

namespace {

// NaN in o[b, t, hv] (every element; t on the batch's T axis), after a correct run.
DamagedSubject::Damage nan_in_o(std::int64_t b, std::int64_t t, std::int64_t hv) {
    return [=](const Problem& p, int, SubjectRunResult&) {
        const std::int64_t first = ((b * p.seq_len + t) * p.num_value_heads + hv) * p.value_dim;
        for (std::int64_t i = 0; i < p.value_dim; ++i)
            reference::store_double(p.o.data, p.o.dtype, first + i, std::numeric_limits<double>::quiet_NaN());
    };
}

// H = 2, HV = 4 (value heads 0 and 1 read q/k head 0), two rows of T = 7: chunks [0, 4) and
// [4, 7) of C = 4. k of head 0 is NaN at row 0, token 5: R64's o of row 0 is NaN from token 5
// on at value heads 0 and 1 and finite before it, so o of tokens 4..6 of row 0 at heads 0 and
// 1 may be NaN, and nothing else.
const std::string kNaNInK = "B=2 T=7 H=2 HV=4 K=8 V=6 layout=kv in=f32 state=f32 seed=23 specials=k:nan@0.5.0.3";

void expect_nonfinite_failure(const CaseReport& report, const std::string& check_name) {
    INFO(format_failure(report));
    const CheckResult* check = find_check(report, check_name);
    REQUIRE(check);
    CHECK(check->outcome == Outcome::incorrect);
    CHECK(check->detail.find("NaN/Inf in the subject where R64 is finite") != std::string::npos);
}

}  // namespace

TEST_CASE("chunked path: NaN in o of an earlier token of a NaN input's chunk passes, and is counted",
          "[runner][chunked]") {
    const CaseReport untouched = run_chunked_subject(kNaNInK, no_damage);
    INFO(format_failure(untouched));
    REQUIRE(untouched.outcome == Outcome::passed);
    CHECK(find_check(untouched, check_names::o_vs_r64)->detail.find("left unjudged") == std::string::npos);
    // Token 4, value head 1: in the chunk of token 5 and in the group of q/k head 0.
    const CaseReport report = run_chunked_subject(kNaNInK, nan_in_o(0, 4, 1));
    INFO(format_failure(report));
    CHECK(report.outcome == Outcome::passed);
    const CheckResult* o = find_check(report, check_names::o_vs_r64);
    REQUIRE(o);
    CHECK(o->outcome == Outcome::passed);
    const std::string counted = "6 NaN/Inf elements where R64 is finite left unjudged in chunks of NaN/Inf inputs";
    CHECK(o->detail.find(counted) != std::string::npos);
    CHECK(to_json(report).dump().find(counted) != std::string::npos);
    CHECK(outcome_of(report, check_names::isolation) == Outcome::passed);
}

TEST_CASE("chunked path: NaN in o outside a NaN input's chunk, row or heads is INCORRECT", "[runner][chunked]") {
    struct Where {
        const char* what;
        std::int64_t b, t, hv;
    };
    for (const Where& w : {Where{"the chunk before", 0, 3, 0}, Where{"another row", 1, 4, 0},
                           Where{"a value head of the other q/k head", 0, 4, 2}}) {
        INFO(w.what);
        expect_nonfinite_failure(run_chunked_subject(kNaNInK, nan_in_o(w.b, w.t, w.hv)), check_names::o_vs_r64);
    }
}

TEST_CASE("chunked path: a decode kernel gets no allowance for a NaN input's chunk", "[runner][chunked]") {
    // The same NaN as the chunk kernel may write, from the decode stand-in (no chunked contract).
    DamagedSubject subject(nan_in_o(0, 4, 1));
    REQUIRE_FALSE(subject.chunked());
    expect_nonfinite_failure(run_case(parse_text(kNaNInK), subject, ToleranceTable::load_default()),
                             check_names::o_vs_r64);
}

TEST_CASE("chunked path: a NaN in q may poison the later tokens of its chunk, never the state", "[runner][chunked]") {
    // q enters only its own token's o: R64 is NaN at row 0, token 5 and finite everywhere
    // else, the final state included. o of tokens 4..6 of row 0 may be NaN, the state may not.
    const std::string q_nan = "B=2 T=7 H=1 HV=2 K=8 V=6 layout=vk in=f32 state=f32 seed=24 specials=q:nan@0.5.0.3";
    const CaseReport later = run_chunked_subject(q_nan, nan_in_o(0, 6, 1));
    INFO(format_failure(later));
    CHECK(later.outcome == Outcome::passed);
    CHECK(find_check(later, check_names::o_vs_r64)->detail.find("6 NaN/Inf elements") != std::string::npos);
    const CaseReport state = run_chunked_subject(q_nan, [](const Problem& p, int, SubjectRunResult&) {
        reference::store_double(p.state, p.state_storage, matrix_offset(p, 0, 0, 0) + 5,
                                std::numeric_limits<double>::quiet_NaN());
    });
    expect_nonfinite_failure(state, check_names::state_vs_r64);
    CHECK(outcome_of(state, check_names::o_vs_r64) == Outcome::passed);
}

TEST_CASE("chunked path: varlen chunks of a NaN input start at its row's first token", "[runner][chunked]") {
    // Rows of 5 and 7 tokens (batch tokens 0..4 and 5..11); v is NaN at row 1's token 5
    // (batch token 10), value head 0: row 1's tokens 4..6 (batch 9..11) may be NaN there.
    const std::string varlen =
        "B=1 T=12 varlen=1 seq_lengths=5,7 H=1 HV=2 K=8 V=6 layout=kv in=f32 state=f32 seed=25 specials=v:nan@1.5.0.0";
    const CaseReport allowed = run_chunked_subject(varlen, nan_in_o(0, 9, 0));
    INFO(format_failure(allowed));
    CHECK(allowed.outcome == Outcome::passed);
    // Batch token 8 (row 1's token 3) shares a chunk with token 10 only if chunks were counted
    // from the batch's first token; batch token 4 is row 0's.
    for (const std::int64_t token : {8, 4}) {
        INFO("batch token " << token);
        expect_nonfinite_failure(run_chunked_subject(varlen, nan_in_o(0, token, 0)), check_names::o_vs_r64);
    }
}

namespace {

// f16 inputs, no gate, no beta, no l2norm (docs/SPEC.md, chunked path, "Overflow of the declared
// precision"): the stand-in's Rlp (C = 4, tensor_core_bf16) rounds the state entering the second
// chunk to an f16 Inf at row 0, value head 0 only, so o of row 0 at head 0 from token 4 on and
// row 0's head-0 state are not judged: 3 tokens x V = 6 elements of o, K x V = 30 of the state.
// Row 0's head 1 and row 1 stay below 65504. The open fuzz class was B=1 HV=1 of these values.
const std::string kF16Overflow =
    "B=2 T=7 H=1 HV=2 K=15 V=2 layout=kv in=f16 gate=f32 state=f32 g=0 beta=0 l2norm=0 seed=4228728059393454271";
const std::string kO6Unjudged = "6 elements left unjudged where the declared precision overflowed";
const std::string kState30Unjudged = "30 elements left unjudged where the declared precision overflowed";

// The subject's own element o[b, t, hv, 0] or S[row b's entry, slot 0, hv][0], set by `wrong`
// after a correct run.
DamagedSubject::Damage wrong_o(std::int64_t b, std::int64_t t, std::int64_t hv, std::function<double(double)> wrong) {
    return [=](const Problem& p, int, SubjectRunResult&) {
        const std::int64_t at = ((b * p.seq_len + t) * p.num_value_heads + hv) * p.value_dim;
        reference::store_double(p.o.data, p.o.dtype, at, wrong(reference::load_double(p.o.data, p.o.dtype, at)));
    };
}
DamagedSubject::Damage wrong_state(std::int64_t b, std::int64_t hv, std::function<double(double)> wrong) {
    return [=](const Problem& p, int, SubjectRunResult&) {
        const std::int64_t at = matrix_offset(p, b, 0, hv);
        const double stored = reference::load_double(p.state, p.state_storage, at);
        reference::store_double(p.state, p.state_storage, at, wrong(stored));
    };
}
// Far from any answer: off by more than the value itself.
double far_off(double x) { return x + std::abs(x) + 1000; }
double nan_instead(double) { return std::numeric_limits<double>::quiet_NaN(); }

// Both damages, one after the other.
DamagedSubject::Damage both(DamagedSubject::Damage a, DamagedSubject::Damage b) {
    return [=](const Problem& p, int run, SubjectRunResult& result) { a(p, run, result), b(p, run, result); };
}

// What the chunk stand-in may write where its declared precision overflowed: anything.
const DamagedSubject::Damage kAnythingAfterOverflow =
    both(both(wrong_o(0, 5, 0, far_off), wrong_o(0, 6, 0, nan_instead)), wrong_state(0, 0, far_off));

std::string detail_of(const CaseReport& report, const std::string& check_name) {
    const CheckResult* check = find_check(report, check_name);
    REQUIRE(check);
    return check->detail;
}

}  // namespace

TEST_CASE("chunked path: where the declared f16 precision overflows, o from that chunk on and the state of that head "
          "are not judged, and are counted", "[runner][chunked]") {
    // The open fuzz class itself: INCORRECT ("no valid threshold") before the rule.
    const CaseReport repro = run_chunked_subject(
        "B=1 T=7 H=1 HV=1 K=15 V=2 layout=kv in=f16 gate=f32 state=f32 g=0 beta=0 l2norm=0 seed=4228728059393454271",
        no_damage);
    INFO(format_failure(repro));
    CHECK(repro.outcome == Outcome::passed);
    for (const auto& damage : {DamagedSubject::Damage(no_damage), kAnythingAfterOverflow}) {
        const CaseReport report = run_chunked_subject(kF16Overflow, damage);
        INFO(format_failure(report));
        CHECK(report.outcome == Outcome::passed);
        CHECK(detail_of(report, check_names::o_vs_r64).find(kO6Unjudged) != std::string::npos);
        CHECK(detail_of(report, check_names::state_vs_r64).find(kState30Unjudged) != std::string::npos);
        CHECK(to_json(report).dump().find(kO6Unjudged) != std::string::npos);
    }
}

TEST_CASE("chunked path: a wrong answer before the overflow's chunk, at another head or another row is INCORRECT",
          "[runner][chunked]") {
    struct Where {
        const char* what;
        DamagedSubject::Damage damage;
        const char* check;
    };
    const std::vector<Where> wrong{
        {"o of the chunk before, far off", wrong_o(0, 3, 0, far_off), check_names::o_vs_r64},
        {"o of the chunk before, NaN", wrong_o(0, 0, 0, nan_instead), check_names::o_vs_r64},
        {"o of the other value head, same tokens", wrong_o(0, 5, 1, far_off), check_names::o_vs_r64},
        {"o of the other row, same tokens and head", wrong_o(1, 5, 0, nan_instead), check_names::o_vs_r64},
        {"the state of the other value head", wrong_state(0, 1, far_off), check_names::state_vs_r64},
        {"the state of the other row", wrong_state(1, 0, far_off), check_names::state_vs_r64},
    };
    for (const Where& w : wrong) {
        INFO(w.what);
        // Beside what the overflow allows, so that the allowance is in force in the same run.
        const CaseReport report = run_chunked_subject(kF16Overflow, both(kAnythingAfterOverflow, w.damage));
        INFO(format_failure(report));
        CHECK(outcome_of(report, w.check) == Outcome::incorrect);
        CHECK(report.outcome == Outcome::incorrect);
    }
}

TEST_CASE("chunked path: a decode kernel gets no allowance where a chunk kernel's precision would overflow",
          "[runner][chunked]") {
    // The decode stand-in (no chunked contract, no declared rounding) is judged as ever: it
    // passes on its own, and the values the chunk kernel may write there fail it.
    DamagedSubject correct(no_damage);
    REQUIRE_FALSE(correct.chunked());
    const CaseReport good = run_case(parse_text(kF16Overflow), correct, ToleranceTable::load_default());
    INFO(format_failure(good));
    CHECK(good.outcome == Outcome::passed);
    CHECK(to_json(good).dump().find("declared precision overflowed") == std::string::npos);
    DamagedSubject subject(kAnythingAfterOverflow);
    const CaseReport report = run_case(parse_text(kF16Overflow), subject, ToleranceTable::load_default());
    INFO(format_failure(report));
    CHECK(outcome_of(report, check_names::o_vs_r64) == Outcome::incorrect);
    CHECK(outcome_of(report, check_names::state_vs_r64) == Outcome::incorrect);
}

TEST_CASE("chunked path: bf16 inputs of the same values never overflow, and nothing is left unjudged",
          "[runner][chunked]") {
    // bf16 has f32's exponent range: the state that overflows f16 is an ordinary operand.
    std::string bf16 = kF16Overflow;
    bf16.replace(bf16.find("in=f16"), 6, "in=bf16");
    const CaseReport good = run_chunked_subject(bf16, no_damage);
    INFO(format_failure(good));
    CHECK(good.outcome == Outcome::passed);
    CHECK(to_json(good).dump().find("declared precision overflowed") == std::string::npos);
    const CaseReport report = run_chunked_subject(bf16, kAnythingAfterOverflow);
    INFO(format_failure(report));
    CHECK(outcome_of(report, check_names::o_vs_r64) == Outcome::incorrect);
    CHECK(outcome_of(report, check_names::state_vs_r64) == Outcome::incorrect);
}
