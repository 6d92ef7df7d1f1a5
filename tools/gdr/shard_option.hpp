// `gdr fuzz --shard`: "i/n" (shard i of n), or the index taken from the scheduler that
// started the process:
//   auto     Slurm job arrays: index SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN, count
//            SLURM_ARRAY_TASK_COUNT (the array must be contiguous: --array=0-15, or 1-16).
//   auto/n   Kubernetes Indexed Jobs: index JOB_COMPLETION_INDEX, count n (the Job's
//            completions; Kubernetes does not pass it). Also Slurm, its count checked against n.
// Not automatic when --shard is absent (a forgotten option would make every array task run
// the same cases; `gdr merge` rejects such overlapping parts): see shard_hint().
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>

namespace gdr::cli {

// Reads an environment variable; nullopt when unset.
using EnvironmentLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvironmentLookup process_environment();

// (index, count). Throws gdr::InvalidArgument("--shard", ...) naming the text or the
// environment variable that is missing or malformed.
std::pair<int, int> resolve_shard(const std::string& text, const EnvironmentLookup& environment);

// A note for stderr when a scheduler's array variables are set but --shard was not given.
std::optional<std::string> shard_hint(const EnvironmentLookup& environment);

}  // namespace gdr::cli
