// Merging the records of a campaign's shards (`gdr merge`): one summary with every case
// counted once, the coverage union and every failure. The parts must be one campaign (same
// seed, subject, work budget, generator: require_same_campaign) and must not overlap (a case
// number in two parts is an error naming both: two jobs ran the same shard, or shards of
// different counts were mixed).
//
//   std::vector<CampaignRecords> parts;
//   for (const auto& dir : dirs) parts.push_back(read_campaign_records(dir, "merge"));
//   const MergedCampaign merged = merge_campaigns(parts, "merge");
//   fmt::print("{}", format_merged(merged));
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "gdr/fuzz/records.hpp"

namespace gdr::fuzz {

struct MergedCampaign {
    nlohmann::json start;  // the campaign's identity (the first part's start record)
    std::vector<std::string> files, shards;  // per part
    std::map<std::int64_t, RecordedCase> cases;
    std::int64_t not_supported = 0;
    std::map<std::string, std::int64_t> coverage, failures_by_class;
    std::vector<CampaignFailure> failures;         // recorded failures, by case number
    std::vector<std::int64_t> unshrunk_failures;  // failing cases whose part stopped while shrinking them

    std::int64_t failure_count() const { return std::int64_t(failures.size() + unshrunk_failures.size()); }
    // The case numbers as inclusive ranges [first, last], ascending.
    std::vector<std::pair<std::int64_t, std::int64_t>> case_ranges() const;
};

// Throws gdr::InvalidArgument(`argument`, ...) when the parts are not one campaign or overlap.
MergedCampaign merge_campaigns(const std::vector<CampaignRecords>& parts, const std::string& argument);

// {"record": "merged", seed, subject, shards, files, cases, case_ranges, not_supported,
//  coverage, failure_count, failures_by_class, failures, unshrunk_failures}
nlohmann::json to_json(const MergedCampaign& merged);
std::string format_merged(const MergedCampaign& merged);

}  // namespace gdr::fuzz
