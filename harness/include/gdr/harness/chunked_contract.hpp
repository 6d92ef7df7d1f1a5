// What a chunk (prefill) kernel declares about itself, so that the harness judges it by the
// chunked path of docs/SPEC.md instead of the recurrence's: its chunk size C and the
// intermediates it rounds to the input dtype (reference::ChunkRoundingPoints). The harness
// then lists only the final state slot as written (circular mode), takes its truth with
// bounds from the recurrence writing only that slot (StateWrites::final_only), and its Rlp
// from the chunked oracle in emulated fp32 with the same C and rounding points.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "gdr/reference/chunked.hpp"
#include "gdr/reference/fused_recurrent.hpp"

namespace gdr::harness {

struct ChunkedContract {
    std::int64_t chunk_size = 64;  // C
    reference::ChunkRoundingPoints rounding_points{};
    friend bool operator==(const ChunkedContract&, const ChunkedContract&) = default;
};

// "C=64, rounding points: normalised_qk, gated_keys, ..." ("none" when no flag is set):
// the line a report carries.
std::string describe(const ChunkedContract& contract);

// The states a call writes for a subject with this contract: final_only for a chunk
// kernel, every_token (the recurrence's) without one.
inline reference::StateWrites state_writes_for(const std::optional<ChunkedContract>& contract) {
    return contract ? reference::StateWrites::final_only : reference::StateWrites::every_token;
}

// The Rlp of a chunk kernel with this contract: the chunked oracle in emulated fp32.
inline reference::ChunkedOptions emulated_options(const ChunkedContract& contract) {
    reference::ChunkedOptions options;
    options.chunk_size = contract.chunk_size;
    options.precision = reference::Precision::emulated_fp32;
    options.rounding_points = contract.rounding_points;
    return options;
}

}  // namespace gdr::harness
