#include "gdr/fuzz/merge.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "gdr/core/errors.hpp"

namespace gdr::fuzz {

std::vector<std::pair<std::int64_t, std::int64_t>> MergedCampaign::case_ranges() const {
    std::vector<std::pair<std::int64_t, std::int64_t>> ranges;
    for (const auto& [number, recorded] : cases) {
        if (!ranges.empty() && ranges.back().second + 1 == number) ranges.back().second = number;
        else ranges.emplace_back(number, number);
    }
    return ranges;
}

MergedCampaign merge_campaigns(const std::vector<CampaignRecords>& parts, const std::string& argument) {
    if (parts.empty()) throw InvalidArgument(argument, "no campaign records to merge");
    MergedCampaign merged;
    merged.start = parts.front().start;
    // The campaign's own classes (a chunk-length campaign's include the chunk classes).
    for (const std::string& name : merged.start.value("coverage_classes", all_coverage_classes())) merged.coverage[name] = 0;
    std::map<std::int64_t, std::size_t> part_of;  // case number -> index into parts
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const CampaignRecords& part = parts[i];
        require_same_campaign(merged.start, part.start, argument, /*same_shard=*/false);
        merged.files.push_back(part.file.string());
        merged.shards.push_back(part.shard());
        for (const auto& [number, recorded] : part.cases) {
            if (const auto [it, inserted] = part_of.emplace(number, i); !inserted)
                throw InvalidArgument(argument, fmt::format("case {} is in both {} (shard {}) and {} (shard {}): the parts "
                                                            "overlap (the same shard twice, or different shard counts)",
                                                            number, parts[it->second].file.string(),
                                                            parts[it->second].shard(), part.file.string(), part.shard()));
            merged.cases.emplace(number, recorded);
            if (recorded.outcome == Outcome::not_supported) ++merged.not_supported;
            for (const std::string& name : recorded.coverage) ++merged.coverage[name];
        }
        add_recorded_failures(part, merged.failures, merged.failures_by_class);
        for (const std::int64_t number : part.unrecorded_failures()) merged.unshrunk_failures.push_back(number);
    }
    std::sort(merged.failures.begin(), merged.failures.end(),
              [](const CampaignFailure& a, const CampaignFailure& b) { return a.case_number < b.case_number; });
    std::sort(merged.unshrunk_failures.begin(), merged.unshrunk_failures.end());
    return merged;
}

nlohmann::json to_json(const MergedCampaign& merged) {
    nlohmann::json ranges = nlohmann::json::array();
    for (const auto& [first, last] : merged.case_ranges()) ranges.push_back({first, last});
    return {{"record", "merged"},
            {"subject", merged.start.value("subject", std::string())},
            {"seed", merged.start.value("seed", std::uint64_t(0))},
            {"shards", merged.shards},
            {"files", merged.files},
            {"cases", merged.cases.size()},
            {"case_ranges", std::move(ranges)},
            {"not_supported", merged.not_supported},
            {"coverage", merged.coverage},
            {"failure_count", merged.failure_count()},
            {"failures_by_class", merged.failures_by_class},
            {"failures", failure_list_json(merged.failures)},
            {"unshrunk_failures", merged.unshrunk_failures}};
}

std::string format_merged(const MergedCampaign& merged) {
    std::string text = fmt::format("subject {}, seed {}: {} parts, {} cases, {} failures, {} not supported\n",
                                   merged.start.value("subject", std::string()), merged.start.value("seed", std::uint64_t(0)),
                                   merged.files.size(), merged.cases.size(), merged.failure_count(), merged.not_supported);
    for (const CampaignFailure& failure : merged.failures)
        text += fmt::format("  FAILURE case {} ({}): {}{}\n", failure.case_number, failure.failure_class,
                            to_text(failure.shrunk),
                            failure.replay_file.empty() ? "" : "\n    replay: gdr replay " + failure.replay_file.string());
    for (const std::int64_t number : merged.unshrunk_failures)
        text += fmt::format("  FAILURE case {}: its shard stopped while shrinking it (no failure record; resume that "
                            "shard to shrink it)\n", number);
    if (merged.cases.empty()) return text;
    text += "coverage (cases per class):\n";
    for (const auto& [name, count] : merged.coverage) text += fmt::format("  {:<26} {}\n", name, count);
    return text;
}

}  // namespace gdr::fuzz
