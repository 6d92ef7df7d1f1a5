#include "gdr/fuzz/records.hpp"

#include <fstream>

#include <fmt/format.h>

#include "gdr/core/errors.hpp"
#include "gdr/harness/mix64.hpp"
#include "gdr/harness/version.hpp"

namespace gdr::fuzz {

using nlohmann::json;

bool CampaignRecords::finished(std::int64_t case_number) const {
    const auto it = cases.find(case_number);
    return it != cases.end() && (!is_failure(it->second.outcome) || failure_records.count(case_number) > 0);
}

std::vector<std::int64_t> CampaignRecords::unrecorded_failures() const {
    std::vector<std::int64_t> numbers;
    for (const auto& [number, recorded] : cases)
        if (is_failure(recorded.outcome) && failure_records.count(number) == 0) numbers.push_back(number);
    return numbers;
}

CampaignRecords read_campaign_records(const std::filesystem::path& path, const std::string& argument) {
    CampaignRecords records;
    records.file = std::filesystem::is_directory(path) ? path / "campaign.jsonl" : path;
    std::ifstream in(records.file);
    if (!in) throw InvalidArgument(argument, fmt::format("cannot read {}", records.file.string()));
    std::vector<std::string> classes;  // of the latest start record
    int line_number = 0;
    for (std::string line; std::getline(in, line);) {
        ++line_number;
        if (line.empty()) continue;
        const auto where = [&] { return fmt::format("{}:{}", records.file.string(), line_number); };
        try {
            const json record = json::parse(line);
            const std::string kind = record.at("record").get<std::string>();
            if (kind == "start") {
                if (records.start.is_null()) records.start = record;
                else require_same_campaign(records.start, record, argument, true);
                classes = record.at("coverage_classes").get<std::vector<std::string>>();
            } else if (kind == "progress") {
                if (records.start.is_null()) throw InvalidArgument(argument, where() + ": progress before any start record");
                for (const json& entry : record.at("cases")) {
                    RecordedCase recorded;
                    recorded.case_number = entry.at(0).get<std::int64_t>();
                    const auto outcome = harness::parse_outcome(entry.at(1).get<std::string>());
                    if (!outcome) throw InvalidArgument(argument, where() + ": unknown outcome " + entry.at(1).dump());
                    recorded.outcome = *outcome;
                    const std::uint64_t mask = entry.at(2).get<std::uint64_t>();
                    for (std::size_t bit = 0; bit < classes.size() && bit < 64; ++bit)
                        if (mask >> bit & 1) recorded.coverage.push_back(classes[bit]);
                    records.cases[recorded.case_number] = std::move(recorded);
                }
            } else if (kind == "failure") {
                records.failure_records[record.at("case_number").get<std::int64_t>()] = record;
            } else if (kind != "summary" && kind != "device_failed") {  // a resumed run tries the device again
                throw InvalidArgument(argument, where() + ": unknown record '" + kind + "'");
            }
        } catch (const json::exception& error) {
            throw InvalidArgument(argument, fmt::format("{}: {}", where(), error.what()));
        }
    }
    if (records.start.is_null())
        throw InvalidArgument(argument, records.file.string() + ": no start record (not a campaign.jsonl, or empty)");
    return records;
}

namespace {

// What `gdr fuzz` options changed in the case distribution (--shape-palette, --key-dims,
// --value-dims, --chunk-lengths): null when nothing did.
json distribution_json(const CaseGenConfig& generator) {
    json distribution = json::object();
    if (!generator.shape_palette.empty()) {
        json palette = json::array();
        for (const harness::CaseShape& shape : generator.shape_palette) palette.push_back(to_text(shape));
        distribution["shape_palette"] = palette;
    }
    if (!generator.key_dims.empty()) distribution["key_dims"] = generator.key_dims;
    if (!generator.value_dims.empty()) distribution["value_dims"] = generator.value_dims;
    if (generator.chunk_size > 0) distribution["chunk_lengths"] = generator.chunk_size;
    return distribution.empty() ? json() : distribution;
}

}  // namespace

json start_record(const CampaignConfig& config, const std::string& subject, bool resumed) {
    std::uint64_t fingerprint = harness::mix64(config.seed);
    for (std::int64_t c = 0; c < 8; ++c)
        for (const char ch : to_text(campaign_case(config, c))) fingerprint = harness::mix64(fingerprint ^ std::uint8_t(ch));
    return {{"record", "start"},
            {"gdr_version", harness::gdr_version()},
            {"subject", subject},
            {"seed", config.seed},
            {"shard", fmt::format("{}/{}", config.shard_index, config.shard_count)},
            {"work_budget", config.work_budget},
            {"check_determinism", config.verdict.check_determinism},
            {"options", to_json(config.verdict)},
            {"fingerprint", fmt::format("{:016x}", fingerprint)},
            {"distribution", distribution_json(config.generator)},
            {"coverage_classes", all_coverage_classes(config.generator.chunk_size)},
            {"resumed", resumed}};
}

void require_same_campaign(const json& a, const json& b, const std::string& argument, bool same_shard) {
    const auto field = [&](const char* name, const char* meaning) {
        if (a.value(name, json()) != b.value(name, json()))
            throw InvalidArgument(argument, fmt::format("not the same campaign: {} {} vs {} ({})", name,
                                                        a.value(name, json()).dump(), b.value(name, json()).dump(),
                                                        meaning));
    };
    field("seed", "--seed");
    field("subject", "--subject");
    field("work_budget", "--work-budget");
    field("check_determinism", "--no-determinism");
    field("options", "the verdict options: --tolerances, --strict");
    field("distribution", "--shape-palette, --key-dims, --value-dims, --chunk-lengths");
    field("fingerprint", "the case generator: another gdr version or distribution");
    if (same_shard) field("shard", "--shard");
}

CampaignFailure failure_from_record(const json& record) {
    CampaignFailure failure;
    failure.case_number = record.at("case_number").get<std::int64_t>();
    failure.seconds_into_campaign = record.value("seconds_into_campaign", 0.0);
    failure.failure_class = record.at("failure_class").get<std::string>();
    failure.original = harness::parse_text(record.at("original").get<std::string>());
    failure.shrunk = harness::parse_text(record.at("shrunk").get<std::string>());
    failure.shrink_steps = record.value("shrink_steps", std::int64_t(0));
    failure.replay_file = record.value("replay_file", std::string());
    const json& report = record.at("report");
    failure.report.case_text = report.value("case", to_text(failure.shrunk));
    failure.report.seed = failure.shrunk.seed;
    failure.report.subject = report.value("subject", std::string());
    failure.report.outcome = harness::parse_outcome(report.value("outcome", std::string("FAILED"))).value_or(Outcome::failed);
    failure.report.message = report.value("message", std::string());
    failure.report.reproduce = report.value("reproduce", std::string());
    for (const json& check : report.value("checks", json::array())) {
        harness::CheckResult result;
        result.name = check.value("name", std::string());
        result.outcome = harness::parse_outcome(check.value("outcome", std::string("PASSED"))).value_or(Outcome::failed);
        result.detail = check.value("detail", std::string());
        result.tolerance_row_id = check.value("tolerance_row", std::string());
        failure.report.checks.push_back(std::move(result));
    }
    return failure;
}

void add_recorded_failures(const CampaignRecords& records, std::vector<CampaignFailure>& failures,
                           std::map<std::string, std::int64_t>& by_class) {
    for (const auto& [number, record] : records.failure_records) {
        CampaignFailure failure = failure_from_record(record);
        ++by_class[failure.failure_class];
        failures.push_back(std::move(failure));
    }
}

}  // namespace gdr::fuzz
