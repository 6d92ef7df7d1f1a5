// NonfiniteChunks: the chunks of a chunk kernel's o that a NaN or Inf input may poison
// (docs/SPEC.md, "Variable-length batches (prefill, chunked path)"), found in the stored
// inputs of materialized cases: the row, the chunk of C tokens counted from the row's first
// token, and the value heads the input reaches.
#include <catch2/catch.hpp>

#include <array>
#include <functional>
#include <initializer_list>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>

#include "gdr/harness/case_spec.hpp"
#include "gdr/harness/generate.hpp"
#include "gdr/harness/nonfinite_chunks.hpp"

using namespace gdr;
using namespace gdr::harness;

namespace {

using Unit = std::array<std::int64_t, 3>;  // (row, token counted within the row, value head)

// Every (row, token, value head) of o that the chunks allow, after `edit` changed the inputs.
std::set<Unit> allowed_units(const std::string& spec_text, std::int64_t chunk_size,
                             const std::function<void(HostCase&)>& edit = {}) {
    HostCase host = materialize(parse_text(spec_text));
    if (edit) edit(host);
    RunBuffers buffers = make_run_buffers(host, host.spec.input_dtype, host.spec.state_dtype);
    const Problem problem = make_problem(host, buffers);
    const NonfiniteChunks chunks(host, problem, chunk_size);
    std::set<Unit> out;
    for (std::int64_t r = 0; r < problem.rows(); ++r)
        for (std::int64_t t = 0; t < row_tokens(problem, r).length(); ++t)
            for (std::int64_t hv = 0; hv < problem.num_value_heads; ++hv)
                if (chunks.allows(r, t, hv)) out.insert({r, t, hv});
    CHECK(chunks.empty() == out.empty());
    return out;
}

// (row, token, hv) for every token of [first, end) and every head of `heads`.
std::set<Unit> units(std::int64_t row, std::int64_t first, std::int64_t end,
                     std::initializer_list<std::int64_t> heads) {
    std::set<Unit> out;
    for (std::int64_t t = first; t < end; ++t)
        for (const std::int64_t hv : heads) out.insert({row, t, hv});
    return out;
}

std::set<Unit> joined(std::set<Unit> a, const std::set<Unit>& b) {
    a.insert(b.begin(), b.end());
    return a;
}

// Two rows of T = 7 (chunks of C = 4: tokens [0, 4) and [4, 7)); value heads 0, 1 read q/k
// head 0, and 2, 3 read head 1.
const std::string kFixed = "B=2 T=7 H=2 HV=4 K=8 V=6 layout=kv in=f32 state=f32 seed=31";

}  // namespace

TEST_CASE("NonfiniteChunks: a NaN in v poisons its own value head in its own chunk of its row", "[nonfinite_chunks]") {
    const std::string spec = kFixed + " specials=v:nan@1.5.2.0";
    CHECK(allowed_units(spec, 4) == units(1, 4, 7, {2}));
    CHECK(allowed_units(spec, 2) == units(1, 4, 6, {2}));
    CHECK(allowed_units(spec, 8) == units(1, 0, 7, {2}));  // one chunk, cut at the row's end
    CHECK(allowed_units(spec, 1) == units(1, 5, 6, {2}));
}

TEST_CASE("NonfiniteChunks: a NaN or Inf in q or k poisons the value heads of its q/k head", "[nonfinite_chunks]") {
    CHECK(allowed_units(kFixed + " specials=q:inf@0.1.1.3", 4) == units(0, 0, 4, {2, 3}));
    CHECK(allowed_units(kFixed + " specials=k:-inf@1.4.0.7", 4) == units(1, 4, 7, {0, 1}));
    // q, k and v as views of one fused projection: the element found is the one placed.
    CHECK(allowed_units(kFixed + " strides=fused specials=k:nan@0.6.1.0", 4) == units(0, 4, 7, {2, 3}));
    CHECK(allowed_units(kFixed + " strides=padded specials=v:inf@0.3.3.5", 4) == units(0, 0, 4, {3}));
}

TEST_CASE("NonfiniteChunks: a NaN or Inf in g or beta poisons its value head", "[nonfinite_chunks]") {
    CHECK(allowed_units(kFixed + " specials=g:-inf@0.2.1,beta:nan@1.6.3", 4) ==
          joined(units(0, 0, 4, {1}), units(1, 4, 7, {3})));
    // A gate stored in bf16 (the input dtype).
    CHECK(allowed_units("B=2 T=7 H=2 HV=4 K=8 V=6 in=bf16 gate=bf16 state=bf16 seed=31 specials=g:inf@1.0.0", 4) ==
          units(1, 0, 4, {0}));
}

TEST_CASE("NonfiniteChunks: varlen chunks start at each row's first token", "[nonfinite_chunks]") {
    // Rows of 5 and 7 tokens: row 1 is tokens 5..11 of the batch. Its token 5 (token 10 of
    // the batch) poisons its tokens 4..6 (batch tokens 9..11), not its token 3 (batch token
    // 8, which a chunk counted from the batch's first token would share with token 10).
    const std::string varlen = "B=1 T=12 varlen=1 seq_lengths=5,7 H=1 HV=2 K=8 V=6 layout=vk in=f32 state=f32 seed=32";
    CHECK(allowed_units(varlen + " specials=v:nan@1.5.0.0", 4) == units(1, 4, 7, {0}));
    CHECK(allowed_units(varlen + " specials=k:nan@0.4.0.0", 4) == units(0, 4, 5, {0, 1}));  // row 0's tail chunk
    CHECK(allowed_units(varlen + " specials=beta:inf@1.0.1", 4) == units(1, 0, 4, {1}));
}

TEST_CASE("NonfiniteChunks: found in the stored inputs, not in the spec", "[nonfinite_chunks]") {
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    // A NaN that no `specials` placed: v[b=0, t=2, hv=1, 3].
    CHECK(allowed_units(kFixed, 4, [](HostCase& host) { host.v.set(((0 * 7 + 2) * 4 + 1) * 6 + 3, nan); }) ==
          units(0, 0, 4, {1}));
    CHECK(allowed_units(kFixed, 4).empty());
    CHECK(allowed_units(kFixed + " specials=v:sub@0.2.1.3,state:nan", 4).empty());  // a subnormal, the bank: none
}

TEST_CASE("NonfiniteChunks: inactive rows get no allowance", "[nonfinite_chunks]") {
    // A NaN in v of every row: only the active rows' chunks (an inactive row's o is exact zeros).
    const std::string spec = "B=4 T=3 H=1 HV=1 K=8 V=6 N=6 indices=permutation inactive=2 seed=33";
    const HostCase host = materialize(parse_text(spec));
    std::set<Unit> expected;
    for (std::int64_t r = 0; r < 4; ++r)
        if (host.row_is_active(r)) expected.insert({r, 0, 0});
    REQUIRE(expected.size() == 2);
    const auto nan_in_every_row = [](HostCase& h) {
        for (std::int64_t r = 0; r < 4; ++r) h.v.set(r * 3 * 6, std::numeric_limits<double>::quiet_NaN());
    };
    CHECK(allowed_units(spec, 1, nan_in_every_row) == expected);
}

TEST_CASE("NonfiniteChunks: a chunk size below 1 is a programming error", "[nonfinite_chunks]") {
    const HostCase host = materialize(parse_text(kFixed));
    RunBuffers buffers = make_run_buffers(host, DType::f32, DType::f32);
    const Problem problem = make_problem(host, buffers);
    CHECK_THROWS_AS(NonfiniteChunks(host, problem, 0), std::invalid_argument);
    CHECK_FALSE(NonfiniteChunks().allows(0, 0, 0));
}
