#include "gdr/harness/runner.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <fstream>
#include <set>
#include <span>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gdr/core/errors.hpp"
#include "gdr/harness/check_names.hpp"
#include "gdr/harness/isolation.hpp"
#include "gdr/harness/memory_estimate.hpp"
#include "gdr/harness/oracle_bank.hpp"
#include "gdr/harness/oracle_checks.hpp"

namespace gdr::harness {

namespace {

using Slice = std::pair<std::int64_t, std::int64_t>;  // (bank entry, slot)

std::string feature_of(const CaseSpec& spec) {
    return spec.has_g && !spec.exact && spec.g == GateDistribution::huge_negative ? "huge-decay" : "default";
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

// What a second run must reproduce bitwise, part by part: o, each written slice and the
// arena's two margins (the untouched slices must equal the initial bank, which
// judge_untouched checks). visit(part, bytes), part 0: o, 1: the written state, 2: the arena.
template <class Visit>
void visit_reproduced(const RunBuffers& run, const std::vector<Slice>& written, const CaseSpec& spec, Visit visit) {
    visit(0, std::span<const std::byte>(run.o.bytes()));
    const std::size_t slice_bytes =
        std::size_t(spec.num_value_heads * spec.key_dim * spec.value_dim) * dtype_size(run.bank.dtype());
    const auto* bank = static_cast<const std::byte*>(run.bank.data());
    for (const auto& [entry, slot] : written)
        visit(1, std::span(bank + std::size_t(entry * spec.slots + slot) * slice_bytes, slice_bytes));
    const std::span<const std::byte> all(run.bank.bytes());
    const std::size_t before = run.bank.margin_before_bytes(), after_begin = before + run.bank.storage_bytes();
    visit(2, all.first(before));
    visit(2, all.subspan(after_begin));
}

// Runs the subject a second time in the first run's memory, reset to the initial state
// (one bank in memory, not two: a serving-size bank is gigabytes), and compares it in
// place with a copy of the first run's bytes. Called only when the first run left every
// untouched slice as it was, so that the reset bank is the first run's starting bank.
CheckResult check_determinism(const PreparedCase& prepared, Subject& subject, RunBuffers& run,
                              const std::vector<Slice>& written, double& subject_seconds) {
    const CaseSpec& spec = prepared.host.spec;
    std::array<std::vector<std::byte>, 3> first;
    visit_reproduced(run, written, spec, [&](int part, std::span<const std::byte> bytes) {
        first[std::size_t(part)].insert(first[std::size_t(part)].end(), bytes.begin(), bytes.end());
    });
    reset_subject_buffers(prepared.host, run);
    timed_run(subject, make_problem(prepared.host, run), subject_seconds);
    std::array<std::size_t, 3> offset{};
    std::array<std::int64_t, 3> differing{};
    const std::array<std::size_t, 3> element{dtype_size(run.o.dtype()), dtype_size(run.bank.dtype()),
                                             dtype_size(run.bank.dtype())};
    visit_reproduced(run, written, spec, [&](int part, std::span<const std::byte> bytes) {
        const auto p = std::size_t(part);
        differing[p] += compare_bytes(std::span<const std::byte>(first[p]).subspan(offset[p], bytes.size()), bytes,
                                      element[p])
                            .differing_elements;
        offset[p] += bytes.size();
    });
    const CheckResult untouched = judge_untouched(prepared, run, written);
    if (differing == std::array<std::int64_t, 3>{} && untouched.outcome == Outcome::passed)
        return {check_names::determinism, Outcome::passed, "two runs gave identical bytes", {}, ""};
    return {check_names::determinism, Outcome::incorrect,
            fmt::format("two runs differ: {} elements of o, {} of the written state, {} of the arena{}", differing[0],
                        differing[1], differing[2],
                        untouched.outcome == Outcome::passed ? "" : "; the second run changed untouched slices"),
            {}, ""};
}

// Writes the failing case's tensors (subject, R64, Rlp; o and the bank entries the active
// rows touch, listed in "entries") as one JSON file.
std::string dump_tensors(const std::filesystem::path& dir, const HostCase& host, const RunBuffers& subject,
                         const std::string& subject_name, const std::optional<ChunkedContract>& chunked) {
    constexpr std::int64_t max_elements = 1 << 22;  // keep dumps readable; say so when skipped
    const OracleBank bank = oracle_bank(host);
    const CaseSpec& spec = host.spec;
    const std::int64_t bank_elements =
        bank.bank_entries() * spec.slots * spec.num_value_heads * spec.key_dim * spec.value_dim;
    if (subject.o.numel() + bank_elements > max_elements) return "tensors too large to dump";
    const RunBuffers truth = oracle_run(host, bank, reference::Precision::truth_fp64, chunked);
    const RunBuffers emulated = oracle_run(host, bank, reference::Precision::emulated_fp32, chunked);
    std::filesystem::create_directories(dir);
    const auto path = dir / fmt::format("{}-seed{}.json", subject_name, host.spec.seed);
    const nlohmann::json dump = {
        {"case", to_text(host.spec)},
        {"o", {{"subject", tensor_to_json(subject.o)}, {"truth", tensor_to_json(truth.o)},
               {"emulated", tensor_to_json(emulated.o)}}},
        {"bank", {{"entries", bank.entries},
                  {"initial", tensor_to_json(gather_entries(host.initial_bank, bank))},
                  {"subject", tensor_to_json(gather_entries(subject.bank, bank))},
                  {"truth", tensor_to_json(truth.bank)}, {"emulated", tensor_to_json(emulated.bank)}}}};
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
    if (const auto contract = subject.chunked()) report.chunked = describe(*contract);
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

PreparedCase prepare_case(const CaseSpec& spec) {
    PreparedCase prepared;
    StageClock clock(prepared.stages);
    prepared.host = materialize(spec);
    clock.mark("generation");
    return prepared;
}

std::string reproduce_command(const CaseSpec& spec, std::string_view subject, std::string_view gdr_command,
                              const VerdictOptions& verdict) {
    return with_verdict_args(
        fmt::format("{} check --subject {} --case {}", gdr_command, subject, shell_quote(to_text(spec))), verdict);
}

std::string with_verdict_args(std::string command, const VerdictOptions& verdict) {
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
    // Checks listed with why they cannot apply to this subject, outside the case's outcome
    // (a NOT_RUN check would make every such case NOT_RUN): appended last.
    std::vector<CheckResult> not_applicable;
    const auto finish = [&](Outcome outcome, std::string message) {
        report.outcome = worst(outcome, worst_outcome(report.checks));
        for (CheckResult& check : not_applicable) report.checks.push_back(std::move(check));
        not_applicable.clear();
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
    std::vector<TensorBytes> input_bytes;
    for (const auto& [name, tensor] : inputs) input_bytes.push_back(tensor->bytes());

    // A chunk kernel writes, and is judged, by the chunked path (chunked_contract.hpp).
    const std::optional<ChunkedContract> contract = subject.chunked();
    const reference::StateWrites writes = state_writes_for(contract);

    report.stages = prepared.stages;
    StageClock clock(report.stages);
    RunBuffers first;
    Problem first_problem;
    SubjectRunResult run_result;
    try {
        first = make_subject_buffers(prepared.host, spec.input_dtype, spec.state_dtype, writes);
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

    const std::vector<Slice> written = written_bank_slices(prepared.host, writes);
    const MathMode math = options.verdict.math.value_or(subject.math_mode());
    report.math = std::string(to_string(math));
    const bool steppable = steps_checkable(spec, first_problem);
    if (contract && steppable)
        for (const char* name : {check_names::o_vs_stepped_r64, check_names::state_vs_stepped_r64})
            not_applicable.push_back({name, Outcome::not_run,
                                      "not applicable on the chunked path: a chunk kernel stores only the final state, "
                                      "so no token's state is stored to step from (docs/SPEC.md)",
                                      {}, ""});
    try {
        const OracleCheckInputs oracle{prepared.host, first_problem, first, written, math, o_row, state_row,
                                       steppable && !contract, contract};
        for (CheckResult& check : judge_against_oracle(oracle, report.stages)) report.checks.push_back(std::move(check));
    } catch (const std::exception& error) {
        report.checks.push_back({check_names::error, Outcome::failed, std::string("the oracle failed: ") + error.what(), {}, ""});
        return finish(Outcome::failed, error.what());
    }
    clock.restart();
    const CheckResult untouched = judge_untouched(prepared, first, written);
    report.checks.push_back(untouched);
    clock.mark(check_names::untouched_bank);
    report.checks.push_back(count_poison(first, written, spec));
    clock.mark(check_names::poison_survivors);
    // A failing case's tensors, when asked for: what the subject's first run left.
    const auto dump_if_failing = [&]() -> std::string {
        if (!is_failure(worst_outcome(report.checks)) || options.dump_dir.empty()) return "";
        return dump_tensors(options.dump_dir, prepared.host, first, subject.name(), contract);
    };
    if (const auto reason = subject.results_only_reason()) {
        // Nothing watched the call: the checks that need it are listed, not judged, and do
        // not enter the outcome (a NOT_RUN check would make every such case NOT_RUN).
        std::vector<const char*> unobserved = {check_names::guard_bands, check_names::bank_arena,
                                               check_names::inputs_unchanged};
        if (!spec.specials.empty()) unobserved.push_back(check_names::isolation);
        if (options.verdict.check_determinism) unobserved.push_back(check_names::determinism);
        for (const char* name : unobserved) not_applicable.push_back({name, Outcome::not_run, *reason, {}, ""});
        return finish(Outcome::passed, dump_if_failing());
    }
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

    const std::string message = dump_if_failing();
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
        return run_case(prepare_case(spec), subject, tolerances, options);
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
