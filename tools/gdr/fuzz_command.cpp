#include "fuzz_command.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gate.hpp"
#include "gdr/core/errors.hpp"
#include "gdr/fuzz/campaign.hpp"
#include "gdr/fuzz/coverage.hpp"
#include "gdr/fuzz/records.hpp"
#include "gdr/subjects/builtin.hpp"  // cuda_device_count
#include "shard_option.hpp"
#include "stop_signals.hpp"

namespace gdr::cli {

using namespace gdr::harness;
using namespace gdr::fuzz;

namespace {

// Head sizes --key-dims and --value-dims take: beyond this a single K x V state is over a
// gigabyte of oracle work per token, not a decode shape.
constexpr std::int64_t kMaxHeadDim = 16384;

constexpr double kDefaultSeconds = 60;

// "all" or a comma-separated list of distinct device ordinals.
std::vector<int> parse_devices(const std::string& text, bool gpu_subject) {
    const int available = subjects::cuda_device_count();
    if (text == "all") {
        std::vector<int> devices;
        for (int d = 0; d < std::max(available, 1); ++d) devices.push_back(d);  // none: device 0 reports NOT_RUN
        return devices;
    }
    std::vector<int> devices;
    std::set<int> seen;
    std::size_t begin = 0;
    while (begin <= text.size()) {
        const std::size_t comma = std::min(text.find(',', begin), text.size());
        const std::string item = text.substr(begin, comma - begin);
        int device = -1;
        std::size_t used = 0;
        try {
            device = std::stoi(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (item.empty() || used != item.size() || device < 0)
            throw InvalidArgument("--devices", "expected 'all' or device numbers like 0,1; got '" + text + "'");
        if (!seen.insert(device).second) throw InvalidArgument("--devices", fmt::format("device {} listed twice", device));
        if (gpu_subject && available > 0 && device >= available)
            throw InvalidArgument("--devices", fmt::format("device {} does not exist here ({} CUDA devices)", device, available));
        devices.push_back(device);
        begin = comma + 1;
    }
    return devices;
}

// A live line on a terminal (redrawn at most 5 times a second), a plain line every 10 s
// otherwise (CI logs), and one line per failure either way.
class ProgressPrinter final : public CampaignProgress {
public:
    explicit ProgressPrinter(std::string program) : live_(isatty(fileno(stderr)) != 0), program_(std::move(program)) {}

    void on_case(const CampaignCase&, const CampaignSummary& so_far) override {
        const double now = seconds();
        if (now - last_print_ < (live_ ? 0.2 : 10.0)) return;
        last_print_ = now;
        const auto count = [&](const char* name) {
            const auto it = so_far.coverage.find(name);
            return it == so_far.coverage.end() ? std::int64_t(0) : it->second;
        };
        namespace cc = coverage_class;
        // A chunk-length campaign counts its chunk classes (listed from the start, at 0).
        const std::string chunks = so_far.coverage.count(cc::multi_chunk) ? fmt::format(", multi-chunk {}", count(cc::multi_chunk))
                                                                          : std::string();
        const std::string line = fmt::format(
            "[{:6.1f} s] {} cases ({:.1f}/s), {} failures, {} not supported | wraparound {}, inactive {}, varlen {}, "
            "exact {}, vk {}{}",
            now, so_far.cases, now > 0 ? so_far.cases / now : 0.0, so_far.failures.size(), so_far.not_supported,
            count(cc::wraparound), count(cc::inactive_rows), count(cc::varlen), count(cc::exact), count(cc::layout_vk),
            chunks);
        if (live_) fmt::print(stderr, "\r\033[K{}", line);
        else fmt::print(stderr, "{}\n", line);
        std::fflush(stderr);
    }

    void on_failure(const CampaignFailure& failure) override {
        fmt::print(stderr, "{}FAILURE case {} ({}), shrunk in {} steps to: {}{}\n", live_ ? "\r\033[K" : "",
                   failure.case_number, failure.failure_class, failure.shrink_steps, to_text(failure.shrunk),
                   failure.replay_file.empty() ? "" : "\n  replay: " + program_ + " replay " + failure.replay_file.string());
    }

    void finish() const {
        if (live_) fmt::print(stderr, "\n");
    }

private:
    double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

    bool live_;
    std::string program_;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
    double last_print_ = -1e9;
};

// The chunk size C the subject declares (Subject::chunked()), asked of a subject made for the
// first device that can make one; 0 for a recurrent (decode) subject, and when no device can
// make it (the campaign then reports those devices failed).
std::int64_t declared_chunk_size(const subjects::SubjectEntry& entry, const std::vector<int>& devices) {
    for (const int device : devices) {
        try {
            const auto contract = entry.make(device)->chunked();
            return contract ? contract->chunk_size : 0;
        } catch (const std::exception&) {
        }
    }
    return 0;
}

// JUnit wants test cases: one per failure (its shrunk report) and one for the campaign.
std::vector<CaseReport> junit_reports(const CampaignSummary& summary, const CampaignConfig& config) {
    std::vector<CaseReport> reports;
    CaseReport campaign;
    campaign.subject = summary.subject;
    campaign.case_text = fmt::format("campaign seed={} shard={}/{}: {} cases", config.seed, config.shard_index,
                                     config.shard_count, summary.cases);
    campaign.seed = config.seed;
    campaign.seconds = summary.seconds;
    campaign.outcome = summary.not_run_reason ? Outcome::not_run
                       : summary.failed_devices.empty() ? Outcome::passed
                                                        : Outcome::failed;
    campaign.message = summary.not_run_reason.value_or("");
    for (const FailedDevice& failed : summary.failed_devices)
        campaign.message += fmt::format("{}device {} failed: {}", campaign.message.empty() ? "" : "; ", failed.device,
                                        failed.reason);
    reports.push_back(campaign);
    for (const CampaignFailure& failure : summary.failures) reports.push_back(failure.report);
    return reports;
}

}  // namespace

FuzzCommand::FuzzCommand(CLI::App& app, const CliContext& context) : context_(context) {
    command_ = app.add_subcommand("fuzz", "run a campaign of random cases against one subject, shrinking failures");
    command_->add_option("--subject", subject_,
                         "the subject (default: cuda-decode when a CUDA device is present or GDR_REQUIRE_GPU=1, "
                         "else cpu-emulated-reversed)");
    command_->add_option("--seed", seed_, "campaign seed: case c is a pure function of (seed, c)")->capture_default_str();
    command_->add_option("--cases", cases_, "run the campaign's cases 0..N-1 (a shard runs its share)");
    command_->add_option("--seconds", seconds_, "stop starting new cases after X seconds (default 60 without --cases)");
    command_->add_option("--shard", shard_,
                         "run shard i of n: the cases c with c mod n == i; 'auto': i and n from a Slurm job array, "
                         "'auto/n': i from a Kubernetes Indexed Job (JOB_COMPLETION_INDEX)")
        ->capture_default_str();
    command_->add_option("--workers", workers_,
                         "worker threads per device, each with its own subject (default: the cores, divided among "
                         "the devices)");
    command_->add_option("--progress-seconds", progress_seconds_,
                         "write a progress record (the cases finished) to campaign.jsonl this often")
        ->capture_default_str();
    command_->add_option("--resume", resume_dir_,
                         "continue the campaign whose --out was DIR (same subject and budget; seed and shard "
                         "default to its own): its recorded cases are not run again; records are appended there");
    command_->add_option("--out", out_dir_, "write replay files and campaign.jsonl here");
    command_->add_option("--devices", devices_,
                         "'all' or device numbers (0,1): --workers threads, each with its own subject, per device")
        ->capture_default_str();
    command_->add_option("--work-budget", work_budget_,
                         "max B*T*HV*K*V per case (default 2^21): B is lowered to fit (one row may still exceed it); "
                         "with chunk lengths every case fits (--chunk-lengths)");
    command_->add_option("--max-shrink-seconds", max_shrink_seconds_, "time limit for shrinking one failure (default 120)");
    command_->add_flag("--stop-at-first-failure", stop_at_first_failure_, "stop the campaign at its first failure");
    command_->add_flag("--no-shrink", no_shrink_, "report failures as generated");
    command_->add_option("--shape-palette", shape_palette_,
                         "draw N shapes (H, HV, K, V, T, layout, dtypes) once per campaign and give every case one of "
                         "them, so that a JIT-compiled subject compiles at most N kernel variants per feature set "
                         "(B, values, indices, slots, cache_seqlens still vary per case)");
    command_->add_flag("--palette-features", palette_features_,
                       "palette entries also fix the features that select a JIT subject's kernel variant (g, beta, "
                       "l2norm, final state, scale, strides, circular, varlen, exact): one compile per entry for "
                       "subjects that key their cache on them, as TileLang does; needs --shape-palette");
    command_->add_option("--key-dims", key_dims_, "draw K only from these sizes (e.g. 64,128,256: what the subject supports)")
        ->delimiter(',');
    command_->add_option("--value-dims", value_dims_, "draw V only from these sizes")->delimiter(',');
    command_
        ->add_option("--chunk-lengths", chunk_lengths_,
                     fmt::format("draw T and each varlen sequence's length around the chunk boundaries of a chunk "
                                 "(prefill) kernel of chunk size C: 1, C-1, C, C+1, 2C-1, 2C, 2C+1 or 3C+1 in {} % of "
                                 "draws, else uniform in 1..3C+1 (a varlen sequence may also be empty), instead of a "
                                 "decode case's few tokens. Each case stays within --work-budget: varlen sequences are "
                                 "dropped, then value heads, and only then tokens. 0: off. Default: the subject's own "
                                 "chunk size if it declares one (cuda-chunked: 64, cpu-chunked-emulated: 4), else 0",
                                 kChunkBoundaryPercent))
        ->type_name("C");
    add_report_options(*command_, report_);
    command_->get_option("--jsonl")->description("JSON-lines records (one per failure, then a summary); default DIR/campaign.jsonl with --out");
}

int FuzzCommand::run() const {
    const std::string subject_name = subject_.empty() ? default_subject("cpu-emulated-reversed") : subject_;
    const subjects::SubjectEntry& entry = context_.registry->at(subject_name);  // names the known ones

    CampaignConfig config;
    config.seed = seed_;
    config.max_cases = cases_;
    config.max_seconds = seconds_;
    if (!cases_ && !seconds_) config.max_seconds = kDefaultSeconds;
    std::tie(config.shard_index, config.shard_count) = resolve_shard(shard_, process_environment());
    if (!shard_given())
        if (const auto hint = shard_hint(process_environment())) fmt::print(stderr, "{}\n", *hint);
    config.stop_at_first_failure = stop_at_first_failure_;
    config.shrink = !no_shrink_;
    config.out_dir = out_dir_;
    config.jsonl_file = report_.jsonl_file;
    config.dump_dir = report_.dump_dir;
    config.memory_budget_bytes = std::int64_t(report_.memory_budget_gb * 1e9);
    config.verdict = verdict_options(report_);
    config.gdr_command = context_.program;
    config.declared_limitation = entry.limitation_lookup();
    if (work_budget_ != 0) config.work_budget = work_budget_;
    if (max_shrink_seconds_ >= 0) config.max_shrink_seconds = max_shrink_seconds_;
    config.progress_seconds = progress_seconds_;
    for (const auto& [option, dims] : {std::pair{"--key-dims", &key_dims_}, std::pair{"--value-dims", &value_dims_}})
        for (const std::int64_t dim : *dims)
            if (dim < 1 || dim > kMaxHeadDim)
                throw InvalidArgument(option, fmt::format("{} is not a head size in 1..{}", dim, kMaxHeadDim));
    if (palette_features_ && shape_palette_ == 0)
        throw InvalidArgument("--palette-features", "needs --shape-palette N with N >= 1 (the entries that fix the features)");
    config.generator.key_dims = key_dims_;
    config.generator.value_dims = value_dims_;
    const std::vector<int> devices = parse_devices(devices_, entry.needs_gpu());
    config.generator.chunk_size = chunk_lengths_ ? *chunk_lengths_ : declared_chunk_size(entry, devices);
    const ToleranceTable tolerances = load_tolerances(config.verdict);
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    config.workers_per_device = workers_.value_or(std::max(1, cores / int(devices.size())));
    validate(config);
    // After the seed is final (a resumed campaign's own): the palette is a function of it.
    const auto draw_palette = [&] {
        config.generator.shape_palette =
            draw_shape_palette(config.generator, config.seed, shape_palette_, palette_features_);
    };
    draw_palette();
    std::optional<CampaignRecords> earlier;
    if (!resume_dir_.empty()) {
        if (!out_dir_.empty() && std::filesystem::path(out_dir_) != std::filesystem::path(resume_dir_))
            throw InvalidArgument("--resume", "a resumed campaign continues in its own directory: drop --out");
        if (!report_.jsonl_file.empty()) throw InvalidArgument("--resume", "records go to DIR/campaign.jsonl: drop --jsonl");
        earlier = read_campaign_records(std::filesystem::path(resume_dir_) / "campaign.jsonl", "--resume");
        config.out_dir = resume_dir_;
        // --seed and --shard, when not given, continue the recorded campaign's.
        if (command_->count("--seed") == 0) config.seed = earlier->seed();
        if (!shard_given()) std::tie(config.shard_index, config.shard_count) = resolve_shard(earlier->shard(), process_environment());
        draw_palette();
        require_same_campaign(earlier->start, start_record(config, subject_name, true), "--resume", /*same_shard=*/true);
        config.resume = &*earlier;
    }
    Gate gate(config.verdict.strict);
    if (const auto refusal = gate.refusal(entry)) {  // after the input checks (exit 2), before a campaign that cannot pass
        fmt::print("gate: failing: {}\n", *refusal);
        return exit_failed;
    }
    const StopSignalScope stop_signals;  // the caller's handlers (a Python process's) come back after
    config.stop_requested = stop_signal_received;

    fmt::print(stderr, "{} fuzz: subject {}, seed {}, shard {}/{}, {}{}{}, {} device{} x {} worker{}{}\n", context_.program,
               subject_name, config.seed, config.shard_index, config.shard_count,
               config.max_cases ? fmt::format("cases < {}", *config.max_cases) : std::string("no case limit"),
               config.max_seconds ? fmt::format(", {} s", *config.max_seconds) : std::string(),
               config.generator.chunk_size > 0 ? fmt::format(", chunk lengths C = {}", config.generator.chunk_size)
                                               : std::string(),
               devices.size(),
               devices.size() == 1 ? "" : "s", config.workers_per_device, config.workers_per_device == 1 ? "" : "s",
               earlier ? fmt::format(", resuming {} recorded cases", earlier->cases.size()) : std::string());
    ProgressPrinter progress(context_.program);
    const CampaignSummary summary = run_campaign(
        config, [&](int device) { return entry.make(device); }, devices, tolerances, &progress);
    progress.finish();

    for (const CampaignFailure& failure : summary.failures) {
        fmt::print("\nFAILURE: case {} ({}), found after {:.1f} s, shrunk in {} steps\n  original: {}\n", failure.case_number,
                   failure.failure_class, failure.seconds_into_campaign, failure.shrink_steps, to_text(failure.original));
        if (!failure.replay_file.empty())
            fmt::print("  replay:   {} replay {}\n", context_.program, harness::shell_quote(failure.replay_file.string()));
        fmt::print("{}\n", format_failure(failure.report));
    }
    fmt::print("\n{}", format_summary(summary));

    const std::vector<CaseReport> reports = junit_reports(summary, config);
    if (!report_.junit_file.empty()) {
        ReportOptions junit_only;
        junit_only.junit_file = report_.junit_file;
        write_reports(reports, junit_only, "gdr fuzz");
    }
    if (!report_.json_file.empty()) write_text_file(report_.json_file, to_json(summary, config).dump(2) + '\n');

    gate.record(entry, !summary.not_run_reason);
    std::vector<std::string> reasons = gate.failures({});
    if (!summary.failures.empty()) reasons.insert(reasons.begin(), fmt::format("{} failures", summary.failures.size()));
    if (!summary.failed_devices.empty())
        reasons.push_back(fmt::format("{} of the devices failed (the campaign ran without them)", summary.failed_devices.size()));
    if (gate.strict() && summary.unexpected_not_supported)
        reasons.push_back(fmt::format("strict mode and {} NOT_SUPPORTED that no declared limitation of the subject covers",
                                      summary.unexpected_not_supported));
    for (const std::string& reason : reasons) fmt::print("gate: failing: {}\n", reason);
    return reasons.empty() ? exit_ok : exit_failed;
}

bool FuzzCommand::shard_given() const { return command_->count("--shard") > 0; }

}  // namespace gdr::cli
