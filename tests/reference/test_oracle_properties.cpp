// Properties that would catch a wrong oracle, each over random specs with shrinking:
// layout equivalence, row permutation, inactive rows, a circular call against one-token
// calls, a split call, and grouped heads against explicit head repetition. Each runs in
// both precisions (R64 truth, Rlp emulated) and asserts bitwise equality where the
// arithmetic is identical by construction.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <set>

#include "gdr/core/poison.hpp"
#include "gdr/core/problem.hpp"
#include "gdr/harness/case_gen.hpp"
#include "support/host_case_tools.hpp"
#include "support/rc_property.hpp"

using gdr::DType;
using gdr::Layout;
using gdr::harness::CaseSpec;
using gdr::harness::HostCase;
using gdr::harness::HostTensor;
using gdr::harness::RunBuffers;
using gdr::reference::Precision;
using namespace gdr::testing;
using namespace gdr::harness;

namespace {

constexpr Precision kPrecisions[] = {Precision::truth_fp64, Precision::emulated_fp32};

const char* name(Precision precision) { return precision == Precision::truth_fp64 ? "R64" : "Rlp"; }

// Bitwise equality of two buffers with the same logical shape.
bool same_bits(const HostTensor& a, const HostTensor& b) {
    if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
    for (std::int64_t i = 0; i < a.numel(); ++i)
        if (element_bits(a, i) != element_bits(b, i)) return false;
    return true;
}

// o[b, t] of a [B, T, HV, V] buffer equals o2[b2, t2] bit for bit.
bool same_token_bits(const HostTensor& a, std::int64_t b, std::int64_t t, const HostTensor& other, std::int64_t b2,
                     std::int64_t t2) {
    const std::int64_t HV = a.shape()[2], V = a.shape()[3];
    for (std::int64_t hv = 0; hv < HV; ++hv)
        for (std::int64_t x = 0; x < V; ++x)
            if (element_bits(a, flat(a.shape(), {b, t, hv, x})) != element_bits(other, flat(other.shape(), {b2, t2, hv, x})))
                return false;
    return true;
}

gdr::Problem problem_of(const HostCase& host_case, RunBuffers& buffers) { return make_problem(host_case, buffers); }

std::vector<std::int64_t> active_rows(const HostCase& host_case) {
    RunBuffers scratch = gdr::harness::make_run_buffers(host_case, host_case.spec.input_dtype, host_case.spec.state_dtype);
    const gdr::Problem problem = problem_of(host_case, scratch);
    std::vector<std::int64_t> rows;
    for (std::int64_t r = 0; r < problem.rows(); ++r)
        if (gdr::row_is_active(problem, r)) rows.push_back(r);
    return rows;
}

}  // namespace

TEST_CASE("oracle property: layouts KV and VK give identical bits", "[property][oracle]") {
    check_property("same case in both layouts", [] {
        CaseSpec kv = *gen_case();
        kv.layout = Layout::KV;
        CaseSpec vk = kv;
        vk.layout = Layout::VK;
        const HostCase a = gdr::harness::materialize(kv), b = gdr::harness::materialize(vk);
        for (Precision precision : kPrecisions) {
            const RunBuffers ra = run_oracle(a, precision), rb = run_oracle(b, precision);
            RC_LOG() << name(precision) << '\n';
            RC_ASSERT(same_bits(ra.o, rb.o));
            // Bank element [n, slot, hv, k, v] in KV is [n, slot, hv, v, k] in VK.
            const auto& shape = ra.bank.shape();
            bool bank_same = true;
            for_each_index(shape, [&](const std::vector<std::int64_t>& i) {
                const std::int64_t in_vk = flat(rb.bank.shape(), {i[0], i[1], i[2], i[4], i[3]});
                bank_same = bank_same && element_bits(ra.bank, flat(shape, i)) == element_bits(rb.bank, in_vk);
            });
            RC_ASSERT(bank_same);
        }
    });
}

TEST_CASE("oracle property: permuting rows with their state_indices permutes the outputs", "[property][oracle]") {
    CaseGenConfig config;
    config.varlen = false;  // rows are batch rows
    check_property("rows permuted", [&] {
        CaseSpec spec = *gen_case(config);
        if (spec.indices == gdr::harness::IndicesRule::none) {
            spec.indices = gdr::harness::IndicesRule::identity;  // the permutation needs indices to move
            spec.bank_entries = 0;
        }
        const HostCase base = gdr::harness::materialize(spec);
        const std::int64_t rows = spec.rows();
        // A random permutation: sort 0..rows-1 by random keys.
        std::vector<std::int64_t> order(static_cast<std::size_t>(rows), 0);
        std::iota(order.begin(), order.end(), std::int64_t{0});
        const auto keys = *rc::gen::container<std::vector<int>>(order.size(), rc::gen::arbitrary<int>());
        std::stable_sort(order.begin(), order.end(),
                         [&](std::int64_t x, std::int64_t y) { return keys[std::size_t(x)] < keys[std::size_t(y)]; });
        RC_LOG() << "row i of the permuted case is row order[i] of the base case\n";

        HostCase permuted = base;
        for (std::int64_t i = 0; i < rows; ++i) {
            const std::int64_t from = order[std::size_t(i)];
            copy_batch_row(permuted.q, i, base.q, from);
            copy_batch_row(permuted.k, i, base.k, from);
            copy_batch_row(permuted.v, i, base.v, from);
            copy_batch_row(permuted.g, i, base.g, from);
            copy_batch_row(permuted.beta, i, base.beta, from);
            permuted.state_indices[std::size_t(i)] = base.state_indices[std::size_t(from)];
            if (spec.circular) permuted.cache_seqlens[std::size_t(i)] = base.cache_seqlens[std::size_t(from)];
        }
        for (Precision precision : kPrecisions) {
            const RunBuffers rb = run_oracle(base, precision), rp = run_oracle(permuted, precision);
            for (std::int64_t i = 0; i < rows; ++i)
                for (std::int64_t t = 0; t < spec.seq_len; ++t)
                    RC_ASSERT(same_token_bits(rp.o, i, t, rb.o, order[std::size_t(i)], t));
            RC_ASSERT(same_bits(rb.bank, rp.bank));  // the same entries, written with the same values
        }
    });
}

TEST_CASE("oracle property: inactive rows give exact zeros and neither read nor write the bank",
          "[property][oracle]") {
    check_property("inactive rows", [] {
        CaseSpec spec = *gen_case();
        const std::int64_t rows = spec.rows();
        RC_PRE(rows >= 1);
        spec.indices = gdr::harness::IndicesRule::permutation;
        spec.explicit_indices.clear();
        spec.inactive_rows = *rc::gen::inRange<std::int64_t>(1, rows + 1);
        spec.bank_entries = std::max<std::int64_t>(1, rows - spec.inactive_rows) + *rc::gen::inRange<std::int64_t>(0, 3);
        const HostCase base = gdr::harness::materialize(spec);
        const std::vector<std::int64_t> active = active_rows(base);

        // A second case whose bank holds poison in every entry no active row names: if any
        // inactive row (or anything else) read one, NaN would reach o or the bank.
        HostCase poisoned = base;
        std::set<std::int64_t> live_entries;
        for (std::int64_t r : active) live_entries.insert(base.state_indices[std::size_t(r)]);
        const std::int64_t entry_elements = base.initial_bank.numel() / spec.resolved_bank_entries();
        const std::size_t element = gdr::dtype_size(spec.state_dtype);
        for (std::int64_t n = 0; n < spec.resolved_bank_entries(); ++n)
            if (!live_entries.count(n))
                gdr::fill_poison(static_cast<std::byte*>(poisoned.initial_bank.data()) + std::size_t(n * entry_elements) * element,
                                 std::size_t(entry_elements) * element, spec.state_dtype);

        for (Precision precision : kPrecisions) {
            const RunBuffers rb = run_oracle(base, precision), rp = run_oracle(poisoned, precision);
            RunBuffers scratch = rb;
            const gdr::Problem problem = problem_of(base, scratch);
            for (std::int64_t r = 0; r < problem.rows(); ++r) {
                const gdr::RowTokens tokens = gdr::row_tokens(problem, r);
                const bool is_active = gdr::row_is_active(problem, r);
                for (std::int64_t t = tokens.begin; t < tokens.end; ++t) {
                    if (!is_active) {
                        for (std::int64_t i = 0; i < spec.num_value_heads * spec.value_dim; ++i)
                            RC_ASSERT(rb.o.get((tokens.batch_row * spec.seq_len + t) * spec.num_value_heads * spec.value_dim + i) == 0.0);
                    }
                    RC_ASSERT(same_token_bits(rb.o, tokens.batch_row, t, rp.o, tokens.batch_row, t));
                }
            }
            // Entries no active row names: bitwise as they were (initial values, or poison).
            const HostTensor initial = base.initial_bank.converted(rb.bank.dtype());
            const HostTensor initial_poisoned = poisoned.initial_bank;
            for (std::int64_t n = 0; n < spec.resolved_bank_entries(); ++n) {
                if (live_entries.count(n)) continue;
                for (std::int64_t i = n * entry_elements; i < (n + 1) * entry_elements; ++i) {
                    RC_ASSERT(element_bits(rb.bank, i) == element_bits(initial, i));
                    if (precision == Precision::emulated_fp32)
                        RC_ASSERT(element_bits(rp.bank, i) == element_bits(initial_poisoned, i));
                }
            }
        }
    });
}

TEST_CASE("oracle property: one circular call of T tokens equals T one-token calls", "[property][oracle]") {
    CaseGenConfig config;
    config.varlen = false;
    config.skip_final_state = false;
    config.max_seq_len = 6;
    check_property("circular call vs token-by-token", [&] {
        CaseSpec spec = *gen_case(config);
        if (!spec.circular) {
            spec.circular = true;
            spec.seqlen_max = *rc::gen::inRange<std::int64_t>(0, 3 * spec.slots + 1);
        }
        // Slots == T, Slots == 1 and Slots < T must all appear, not only by chance.
        spec.slots = *rc::gen::element(spec.slots, spec.seq_len, std::int64_t{1});
        RC_CLASSIFY(spec.slots == spec.seq_len, "Slots == T");
        RC_CLASSIFY(spec.slots == 1, "Slots == 1");
        RC_CLASSIFY(spec.slots < spec.seq_len, "Slots < T");
        const HostCase whole = gdr::harness::materialize(spec);

        for (Precision precision : kPrecisions) {
            // The truth run keeps h in fp64 within a call but stores fp64 slots between
            // one-token calls; the two agree bitwise only without the round trip, i.e. for
            // an fp32 state. The emulated run agrees for every state dtype.
            if (precision == Precision::truth_fp64 && spec.state_dtype != DType::f32) continue;
            const RunBuffers all = run_oracle(whole, precision);

            HostCase step = whole;
            step.spec.seq_len = 1;
            step.spec.strides = gdr::harness::StrideRule::contiguous;
            HostTensor bank = whole.initial_bank.converted(all.bank.dtype());
            for (std::int64_t t = 0; t < spec.seq_len; ++t) {
                step.q = token_slice(whole.q, t, t + 1);
                step.k = token_slice(whole.k, t, t + 1);
                step.v = token_slice(whole.v, t, t + 1);
                step.g = token_slice(whole.g, t, t + 1);
                step.beta = token_slice(whole.beta, t, t + 1);
                for (std::size_t r = 0; r < step.cache_seqlens.size(); ++r)
                    step.cache_seqlens[r] = whole.cache_seqlens[r] < 0 ? whole.cache_seqlens[r] : whole.cache_seqlens[r] + std::int32_t(t);
                step.initial_bank = bank;
                const RunBuffers one = run_oracle(step, precision);
                for (std::int64_t b = 0; b < spec.batch; ++b) RC_ASSERT(same_token_bits(all.o, b, t, one.o, b, 0));
                bank = one.bank;
            }
            RC_ASSERT(same_bits(all.bank, bank));
        }
    });
}

TEST_CASE("oracle property: splitting T into two calls gives the same result (fp32 state)", "[property][oracle]") {
    CaseGenConfig config;
    config.varlen = false;
    config.circular = false;
    config.skip_final_state = false;
    config.state_dtypes = {DType::f32};
    config.max_seq_len = 6;
    check_property("split call", [&] {
        CaseSpec spec = *gen_case(config);
        spec.seq_len = std::max<std::int64_t>(spec.seq_len, 2);  // something to split
        const std::int64_t split = *rc::gen::inRange<std::int64_t>(1, spec.seq_len);
        const HostCase whole = gdr::harness::materialize(spec);
        for (Precision precision : kPrecisions) {
            const RunBuffers all = run_oracle(whole, precision);
            HostTensor bank = whole.initial_bank.converted(all.bank.dtype());
            const std::int64_t bounds[3] = {0, split, spec.seq_len};
            for (int part = 0; part < 2; ++part) {
                HostCase piece = whole;
                piece.spec.seq_len = bounds[part + 1] - bounds[part];
                piece.spec.strides = gdr::harness::StrideRule::contiguous;
                piece.q = token_slice(whole.q, bounds[part], bounds[part + 1]);
                piece.k = token_slice(whole.k, bounds[part], bounds[part + 1]);
                piece.v = token_slice(whole.v, bounds[part], bounds[part + 1]);
                piece.g = token_slice(whole.g, bounds[part], bounds[part + 1]);
                piece.beta = token_slice(whole.beta, bounds[part], bounds[part + 1]);
                piece.initial_bank = bank;
                const RunBuffers run = run_oracle(piece, precision);
                for (std::int64_t b = 0; b < spec.batch; ++b)
                    for (std::int64_t t = bounds[part]; t < bounds[part + 1]; ++t)
                        RC_ASSERT(same_token_bits(all.o, b, t, run.o, b, t - bounds[part]));
                bank = run.bank;
            }
            RC_ASSERT(same_bits(all.bank, bank));
        }
    });
}

TEST_CASE("oracle property: grouped heads equal explicit head repetition", "[property][oracle]") {
    CaseGenConfig config;
    config.max_group = 4;
    check_property("G = HV / H > 1 vs H = HV", [&] {
        CaseSpec spec = *gen_case(config);
        if (spec.num_value_heads == spec.num_heads)  // make sure heads are grouped
            spec.num_value_heads = spec.num_heads * *rc::gen::inRange<std::int64_t>(2, 5);
        const std::int64_t group = spec.num_value_heads / spec.num_heads;
        const HostCase grouped = gdr::harness::materialize(spec);

        // The same case with one q/k head per value head, q'[.., hv, ..] = q[.., hv / G, ..].
        HostCase repeated = grouped;
        repeated.spec.num_heads = spec.num_value_heads;
        repeated.spec.strides = gdr::harness::StrideRule::contiguous;
        for (HostTensor* tensor : {&repeated.q, &repeated.k}) {
            const HostTensor& source = tensor == &repeated.q ? grouped.q : grouped.k;
            std::vector<std::int64_t> shape = source.shape();
            shape[2] = spec.num_value_heads;
            HostTensor expanded(source.dtype(), shape);
            for_each_index(shape, [&](std::vector<std::int64_t> index) {
                const std::int64_t destination = flat(shape, index);
                index[2] /= group;
                expanded.set(destination, source.get(flat(source.shape(), index)));
            });
            *tensor = std::move(expanded);
        }
        for (Precision precision : kPrecisions) {
            const RunBuffers a = run_oracle(grouped, precision), b = run_oracle(repeated, precision);
            RC_ASSERT(same_bits(a.o, b.o));
            RC_ASSERT(same_bits(a.bank, b.bank));
        }
    });
}
