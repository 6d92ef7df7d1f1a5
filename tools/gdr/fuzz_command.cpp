#include "fuzz_command.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gate.hpp"
#include "gdr/core/errors.hpp"
#include "gdr/fuzz/campaign.hpp"
#include "gdr/fuzz/coverage.hpp"
#include "gdr/subjects/builtin.hpp"

namespace gdr::cli {

using namespace gdr::harness;
using namespace gdr::fuzz;

namespace {

constexpr double kDefaultSeconds = 60;

// "i/n" with 0 <= i < n.
std::pair<int, int> parse_shard(const std::string& text) {
    const std::size_t slash = text.find('/');
    int index = -1, count = 0;
    try {
        if (slash == std::string::npos) throw std::invalid_argument("no slash");
        std::size_t used = 0;
        index = std::stoi(text.substr(0, slash), &used);
        if (used != slash) throw std::invalid_argument("trailing text");
        const std::string rest = text.substr(slash + 1);
        count = std::stoi(rest, &used);
        if (used != rest.size()) throw std::invalid_argument("trailing text");
    } catch (const std::exception&) {
        throw InvalidArgument("--shard", "expected i/n (shard i of n, e.g. 0/4), got '" + text + "'");
    }
    if (count < 1 || index < 0 || index >= count)
        throw InvalidArgument("--shard", fmt::format("'{}': need n >= 1 and 0 <= i < n", text));
    return {index, count};
}

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
    ProgressPrinter() : live_(isatty(fileno(stderr)) != 0) {}

    void on_case(const CampaignCase&, const CampaignSummary& so_far) override {
        const double now = seconds();
        if (now - last_print_ < (live_ ? 0.2 : 10.0)) return;
        last_print_ = now;
        const auto count = [&](const char* name) {
            const auto it = so_far.coverage.find(name);
            return it == so_far.coverage.end() ? std::int64_t(0) : it->second;
        };
        namespace cc = coverage_class;
        const std::string line = fmt::format(
            "[{:6.1f} s] {} cases ({:.1f}/s), {} failures, {} not supported | wraparound {}, inactive {}, varlen {}, "
            "exact {}, vk {}",
            now, so_far.cases, now > 0 ? so_far.cases / now : 0.0, so_far.failures.size(), so_far.not_supported,
            count(cc::wraparound), count(cc::inactive_rows), count(cc::varlen), count(cc::exact), count(cc::layout_vk));
        if (live_) fmt::print(stderr, "\r\033[K{}", line);
        else fmt::print(stderr, "{}\n", line);
        std::fflush(stderr);
    }

    void on_failure(const CampaignFailure& failure) override {
        fmt::print(stderr, "{}FAILURE case {} ({}), shrunk in {} steps to: {}{}\n", live_ ? "\r\033[K" : "",
                   failure.case_number, failure.failure_class, failure.shrink_steps, to_text(failure.shrunk),
                   failure.replay_file.empty() ? "" : "\n  replay: gdr replay " + failure.replay_file.string());
    }

    void finish() const {
        if (live_) fmt::print(stderr, "\n");
    }

private:
    double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

    bool live_;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
    double last_print_ = -1e9;
};

// JUnit wants test cases: one per failure (its shrunk report) and one for the campaign.
std::vector<CaseReport> junit_reports(const CampaignSummary& summary, const CampaignConfig& config) {
    std::vector<CaseReport> reports;
    CaseReport campaign;
    campaign.subject = summary.subject;
    campaign.case_text = fmt::format("campaign seed={} shard={}/{}: {} cases", config.seed, config.shard_index,
                                     config.shard_count, summary.cases);
    campaign.seed = config.seed;
    campaign.seconds = summary.seconds;
    campaign.outcome = summary.not_run_reason ? Outcome::not_run : Outcome::passed;
    campaign.message = summary.not_run_reason.value_or("");
    reports.push_back(campaign);
    for (const CampaignFailure& failure : summary.failures) reports.push_back(failure.report);
    return reports;
}

}  // namespace

FuzzCommand::FuzzCommand(CLI::App& app) {
    command_ = app.add_subcommand("fuzz", "run a campaign of random cases against one subject, shrinking failures");
    command_->add_option("--subject", subject_,
                         "the subject (default: cuda-decode when a CUDA device is present, else cpu-emulated-reversed)");
    command_->add_option("--seed", seed_, "campaign seed: case c is a pure function of (seed, c)")->capture_default_str();
    command_->add_option("--cases", cases_, "run the campaign's cases 0..N-1 (a shard runs its share)");
    command_->add_option("--seconds", seconds_, "stop starting new cases after X seconds (default 60 without --cases)");
    command_->add_option("--shard", shard_, "run shard i of n: the cases c with c mod n == i")->capture_default_str();
    command_->add_option("--out", out_dir_, "write replay files and campaign.jsonl here");
    command_->add_option("--devices", devices_,
                         "'all' or device numbers (0,1): one worker thread and subject per device")
        ->capture_default_str();
    command_->add_option("--work-budget", work_budget_, "max B*T*HV*K*V per case (default 2^21)");
    command_->add_option("--max-shrink-seconds", max_shrink_seconds_, "time limit for shrinking one failure (default 120)");
    command_->add_flag("--stop-at-first-failure", stop_at_first_failure_, "stop the campaign at its first failure");
    command_->add_flag("--no-shrink", no_shrink_, "report failures as generated");
    add_report_options(*command_, report_, /*with_json_summary=*/true);
    command_->get_option("--jsonl")->description("JSON-lines records (one per failure, then a summary); default DIR/campaign.jsonl with --out");
}

int FuzzCommand::run() const {
    const std::string subject_name =
        subject_.empty() ? (subjects::cuda_device_count() > 0 ? "cuda-decode" : "cpu-emulated-reversed") : subject_;
    const subjects::SubjectEntry& entry = subjects::builtin_registry().at(subject_name);  // names the known ones

    CampaignConfig config;
    config.seed = seed_;
    config.max_cases = cases_;
    config.max_seconds = seconds_;
    if (!cases_ && !seconds_) config.max_seconds = kDefaultSeconds;
    std::tie(config.shard_index, config.shard_count) = parse_shard(shard_);
    config.stop_at_first_failure = stop_at_first_failure_;
    config.shrink = !no_shrink_;
    config.out_dir = out_dir_;
    config.jsonl_file = report_.jsonl_file;
    config.dump_dir = report_.dump_dir;
    config.check_determinism = !report_.no_determinism;
    config.math = run_options(report_).math;
    if (work_budget_ != 0) config.work_budget = work_budget_;
    if (max_shrink_seconds_ >= 0) config.max_shrink_seconds = max_shrink_seconds_;
    validate(config);
    const std::vector<int> devices = parse_devices(devices_, entry.needs_gpu());
    const ToleranceTable tolerances = load_tolerances(report_);

    fmt::print(stderr, "gdr fuzz: subject {}, seed {}, shard {}/{}, {}{}, {} worker{}\n", subject_name, config.seed,
               config.shard_index, config.shard_count,
               config.max_cases ? fmt::format("cases < {}", *config.max_cases) : std::string("no case limit"),
               config.max_seconds ? fmt::format(", {} s", *config.max_seconds) : std::string(), devices.size(),
               devices.size() == 1 ? "" : "s");
    ProgressPrinter progress;
    const CampaignSummary summary = run_campaign(
        config, [&](int device) { return entry.make(device); }, devices, tolerances, &progress);
    progress.finish();

    for (const CampaignFailure& failure : summary.failures) {
        fmt::print("\nFAILURE: case {} ({}), found after {:.1f} s, shrunk in {} steps\n  original: {}\n", failure.case_number,
                   failure.failure_class, failure.seconds_into_campaign, failure.shrink_steps, to_text(failure.original));
        if (!failure.replay_file.empty()) fmt::print("  replay:   gdr replay {}\n", failure.replay_file.string());
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

    if (!summary.failures.empty()) return exit_failed;
    if (summary.not_run_reason && not_run_fails(entry)) {
        fmt::print("GDR_REQUIRE_GPU=1 and subject {} did not run: failing\n", subject_name);
        return exit_failed;
    }
    return exit_ok;
}

}  // namespace gdr::cli
