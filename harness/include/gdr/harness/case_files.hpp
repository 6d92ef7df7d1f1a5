// A case as files, for a kernel that cannot be called in-process (inside a C++ engine, or
// on another machine): `gdr gen` writes the case's inputs and starting buffers as
// safetensors (safetensors.hpp), the user's program runs its kernel on them and writes o and
// the bank after the call, and `gdr judge` judges those by the rules of `gdr check`. What
// only a call in this process shows (guard bands, the bank arena, inputs left unchanged,
// isolation, determinism) is listed NOT_RUN.
//
// The inputs file:
//   q, k [B, T, H, K] and v [B, T, HV, V] in the input dtype, contiguous (whatever the case's
//   strides); g, beta [B, T, HV] in the gate dtype, when present;
//   state: the bank in the state dtype, [N, Slots, HV, K, V] (layout kv) or [N, Slots, HV,
//   V, K] (vk), initial where a row reads and poison in the slots the call writes without
//   reading, so that a program working in place on it shows every slot it fails to write;
//   o [B, T, HV, V] in the input dtype, poison;
//   state_indices (I64), cache_seqlens (I32), cu_seqlens (I32 or I64), when the case has them;
//   metadata: format "gdr-case/1", case (the spec text), layout, scale, use_qk_l2norm,
//   output_final_state, gdr_version.
// The results file: tensors o and state, with the inputs file's shapes and dtypes (other
// tensors are ignored).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "gdr/harness/generate.hpp"
#include "gdr/harness/safetensors.hpp"
#include "gdr/harness/subject.hpp"

namespace gdr::harness {

inline constexpr const char* kCaseFileFormat = "gdr-case/1";

// The inputs file of `host` (above), serialised.
std::vector<std::byte> case_inputs_file(const HostCase& host);

// The subject `gdr judge` runs: its "run" copies o and state from a results file into the
// harness's buffers, and everything after is judged as for any subject.
class ResultsFileSubject : public Subject {
public:
    // `origin`: the file's path, for messages.
    ResultsFileSubject(SafetensorsFile results, std::string origin);

    // Throws gdr::InvalidArgument naming the file and the tensor when o or state is missing
    // or its dtype or shape is not the case's. Call it before run_case: a malformed results
    // file is the user's input error (exit 2), not a judged outcome.
    void validate_against(const HostCase& host) const;

    std::string name() const override { return "results-file"; }
    std::string description() const override;
    std::optional<std::string> unavailable_reason() const override { return std::nullopt; }
    std::optional<std::string> results_only_reason() const override;
    SubjectRunResult run(const Problem& host_problem) override;

private:
    const SafetensorsTensor& expect(const char* tensor, SafetensorsType type, const std::vector<std::int64_t>& shape) const;

    SafetensorsFile results_;
    std::string origin_;
};

}  // namespace gdr::harness
