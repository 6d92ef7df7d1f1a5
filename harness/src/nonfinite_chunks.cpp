#include "gdr/harness/nonfinite_chunks.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "gdr/reference/numeric.hpp"

namespace gdr::harness {

namespace {

using Index = std::int64_t;

// Vector number `outer` along the innermost dimension of `tensor`, as doubles in `scratch`
// (contiguous in storage: q, k and v have innermost stride 1, and g and beta are contiguous).
const std::vector<double>& innermost(const HostTensor& tensor, Index outer, std::vector<double>& scratch) {
    const Index n = tensor.shape().back();
    scratch.resize(std::size_t(n));
    reference::load_doubles(tensor.data(), tensor.dtype(), tensor.offset_of(outer * n), n, scratch.data());
    return scratch;
}

bool any_nonfinite(const std::vector<double>& values) {
    return std::any_of(values.begin(), values.end(), [](double x) { return !std::isfinite(x); });
}

// hit[hv] = 1 where an input of the token at `position` (batch row * T + token) that value
// head hv reads is NaN or Inf: q or k of its q/k head, v, g or beta of hv itself.
void mark_heads(const HostCase& host, const Problem& problem, Index position, std::vector<double>& scratch,
                std::vector<std::uint8_t>& hit) {
    const Index heads = problem.num_heads, value_heads = problem.num_value_heads, group = value_heads / heads;
    std::fill(hit.begin(), hit.end(), std::uint8_t(0));
    for (Index hq = 0; hq < heads; ++hq)
        if (any_nonfinite(innermost(host.q, position * heads + hq, scratch)) ||
            any_nonfinite(innermost(host.k, position * heads + hq, scratch)))
            std::fill_n(hit.begin() + hq * group, group, std::uint8_t(1));
    for (Index hv = 0; hv < value_heads; ++hv)
        if (any_nonfinite(innermost(host.v, position * value_heads + hv, scratch))) hit[std::size_t(hv)] = 1;
    for (const HostTensor* gate : {&host.g, &host.beta}) {
        if (gate->empty()) continue;  // absent: g = 0, beta = 1
        const std::vector<double>& values = innermost(*gate, position, scratch);
        for (Index hv = 0; hv < value_heads; ++hv)
            if (!std::isfinite(values[std::size_t(hv)])) hit[std::size_t(hv)] = 1;
    }
}

}  // namespace

NonfiniteChunks::NonfiniteChunks(const HostCase& host, const Problem& problem, Index chunk_size)
    : chunk_size_(chunk_size) {
    if (chunk_size < 1) throw std::invalid_argument(fmt::format("NonfiniteChunks: chunk size {} < 1", chunk_size));
    for (const HostTensor* input : {&host.q, &host.k, &host.v, &host.g, &host.beta})
        if (!input->empty() && input->strides().back() != 1)
            throw std::logic_error("NonfiniteChunks: an input's innermost stride is not 1");
    // The active rows' tokens in one flat order, so that threads share them however the rows
    // split them (one varlen row of 10^5 tokens, or 10^4 rows of a few). Inactive rows need
    // no allowance: their o must be exact zeros.
    std::vector<Index> rows, first;  // an active row, and its first token's place in the order
    std::vector<RowTokens> spans;
    Index tokens = 0;
    for (Index r = 0; r < problem.rows(); ++r) {
        const RowTokens span = row_tokens(problem, r);
        if (span.length() == 0 || !row_is_active(problem, r)) continue;
        rows.push_back(r);
        first.push_back(tokens);
        spans.push_back(span);
        tokens += span.length();
    }
#pragma omp parallel if (tokens > 1024)
    {
        std::vector<double> scratch;
        std::vector<std::uint8_t> hit(std::size_t(problem.num_value_heads));
        std::set<std::array<Index, 3>> found;
#pragma omp for schedule(static) nowait
        for (Index i = 0; i < tokens; ++i) {
            const auto j = std::size_t(std::upper_bound(first.begin(), first.end(), i) - first.begin()) - 1;
            const Index token = i - first[j];
            mark_heads(host, problem, spans[j].batch_row * problem.seq_len + spans[j].begin + token, scratch, hit);
            for (Index hv = 0; hv < problem.num_value_heads; ++hv)
                if (hit[std::size_t(hv)]) found.insert({rows[j], token / chunk_size, hv});
        }
#pragma omp critical(gdr_nonfinite_chunks)
        chunks_.merge(found);
    }
}

bool NonfiniteChunks::allows(Index row, Index token, Index value_head) const {
    return !chunks_.empty() && chunks_.contains({row, token / chunk_size_, value_head});
}

}  // namespace gdr::harness
