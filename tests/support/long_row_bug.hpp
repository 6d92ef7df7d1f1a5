// A subject with a bug that only rows longer than some length show, as a chunk kernel's bugs
// past its first chunks do: a campaign finds it only when it draws such rows.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>

#include "gdr/core/problem.hpp"
#include "gdr/reference/numeric.hpp"
#include "support/damaged_subject.hpp"

namespace gdr::testing {

// `inner` (keeping its name and chunked contract), with the first output element of the first
// row longer than `tokens` tokens off by 1 + its magnitude (beyond any tolerance, whatever its
// scale); correct on cases without such a row.
inline std::unique_ptr<harness::Subject> wrong_past_tokens(std::int64_t tokens, std::unique_ptr<harness::Subject> inner) {
    return std::make_unique<DamagedSubject>(
        [tokens](const Problem& p, int, harness::SubjectRunResult&) {
            for (std::int64_t row = 0; row < p.rows(); ++row) {
                const RowTokens range = row_tokens(p, row);
                if (range.length() <= tokens) continue;
                const std::int64_t at = range.batch_row * p.o.stride[0] + range.begin * p.o.stride[1];
                const double value = reference::load_double(p.o.data, p.o.dtype, at);
                reference::store_double(p.o.data, p.o.dtype, at, value + 1.0 + std::abs(value));
                return;
            }
        },
        std::move(inner));
}

}  // namespace gdr::testing
