#include "gdr/harness/runner.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gdr/core/errors.hpp"
#include "gdr/harness/check_names.hpp"
#include "gdr/harness/isolation.hpp"
#include "gdr/harness/memory_estimate.hpp"
#include "gdr/harness/special_values.hpp"
#include "gdr/reference/fused_recurrent.hpp"

namespace gdr::harness {

namespace {

using Slice = std::pair<std::int64_t, std::int64_t>;  // (bank entry, slot)

// R64, with the magnitudes that set each slice's ulp floor (see reference::Magnitudes), on
// the compact bank of the entries the active rows touch (oracle_bank.hpp).
// `resume_bank`: see reference::OracleOptions (null: the ordinary run), compact too.
void run_truth(const HostCase& host, const OracleBank& bank, MathMode math, RunBuffers& truth, RunBuffers& magnitude,
               RunBuffers& flip, const void* resume_bank = nullptr) {
    truth = make_oracle_buffers(host, bank, DType::f64, DType::f64);
    magnitude = make_oracle_buffers(host, bank, DType::f64, DType::f64, false);
    flip = make_oracle_buffers(host, bank, DType::f64, DType::f64, false);
    const reference::Magnitudes magnitudes{
        static_cast<double*>(magnitude.o.data()), static_cast<double*>(magnitude.bank.data()),
        static_cast<double*>(flip.o.data()), static_cast<double*>(flip.bank.data())};
    reference::run_fused_recurrent(
        make_oracle_problem(host, bank, truth),
        {reference::Precision::truth_fp64, reference::ReductionOrder::forward, magnitudes, resume_bank,
         elementary_errors(math)});
}

// Rlp: what a kernel stores, in its dtypes, with sequential fp32 K-sums (compact bank).
RunBuffers run_emulated(const HostCase& host, const OracleBank& bank, const void* resume_bank = nullptr) {
    RunBuffers buffers = make_oracle_buffers(host, bank, host.spec.input_dtype, host.spec.state_dtype);
    reference::run_fused_recurrent(
        make_oracle_problem(host, bank, buffers),
        {reference::Precision::emulated_fp32, reference::ReductionOrder::forward, {}, resume_bank});
    return buffers;
}

// The oracle runs a subject is judged against.
struct OracleRuns {
    const RunBuffers& truth;
    const RunBuffers& emulated;
    const RunBuffers& magnitude;
    const RunBuffers& flip;
};

std::string feature_of(const CaseSpec& spec) {
    return spec.has_g && !spec.exact && spec.g == GateDistribution::huge_negative ? "huge-decay" : "default";
}

// Judges a family of slices (all tokens' o, or all written state slots) and folds them into
// one check: INCORRECT if any slice fails, reporting the first failing slice, else the one
// closest to its threshold. Each slice is widened to double on its own (a serving-size bank
// is never widened whole) and judged on any thread (slices are independent; the fold runs
// in slice order, so the verdict and its report do not depend on the thread count). The
// oracle's tensors may be compact (oracle_bank.hpp), so a slice has its offset in the
// subject's tensor and its offset in the oracle's.
class SliceCheck {
public:
    SliceCheck(std::string name, const CaseSpec& spec, const HostTensor& subject, const HostTensor& truth,
               const HostTensor& emulated, const HostTensor& magnitude, const HostTensor& flip)
        : name_(std::move(name)), nonfinite_inputs_(has_nonfinite_specials(spec)), subject_(subject), truth_(truth),
          emulated_(emulated), magnitude_(magnitude), flip_(flip) {}

    void add(std::string label, std::vector<std::string> dims, std::vector<std::int64_t> shape,
             std::int64_t subject_begin, std::int64_t oracle_begin, bool exact, const ToleranceRow* row) {
        pending_.push_back({std::move(label), std::move(dims), std::move(shape), subject_begin, oracle_begin, exact, row});
        if (pending_.size() == kBatch) judge_pending();  // bounded memory for any number of slices
    }

    std::optional<CheckResult> result() {
        judge_pending();
        if (!worst_) return std::nullopt;
        CheckResult check{name_, failed_slices_ ? Outcome::incorrect : Outcome::passed, "", worst_, worst_row_};
        check.detail = failed_slices_ ? fmt::format("{} of {} slices fail; first: {}: {}", failed_slices_, slices_,
                                                    worst_->label, worst_->why)
                                      : fmt::format("{} slices pass; closest: {} (error {:.3g} vs threshold {:.3g}{})",
                                                    slices_, worst_->label, worst_->error_at_threshold(),
                                                    worst_->threshold_abs,
                                                    worst_->worst_index.empty()
                                                        ? ""
                                                        : " at " + format_index(worst_->dim_names, worst_->worst_index));
        return check;
    }

private:
    struct Slice {
        std::string label;
        std::vector<std::string> dims;
        std::vector<std::int64_t> shape;
        std::int64_t subject_begin, oracle_begin;
        bool exact;
        const ToleranceRow* row;
    };
    static constexpr std::size_t kBatch = 4096;

    SliceMetrics judge_one(Slice& slice) const {
        std::int64_t count = 1;
        for (std::int64_t extent : slice.shape) count *= extent;
        const std::vector<std::uint8_t> poison = subject_.poison_mask(slice.subject_begin, count);
        const std::vector<double> subject = subject_.to_doubles(slice.subject_begin, count),
                                  truth = truth_.to_doubles(slice.oracle_begin, count),
                                  emulated = emulated_.to_doubles(slice.oracle_begin, count),
                                  magnitude = magnitude_.to_doubles(slice.oracle_begin, count),
                                  flip = flip_.to_doubles(slice.oracle_begin, count);
        const SliceInput input{std::move(slice.label), std::move(slice.dims), std::move(slice.shape), subject, truth,
                               emulated, poison, subject_.dtype(), magnitude, flip, nonfinite_inputs_};
        return slice.exact ? judge_slice_exact(input) : judge_slice(input, *slice.row);
    }

    void judge_pending() {
        std::vector<std::optional<SliceMetrics>> metrics(pending_.size());
        const auto count = std::int64_t(pending_.size());
#pragma omp parallel for schedule(dynamic, 16) if (count > 16)
        for (std::int64_t i = 0; i < count; ++i) metrics[std::size_t(i)] = judge_one(pending_[std::size_t(i)]);
        for (std::size_t i = 0; i < pending_.size(); ++i) fold(std::move(*metrics[i]), pending_[i]);
        pending_.clear();
    }

    void fold(SliceMetrics metrics, const Slice& slice) {
        ++slices_;
        if (!metrics.passed) ++failed_slices_;
        const bool replaces = !worst_ || (!metrics.passed && worst_->passed) ||
                              (metrics.passed == worst_->passed && worst_->passed &&
                               metrics.error_ratio() > worst_->error_ratio());
        if (replaces) {
            worst_ = std::move(metrics);
            worst_row_ = slice.exact ? "exact" : slice.row->id;
        }
    }

    std::string name_;
    bool nonfinite_inputs_;  // SliceInput::nonfinite_inputs
    const HostTensor &subject_, &truth_, &emulated_, &magnitude_, &flip_;
    std::vector<Slice> pending_;
    std::optional<SliceMetrics> worst_;
    std::string worst_row_;
    std::int64_t slices_ = 0, failed_slices_ = 0;
};

// `problem` describes the subject's run (its rows, token ranges and active flags).
// Every slice is one value head (o[b, t, hv] of V elements, state[n, slot, hv] of K x V):
// heads run the recurrence independently on their own data, so their magnitudes may differ
// by orders and a slice spanning heads would judge a small head by a large one's floor and
// Rlp error. Per head rather than per element: within a head every element sums terms of
// the same q, k, alpha and beta, so the head's largest magnitude and largest Rlp error are
// the scale of a legal error anywhere in it, while a per-element rho x |Rlp - R64| would be
// noise (0 wherever Rlp happens to round exactly).
CheckResult judge_output(const std::string& name, const CaseSpec& spec, const OracleRuns& oracle,
                         const Problem& problem, const RunBuffers& subject, const ToleranceRow* row) {
    SliceCheck check(name, spec, subject.o, oracle.truth.o, oracle.emulated.o, oracle.magnitude.o, oracle.flip.o);
    for (std::int64_t r = 0; r < problem.rows(); ++r) {
        const RowTokens tokens = row_tokens(problem, r);
        const bool active = row_is_active(problem, r);
        for (std::int64_t t = tokens.begin; t < tokens.end; ++t)
            for (std::int64_t hv = 0; hv < spec.num_value_heads; ++hv) {
                const std::int64_t begin = ((tokens.batch_row * spec.seq_len + t) * spec.num_value_heads + hv) *
                                           spec.value_dim;
                // Inactive rows must be exact zeros, whatever the tolerance.
                check.add(fmt::format("o[b={},t={},hv={}]{}", tokens.batch_row, t, hv, active ? "" : " (inactive row)"),
                            {"v"}, {spec.value_dim}, begin, begin, spec.exact || !active, row);
            }
    }
    return check.result().value_or(CheckResult{name, Outcome::passed, "no tokens: nothing to compare", {}, ""});
}

CheckResult judge_state(const std::string& name, const CaseSpec& spec, const OracleRuns& oracle,
                        const OracleBank& bank, const RunBuffers& subject, const std::vector<Slice>& written,
                        const ToleranceRow* row) {
    SliceCheck check(name, spec, subject.bank, oracle.truth.bank, oracle.emulated.bank, oracle.magnitude.bank,
                     oracle.flip.bank);
    const bool kv = spec.layout == Layout::KV;
    const std::int64_t d3 = kv ? spec.key_dim : spec.value_dim, d4 = kv ? spec.value_dim : spec.key_dim;
    const auto begin = [&](std::int64_t entry, std::int64_t slot, std::int64_t hv) {
        return ((entry * spec.slots + slot) * spec.num_value_heads + hv) * d3 * d4;
    };
    for (const auto& [entry, slot] : written) {
        const std::int64_t compact = bank.compact_entry(entry);
        for (std::int64_t hv = 0; hv < spec.num_value_heads; ++hv)
            check.add(fmt::format("state[n={},slot={},hv={}]", entry, slot, hv), {kv ? "k" : "v", kv ? "v" : "k"},
                        {d3, d4}, begin(entry, slot, hv), begin(compact, slot, hv), spec.exact, row);
    }
    return check.result().value_or(CheckResult{name, Outcome::passed, "no state is written by this case", {}, ""});
}

// Circular calls that write every token's state into a slot that survives the call
// (Slots >= T for every active row), with some row of two tokens or more: each token can
// be judged as one step from the state the subject itself stored for the token before.
bool steps_checkable(const CaseSpec& spec, const Problem& problem) {
    if (!problem.circular() || !problem.output_final_state) return false;
    bool multi_token = false;
    for (std::int64_t r = 0; r < problem.rows(); ++r) {
        if (!row_is_active(problem, r)) continue;
        const std::int64_t length = row_tokens(problem, r).length();
        if (length > spec.slots) return false;
        multi_token = multi_token || length >= 2;
    }
    return multi_token;
}

// o and state against R64 and Rlp resumed, after every token, from the subject's own
// stored slot (reference::OracleOptions::resume_bank). The ordinary checks must allow one
// rounding flip of the cache round trip per token; these need not, so a kernel that skips
// the round trip, or rounds the stored state differently from the state it goes on with,
// shows here.
std::vector<CheckResult> judge_steps(const PreparedCase& prepared, MathMode math, const Problem& problem,
                                     const RunBuffers& subject, const std::vector<Slice>& written,
                                     const ToleranceRow* o_row, const ToleranceRow* state_row) {
    const HostTensor stored = gather_entries(subject.bank, prepared.oracle_bank);  // compact, as the runs' banks
    RunBuffers truth, magnitude, flip;
    run_truth(prepared.host, prepared.oracle_bank, math, truth, magnitude, flip, stored.data());
    const RunBuffers emulated = run_emulated(prepared.host, prepared.oracle_bank, stored.data());
    const OracleRuns stepped{truth, emulated, magnitude, flip};
    const CaseSpec& spec = prepared.host.spec;
    return {judge_output(check_names::o_vs_stepped_r64, spec, stepped, problem, subject, o_row),
            judge_state(check_names::state_vs_stepped_r64, spec, stepped, prepared.oracle_bank, subject, written,
                        state_row)};
}

CheckResult judge_untouched(const PreparedCase& prepared, const RunBuffers& subject, const std::vector<Slice>& written) {
    const CaseSpec& spec = prepared.host.spec;
    const std::set<Slice> written_set(written.begin(), written.end());
    const std::size_t element = dtype_size(spec.state_dtype);
    const std::size_t slice_bytes = std::size_t(spec.num_value_heads * spec.key_dim * spec.value_dim) * element;
    const auto* initial = static_cast<const std::byte*>(prepared.host.initial_bank.data());
    const auto* after = static_cast<const std::byte*>(subject.bank.data());
    std::int64_t checked = 0, changed = 0;
    std::string first;
    for (std::int64_t entry = 0; entry < spec.resolved_bank_entries(); ++entry) {
        for (std::int64_t slot = 0; slot < spec.slots; ++slot) {
            if (written_set.count({entry, slot})) continue;
            const std::size_t offset = std::size_t(entry * spec.slots + slot) * slice_bytes;
            const BitwiseResult bits = compare_bytes(initial + offset, after + offset, slice_bytes, element);
            ++checked;
            if (bits.identical) continue;
            if (++changed == 1)
                first = fmt::format("state[n={},slot={}]: {} elements changed, first at byte {}", entry, slot,
                                    bits.differing_elements, bits.first_differing_offset);
        }
    }
    if (changed)
        return {check_names::untouched_bank, Outcome::incorrect,
                fmt::format("{} of {} slices the call must not touch changed; first: {}", changed, checked, first), {}, ""};
    return {check_names::untouched_bank, Outcome::passed, fmt::format("{} untouched slices bitwise unchanged", checked), {}, ""};
}

CheckResult count_poison(const RunBuffers& subject, const std::vector<Slice>& written, const CaseSpec& spec) {
    const std::int64_t in_o = subject.o.poison_survivors();
    const std::int64_t slice_elements = spec.num_value_heads * spec.key_dim * spec.value_dim;
    std::int64_t in_state = 0;
    for (const auto& [entry, slot] : written) {
        const std::vector<std::uint8_t> mask = subject.bank.poison_mask((entry * spec.slots + slot) * slice_elements, slice_elements);
        in_state += std::int64_t(std::count(mask.begin(), mask.end(), std::uint8_t(1)));
    }
    const std::string detail = fmt::format("{} in o, {} in written state slots", in_o, in_state);
    return {check_names::poison_survivors, in_o + in_state ? Outcome::incorrect : Outcome::passed, detail, {}, ""};
}

// The bank arena's margins, in the host arena and in the subject's own copy of it.
CheckResult judge_arena(const RunBuffers& subject, const SubjectRunResult& run_result) {
    const ArenaDamage host = arena_damage(subject);
    const std::int64_t changed = host.changed_elements + run_result.damaged_arena_elements;
    const std::string where = fmt::format("({} entries before the bank, {} after)", subject.margins.before, subject.margins.after);
    if (!changed)
        return {check_names::bank_arena, Outcome::passed, fmt::format("arena {} still poison", where), {}, ""};
    std::string detail = host.detail;
    if (!run_result.arena_detail.empty()) detail += (detail.empty() ? "" : "; ") + run_result.arena_detail;
    return {check_names::bank_arena, Outcome::incorrect,
            fmt::format("{} elements written through out-of-range state_indices into arena {}: {}", changed, where, detail),
            {}, ""};
}

// What a second run must reproduce bitwise: o, the written slices and the arena's margins
// (the untouched slices must equal the initial bank, which judge_untouched checks).
struct RunBytes {
    std::vector<std::byte> o, written, margins;
};

RunBytes bytes_to_reproduce(const RunBuffers& run, const std::vector<Slice>& written, const CaseSpec& spec) {
    RunBytes bytes;
    bytes.o = run.o.bytes();
    const std::size_t slice_bytes =
        std::size_t(spec.num_value_heads * spec.key_dim * spec.value_dim) * dtype_size(run.bank.dtype());
    const auto* bank = static_cast<const std::byte*>(run.bank.data());
    for (const auto& [entry, slot] : written) {
        const std::byte* slice = bank + std::size_t(entry * spec.slots + slot) * slice_bytes;
        bytes.written.insert(bytes.written.end(), slice, slice + slice_bytes);
    }
    const std::vector<std::byte>& all = run.bank.bytes();
    const std::size_t before = run.bank.margin_before_bytes(), after_begin = before + run.bank.storage_bytes();
    bytes.margins.assign(all.begin(), all.begin() + std::ptrdiff_t(before));
    bytes.margins.insert(bytes.margins.end(), all.begin() + std::ptrdiff_t(after_begin), all.end());
    return bytes;
}

// Runs the subject a second time in the first run's memory, reset to the initial state
// (one bank in memory, not two: a serving-size bank is gigabytes), and compares. Called
// only when the first run left every untouched slice as it was, so that the reset bank
// is the first run's starting bank.
CheckResult check_determinism(const PreparedCase& prepared, Subject& subject, RunBuffers& run,
                              const std::vector<Slice>& written, double& subject_seconds) {
    const CaseSpec& spec = prepared.host.spec;
    const RunBytes first = bytes_to_reproduce(run, written, spec);
    reset_subject_buffers(prepared.host, run);
    timed_run(subject, make_problem(prepared.host, run), subject_seconds);
    const RunBytes second = bytes_to_reproduce(run, written, spec);
    const std::size_t element = dtype_size(run.bank.dtype());
    const BitwiseResult o = compare_bytes(first.o, second.o, dtype_size(run.o.dtype()));
    const BitwiseResult bank = compare_bytes(first.written, second.written, element);
    const BitwiseResult margins = compare_bytes(first.margins, second.margins, element);
    const CheckResult untouched = judge_untouched(prepared, run, written);
    if (o.identical && bank.identical && margins.identical && untouched.outcome == Outcome::passed)
        return {check_names::determinism, Outcome::passed, "two runs gave identical bytes", {}, ""};
    return {check_names::determinism, Outcome::incorrect,
            fmt::format("two runs differ: {} elements of o, {} of the written state, {} of the arena{}",
                        o.differing_elements, bank.differing_elements, margins.differing_elements,
                        untouched.outcome == Outcome::passed ? "" : "; the second run changed untouched slices"),
            {}, ""};
}

// Writes the failing case's tensors (subject, R64, Rlp; o and the bank entries the active
// rows touch, listed in "entries") as one JSON file.
std::string dump_tensors(const std::filesystem::path& dir, const PreparedCase& prepared, const RunBuffers& subject,
                         const std::string& subject_name) {
    constexpr std::int64_t max_elements = 1 << 22;  // keep dumps readable; say so when skipped
    if (subject.o.numel() + prepared.truth.bank.numel() > max_elements) return "tensors too large to dump";
    std::filesystem::create_directories(dir);
    const auto path = dir / fmt::format("{}-seed{}.json", subject_name, prepared.host.spec.seed);
    const nlohmann::json dump = {
        {"case", to_text(prepared.host.spec)},
        {"o", {{"subject", tensor_to_json(subject.o)}, {"truth", tensor_to_json(prepared.truth.o)},
               {"emulated", tensor_to_json(prepared.emulated.o)}}},
        {"bank", {{"entries", prepared.oracle_bank.entries},
                  {"initial", tensor_to_json(gather_entries(prepared.host.initial_bank, prepared.oracle_bank))},
                  {"subject", tensor_to_json(gather_entries(subject.bank, prepared.oracle_bank))},
                  {"truth", tensor_to_json(prepared.truth.bank)}, {"emulated", tensor_to_json(prepared.emulated.bank)}}}};
    std::ofstream(path) << dump.dump() << '\n';
    return "tensors written to " + path.string();
}

}  // namespace

// A report of `spec` on `subject` before anything is judged: the case, seed, subject and
// the reproduce line.
CaseReport report_for(const CaseSpec& spec, Subject& subject, const RunOptions& options) {
    CaseReport report;
    report.case_text = to_text(spec);
    report.seed = spec.seed;
    report.subject = subject.name();
    report.reproduce = reproduce_command(spec, subject.name(), options.gdr_command, options.verdict);
    return report;
}

std::string shell_quote(std::string_view text) {
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

nlohmann::json tensor_to_json(const HostTensor& tensor) {
    nlohmann::json values = nlohmann::json::array();
    for (double x : tensor.to_doubles())
        values.push_back(std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(fmt::format("{}", x)));
    return {{"dtype", to_string(tensor.dtype())}, {"shape", tensor.shape()}, {"values", std::move(values)}};
}

PreparedCase prepare_case(const CaseSpec& spec, MathMode math) {
    PreparedCase prepared;
    prepared.math = math;
    StageClock clock(prepared.stages);
    prepared.host = materialize(spec);
    prepared.oracle_bank = oracle_bank(prepared.host);
    clock.mark("generation");
    run_truth(prepared.host, prepared.oracle_bank, math, prepared.truth, prepared.magnitude, prepared.flip);
    clock.mark(fmt::format("R64 (bounds: {} math)", to_string(math)));
    prepared.emulated = run_emulated(prepared.host, prepared.oracle_bank);
    clock.mark("Rlp");
    return prepared;
}

std::string reproduce_command(const CaseSpec& spec, std::string_view subject, std::string_view gdr_command,
                              const VerdictOptions& verdict) {
    std::string command = fmt::format("{} check --subject {} --case {}", gdr_command, subject, shell_quote(to_text(spec)));
    const auto plain = [](const std::string& word) {  // needs no quotes in a POSIX shell
        return !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("-_./:=+,").find(c) != std::string_view::npos;
        });
    };
    for (const std::string& arg : verdict.cli_args()) command += " " + (plain(arg) ? arg : shell_quote(arg));
    return command;
}

CaseReport run_case(const PreparedCase& prepared, Subject& subject, const ToleranceTable& tolerances,
                    const RunOptions& options) {
    const auto started = std::chrono::steady_clock::now();
    const CaseSpec& spec = prepared.host.spec;
    CaseReport report = report_for(spec, subject, options);
    const auto finish = [&](Outcome outcome, std::string message) {
        report.outcome = worst(outcome, worst_outcome(report.checks));
        report.message = std::move(message);
        report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        return report;
    };

    if (const auto reason = subject.unavailable_reason()) return finish(Outcome::not_run, *reason);

    // Tolerance rows first: a key without a row is an error before anything runs.
    const std::int64_t tokens = spec.longest_row();  // the T bucket of every comparison
    const ToleranceRow* o_row = nullptr;
    const ToleranceRow* state_row = nullptr;
    try {
        if (tokens > 0 && !spec.exact) {
            ToleranceKey key{subject.name(), spec.input_dtype, spec.state_dtype, OutputKind::o, t_bucket_for(tokens),
                             feature_of(spec)};
            o_row = &tolerances.lookup(key);
            key.kind = OutputKind::state;
            state_row = &tolerances.lookup(key);
        }
    } catch (const std::exception& error) {
        return finish(Outcome::failed, error.what());
    }

    // The inputs as they were, to prove afterwards that the subject only read them.
    const std::vector<std::pair<const char*, const HostTensor*>> inputs = {
        {"q", &prepared.host.q}, {"k", &prepared.host.k}, {"v", &prepared.host.v},
        {"g", &prepared.host.g}, {"beta", &prepared.host.beta}};
    std::vector<std::vector<std::byte>> input_bytes;
    for (const auto& [name, tensor] : inputs) input_bytes.push_back(tensor->bytes());

    report.stages = prepared.stages;
    StageClock clock(report.stages);
    RunBuffers first;
    Problem first_problem;
    SubjectRunResult run_result;
    try {
        first = make_subject_buffers(prepared.host, spec.input_dtype, spec.state_dtype);
        clock.mark("subject buffers");
        first_problem = make_problem(prepared.host, first);
        run_result = timed_run(subject, first_problem, report.subject_seconds);
        clock.mark("subject run");
    } catch (const NotSupported& error) {
        if (options.declared_limitation)
            report.declared_limitation = options.declared_limitation(spec, error.what()).value_or("");
        return finish(Outcome::not_supported, error.what());
    } catch (const std::exception& error) {
        report.checks.push_back({check_names::error, Outcome::failed, error.what(), {}, ""});
        return finish(Outcome::failed, error.what());
    }

    const std::vector<Slice> written = written_bank_slices(prepared.host);
    // The prepared bounds are those of prepared.math; another mode's are computed here.
    const MathMode math = options.verdict.math.value_or(subject.math_mode());
    report.math = std::string(to_string(math));
    RunBuffers other_truth, other_magnitude, other_flip;
    if (math != prepared.math) {
        run_truth(prepared.host, prepared.oracle_bank, math, other_truth, other_magnitude, other_flip);
        clock.mark(fmt::format("R64 bounds, {} math", to_string(math)));
    }
    const OracleRuns oracle{prepared.truth, prepared.emulated, prepared.magnitude,
                            math == prepared.math ? prepared.flip : other_flip};
    report.checks.push_back(judge_output(check_names::o_vs_r64, spec, oracle, first_problem, first, o_row));
    clock.mark(check_names::o_vs_r64);
    report.checks.push_back(
        judge_state(check_names::state_vs_r64, spec, oracle, prepared.oracle_bank, first, written, state_row));
    clock.mark(check_names::state_vs_r64);
    if (steps_checkable(spec, first_problem)) {
        for (CheckResult& check : judge_steps(prepared, math, first_problem, first, written, o_row, state_row))
            report.checks.push_back(std::move(check));
        clock.mark("stepped oracle and checks");
    }
    const CheckResult untouched = judge_untouched(prepared, first, written);
    report.checks.push_back(untouched);
    clock.mark(check_names::untouched_bank);
    report.checks.push_back(count_poison(first, written, spec));
    clock.mark(check_names::poison_survivors);
    if (run_result.has_guard_bands)
        report.checks.push_back({check_names::guard_bands, run_result.damaged_guard_bytes ? Outcome::incorrect : Outcome::passed,
                                 run_result.damaged_guard_bytes
                                     ? fmt::format("{} guard bytes changed: {}", run_result.damaged_guard_bytes,
                                                   run_result.guard_detail)
                                     : "every guard byte intact",
                                 {}, ""});
    if (!first.margins.empty()) report.checks.push_back(judge_arena(first, run_result));
    std::vector<std::string> modified_inputs = run_result.modified_inputs;
    for (std::size_t i = 0; i < inputs.size(); ++i)
        if (inputs[i].second->bytes() != input_bytes[i]) modified_inputs.push_back(inputs[i].first);
    std::string modified;
    for (const std::string& input : modified_inputs) modified += (modified.empty() ? "" : ", ") + input;
    report.checks.push_back({check_names::inputs_unchanged, modified.empty() ? Outcome::passed : Outcome::incorrect,
                             modified.empty() ? "no read-only input changed" : "the subject wrote to: " + modified, {}, ""});
    clock.mark("guard bands, arena, inputs");
    if (!spec.specials.empty()) {
        try {
            report.checks.push_back(judge_isolation(prepared.host, subject, first, report.subject_seconds));
        } catch (const std::exception& error) {
            report.checks.push_back({check_names::isolation, Outcome::failed,
                                     std::string("the run without the special values failed: ") + error.what(), {}, ""});
        }
        clock.mark(check_names::isolation);
    }

    std::string message;
    if (is_failure(worst_outcome(report.checks)) && !options.dump_dir.empty())
        message = dump_tensors(options.dump_dir, prepared, first, subject.name());
    // Last: the second run reuses the first one's memory.
    if (options.verdict.check_determinism) {
        if (untouched.outcome != Outcome::passed) {
            report.checks.push_back({check_names::determinism, Outcome::not_run,
                                     "not judged: the first run changed untouched slices (see untouched bank)", {}, ""});
        } else {
            try {
                report.checks.push_back(check_determinism(prepared, subject, first, written, report.subject_seconds));
            } catch (const std::exception& error) {
                report.checks.push_back({check_names::determinism, Outcome::failed,
                                         std::string("the second run failed: ") + error.what(), {}, ""});
            }
            clock.mark(check_names::determinism);
        }
    }
    return finish(Outcome::passed, message);
}

std::optional<std::string> memory_refusal(const CaseSpec& spec, const RunOptions& options) {
    const MemoryEstimate needed = estimate_case_memory(spec);
    const std::int64_t budget = options.memory_budget_bytes > 0 ? options.memory_budget_bytes : available_memory_bytes();
    if (budget <= 0 || needed.bytes <= budget) return std::nullopt;
    return fmt::format("the case needs about {:.2f} GB of host memory ({}), over the budget of {:.2f} GB ({})",
                       double(needed.bytes) / 1e9, needed.breakdown, double(budget) / 1e9,
                       options.memory_budget_bytes > 0 ? "--memory-budget" : "the memory available");
}

CaseReport run_case(const CaseSpec& spec, Subject& subject, const ToleranceTable& tolerances,
                    const RunOptions& options) {
    try {
        // Refused before anything is allocated when it cannot fit (a NOT_RUN, with the figures).
        if (const auto refusal = memory_refusal(spec, options)) {
            CaseReport report = report_for(spec, subject, options);
            report.outcome = Outcome::not_run;
            report.message = *refusal;
            return report;
        }
        return run_case(prepare_case(spec, options.verdict.math.value_or(subject.math_mode())), subject, tolerances,
                        options);
    } catch (const std::exception& error) {
        CaseReport report = report_for(spec, subject, options);
        report.outcome = Outcome::failed;
        report.message = std::string("could not prepare the case: ") + error.what();
        return report;
    }
}

const PreparedCase* SharedCase::prepared() {
    if (!tried_) {
        tried_ = true;
        try {
            prepared_ = prepare_case(spec_);
        } catch (const std::exception&) {
            // run() reports the same error through run_case(spec, ...).
        }
    }
    return prepared_ ? &*prepared_ : nullptr;
}

CaseReport SharedCase::run(Subject& subject, const ToleranceTable& tolerances, const RunOptions& options) {
    if (!tried_) {  // a case that cannot fit (or an invalid spec) is reported by run_case(spec) without preparing
        bool refused = true;
        try {
            refused = memory_refusal(spec_, options).has_value();
        } catch (const std::exception&) {
        }
        if (refused) return run_case(spec_, subject, tolerances, options);
    }
    if (const PreparedCase* ready = prepared()) return run_case(*ready, subject, tolerances, options);
    return run_case(spec_, subject, tolerances, options);
}

}  // namespace gdr::harness
