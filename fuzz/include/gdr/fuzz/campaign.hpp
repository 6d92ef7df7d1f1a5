// Fuzz campaigns: many random cases against one subject (`gdr fuzz`, and mutant campaigns
// that stop at the first failure).
//
// Case c of a campaign is a pure function of (seed, c): the RapidCheck case generator
// (case_gen.hpp, with decode_case_config() by default) evaluated with an rc::Random keyed
// by (seed, c) at size c mod 101, so the sizes cycle over 0..100 like a property test's, and
// its work bounded by bound_work() (and bound_long_rows() with chunk lengths). Sharding
// splits the case numbers: shard i of n runs the cases with c mod n == i, so n shards
// together run exactly the unsharded campaign.
//
// Workers: workers_per_device threads per device, each with its own subject; they share
// only the case counter and, for bookkeeping after a case, the campaign's lock.
// Records (records.hpp): a start record, a progress record listing the finished cases every
// progress_seconds, a failure record per failure and a summary, so a campaign killed even by
// SIGKILL can be resumed (`resume`: its finished cases are not run again) and shards merged.
//
// Each case goes through run_case() with every check, determinism included (it costs one
// more subject run and is the only check that catches races and uninitialized reads that
// happen to produce plausible values). A case whose outcome is INCORRECT or FAILED is a
// failure: it is shrunk by walking RapidCheck's shrink tree (take the first smaller case
// that still fails with the same failure class, repeat, within max_shrink_steps and
// max_shrink_seconds), written as a replay file (replay.hpp) into out_dir, reported, and
// the campaign goes on (or stops, with stop_at_first_failure). NOT_SUPPORTED cases are
// counted, never failures.
//
//   CampaignConfig config;
//   config.seed = 7;
//   config.max_cases = 1000;
//   config.out_dir = "fuzz-out";
//   const CampaignSummary summary = run_campaign(
//       config, [](int device) { return subjects::builtin_registry().make("cuda-decode", device); }, {0, 1},
//       ToleranceTable::load_default(), nullptr);
//   // summary.failures: each with its shrunk case, report and replay file
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <rapidcheck.h>

#include "gdr/harness/case_gen.hpp"
#include "gdr/fuzz/coverage.hpp"
#include "gdr/harness/decode_cases.hpp"
#include "gdr/harness/report.hpp"
#include "gdr/harness/runner.hpp"
#include "gdr/harness/subject.hpp"
#include "gdr/harness/tolerance.hpp"

namespace gdr::fuzz {

using harness::CaseGenConfig;
using harness::CaseReport;
using harness::CaseSpec;
using harness::Outcome;
using harness::Subject;
using harness::ToleranceTable;

struct CampaignRecords;  // records.hpp

// The largest chunk size a campaign draws lengths for (`--chunk-lengths`): rows of up to
// 3C + 1 tokens stay far inside a spec's bounds (2^20 per size).
inline constexpr std::int64_t kMaxChunkLengths = std::int64_t(1) << 16;

struct CampaignConfig {
    std::uint64_t seed = 1;
    // Bounds; at least one is required. max_cases bounds the campaign's case numbers
    // (cases 0 .. max_cases-1, of which a shard runs its own); max_seconds the wall time
    // (a case under way when it runs out is finished).
    std::optional<std::int64_t> max_cases;
    std::optional<double> max_seconds;
    int shard_index = 0, shard_count = 1;
    bool stop_at_first_failure = false;
    bool shrink = true;
    // Replay files go here (created when needed); empty: none are written.
    std::filesystem::path out_dir;
    // JSON-lines records (one per failure, then a summary). Empty: out_dir/campaign.jsonl
    // when out_dir is set, else none.
    std::filesystem::path jsonl_file;
    // Where the shrunk failing cases' tensors are dumped (one more run each); empty: nowhere.
    std::filesystem::path dump_dir;
    // Host memory a case may take (harness::RunOptions::memory_budget_bytes); 0: available.
    std::int64_t memory_budget_bytes = 0;

    // generator.chunk_size (`gdr fuzz --chunk-lengths`, by default the subject's chunk size C):
    // token counts around chunk boundaries, up to 3C + 1, for chunk kernels.
    CaseGenConfig generator = harness::decode_case_config();
    // bound_work() budget per case (B x T x HV x K x V): the CPU oracle's cost per case. With
    // chunk lengths also bound_long_rows(): then no case is over it (decode_cases.hpp).
    std::int64_t work_budget = std::int64_t(1) << 21;
    std::int64_t max_shrink_steps = 500;  // accepted shrinks per failure
    double max_shrink_seconds = 120;      // per failure
    std::string gdr_command = "gdr";      // in reproduce commands
    // The options behind the verdicts (the tolerance file the table came from, strictness,
    // the math mode, whether the determinism run happens), carried by reproduce lines,
    // replay files and records.
    harness::VerdictOptions verdict;
    // Which declared limitation covers a NOT_SUPPORTED case (the subject's registry entry);
    // none: every NOT_SUPPORTED is unexpected.
    harness::LimitationLookup declared_limitation;

    int workers_per_device = 1;     // worker threads (each with its own subject) per device
    double progress_seconds = 5;    // a progress record at most this often (and at the end)
    // Polled before each case and while shrinking: a reason (e.g. "SIGTERM") stops the
    // campaign as a bound does: cases under way finish, a failure being shrunk is recorded as
    // shrunk so far, and every output is written. Empty function: never.
    std::function<std::optional<std::string>()> stop_requested;
    // The records of the same campaign's earlier run(s): their finished cases are skipped and
    // counted in the summary; records are appended to the same file. Null: a fresh campaign.
    const CampaignRecords* resume = nullptr;
};

// Throws gdr::InvalidArgument naming the `gdr fuzz` option that sets the bad field
// ("--shard", "--cases", "--seconds", ...).
void validate(const CampaignConfig& config);

// A campaign's shape palette (`gdr fuzz --shape-palette N`): `count` shapes drawn once from
// `generator` with a random keyed by `seed` alone, spread over the generator's sizes (the
// first small, the last full-size), entry i with the i-th (mod their count) of the
// generator's (layout, input dtype, state dtype) combinations in a seeded order, so that a
// palette of 18 or more has every one. Put them in CampaignConfig::generator.shape_palette;
// every case then takes one of them. For JIT-compiled subjects, which compile per shape.
// with_features: each entry also fixes the features (CaseShape::with_features).
std::vector<harness::CaseShape> draw_shape_palette(const CaseGenConfig& generator, std::uint64_t seed, int count,
                                                   bool with_features = false);
// "H=2 HV=4 K=128 V=64 T=4 layout=vk in=bf16 state=f32 gate=f32"
std::string to_text(const harness::CaseShape& shape);

// The shrink tree of case `case_number`: its value is the case, its shrinks the smaller ones.
rc::Shrinkable<CaseSpec> campaign_case_tree(const CampaignConfig& config, std::int64_t case_number);
// campaign_case_tree(...).value(): case `case_number` of the campaign, deterministically.
CaseSpec campaign_case(const CampaignConfig& config, std::int64_t case_number);

struct CampaignFailure {
    std::int64_t case_number = 0;
    double seconds_into_campaign = 0;
    CaseSpec original, shrunk;
    CaseReport report;  // of the shrunk case
    std::string failure_class;
    std::int64_t shrink_steps = 0;
    std::filesystem::path replay_file;  // empty when out_dir is empty
};

// A device whose subject could not be made (make_subject threw: a lost device, out of memory,
// a failed context): its workers stopped, the others went on.
struct FailedDevice {
    int device = 0;
    std::string reason;
    friend bool operator==(const FailedDevice&, const FailedDevice&) = default;
};

struct CampaignSummary {
    std::string subject;  // the subject's name
    std::int64_t cases = 0, not_supported = 0;
    // Cases per outcome ("PASSED", "INCORRECT", ...: the outcome each case first had, before
    // any shrinking), as verify's summary counts them.
    std::map<std::string, std::int64_t> outcomes;
    // Of not_supported: those no declared limitation covers (a strict gate fails on them),
    // with the reproduce line of the first.
    std::int64_t unexpected_not_supported = 0;
    std::string first_unexpected_not_supported;
    double seconds = 0;
    std::vector<CampaignFailure> failures;  // ordered by case number at the end
    // Cases per coverage class (coverage.hpp), and failures per failure class.
    std::map<std::string, std::int64_t> coverage, failures_by_class;
    // Set when the subject cannot run here (NOT_RUN): then no case ran.
    std::optional<std::string> not_run_reason;
    // Set when stop_requested() ended the campaign early (its reason).
    std::optional<std::string> stopped_by;
    // In device order, each once. Not empty: the campaign ran on fewer devices than asked,
    // which `gdr fuzz` reports as a failure.
    std::vector<FailedDevice> failed_devices;
    std::int64_t resumed_cases = 0;  // of `cases`, those finished by earlier runs (resume)
    int workers = 0;
    // This run's cases: what each took besides the subject's own runs (generation, the
    // oracle, the checks, the bookkeeping), in milliseconds; the median and the 90th
    // percentile are in the summary.
    std::vector<double> harness_overhead_ms;
    double overhead_quantile_ms(double q) const;  // 0 without cases

    // This run's cases (not the resumed ones) per second.
    double cases_per_second() const { return seconds > 0 ? double(cases - resumed_cases) / seconds : 0; }
};

// One finished case (not counting the shrinking runs).
struct CampaignCase {
    std::int64_t case_number = 0;
    const CaseSpec* spec = nullptr;  // valid during the callback only
    Outcome outcome = Outcome::passed;
};

// Callbacks, made under the campaign's lock (so from one thread at a time, in any worker).
class CampaignProgress {
public:
    virtual ~CampaignProgress() = default;
    // After every case, with the totals so far.
    virtual void on_case(const CampaignCase& /*done*/, const CampaignSummary& /*so_far*/) {}
    // After a failure was shrunk and its replay file written.
    virtual void on_failure(const CampaignFailure& /*failure*/) {}
};

// Runs the campaign with workers_per_device worker threads per entry of `devices` (at least one), each with
// its own subject from make_subject(device) (called in that worker's thread). `progress` may
// be null. Stopping (a bound reached, stop_at_first_failure, NOT_RUN) lets every worker
// finish the case it is on; a failure found meanwhile is still shrunk and recorded. The
// max_seconds bound does not include the shrinking of a failure found just before it. Throws
// gdr::InvalidArgument for a bad config; subject errors are outcomes, never exceptions.
CampaignSummary run_campaign(const CampaignConfig& config,
                             const std::function<std::unique_ptr<Subject>(int device)>& make_subject,
                             const std::vector<int>& devices, const ToleranceTable& tolerances,
                             CampaignProgress* progress);

// JSON-lines records: {"record": "failure", ...} and {"record": "summary", ...}.
nlohmann::json to_json(const CampaignFailure& failure);
nlohmann::json to_json(const CampaignSummary& summary, const CampaignConfig& config);
// The failures in brief: [{case_number, failure_class, shrunk, replay_file}, ...].
nlohmann::json failure_list_json(const std::vector<CampaignFailure>& failures);

// For people: cases, time, cases/s, failures by class, coverage counts by class.
std::string format_summary(const CampaignSummary& summary);

}  // namespace gdr::fuzz
