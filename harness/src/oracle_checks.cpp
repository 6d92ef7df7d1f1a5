#include "gdr/harness/oracle_checks.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <optional>
#include <stdexcept>
#include <span>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>
#include <omp.h>

#include "gdr/harness/check_names.hpp"
#include "gdr/harness/compare.hpp"
#include "gdr/harness/nonfinite_chunks.hpp"
#include "gdr/harness/special_values.hpp"
#include "gdr/reference/chunked.hpp"
#include "gdr/reference/fused_recurrent.hpp"
#include "gdr/reference/numeric.hpp"

namespace gdr::harness {

namespace {

using Index = std::int64_t;

// Folds judged slices into one check: INCORRECT if any slice fails, reporting the first
// failing slice, else the one closest to its threshold.
class CheckFold {
public:
    explicit CheckFold(std::string name) : name_(std::move(name)) {}

    void fold(SliceMetrics metrics, const ToleranceRow* row) {
        ++slices_;
        if (!metrics.passed) ++failed_slices_;
        nonfinite_allowed_ += metrics.nonfinite_allowed_count;
        operand_overflow_ += metrics.operand_overflow_unjudged;
        const bool replaces = !worst_ || (!metrics.passed && worst_->passed) ||
                              (metrics.passed == worst_->passed && worst_->passed &&
                               metrics.error_ratio() > worst_->error_ratio());
        if (!replaces) return;
        worst_row_ = metrics.exact || !row ? "exact" : row->id;
        worst_ = std::move(metrics);
    }

    // `nothing`: the detail when no slice was judged.
    CheckResult result(const std::string& nothing) const {
        if (!worst_) return {name_, Outcome::passed, nothing, {}, ""};
        CheckResult check{name_, failed_slices_ ? Outcome::incorrect : Outcome::passed, "", worst_, worst_row_};
        check.detail = failed_slices_ ? fmt::format("{} of {} slices fail; first: {}: {}", failed_slices_, slices_,
                                                    worst_->label, worst_->why)
                                      : fmt::format("{} slices pass; closest: {} (error {:.3g} vs threshold {:.3g}{})",
                                                    slices_, worst_->label, worst_->error_at_threshold(),
                                                    worst_->threshold_abs,
                                                    worst_->worst_index.empty()
                                                        ? ""
                                                        : " at " + format_index(worst_->dim_names, worst_->worst_index));
        if (nonfinite_allowed_)
            check.detail += fmt::format("; {} NaN/Inf elements where R64 is finite left unjudged in chunks of NaN/Inf "
                                        "inputs (chunked path, docs/SPEC.md)",
                                        nonfinite_allowed_);
        if (operand_overflow_)
            check.detail += fmt::format("; {} elements left unjudged where the declared precision overflowed (Rlp "
                                        "rounded a finite operand to Inf; chunked path, docs/SPEC.md)",
                                        operand_overflow_);
        return check;
    }

private:
    std::string name_;
    std::optional<SliceMetrics> worst_;
    std::string worst_row_;
    std::int64_t slices_ = 0, failed_slices_ = 0;
    std::int64_t nonfinite_allowed_ = 0;  // over every slice, not only the one reported
    std::int64_t operand_overflow_ = 0;   // likewise
};

// One oracle run's results for one head (reference::HeadResults), in storage that the
// next head reuses.
struct HeadStorage {
    std::vector<double> o, state, o_magnitude, state_magnitude, o_flip, state_flip;

    reference::HeadResults sized(Index o_elements, Index state_elements, bool bounds) {
        const auto size = [](std::vector<double>& v, Index n) {
            v.resize(std::size_t(n));
            return v.data();
        };
        reference::HeadResults out{size(o, o_elements), size(state, state_elements)};
        if (bounds) {
            out.o_magnitude = size(o_magnitude, o_elements);
            out.state_magnitude = size(state_magnitude, state_elements);
            out.o_flip = size(o_flip, o_elements);
            out.state_flip = size(state_flip, state_elements);
        }
        return out;
    }
};

// Which of a head's arrays one kind of slice reads: its values and their bounds.
struct ResultArrays {
    std::vector<double> HeadStorage::*value;
    std::vector<double> HeadStorage::*magnitude;
    std::vector<double> HeadStorage::*flip;
};
constexpr ResultArrays kOutputArrays{&HeadStorage::o, &HeadStorage::o_magnitude, &HeadStorage::o_flip};
constexpr ResultArrays kStateArrays{&HeadStorage::state, &HeadStorage::state_magnitude, &HeadStorage::state_flip};

// Rlp of one head: the recurrence's emulated run (a decode kernel), or the chunked
// oracle's with the kernel's C and rounding points (a chunk kernel).
class EmulatedHead {
public:
    EmulatedHead(const Problem& problem, const std::optional<ChunkedContract>& chunked, const void* resume_bank)
        : run_(make(problem, chunked, resume_bank)) {}
    // Returns where a chunk kernel's declared precision overflowed (HeadChunked::run: the
    // first token of that chunk); nullopt for a decode kernel, which declares no roundings.
    std::optional<Index> run(Index row, Index hv, const reference::HeadResults& out) {
        if (const auto* chunked = std::get_if<reference::HeadChunked>(&run_)) return chunked->run(row, hv, out);
        std::get<reference::HeadRecurrence>(run_).run(row, hv, out);
        return std::nullopt;
    }

private:
    using Run = std::variant<reference::HeadRecurrence, reference::HeadChunked>;
    static Run make(const Problem& problem, const std::optional<ChunkedContract>& chunked, const void* resume_bank) {
        if (chunked) return Run(std::in_place_type<reference::HeadChunked>, problem, emulated_options(*chunked));
        return Run(std::in_place_type<reference::HeadRecurrence>, problem,
                   reference::OracleOptions{reference::Precision::emulated_fp32, reference::ReductionOrder::forward, {},
                                            resume_bank},
                   false);
    }
    Run run_;
};

// R64 with its bounds and Rlp: from the initial bank, or resumed from the subject's slots.
// A chunk kernel's R64 writes what it writes (the final state only, no round trip).
struct OraclePair {
    reference::HeadRecurrence truth;
    EmulatedHead emulated;
    HeadStorage t, e;
    std::optional<Index> operand_overflow;  // of the last head run (EmulatedHead::run)
    double truth_seconds = 0, emulated_seconds = 0;

    OraclePair(const Problem& problem, MathMode math, const void* resume_bank,
               const std::optional<ChunkedContract>& chunked)
        : truth(problem,
                {reference::Precision::truth_fp64, reference::ReductionOrder::forward, {}, resume_bank,
                 elementary_errors(math), state_writes_for(chunked)},
                true),
          emulated(problem, chunked, resume_bank) {}

    void run(Index row, Index hv, Index o_elements, Index state_elements) {
        const auto start = std::chrono::steady_clock::now();
        truth.run(row, hv, t.sized(o_elements, state_elements, true));
        const auto middle = std::chrono::steady_clock::now();
        operand_overflow = emulated.run(row, hv, e.sized(o_elements, state_elements, false));
        truth_seconds += std::chrono::duration<double>(middle - start).count();
        emulated_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - middle).count();
    }
};

// What the (row, head) loop needs of one row.
struct RowPlan {
    RowTokens tokens;
    bool active = false;
    Index entry = -1;                 // its bank entry (active rows)
    std::vector<Index> written_slots;  // in write order: HeadResults' state matrices
};

// The slices of one head, judged: o per token, state per written slot.
struct HeadMetrics {
    std::vector<SliceMetrics> o, state, stepped_o, stepped_state;
};

class HeadJudge {
public:
    HeadJudge(const OracleCheckInputs& in, std::vector<RowPlan> plans)
        : in_(in),
          spec_(in.host.spec),
          plans_(std::move(plans)),
          nonfinite_inputs_(has_nonfinite_specials(in.host.spec)),
          nonfinite_chunks_(in.chunked ? NonfiniteChunks(in.host, in.subject_problem, in.chunked->chunk_size)
                                       : NonfiniteChunks()),
          oracle_problem_(in.subject_problem) {
        // Read only: a head run writes nothing but its HeadResults.
        oracle_problem_.state = const_cast<void*>(in.host.initial_bank.data());
        oracle_problem_.state_storage = spec_.state_dtype;
    }

    const Problem& oracle_problem() const { return oracle_problem_; }

    // A worker thread's oracles and storage.
    struct Worker {
        OraclePair ordinary;
        std::optional<OraclePair> stepped;
        std::vector<double> subject, zeros;
        std::vector<std::uint8_t> poison;  // of `subject`; empty: no element is poison
        double judge_seconds = 0;
    };

    Worker make_worker() const {
        if (in_.stepped && in_.chunked)
            throw std::logic_error("the stepped checks judge a decode kernel's every-token writes, not a chunk kernel's");
        Worker worker{OraclePair(oracle_problem_, in_.math, nullptr, in_.chunked), std::nullopt, {}, {}, {}};
        if (in_.stepped) worker.stepped.emplace(oracle_problem_, in_.math, in_.subject.bank.data(), std::nullopt);
        return worker;
    }

    void judge(Worker& w, Index row, Index hv, HeadMetrics& out) const {
        const RowPlan& plan = plans_[std::size_t(row)];
        const Index length = plan.tokens.length(), matrix = spec_.key_dim * spec_.value_dim;
        const Index o_elements = length * spec_.value_dim;
        const Index state_elements = Index(plan.written_slots.size()) * matrix;
        if (plan.active && w.ordinary.truth.written_matrices(row) != Index(plan.written_slots.size()))
            throw std::logic_error(fmt::format("row {}: the oracle writes {} state matrices, the case lists {} written slots",
                                               row, w.ordinary.truth.written_matrices(row), plan.written_slots.size()));
        if (!plan.active) {  // exact zeros, whatever the tolerance; the bank is not touched
            w.zeros.assign(std::size_t(spec_.value_dim), 0.0);
            for (Index t = 0; t < length; ++t) {
                const SubjectSlice slice = o_slice(w, plan, t, hv);
                out.o.push_back(judge_loaded(w, slice, w.zeros.data(), w.zeros.data(), nullptr, nullptr));
                if (in_.stepped) out.stepped_o.push_back(out.o.back());
            }
            return;
        }
        w.ordinary.run(row, hv, o_elements, state_elements);
        if (w.stepped) w.stepped->run(row, hv, o_elements, state_elements);
        const auto start = std::chrono::steady_clock::now();
        // Each subject slice is decoded once and judged against both runs.
        const auto judge_both = [&](const SubjectSlice& slice, const ResultArrays& arrays, std::size_t at, bool first,
                                    std::vector<SliceMetrics>& whole, std::vector<SliceMetrics>& stepped) {
            const auto judge_with = [&](const OraclePair& oracle) {
                return judge_loaded(w, slice, (oracle.t.*arrays.value).data() + at, (oracle.e.*arrays.value).data() + at,
                                    (oracle.t.*arrays.magnitude).data() + at, (oracle.t.*arrays.flip).data() + at);
            };
            whole.push_back(judge_with(w.ordinary));
            if (!w.stepped) return;
            // The stepped run's first token starts from the initial bank like the whole run:
            // where its results are bitwise the whole run's, so is the verdict (the judge is
            // a function of its inputs).
            const auto same = [&](const HeadStorage& x, const HeadStorage& y, std::vector<double> HeadStorage::*member) {
                return std::memcmp((x.*member).data() + at, (y.*member).data() + at, w.subject.size() * sizeof(double)) == 0;
            };
            const OraclePair &a = w.ordinary, &b = *w.stepped;
            const bool reuse = first && same(a.t, b.t, arrays.value) && same(a.e, b.e, arrays.value) &&
                               same(a.t, b.t, arrays.magnitude) && same(a.t, b.t, arrays.flip);
            stepped.push_back(reuse ? whole.back() : judge_with(b));
        };
        // Where the chunk kernel's declared precision overflowed, its o from that chunk on and
        // the state it stores are not judged (docs/SPEC.md, chunked path).
        const std::optional<Index> overflow = w.ordinary.operand_overflow;
        for (Index t = 0; t < length; ++t) {
            SubjectSlice slice = o_slice(w, plan, t, hv);
            slice.nonfinite_allowed = nonfinite_chunks_.allows(row, t, hv);
            slice.operand_overflow = overflow && t >= *overflow;
            judge_both(slice, kOutputArrays, std::size_t(t * spec_.value_dim), t == 0, out.o, out.stepped_o);
        }
        for (std::size_t j = 0; j < plan.written_slots.size(); ++j) {
            SubjectSlice slice = state_slice(w, plan, plan.written_slots[j], hv);
            slice.operand_overflow = overflow.has_value();
            judge_both(slice, kStateArrays, j * std::size_t(matrix), j == 0, out.state, out.stepped_state);
        }
        w.judge_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }

private:
    // A subject slice, decoded into the worker's storage, and how to judge it.
    struct SubjectSlice {
        std::string label;
        std::vector<std::string> dims;
        std::vector<Index> shape;
        DType dtype;
        bool exact;
        const ToleranceRow* row;
        bool nonfinite_allowed = false;  // o in a chunk a NaN/Inf input may poison (chunked path)
        bool operand_overflow = false;   // at or after a chunk where the declared precision overflowed
    };

    SubjectSlice o_slice(Worker& w, const RowPlan& plan, Index t, Index hv) const {
        const Index token = plan.tokens.begin + t, n = spec_.value_dim;
        const Index begin = ((plan.tokens.batch_row * spec_.seq_len + token) * spec_.num_value_heads + hv) * n;
        load_subject(w, in_.subject.o, begin, n);
        return {fmt::format("o[b={},t={},hv={}]{}", plan.tokens.batch_row, token, hv, plan.active ? "" : " (inactive row)"),
                {"v"},
                {n},
                in_.subject.o.dtype(),
                spec_.exact || !plan.active,
                in_.o_row};
    }

    SubjectSlice state_slice(Worker& w, const RowPlan& plan, Index slot, Index hv) const {
        const bool kv = spec_.layout == Layout::KV;
        const Index d3 = kv ? spec_.key_dim : spec_.value_dim, d4 = kv ? spec_.value_dim : spec_.key_dim;
        const Index begin = ((plan.entry * spec_.slots + slot) * spec_.num_value_heads + hv) * d3 * d4;
        load_subject(w, in_.subject.bank, begin, d3 * d4);
        return {fmt::format("state[n={},slot={},hv={}]", plan.entry, slot, hv),
                {kv ? "k" : "v", kv ? "v" : "k"},
                {d3, d4},
                in_.subject.bank.dtype(),
                spec_.exact,
                in_.state_row};
    }

    // The subject's elements [begin, begin + count) of `stored` (contiguous: o, or the bank
    // without its arena's margins) as double, and which of them are poison. Every poison
    // pattern is a NaN, so a slice without NaNs needs no mask (an empty one means none).
    static void load_subject(Worker& w, const HostTensor& stored, Index begin, Index count) {
        w.subject.resize(std::size_t(count));
        reference::load_doubles(stored.data(), stored.dtype(), begin, count, w.subject.data());
        const bool any_nan = std::any_of(w.subject.begin(), w.subject.end(), [](double x) { return std::isnan(x); });
        w.poison = any_nan ? stored.poison_mask(begin, count) : std::vector<std::uint8_t>{};
    }

    SliceMetrics judge_loaded(const Worker& w, const SubjectSlice& slice, const double* truth, const double* emulated,
                              const double* magnitude, const double* flip) const {
        const std::size_t n = w.subject.size();
        const auto span_of = [n](const double* p) { return p ? std::span<const double>(p, n) : std::span<const double>(); };
        const SliceInput input{slice.label, slice.dims, slice.shape, w.subject, span_of(truth),
                               span_of(emulated), w.poison, slice.dtype, span_of(magnitude), span_of(flip),
                               nonfinite_inputs_, slice.nonfinite_allowed, slice.operand_overflow};
        return slice.exact ? judge_slice_exact(input) : judge_slice(input, *slice.row);
    }

    const OracleCheckInputs& in_;
    const CaseSpec& spec_;
    const std::vector<RowPlan> plans_;
    const bool nonfinite_inputs_;
    // A chunk kernel's chunks that NaN/Inf inputs may poison (none for a decode kernel).
    const NonfiniteChunks nonfinite_chunks_;
    Problem oracle_problem_;
};

// Each row's written slots are its run of `in.written` (written_bank_slices lists them row
// by row, in write order): the slices the untouched-bank and poison checks count as written.
std::vector<RowPlan> plan_rows(const OracleCheckInputs& in) {
    const Problem& p = in.subject_problem;
    std::vector<RowPlan> plans(std::size_t(p.rows()));
    std::size_t next = 0;  // into in.written
    for (Index r = 0; r < p.rows(); ++r) {
        RowPlan& plan = plans[std::size_t(r)];
        plan.tokens = row_tokens(p, r);
        plan.active = row_is_active(p, r);
        if (!plan.active || plan.tokens.length() == 0) continue;
        plan.entry = row_bank_entry(p, r);
        for (; next < in.written.size() && in.written[next].first == plan.entry; ++next)
            plan.written_slots.push_back(in.written[next].second);
    }
    return plans;
}

}  // namespace

bool steps_checkable(const CaseSpec& spec, const Problem& problem) {
    if (!problem.circular() || !problem.output_final_state) return false;
    bool multi_token = false;
    for (Index r = 0; r < problem.rows(); ++r) {
        if (!row_is_active(problem, r)) continue;
        const Index length = row_tokens(problem, r).length();
        if (length > spec.slots) return false;
        multi_token = multi_token || length >= 2;
    }
    return multi_token;
}

std::vector<CheckResult> judge_against_oracle(const OracleCheckInputs& in, std::vector<StageTiming>& stages) {
    const auto started = std::chrono::steady_clock::now();
    const CaseSpec& spec = in.host.spec;
    const std::vector<RowPlan> plans = plan_rows(in);
    const HeadJudge judge(in, plans);
    judge.make_worker();  // validates the oracle problem here, before any thread starts

    CheckFold o(check_names::o_vs_r64), state(check_names::state_vs_r64), stepped_o(check_names::o_vs_stepped_r64),
        stepped_state(check_names::state_vs_stepped_r64);
    std::vector<std::optional<HeadJudge::Worker>> workers(static_cast<std::size_t>(omp_get_max_threads()));
    // Rows in batches of about kBatchSlices slices: the judged metrics wait for their
    // in-order fold, so memory stays bounded for any number of rows.
    constexpr Index kBatchSlices = 4096;
    const Index rows = Index(plans.size()), heads = spec.num_value_heads;
    for (Index first = 0; first < rows;) {
        Index end = first, slices = 0;
        while (end < rows && (end == first || slices < kBatchSlices)) {
            const RowPlan& plan = plans[std::size_t(end++)];
            slices += (plan.tokens.length() + Index(plan.written_slots.size())) * heads;
        }
        std::vector<std::pair<Index, Index>> units;
        for (Index r = first; r < end; ++r)
            if (plans[std::size_t(r)].tokens.length() > 0)
                for (Index hv = 0; hv < heads; ++hv) units.emplace_back(r, hv);
        std::vector<HeadMetrics> metrics(units.size());
        std::exception_ptr failure;
        const auto count = Index(units.size());
#pragma omp parallel for schedule(dynamic, 1) if (count > 1)
        for (Index i = 0; i < count; ++i) {
            try {
                std::optional<HeadJudge::Worker>& worker = workers[std::size_t(omp_get_thread_num())];
                if (!worker) worker.emplace(judge.make_worker());
                judge.judge(*worker, units[std::size_t(i)].first, units[std::size_t(i)].second,
                            metrics[std::size_t(i)]);
            } catch (...) {
#pragma omp critical(gdr_oracle_checks_failure)
                if (!failure) failure = std::current_exception();
            }
        }
        if (failure) std::rethrow_exception(failure);
        // The fold, in (row, token, head) order for o and (row, written slot, head) for state.
        for (std::size_t u = 0; u < units.size(); u += std::size_t(heads)) {
            const RowPlan& plan = plans[std::size_t(units[u].first)];
            for (std::size_t t = 0; t < std::size_t(plan.tokens.length()); ++t)
                for (std::size_t hv = 0; hv < std::size_t(heads); ++hv) {
                    HeadMetrics& head = metrics[u + hv];
                    o.fold(std::move(head.o[t]), in.o_row);
                    if (in.stepped) stepped_o.fold(std::move(head.stepped_o[t]), in.o_row);
                }
            for (std::size_t j = 0; j < plan.written_slots.size(); ++j)
                for (std::size_t hv = 0; hv < std::size_t(heads); ++hv) {
                    HeadMetrics& head = metrics[u + hv];
                    state.fold(std::move(head.state[j]), in.state_row);
                    if (in.stepped) stepped_state.fold(std::move(head.stepped_state[j]), in.state_row);
                }
        }
        first = end;
    }

    // One wall-clock stage, split by each part's share of the threads' time.
    double truth = 0, emulated = 0, steps = 0, checks = 0;
    for (const auto& worker : workers) {
        if (!worker) continue;
        truth += worker->ordinary.truth_seconds;
        emulated += worker->ordinary.emulated_seconds;
        if (worker->stepped) steps += worker->stepped->truth_seconds + worker->stepped->emulated_seconds;
        checks += worker->judge_seconds;
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double busy = truth + emulated + steps + checks;
    const std::int64_t peak = peak_rss_bytes();
    const auto share = [&](double part) { return busy > 0 ? wall * part / busy : 0.0; };
    stages.push_back({fmt::format("R64 (bounds: {} math)", to_string(in.math)), share(truth), peak});
    stages.push_back({"Rlp", share(emulated), peak});
    if (in.stepped) stages.push_back({"stepped R64 and Rlp", share(steps), peak});
    stages.push_back({"o and state checks", busy > 0 ? share(checks) : wall, peak});

    std::vector<CheckResult> results{o.result("no tokens: nothing to compare"),
                                     state.result("no state is written by this case")};
    if (in.stepped) {
        results.push_back(stepped_o.result("no tokens: nothing to compare"));
        results.push_back(stepped_state.result("no state is written by this case"));
    }
    return results;
}

}  // namespace gdr::harness
