// Reading a campaign's JSON-lines records back (campaign.jsonl), for `gdr fuzz --resume` and
// `gdr merge`. The records a campaign writes (campaign.cpp):
//   {"record": "start", seed, shard, subject, work_budget, check_determinism, fingerprint,
//    coverage_classes, resumed}                          once per run (a resumed run adds one)
//   {"record": "progress", seconds, cases: [[case number, outcome, coverage mask, wall ms,
//    the subject's ms], ...]}                            every progress interval and at the end
//   {"record": "failure", case_number, ...}              after each failure is shrunk
//   {"record": "summary", ...}                           when a run ends (not after SIGKILL)
//   {"record": "device_failed", device, reason}           a device whose subject could not be made
// A case's coverage mask has bit i set for class coverage_classes[i] of its run's start record.
// So a campaign killed at any moment loses at most one progress interval of cases, and a
// failing case whose failure record is missing (killed while shrinking) is known as such.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gdr/fuzz/campaign.hpp"

namespace gdr::fuzz {

struct RecordedCase {
    std::int64_t case_number = 0;
    Outcome outcome = Outcome::passed;
    std::vector<std::string> coverage;  // class names
};

struct CampaignRecords {
    std::filesystem::path file;
    nlohmann::json start;  // the first start record: the campaign's identity
    std::map<std::int64_t, RecordedCase> cases;            // by case number (a rerun: the last)
    std::map<std::int64_t, nlohmann::json> failure_records;  // by case number

    std::uint64_t seed() const { return start.at("seed").get<std::uint64_t>(); }
    std::string shard() const { return start.at("shard").get<std::string>(); }
    std::string subject() const { return start.at("subject").get<std::string>(); }
    // True when the case need not run again: it did not fail, or its failure is recorded.
    bool finished(std::int64_t case_number) const;
    // Failing cases without a failure record (the campaign stopped while shrinking them).
    std::vector<std::int64_t> unrecorded_failures() const;
};

// Reads `file` (a campaign.jsonl, or a directory holding one). Malformed or missing records
// throw gdr::InvalidArgument(`argument`, ...) naming the file and line.
CampaignRecords read_campaign_records(const std::filesystem::path& file, const std::string& argument);

// The identity a start record carries for `config` and `subject` (fingerprint: a hash of the
// text of the first cases, so another generator, seed or work budget gives another one).
nlohmann::json start_record(const CampaignConfig& config, const std::string& subject, bool resumed);

// Throws gdr::InvalidArgument(`argument`, ...) naming the first field in which the two start
// records' campaigns differ (seed, shard, subject, work budget, determinism, generator).
void require_same_campaign(const nlohmann::json& a, const nlohmann::json& b, const std::string& argument,
                           bool same_shard);

// A failure as recorded (its report reduced to the outcome, failing checks and message).
CampaignFailure failure_from_record(const nlohmann::json& record);
// Appends `records`' failures to `failures` and counts them in `by_class`.
void add_recorded_failures(const CampaignRecords& records, std::vector<CampaignFailure>& failures,
                           std::map<std::string, std::int64_t>& by_class);

}  // namespace gdr::fuzz
