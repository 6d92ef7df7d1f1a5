#include "gdr/fuzz/replay.hpp"

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "gdr/core/errors.hpp"

namespace gdr::fuzz {

using namespace gdr::harness;

namespace {

const std::set<std::string> kKnownKeys = {"format",        "case",           "subject",      "options",       "outcome",
                                          "failure_class", "failing_checks", "campaign_seed", "case_number",
                                          "original_case", "gdr_version",    "note"};

// Reads the field `key` of `json` as T; a missing optional field leaves `out` alone.
template <typename T>
void read_field(const nlohmann::json& json, const std::string& origin, const char* key, T& out, bool required) {
    const auto it = json.find(key);
    if (it == json.end()) {
        if (required) throw InvalidArgument(origin + ": " + key, "missing (a replay file needs format, case and subject)");
        return;
    }
    try {
        out = it->template get<T>();
    } catch (const nlohmann::json::exception&) {
        throw InvalidArgument(origin + ": " + key, "wrong type (" + std::string(it->type_name()) + ")");
    }
}

}  // namespace

nlohmann::json to_json(const ReplayFile& replay) {
    nlohmann::json json = {{"format", kReplayFormat}, {"case", to_text(replay.spec)}, {"subject", replay.subject}};
    if (replay.options != VerdictOptions{}) json["options"] = to_json(replay.options);
    if (!replay.outcome.empty()) json["outcome"] = replay.outcome;
    if (!replay.failure_class.empty()) json["failure_class"] = replay.failure_class;
    if (!replay.failing_checks.empty()) json["failing_checks"] = replay.failing_checks;
    if (replay.campaign_seed) json["campaign_seed"] = *replay.campaign_seed;
    if (replay.case_number) json["case_number"] = *replay.case_number;
    if (!replay.original_case.empty()) json["original_case"] = replay.original_case;
    if (!replay.gdr_version.empty()) json["gdr_version"] = replay.gdr_version;
    if (!replay.note.empty()) json["note"] = replay.note;
    return json;
}

ReplayFile replay_from_json(const nlohmann::json& json, const std::string& origin) {
    if (!json.is_object()) throw InvalidArgument(origin, "a replay file is one JSON object, not " + std::string(json.type_name()));
    for (const auto& [key, value] : json.items())
        if (!kKnownKeys.count(key)) throw InvalidArgument(origin + ": " + key, "unknown field");

    std::string format, case_text;
    read_field(json, origin, "format", format, true);
    const bool generator1 = format == kReplayFormatGenerator1;
    if (format != kReplayFormat && !generator1)
        throw InvalidArgument(origin + ": format", "'" + format + "' is neither '" + kReplayFormat + "' nor '" +
                                                       kReplayFormatGenerator1 + "'");
    ReplayFile replay;
    read_field(json, origin, "case", case_text, true);
    try {
        replay.spec = parse_text(case_text);
    } catch (const InvalidArgument& error) {
        throw InvalidArgument(origin + ": case", error.what());
    }
    if (generator1) {
        // Keys are whole words of the text, and no value holds "generator=".
        if (case_text.find("generator=") != std::string::npos)
            throw InvalidArgument(origin + ": case", "a gdr-replay/1 file has no generator key (its cases are generator 1)");
        replay.spec.generator = 1;
    }
    read_field(json, origin, "subject", replay.subject, true);
    if (replay.subject.empty()) throw InvalidArgument(origin + ": subject", "empty");
    if (json.contains("options")) replay.options = verdict_options_from_json(json["options"], origin + ": options");
    read_field(json, origin, "outcome", replay.outcome, false);
    read_field(json, origin, "failure_class", replay.failure_class, false);
    read_field(json, origin, "failing_checks", replay.failing_checks, false);
    std::uint64_t seed = 0;
    std::int64_t case_number = 0;
    if (json.contains("campaign_seed")) {
        if (!json["campaign_seed"].is_number_unsigned())
            throw InvalidArgument(origin + ": campaign_seed", "not an unsigned integer");
        read_field(json, origin, "campaign_seed", seed, true);
        replay.campaign_seed = seed;
    }
    if (json.contains("case_number")) {
        if (!json["case_number"].is_number_integer()) throw InvalidArgument(origin + ": case_number", "not an integer");
        read_field(json, origin, "case_number", case_number, true);
        replay.case_number = case_number;
    }
    read_field(json, origin, "original_case", replay.original_case, false);
    read_field(json, origin, "gdr_version", replay.gdr_version, false);
    read_field(json, origin, "note", replay.note, false);
    return replay;
}

void write_replay_file(const std::filesystem::path& path, const ReplayFile& replay) {
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path);
    out << to_json(replay).dump(2) << '\n';
    if (!out) throw std::runtime_error("cannot write replay file " + path.string());
}

ReplayFile read_replay_file(const std::filesystem::path& path) {
    const std::string origin = path.string();
    std::ifstream in(path);
    if (!in) throw InvalidArgument(origin, "cannot read the file");
    nlohmann::json json;
    try {
        json = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& error) {
        throw InvalidArgument(origin, std::string("not valid JSON: ") + error.what());
    }
    return replay_from_json(json, origin);
}

}  // namespace gdr::fuzz
