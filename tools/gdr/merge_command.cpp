#include "merge_command.hpp"

#include <set>

#include <fmt/format.h>

#include "gate.hpp"
#include "gdr/fuzz/merge.hpp"
#include "report_options.hpp"

namespace gdr::cli {

using namespace gdr::fuzz;

MergeCommand::MergeCommand(CLI::App& app) {
    command_ = app.add_subcommand("merge", "combine the records of a campaign's shards (their --out directories or "
                                           "campaign.jsonl files) into one summary");
    command_->add_option("inputs", inputs_, "--out directories or campaign.jsonl files of the shards")->required();
    command_->add_option("--json", json_file_, "write the merged summary here (JSON)");
    command_->add_option("--junit", junit_file_, "write one JUnit XML file: the campaign and every failure");
}

int MergeCommand::run() const {
    std::vector<CampaignRecords> parts;
    std::set<std::filesystem::path> seen;  // a part named twice counts once
    for (const std::string& input : inputs_) {
        CampaignRecords records = read_campaign_records(input, "merge");
        if (seen.insert(std::filesystem::weakly_canonical(records.file)).second) parts.push_back(std::move(records));
    }
    const MergedCampaign merged = merge_campaigns(parts, "merge");
    fmt::print("{}", format_merged(merged));

    if (!json_file_.empty()) write_text_file(json_file_, to_json(merged).dump(2) + '\n');
    if (!junit_file_.empty()) {
        std::vector<harness::CaseReport> reports;
        harness::CaseReport campaign;
        campaign.subject = merged.start.value("subject", std::string());
        campaign.seed = merged.start.value("seed", std::uint64_t(0));
        campaign.case_text = fmt::format("campaign seed={} merged from {} parts: {} cases", campaign.seed,
                                         merged.files.size(), merged.cases.size());
        campaign.outcome = merged.unshrunk_failures.empty() ? harness::Outcome::passed : harness::Outcome::incorrect;
        if (!merged.unshrunk_failures.empty())
            campaign.message = fmt::format("{} failing cases were not shrunk (their shard stopped first)",
                                           merged.unshrunk_failures.size());
        reports.push_back(campaign);
        for (const CampaignFailure& failure : merged.failures) reports.push_back(failure.report);
        ReportOptions junit_only;
        junit_only.junit_file = junit_file_;
        write_reports(reports, junit_only, "gdr merge");
    }
    return merged.failure_count() > 0 ? exit_failed : exit_ok;
}

}  // namespace gdr::cli
