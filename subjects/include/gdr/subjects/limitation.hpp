// A subject's declared limitation: a valid case it declines (it throws NotSupported, and
// the case is reported NOT_SUPPORTED), stated so that a machine can check it. A strict gate
// (gdr --strict, GDR_STRICT=1) fails on a NOT_SUPPORTED that no declared limitation covers:
// a kernel that declines everything must not pass by declining.
//
// The predicate is written from what the subject documents, over the case spec (and the
// subject's reason), never by calling the subject's own check: a declaration that agrees with
// whatever the subject does would make every NOT_SUPPORTED expected.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gdr/harness/case_spec.hpp"
#include "gdr/harness/runner.hpp"

namespace gdr::subjects {

struct Limitation {
    std::string id;     // short and stable, e.g. "key-dim-over-256" (reports name it)
    std::string words;  // for people: what is declined and why
    // Whether this limitation covers a NOT_SUPPORTED case (its spec, the subject's reason).
    std::function<bool(const harness::CaseSpec&, std::string_view reason)> covers;
};

// The id of the first of `limitations` that covers the case; nullopt when none does.
std::optional<std::string> covering_limitation(const std::vector<Limitation>& limitations,
                                               const harness::CaseSpec& spec, std::string_view reason);

// The lookup the runner calls (harness::RunOptions::declared_limitation), over `limitations`
// (a copy: the lookup may outlive the vector).
harness::LimitationLookup limitation_lookup(std::vector<Limitation> limitations);

// What the CUDA decode kernel declines (cuda/src/decode/decode.cu, unsupported_reason, as
// cuda/include/gdr/cuda/decode.hpp documents it), in CPU code so that every build declares it.
std::vector<Limitation> decode_kernel_limitations();

// What the CUDA chunked prefill kernel declines (cuda/src/chunk/chunked_prefill.cu,
// chunked_prefill_unsupported_reason, as cuda/include/gdr/cuda/chunked_prefill.hpp documents it).
std::vector<Limitation> chunk_kernel_limitations();

}  // namespace gdr::subjects
