#include "gdr/fuzz/campaign.hpp"

#include "gdr/reference/oracle_threads.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <exception>
#include <fstream>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gdr/core/errors.hpp"
#include "gdr/fuzz/coverage.hpp"
#include "gdr/fuzz/records.hpp"
#include "gdr/fuzz/replay.hpp"
#include "gdr/harness/mix64.hpp"
#include "gdr/harness/runner.hpp"
#include "gdr/harness/version.hpp"

namespace gdr::fuzz {

using namespace gdr::harness;


namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The RapidCheck random state of case `case_number`: distinct keys for distinct
// (seed, case number) pairs, independent of how many cases ran before.
rc::Random case_random(std::uint64_t seed, std::int64_t case_number) {
    const std::uint64_t a = mix64(seed), b = mix64(a ^ std::uint64_t(case_number));
    return rc::Random(rc::Random::Key{a, b, mix64(b), mix64(b + 1)});
}

// The size RapidCheck would give the property test's case `case_number` (0..100, cycling).
int case_size(std::int64_t case_number) { return int(case_number % 101); }

// prepare + run, with the case's coverage classes (for chunk size `chunk_size`). An invalid
// spec (a generator bug) is a FAILED report from run_case(spec, ...), with no coverage.
CaseReport run_one(const CaseSpec& spec, Subject& subject, const ToleranceTable& tolerances,
                   const RunOptions& options, std::vector<std::string>* coverage, std::int64_t chunk_size = 0) {
    SharedCase shared(spec);
    if (coverage && shared.prepared()) *coverage = coverage_classes(shared.prepared()->host, chunk_size);
    return shared.run(subject, tolerances, options);
}

struct ShrinkResult {
    CaseSpec spec;
    CaseReport report;
    std::int64_t steps = 0;
};

// Greedy descent through the shrink tree: the first shrink that still fails with the same
// failure class replaces the current case, until none does or a bound is reached.
ShrinkResult shrink_failure(const CampaignConfig& config, rc::Shrinkable<CaseSpec> tree, CaseReport report,
                            Subject& subject, const ToleranceTable& tolerances, const RunOptions& options,
                            const std::atomic<bool>& stop_requested) {
    ShrinkResult result{tree.value(), std::move(report), 0};
    if (!config.shrink) return result;
    const std::string wanted = failure_class(result.report);
    const Clock::time_point start = Clock::now();
    const auto out_of_budget = [&] {
        return result.steps >= config.max_shrink_steps || seconds_since(start) >= config.max_shrink_seconds ||
               stop_requested;
    };
    bool improved = true;
    while (improved && !out_of_budget()) {
        improved = false;
        rc::Seq<rc::Shrinkable<CaseSpec>> shrinks = tree.shrinks();
        while (auto candidate = shrinks.next()) {
            CaseSpec spec = candidate->value();
            CaseReport candidate_report = run_one(spec, subject, tolerances, options, nullptr);
            if (is_failure(candidate_report.outcome) && failure_class(candidate_report) == wanted) {
                tree = std::move(*candidate);
                result = {std::move(spec), std::move(candidate_report), result.steps + 1};
                improved = true;
                break;
            }
            if (out_of_budget()) break;
        }
    }
    return result;
}

std::vector<std::string> failing_checks(const CaseReport& report) {
    std::vector<std::string> names;
    for (const CheckResult& check : report.checks)
        if (is_failure(check.outcome)) names.push_back(check.name);
    return names;
}

std::filesystem::path replay_path(const CampaignConfig& config, const std::string& subject, std::int64_t case_number) {
    // A Python subject's name is 'module:function': keep file names to characters every file
    // system and archive takes (the file itself names the subject exactly).
    std::string file_subject = subject;
    for (char& ch : file_subject)
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_' && ch != '-') ch = '_';
    return config.out_dir / fmt::format("{}-seed{}-case{}.json", file_subject, config.seed, case_number);
}

std::filesystem::path jsonl_path(const CampaignConfig& config) {
    if (!config.jsonl_file.empty()) return config.jsonl_file;
    return config.out_dir.empty() ? std::filesystem::path() : config.out_dir / "campaign.jsonl";
}

// What the workers share; every member after `lock` is guarded by it.
struct SharedState {
    SharedState(const CampaignConfig& config_, const ToleranceTable& tolerances_, CampaignProgress* progress_)
        : config(config_), tolerances(tolerances_), progress(progress_) {}

    const CampaignConfig& config;
    const ToleranceTable& tolerances;
    CampaignProgress* progress;
    Clock::time_point start = Clock::now();
    const std::vector<std::string> classes = all_coverage_classes(config.generator.chunk_size);
    std::atomic<std::int64_t> next_index{0};  // the shard's k-th case is case shard_index + k * shard_count
    std::atomic<bool> stop{false};
    std::atomic<bool> stop_requested{false};  // config.stop_requested() said so

    std::mutex lock;
    CampaignSummary summary;
    std::ofstream jsonl;
    std::exception_ptr error;
    nlohmann::json pending_cases = nlohmann::json::array();  // finished since the last progress record
    Clock::time_point last_progress = Clock::now();

    void write_record(const nlohmann::json& record) {
        if (jsonl.is_open()) jsonl << record.dump() << '\n' << std::flush;
    }
    // Under the lock: the cases finished since the last progress record, if any.
    void write_progress() {
        last_progress = Clock::now();
        if (pending_cases.empty()) return;
        write_record({{"record", "progress"}, {"seconds", seconds_since(start)}, {"cases", std::move(pending_cases)}});
        pending_cases = nlohmann::json::array();
    }
    // Polls config.stop_requested (any thread; the first reason wins).
    bool poll_stop_request() {
        if (stop_requested) return true;
        if (!config.stop_requested) return false;
        const std::optional<std::string> reason = config.stop_requested();
        if (!reason) return false;
        std::lock_guard guard(lock);
        if (!summary.stopped_by) summary.stopped_by = *reason;
        stop_requested = true;
        stop = true;
        return true;
    }
};

// Bit i set for class i of `all` (all_coverage_classes(): the start record's coverage_classes).
std::uint64_t coverage_mask(const std::vector<std::string>& classes, const std::vector<std::string>& all) {
    std::uint64_t mask = 0;
    for (const std::string& name : classes) {
        const auto it = std::find(all.begin(), all.end(), name);
        if (it != all.end() && it - all.begin() < 64) mask |= std::uint64_t(1) << (it - all.begin());
    }
    return mask;
}

// The summary of the cases an earlier run of the campaign finished (resume).
void add_resumed_cases(CampaignSummary& summary, const CampaignRecords& records) {
    for (const auto& [number, recorded] : records.cases) {
        if (!records.finished(number)) continue;  // a failure it did not finish shrinking runs again
        ++summary.cases;
        ++summary.resumed_cases;
        ++summary.outcomes[std::string(to_string(recorded.outcome))];
        if (recorded.outcome == Outcome::not_supported) ++summary.not_supported;
        for (const std::string& name : recorded.coverage) ++summary.coverage[name];
    }
    add_recorded_failures(records, summary.failures, summary.failures_by_class);
}

void run_worker(SharedState& shared, const std::function<std::unique_ptr<Subject>(int)>& make_subject, int device,
                bool& started) {
    const CampaignConfig& config = shared.config;
    std::unique_ptr<Subject> subject;
    try {
        subject = make_subject(device);
    } catch (const std::exception& error) {  // this device's workers stop; the others go on
        std::lock_guard guard(shared.lock);
        std::vector<FailedDevice>& failed = shared.summary.failed_devices;  // in device order, each once
        const auto at = std::lower_bound(failed.begin(), failed.end(), device,
                                         [](const FailedDevice& f, int d) { return f.device < d; });
        if (at == failed.end() || at->device != device) {
            failed.insert(at, {device, error.what()});
            shared.write_record({{"record", "device_failed"}, {"device", device}, {"reason", error.what()}});
        }
        return;
    }
    {
        std::lock_guard guard(shared.lock);
        if (shared.summary.subject.empty()) shared.summary.subject = subject->name();
        if (!started) {
            started = true;
            shared.write_record(start_record(config, subject->name(), config.resume != nullptr));
        }
        if (const auto reason = subject->unavailable_reason()) {
            shared.summary.not_run_reason = *reason;
            shared.stop = true;
        }
    }
    RunOptions options;
    options.gdr_command = config.gdr_command;
    options.verdict = config.verdict;
    options.memory_budget_bytes = config.memory_budget_bytes;
    options.declared_limitation = config.declared_limitation;

    while (!shared.stop && !shared.poll_stop_request()) {
        const std::int64_t case_number = config.shard_index + shared.next_index++ * config.shard_count;
        if (config.max_cases && case_number >= *config.max_cases) break;
        if (config.max_seconds && seconds_since(shared.start) >= *config.max_seconds) break;
        if (config.resume && config.resume->finished(case_number)) continue;

        const rc::Shrinkable<CaseSpec> tree = campaign_case_tree(config, case_number);
        const CaseSpec spec = tree.value();
        std::vector<std::string> coverage;
        const Clock::time_point case_start = Clock::now();
        CaseReport report = run_one(spec, *subject, shared.tolerances, options, &coverage, config.generator.chunk_size);
        const double case_ms = 1e3 * seconds_since(case_start), subject_ms = 1e3 * report.subject_seconds;
        {
            std::lock_guard guard(shared.lock);
            CampaignSummary& summary = shared.summary;
            if (report.outcome == Outcome::not_run) {
                summary.not_run_reason = report.message;
                shared.stop = true;
                break;
            }
            ++summary.cases;
            ++summary.outcomes[std::string(to_string(report.outcome))];
            if (report.outcome == Outcome::not_supported) ++summary.not_supported;
            if (is_unexpected_not_supported(report) && !summary.unexpected_not_supported++)
                summary.first_unexpected_not_supported = report.reproduce;
            for (const std::string& name : coverage) ++summary.coverage[name];
            summary.harness_overhead_ms.push_back(case_ms - subject_ms);
            // [case, outcome, coverage mask, wall ms, the subject's ms] (records.hpp)
            shared.pending_cases.push_back({case_number, to_string(report.outcome), coverage_mask(coverage, shared.classes),
                                            std::round(case_ms * 100) / 100, std::round(subject_ms * 100) / 100});
            if (seconds_since(shared.last_progress) >= config.progress_seconds) shared.write_progress();
            if (shared.progress) shared.progress->on_case({case_number, &spec, report.outcome}, summary);
        }
        if (!is_failure(report.outcome)) continue;

        CampaignFailure failure;
        failure.case_number = case_number;
        failure.seconds_into_campaign = seconds_since(shared.start);
        failure.original = spec;
        ShrinkResult shrunk = shrink_failure(config, tree, std::move(report), *subject, shared.tolerances, options,
                                             shared.stop_requested);
        failure.shrunk = std::move(shrunk.spec);
        failure.report = std::move(shrunk.report);
        if (!config.dump_dir.empty()) {
            RunOptions dump_options = options;
            dump_options.dump_dir = config.dump_dir;
            failure.report = run_one(failure.shrunk, *subject, shared.tolerances, dump_options, nullptr);
        }
        failure.shrink_steps = shrunk.steps;
        failure.failure_class = failure_class(failure.report);
        if (!config.out_dir.empty()) {
            failure.replay_file = replay_path(config, subject->name(), case_number);
            ReplayFile replay;
            replay.spec = failure.shrunk;
            replay.subject = subject->name();
            replay.options = config.verdict;
            replay.outcome = std::string(to_string(failure.report.outcome));
            replay.failure_class = failure.failure_class;
            replay.failing_checks = failing_checks(failure.report);
            replay.campaign_seed = config.seed;
            replay.case_number = case_number;
            replay.original_case = to_text(failure.original);
            replay.gdr_version = std::string(gdr_version());
            write_replay_file(failure.replay_file, replay);
        }
        std::lock_guard guard(shared.lock);
        shared.write_progress();  // the failing case's own record before its failure record
        ++shared.summary.failures_by_class[failure.failure_class];
        shared.write_record(to_json(failure));
        if (shared.progress) shared.progress->on_failure(failure);
        shared.summary.failures.push_back(std::move(failure));
        if (config.stop_at_first_failure) shared.stop = true;
    }
}

}  // namespace

void validate(const CampaignConfig& config) {
    if (config.shard_count < 1) throw InvalidArgument("--shard", fmt::format("shard count {} must be >= 1", config.shard_count));
    if (config.shard_index < 0 || config.shard_index >= config.shard_count)
        throw InvalidArgument("--shard", fmt::format("shard index {} must be in [0, {})", config.shard_index,
                                                     config.shard_count));
    if (!config.max_cases && !config.max_seconds)
        throw InvalidArgument("--cases", "give a bound: --cases N and/or --seconds X");
    if (config.max_cases && *config.max_cases < 0)
        throw InvalidArgument("--cases", fmt::format("{} must be >= 0", *config.max_cases));
    if (config.max_seconds && !(*config.max_seconds >= 0))
        throw InvalidArgument("--seconds", fmt::format("{} must be >= 0", *config.max_seconds));
    if (config.work_budget < 1) throw InvalidArgument("--work-budget", "must be >= 1");
    if (config.generator.chunk_size < 0 || config.generator.chunk_size > kMaxChunkLengths)
        throw InvalidArgument("--chunk-lengths", fmt::format("{} must be in 0..{} (0: off)", config.generator.chunk_size,
                                                             kMaxChunkLengths));
    if (config.workers_per_device < 1)
        throw InvalidArgument("--workers", fmt::format("{} must be >= 1", config.workers_per_device));
    if (!(config.progress_seconds > 0))
        throw InvalidArgument("--progress-seconds", fmt::format("{} must be > 0", config.progress_seconds));
    if (config.max_shrink_steps < 0) throw InvalidArgument("--max-shrink-steps", "must be >= 0");
    if (!(config.max_shrink_seconds >= 0)) throw InvalidArgument("--max-shrink-seconds", "must be >= 0");
}

std::vector<harness::CaseShape> draw_shape_palette(const CaseGenConfig& generator, std::uint64_t seed, int count,
                                                   bool with_features) {
    if (count < 0) throw InvalidArgument("--shape-palette", fmt::format("{} must be >= 0", count));
    CaseGenConfig unpaletted = generator;
    unpaletted.shape_palette.clear();
    const rc::Gen<harness::CaseChoices> gen = harness::gen_case_choices(unpaletted);
    // Every (layout, input dtype, state dtype) the generator allows, in an order the seed
    // shuffles: entry i takes combination i mod their count, so a palette at least that long
    // has each layout with each dtype pair (a draw of as many would miss about a quarter).
    struct Kind {
        Layout layout;
        DType input, state;
    };
    std::vector<Kind> kinds;
    for (const Layout layout : generator.vk_layout ? std::vector<Layout>{Layout::KV, Layout::VK} : std::vector<Layout>{Layout::KV})
        for (const DType input : generator.input_dtypes)
            for (const DType state : generator.state_dtypes) kinds.push_back({layout, input, state});
    std::uint64_t shuffle = mix64(seed ^ 0xC0B1E5u);
    for (std::size_t i = kinds.size(); i > 1; --i) {
        shuffle = mix64(shuffle);
        std::swap(kinds[i - 1], kinds[shuffle % i]);
    }
    std::vector<harness::CaseShape> palette;
    for (int i = 0; i < count; ++i) {
        // Keyed apart from every case's random (case numbers are >= 0).
        const int size = 100 * (i + 1) / count;
        harness::CaseShape shape =
            harness::shape_of(gen(case_random(seed ^ 0x5A1E77E5u, -1 - i), size).value(), with_features);
        const Kind& kind = kinds[std::size_t(i) % kinds.size()];
        shape.layout = kind.layout;
        shape.input_dtype = kind.input;
        shape.state_dtype = kind.state;
        palette.push_back(shape);
    }
    return palette;
}

std::string to_text(const harness::CaseShape& shape) {
    std::string text = fmt::format("H={} HV={} K={} V={} T={} layout={} in={} state={} gate={}", shape.heads,
                                   shape.heads * shape.group, shape.key_dim, shape.value_dim, shape.seq_len,
                                   to_string(shape.layout), to_string(shape.input_dtype), to_string(shape.state_dtype),
                                   to_string(shape.gate_is_input ? shape.input_dtype : DType::f32));
    if (shape.with_features)
        text += fmt::format(" g={:d} beta={:d} l2norm={:d} final={:d} scale_choice={} strides={} circular={:d} "
                            "varlen={:d} exact={:d}",
                            shape.has_g, shape.has_beta, shape.l2norm, !shape.skip_final, shape.scale_choice,
                            harness::to_string(shape.strides), shape.circular, shape.varlen, shape.exact);
    return text;
}

rc::Shrinkable<CaseSpec> campaign_case_tree(const CampaignConfig& config, std::int64_t case_number) {
    const std::int64_t budget = config.work_budget;
    // Chunk lengths make rows long enough that one alone can be far over the budget; the
    // decode lengths keep the soft bound, so that recorded seeds give the cases they gave.
    const bool long_rows = config.generator.chunk_size > 0;
    // bound_work inside the generator, so every shrink is bounded too.
    const rc::Gen<CaseSpec> gen = rc::gen::map(gen_case(config.generator), [budget, long_rows](CaseSpec spec) {
        bound_work(spec, budget);
        if (long_rows) bound_long_rows(spec, budget);
        return spec;
    });
    return gen(case_random(config.seed, case_number), case_size(case_number));
}

CaseSpec campaign_case(const CampaignConfig& config, std::int64_t case_number) {
    return campaign_case_tree(config, case_number).value();
}

CampaignSummary run_campaign(const CampaignConfig& config,
                             const std::function<std::unique_ptr<Subject>(int device)>& make_subject,
                             const std::vector<int>& devices, const ToleranceTable& tolerances,
                             CampaignProgress* progress) {
    validate(config);
    if (devices.empty()) throw InvalidArgument("--devices", "at least one device (worker) is needed");
    SharedState shared(config, tolerances, progress);
    for (const std::string& name : shared.classes) shared.summary.coverage[name] = 0;
    if (config.resume) add_resumed_cases(shared.summary, *config.resume);
    if (const std::filesystem::path path = jsonl_path(config); !path.empty()) {
        if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
        shared.jsonl.open(path, config.resume ? std::ios::app : std::ios::trunc);
        if (!shared.jsonl) throw std::runtime_error("cannot write " + path.string());
    }
    bool started = false;  // the start record names the subject: written by the first worker

    std::vector<std::thread> workers;
    const int worker_count = config.workers_per_device * int(devices.size());
    // Each worker's oracle runs get its share of the cores, not all of them each.
    const int oracle_threads = std::max(1, reference::oracle_threads() / worker_count);
    for (int w = 0; w < worker_count; ++w) {
        const int device = devices[std::size_t(w) % devices.size()];
        workers.emplace_back([&shared, &make_subject, &started, device, oracle_threads] {
            reference::set_oracle_threads(oracle_threads);
            try {
                run_worker(shared, make_subject, device, started);
            } catch (...) {
                std::lock_guard guard(shared.lock);
                if (!shared.error) shared.error = std::current_exception();
                shared.stop = true;
            }
        });
    }
    for (std::thread& worker : workers) worker.join();
    if (shared.error) std::rethrow_exception(shared.error);

    shared.write_progress();
    CampaignSummary summary = std::move(shared.summary);
    summary.seconds = seconds_since(shared.start);
    summary.workers = int(workers.size());
    std::sort(summary.failures.begin(), summary.failures.end(),
              [](const CampaignFailure& a, const CampaignFailure& b) { return a.case_number < b.case_number; });
    shared.write_record(to_json(summary, config));
    return summary;
}

double CampaignSummary::overhead_quantile_ms(double q) const {
    if (harness_overhead_ms.empty()) return 0;
    std::vector<double> sorted = harness_overhead_ms;
    const auto at = sorted.begin() + std::ptrdiff_t(q * double(sorted.size() - 1) + 0.5);
    std::nth_element(sorted.begin(), at, sorted.end());
    return *at;
}

nlohmann::json to_json(const CampaignFailure& failure) {
    return {{"record", "failure"},
            {"case_number", failure.case_number},
            {"seconds_into_campaign", failure.seconds_into_campaign},
            {"failure_class", failure.failure_class},
            {"original", to_text(failure.original)},
            {"shrunk", to_text(failure.shrunk)},
            {"shrink_steps", failure.shrink_steps},
            {"replay_file", failure.replay_file.string()},
            {"report", to_json(failure.report)}};
}

nlohmann::json failure_list_json(const std::vector<CampaignFailure>& failures) {
    nlohmann::json list = nlohmann::json::array();
    for (const CampaignFailure& failure : failures)
        list.push_back({{"case_number", failure.case_number},
                        {"failure_class", failure.failure_class},
                        {"shrunk", to_text(failure.shrunk)},
                        {"replay_file", failure.replay_file.string()}});
    return list;
}

namespace {

nlohmann::json failed_devices_json(const std::vector<FailedDevice>& devices) {
    nlohmann::json out = nlohmann::json::array();
    for (const FailedDevice& d : devices) out.push_back({{"device", d.device}, {"reason", d.reason}});
    return out;
}

}  // namespace

nlohmann::json to_json(const CampaignSummary& summary, const CampaignConfig& config) {
    nlohmann::json failures = failure_list_json(summary.failures);
    return {{"record", "summary"},
            {"workers_per_device", config.workers_per_device},
            {"gdr_version", gdr_version()},
            {"subject", summary.subject},
            {"seed", config.seed},
            {"shard", fmt::format("{}/{}", config.shard_index, config.shard_count)},
            {"cases", summary.cases},
            {"counts", summary.outcomes},
            {"not_supported", summary.not_supported},
            {"not_supported_unexpected", summary.unexpected_not_supported},
            {"options", to_json(config.verdict)},
            {"work_budget", config.work_budget},  // shapes which cases are drawn, so the campaign's record
            {"chunk_lengths", config.generator.chunk_size},  // so does this (0: off)
            {"not_run_reason", summary.not_run_reason ? nlohmann::json(*summary.not_run_reason) : nlohmann::json()},
            {"stopped_by", summary.stopped_by ? nlohmann::json(*summary.stopped_by) : nlohmann::json()},
            {"failed_devices", failed_devices_json(summary.failed_devices)},
            {"resumed_cases", summary.resumed_cases},
            {"workers", summary.workers},
            {"seconds", summary.seconds},
            {"cases_per_second", summary.cases_per_second()},
            {"harness_overhead_ms", {{"median", summary.overhead_quantile_ms(0.5)}, {"p90", summary.overhead_quantile_ms(0.9)}}},
            {"failure_count", summary.failures.size()},
            {"failures_by_class", summary.failures_by_class},
            {"coverage", summary.coverage},
            {"failures", std::move(failures)}};
}

std::string format_summary(const CampaignSummary& summary) {
    std::string text = fmt::format("subject {}: {} cases in {:.1f} s ({:.1f} cases/s), {} failures, {} not supported\n",
                                   summary.subject, summary.cases, summary.seconds, summary.cases_per_second(),
                                   summary.failures.size(), summary.not_supported);
    if (!summary.harness_overhead_ms.empty())
        text += fmt::format("harness overhead per case (all but the subject's own runs): median {:.1f} ms, 90th percentile {:.1f} ms\n",
                            summary.overhead_quantile_ms(0.5), summary.overhead_quantile_ms(0.9));
    if (summary.not_run_reason) text += fmt::format("NOT_RUN: {}\n", *summary.not_run_reason);
    if (summary.unexpected_not_supported)
        text += fmt::format("{} not supported unexpectedly (no declared limitation covers them), the first: {}\n",
                            summary.unexpected_not_supported, summary.first_unexpected_not_supported);
    if (summary.stopped_by) text += fmt::format("stopped early by {}: the cases under way were finished\n", *summary.stopped_by);
    for (const FailedDevice& failed : summary.failed_devices)
        text += fmt::format("device {} FAILED, its workers stopped and the campaign went on without it: {}\n", failed.device,
                            failed.reason);
    if (summary.resumed_cases > 0) text += fmt::format("{} of the cases were finished by earlier runs (resumed)\n", summary.resumed_cases);
    if (!summary.failures_by_class.empty()) {
        text += "failures by class:\n";
        for (const auto& [name, count] : summary.failures_by_class) text += fmt::format("  {:<26} {}\n", name, count);
    }
    if (summary.cases == 0) return text;
    text += "coverage (cases per class):\n";
    for (const auto& [name, count] : summary.coverage) text += fmt::format("  {:<26} {}\n", name, count);
    return text;
}

}  // namespace gdr::fuzz
