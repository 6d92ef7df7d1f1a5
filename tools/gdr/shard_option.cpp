#include "shard_option.hpp"

#include <cstdlib>
#include <stdexcept>

#include <fmt/format.h>

#include "gdr/core/errors.hpp"

namespace gdr::cli {

namespace {

// A whole number (the whole text), or nullopt.
std::optional<long long> whole_number(const std::string& text) {
    try {
        std::size_t used = 0;
        const long long value = std::stoll(text, &used);
        if (used == text.size()) return value;
    } catch (const std::exception&) {
    }
    return std::nullopt;
}

long long required_variable(const EnvironmentLookup& environment, const std::string& name, const std::string& why) {
    const std::optional<std::string> value = environment(name);
    if (!value) throw InvalidArgument("--shard", fmt::format("{}: {} is not set", why, name));
    const auto number = whole_number(*value);
    if (!number || *number < 0)
        throw InvalidArgument("--shard", fmt::format("{}: {}='{}' is not a whole number >= 0", why, name, *value));
    return *number;
}

std::pair<int, int> checked(long long index, long long count, const std::string& source) {
    if (count < 1 || count > 1'000'000 || index < 0 || index >= count)
        throw InvalidArgument("--shard", fmt::format("{}: index {} of count {}: need count >= 1 and 0 <= index < count",
                                                     source, index, count));
    return {int(index), int(count)};
}

std::pair<int, int> from_slurm(const EnvironmentLookup& environment, std::optional<long long> expected_count) {
    const std::string why = "--shard auto (Slurm job array)";
    if (const auto step = environment("SLURM_ARRAY_TASK_STEP"); step && *step != "1")
        throw InvalidArgument("--shard", fmt::format("{}: SLURM_ARRAY_TASK_STEP={}: the array must be contiguous "
                                                     "(--array=0-N, no step)", why, *step));
    const long long id = required_variable(environment, "SLURM_ARRAY_TASK_ID", why);
    const long long min = required_variable(environment, "SLURM_ARRAY_TASK_MIN", why);
    const long long count = required_variable(environment, "SLURM_ARRAY_TASK_COUNT", why);
    if (expected_count && *expected_count != count)
        throw InvalidArgument("--shard", fmt::format("{}: SLURM_ARRAY_TASK_COUNT={} but --shard says {}", why, count,
                                                     *expected_count));
    return checked(id - min, count,
                   fmt::format("SLURM_ARRAY_TASK_ID={} - SLURM_ARRAY_TASK_MIN={}, SLURM_ARRAY_TASK_COUNT={}", id, min, count));
}

}  // namespace

EnvironmentLookup process_environment() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* value = std::getenv(name.c_str());
        return value ? std::optional<std::string>(value) : std::nullopt;
    };
}

std::pair<int, int> resolve_shard(const std::string& text, const EnvironmentLookup& environment) {
    if (text == "auto") {
        if (environment("SLURM_ARRAY_TASK_COUNT") || environment("SLURM_ARRAY_TASK_ID"))
            return from_slurm(environment, std::nullopt);
        if (environment("JOB_COMPLETION_INDEX"))
            throw InvalidArgument("--shard", "auto: JOB_COMPLETION_INDEX is set but Kubernetes gives no count: use "
                                             "--shard auto/N with N the Job's completions");
        throw InvalidArgument("--shard", "auto: neither a Slurm job array (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT) "
                                         "nor a Kubernetes Indexed Job (JOB_COMPLETION_INDEX) is visible");
    }
    if (text.rfind("auto/", 0) == 0) {
        const auto count = whole_number(text.substr(5));
        if (!count || *count < 1)
            throw InvalidArgument("--shard", "expected auto/N with N >= 1 (the number of shards), got '" + text + "'");
        if (environment("JOB_COMPLETION_INDEX")) {
            const long long index = required_variable(environment, "JOB_COMPLETION_INDEX", "--shard " + text);
            return checked(index, *count, fmt::format("JOB_COMPLETION_INDEX={}, count {} from --shard {}", index, *count, text));
        }
        if (environment("SLURM_ARRAY_TASK_ID")) return from_slurm(environment, *count);
        throw InvalidArgument("--shard", text + ": JOB_COMPLETION_INDEX (Kubernetes Indexed Job) is not set, nor "
                                                "SLURM_ARRAY_TASK_ID (Slurm job array)");
    }
    const std::size_t slash = text.find('/');
    const auto index = slash == std::string::npos ? std::nullopt : whole_number(text.substr(0, slash));
    const auto count = slash == std::string::npos ? std::nullopt : whole_number(text.substr(slash + 1));
    if (!index || !count)
        throw InvalidArgument("--shard", "expected i/n (shard i of n, e.g. 0/4), auto or auto/n; got '" + text + "'");
    return checked(*index, *count, "'" + text + "'");
}

std::optional<std::string> shard_hint(const EnvironmentLookup& environment) {
    if (environment("SLURM_ARRAY_TASK_COUNT"))
        return "note: this is a Slurm array task but --shard is not given: every task runs the same cases (pass "
               "--shard auto to split them)";
    if (environment("JOB_COMPLETION_INDEX"))
        return "note: this is a Kubernetes Indexed Job pod but --shard is not given: every pod runs the same cases "
               "(pass --shard auto/N, N the Job's completions)";
    return std::nullopt;
}

}  // namespace gdr::cli
