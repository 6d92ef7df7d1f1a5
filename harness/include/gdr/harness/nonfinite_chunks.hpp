// The chunks of a chunk kernel's o that a NaN or Inf input may poison (docs/SPEC.md,
// "Variable-length batches (prefill, chunked path)"). A chunk kernel forms a chunk's o from
// dense products over the chunk's tokens in which exact zeros (causal masks, zero
// coefficients) multiply other tokens' values, so a NaN or Inf among token t's inputs reaches
// o of the other tokens of t's chunk (0 x Inf = NaN) where the recurrence, R64, stays finite.
// Found in the case's stored inputs, not in its spec: a NaN or Inf counts whatever put it there.
#pragma once

#include <array>
#include <cstdint>
#include <set>

#include "gdr/core/problem.hpp"
#include "gdr/harness/generate.hpp"

namespace gdr::harness {

class NonfiniteChunks {
public:
    // None: a decode kernel has no chunks.
    NonfiniteChunks() = default;
    // Scans q, k, v, g and beta of every active row of `problem` (its rows and tokens; the
    // values are `host`'s) for NaN and Inf. A chunk is `chunk_size` tokens of a row, the
    // first starting at the row's first token. One in q or k of head hq poisons the value
    // heads hv with hv / (HV/H) == hq, one in v, g or beta of value head hv only hv.
    NonfiniteChunks(const HostCase& host, const Problem& problem, std::int64_t chunk_size);

    // Whether o of value head `value_head` at token `token` of row `row` (counted from the
    // row's first token) lies in a poisoned chunk: there it may be NaN or Inf where R64 is finite.
    bool allows(std::int64_t row, std::int64_t token, std::int64_t value_head) const;
    bool empty() const { return chunks_.empty(); }

private:
    std::int64_t chunk_size_ = 1;
    std::set<std::array<std::int64_t, 3>> chunks_;  // (row, chunk of the row, value head)
};

}  // namespace gdr::harness
