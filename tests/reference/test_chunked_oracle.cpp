// The chunked fp64 oracle (gdr/reference/chunked.hpp) against the recurrence's truth run
// (R64): two independent algorithms for one function must agree to fp64 rounding on every
// case the generator draws, for every chunk size, across chunk and sequence boundaries, in
// circular mode, split into two calls and at its checkpoints. The comparison itself is
// tested too: each of its checks is shown a wrong answer and must reject it.
// Then the emulated run (Rlp of a chunk kernel, "chunked Rlp" tests) against the fp64 oracle:
// fp32 accuracy with no rounding points, a few units of the input dtype's roundoff with a
// tensor core's, each rounding point effective alone, bitwise determinism, invalid options.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gdr/core/errors.hpp"
#include "gdr/core/problem.hpp"
#include "gdr/harness/case_gen.hpp"
#include "gdr/harness/case_spec.hpp"
#include "gdr/reference/chunked.hpp"
#include "gdr/reference/numeric.hpp"
#include "gdr/reference/oracle_threads.hpp"
#include "support/host_case_tools.hpp"
#include "support/rc_property.hpp"

using gdr::DType;
using gdr::Layout;
using gdr::harness::CaseGenConfig;
using gdr::harness::CaseSpec;
using gdr::harness::HostCase;
using gdr::harness::HostTensor;
using gdr::harness::RunBuffers;
using gdr::reference::ChunkedOptions;
using gdr::reference::ChunkRoundingPoints;
using gdr::reference::kChunkRoundingPoints;
using gdr::reference::NamedRoundingPoint;
using gdr::reference::Precision;
using namespace gdr::testing;

namespace {

using Index = std::int64_t;

// Relative Frobenius disagreement allowed per (row, value head), of o over the row's tokens
// and of each stored state matrix, measured against the larger of the truth and the size of
// the terms it is built from (term_scale). Both algorithms are fp64 with sums of at most a
// few hundred terms, so they differ by ~1e-15 of that; an algebra error (a wrong decay, mask
// or boundary) moves results by a fair part of it.
constexpr double kTolerance = 1e-12;
// What a checkpoint place holds until written: a value no state takes.
constexpr double kUnwritten = -12345.25;

const std::vector<Index> kChunkSizes{1, 2, 3, 4, 7, 16, 64};

// The worst disagreement one test case saw, printed when it ends: how far below the
// tolerance the two algorithms agree.
struct WorstSeen {
    const char* test;
    double worst = 0;
    int cases = 0;
    void add(double x) { worst = std::max(worst, x), ++cases; }
    ~WorstSeen() { std::printf("[chunked oracle] %s: worst relative disagreement %.3g over %d cases\n", test, worst, cases); }
};

// ||x - truth||_F / max(||truth||_F, floor); +Inf where either holds a NaN or an infinity.
double relative_disagreement(const std::vector<double>& x, const std::vector<double>& truth, double floor) {
    double difference = 0, norm = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        if (!std::isfinite(x[i]) || !std::isfinite(truth[i])) return std::numeric_limits<double>::infinity();
        difference += (x[i] - truth[i]) * (x[i] - truth[i]);
        norm += truth[i] * truth[i];
    }
    return std::sqrt(difference) / std::max({std::sqrt(norm), floor, std::numeric_limits<double>::min()});
}

// o[row, :, hv, :] of a [B, T, HV, V] buffer, token after token.
std::vector<double> row_head_output(const HostCase& c, const HostTensor& o, Index row, Index hv) {
    const RowInfo info = row_info(c, row);
    const Index V = c.spec.value_dim;
    std::vector<double> out;
    for (Index t = info.begin; t < info.end; ++t)
        for (Index x = 0; x < V; ++x) out.push_back(o.get(flat(o.shape(), {info.batch_row, t, hv, x})));
    return out;
}

// The K x V matrix S[n, slot, hv] of a bank, in its storage order (the bank's layout).
std::vector<double> bank_matrix(const HostTensor& bank, Index n, Index slot, Index hv) {
    const auto& shape = bank.shape();
    const Index size = shape[3] * shape[4], first = flat(shape, {n, slot, hv, 0, 0});
    std::vector<double> out(static_cast<std::size_t>(size));
    for (Index i = 0; i < size; ++i) out[std::size_t(i)] = bank.get(first + i);
    return out;
}

// The slot the chunked path writes for an active row: (cache_seqlens + len) mod Slots in
// circular mode, else 0.
Index final_slot(const HostCase& c, Index row) {
    if (!c.spec.circular) return 0;
    return (Index(c.cache_seqlens[std::size_t(row)]) + c.spec.row_tokens(row)) % c.spec.slots;
}

// Whether the chunked path writes a state for `row`.
bool writes_state(const HostCase& c, Index row) {
    return c.spec.output_final_state && c.row_is_active(row) && c.spec.row_tokens(row) > 0;
}

// The floor of a (row, value head)'s relative disagreement: the size of the terms its results
// are built from. Rounding errors of either algorithm are ~1e-16 times the terms they sum,
// not times the result, and the delta rule cancels: with beta near 1 and a unit key each
// token replaces the state's component along k, so a result may come out far smaller than
// the state and values it is made of (seen: a final state of 0.0027 from a read state of
// 3.4), and judged against itself its last bits would count a thousand-fold.
// - state: ||S_0||_F (the state read) + max_t ||k_t|| ||v_t|| (one token's update k u^T);
// - o: that times max_t ||q_t|| (q normalised and scaled) times sqrt(len): each token's o
//   is q_t against a state of that size, over len tokens.
// An algebra error (a wrong decay, mask, boundary or slot) moves results by a fair part of
// these, far above 1e-12 of them.
struct TermScale {
    double state = 0, output = 0;
};
TermScale term_scale(const HostCase& c, Index row, Index hv) {
    const CaseSpec& s = c.spec;
    const RowInfo info = row_info(c, row);
    const Index K = s.key_dim, V = s.value_dim, head = hv / (s.num_value_heads / s.num_heads);
    const double scale = s.scale ? *s.scale : 1.0 / std::sqrt(double(K));
    // The norm of `count` logically consecutive elements of `t` from `first`.
    const auto norm = [](const HostTensor& t, Index first, Index count) {
        double sum = 0;
        for (Index i = 0; i < count; ++i) sum += t.get(first + i) * t.get(first + i);
        return std::sqrt(sum);
    };
    const auto normalised = [&](double n) { return s.use_qk_l2norm ? n / std::sqrt(n * n + 1e-6) : n; };
    double update = 0, query = 0;
    for (Index t = info.begin; t < info.end; ++t) {
        const double k = normalised(norm(c.k, flat(c.k.shape(), {info.batch_row, t, head, 0}), K));
        const double q = scale * normalised(norm(c.q, flat(c.q.shape(), {info.batch_row, t, head, 0}), K));
        update = std::max(update, k * norm(c.v, flat(c.v.shape(), {info.batch_row, t, hv, 0}), V));
        query = std::max(query, q);
    }
    const Index read = s.circular ? Index(c.cache_seqlens[std::size_t(row)]) % s.slots : 0;
    const Index n = c.bank_entry(row);
    TermScale scale_of;
    scale_of.state = norm(c.initial_bank, flat(c.initial_bank.shape(), {n, read, hv, 0, 0}), K * V) + update;
    scale_of.output = scale_of.state * query * std::sqrt(double(info.end - info.begin));
    return scale_of;
}

struct ChunkedResult {
    RunBuffers buffers;  // o and the bank
    std::vector<Index> checkpoint_first;  // chunked.hpp's checkpoint_offsets
    std::vector<double> checkpoints;      // kUnwritten where not written
};

// run_chunked on `c` with chunk size C and `base`'s precision and rounding points. o in
// `o_storage` (poisoned first: an element never written stays NaN); the bank in
// `bank_storage` holding the initial values everywhere (no poison: slots the chunked path does
// not write must come back bitwise as they were).
ChunkedResult run_chunked_case(const HostCase& c, Index chunk, bool with_checkpoints = false,
                               DType o_storage = DType::f64, DType bank_storage = DType::f64,
                               ChunkedOptions options = {}) {
    ChunkedResult result;
    const CaseSpec& s = c.spec;
    result.buffers.o = HostTensor(o_storage, {s.varlen ? 1 : s.batch, s.seq_len, s.num_value_heads, s.value_dim});
    result.buffers.o.poison();
    result.buffers.bank = c.initial_bank.converted(bank_storage);
    const gdr::Problem problem = gdr::harness::make_problem(c, result.buffers);
    options.chunk_size = chunk;
    if (with_checkpoints) {
        result.checkpoint_first = gdr::reference::checkpoint_offsets(problem, chunk);
        result.checkpoints.assign(std::size_t(result.checkpoint_first.back() * s.num_value_heads * s.key_dim * s.value_dim),
                                  kUnwritten);
        options.checkpoints = result.checkpoints.data();
    }
    gdr::reference::run_chunked(problem, options);
    return result;
}

RunBuffers run_recurrence(const HostCase& c) { return run_oracle(c, Precision::truth_fp64); }

// The recurrence's truth writing the states the chunked path writes (StateWrites::final_only):
// in circular mode only the final state, and no round trip between tokens. The bank holds
// the initial values everywhere (make_run_buffers poisons the slots a decode call writes).
RunBuffers run_recurrence_final_only(const HostCase& c) {
    RunBuffers buffers = gdr::harness::make_run_buffers(c, DType::f64, DType::f64);
    buffers.bank = c.initial_bank.converted(DType::f64);
    gdr::reference::OracleOptions options;
    options.state_writes = gdr::reference::StateWrites::final_only;
    gdr::reference::run_fused_recurrent(gdr::harness::make_problem(c, buffers), options);
    return buffers;
}

// What compare() found; holds() is the verdict.
struct Agreement {
    double worst = 0;  // relative disagreement, over o and stored states per (row, value head)
    std::string worst_at;
    Index inactive_not_zero = 0;  // o elements of inactive rows that are not exactly 0
    Index untouched_changed = 0;  // bank elements the chunked path must not write that changed

    void note(double relative, const std::string& where) {
        if (relative > worst || worst_at.empty()) worst = std::max(worst, relative), worst_at = where;
    }
    bool holds() const { return worst <= kTolerance && inactive_not_zero == 0 && untouched_changed == 0; }
    std::string describe() const {
        std::ostringstream os;
        os << "worst relative disagreement " << worst << " at " << worst_at << ", inactive o elements not 0: "
           << inactive_not_zero << ", untouched bank elements changed: " << untouched_changed;
        return os.str();
    }
};

// For every active (row, value head) of `c`: report(is_state, relative disagreement, where)
// for its o over the row's tokens and for its written final state, `x` against `truth` (whose
// final states lie at truth_slot(row)), each against its term scale.
void each_disagreement(const HostCase& c, const RunBuffers& x, const RunBuffers& truth,
                       const std::function<Index(Index)>& truth_slot,
                       const std::function<void(bool, double, const std::string&)>& report) {
    for (Index row = 0; row < c.spec.rows(); ++row) {
        if (!c.row_is_active(row)) continue;
        for (Index hv = 0; hv < c.spec.num_value_heads; ++hv) {
            const std::string where = "row " + std::to_string(row) + " hv " + std::to_string(hv);
            const TermScale terms = term_scale(c, row, hv);
            report(false,
                   relative_disagreement(row_head_output(c, x.o, row, hv), row_head_output(c, truth.o, row, hv),
                                         terms.output),
                   "o of " + where);
            if (!writes_state(c, row)) continue;
            const Index n = c.bank_entry(row);
            report(true,
                   relative_disagreement(bank_matrix(x.bank, n, final_slot(c, row), hv),
                                         bank_matrix(truth.bank, n, truth_slot(row), hv), terms.state),
                   "final state of " + where);
        }
    }
}

// The chunked result on `c` against `truth`, the recurrence's run on `c` (or on a case that
// means the same, whose final states lie at truth_slot(row)): o per (row, hv) relatively,
// inactive rows exactly 0, each written state relatively, and every other bank element of
// the chunked run bitwise as in c's initial bank.
Agreement compare(const HostCase& c, const ChunkedResult& chunked, const RunBuffers& truth,
                  const std::function<Index(Index)>& truth_slot) {
    Agreement a;
    const CaseSpec& s = c.spec;
    each_disagreement(c, chunked.buffers, truth, truth_slot,
                      [&](bool, double relative, const std::string& where) { a.note(relative, where); });
    for (Index row = 0; row < s.rows(); ++row)
        if (!c.row_is_active(row))
            for (Index hv = 0; hv < s.num_value_heads; ++hv)
                for (double x : row_head_output(c, chunked.buffers.o, row, hv)) a.inactive_not_zero += !(x == 0.0);
    std::set<std::pair<Index, Index>> written;  // (entry, slot)
    for (Index row = 0; row < s.rows(); ++row)
        if (writes_state(c, row)) written.emplace(c.bank_entry(row), final_slot(c, row));
    const HostTensor initial = c.initial_bank.converted(chunked.buffers.bank.dtype());
    const auto& shape = initial.shape();
    const Index slice = shape[2] * shape[3] * shape[4];
    for (Index n = 0; n < shape[0]; ++n)
        for (Index slot = 0; slot < shape[1]; ++slot) {
            if (written.count({n, slot})) continue;
            for (Index i = (n * shape[1] + slot) * slice; i < (n * shape[1] + slot + 1) * slice; ++i)
                a.untouched_changed += element_bits(chunked.buffers.bank, i) != element_bits(initial, i);
        }
    return a;
}

Agreement compare_with_recurrence(const HostCase& c, const ChunkedResult& chunked) {
    return compare(c, chunked, run_recurrence(c), [&](Index row) { return final_slot(c, row); });
}

// Makes the recurrence's truth the chunked path's: R64 rounds an f16/bf16 state between the
// tokens of a circular call, the chunked path does not (chunked.hpp), so circular cases keep
// an f32 state here (the property on circular f16/bf16 states judges those).
void without_round_trip(CaseSpec& spec) {
    if (spec.circular) spec.state_dtype = DType::f32;
}

// Long rows need a contractive recurrence: with raw N(0,1) keys of K elements each token
// multiplies the state by up to |1 - beta |k|^2| ~ K, and 100 tokens overflow fp64. Serving
// models normalise k; without the in-kernel l2norm the keys come normalised.
void keep_long_rows_stable(CaseSpec& spec) {
    if (!spec.use_qk_l2norm) spec.qk = gdr::harness::QKDistribution::l2normalized;
}

// A row length at or next to a multiple of C (m C - 1, m C, m C + 1 for m = 0..3, never
// negative), or any length up to 3 C + 1.
Index draw_length(Index chunk) {
    if (*rc::gen::arbitrary<bool>()) {
        const Index m = *rc::gen::inRange<Index>(0, 4), delta = *rc::gen::inRange<Index>(-1, 2);
        return std::max<Index>(0, m * chunk + delta);
    }
    return *rc::gen::inRange<Index>(0, 3 * chunk + 2);
}

// `spec` with every row's length drawn by draw_length (the row count stays).
void draw_lengths(CaseSpec& spec, Index chunk) {
    if (spec.varlen) {
        spec.seq_len = 0;
        for (Index& length : spec.seq_lengths) spec.seq_len += (length = draw_length(chunk));
    } else {
        spec.seq_len = draw_length(chunk);
    }
}

// A drawn case and chunk size whose lengths sit at and next to multiples of C (draw_lengths),
// comparable with the recurrence's truth (without_round_trip) over long rows
// (keep_long_rows_stable): the preamble of most properties below.
struct ComparableCase {
    CaseSpec spec;
    Index chunk;
};
ComparableCase draw_comparable_case(const CaseGenConfig& config) {
    ComparableCase drawn{*gen_case(config), *rc::gen::elementOf(kChunkSizes)};
    draw_lengths(drawn.spec, drawn.chunk);
    without_round_trip(drawn.spec);
    keep_long_rows_stable(drawn.spec);
    return drawn;
}

// A generator config for rows of up to 3 C + 1 tokens: exact mode off (its beta = 1/2 budget
// allows only short rows).
CaseGenConfig long_row_config() {
    CaseGenConfig config;
    config.exact = gdr::harness::ExactMode::never;
    config.max_key_dim = 8, config.max_value_dim = 8;
    return config;
}

// The case whose row r holds tokens [from[r], to[r]) (positions within the row) of whole's
// row r, in contiguous tensors; the bank, indices and cache_seqlens as in `whole`. A
// fixed-length case needs the same count for every row.
HostCase sub_case(const HostCase& whole, const std::vector<Index>& from, const std::vector<Index>& to) {
    HostCase out = whole;
    CaseSpec& s = out.spec;
    const Index rows = s.rows();
    s.strides = gdr::harness::StrideRule::contiguous;
    std::vector<Index> begin(std::size_t(rows), 0);  // each row's first token in the new case
    if (s.varlen) {
        s.seq_len = 0;
        out.cu_seqlens_i32 = {0}, out.cu_seqlens_i64 = {0};
        for (Index r = 0; r < rows; ++r) {
            begin[std::size_t(r)] = s.seq_len;
            s.seq_lengths[std::size_t(r)] = to[std::size_t(r)] - from[std::size_t(r)];
            s.seq_len += s.seq_lengths[std::size_t(r)];
            out.cu_seqlens_i32.push_back(std::int32_t(s.seq_len)), out.cu_seqlens_i64.push_back(s.seq_len);
        }
    } else {
        s.seq_len = rows > 0 ? to[0] - from[0] : 0;
    }
    const auto cut = [&](const HostTensor& source) {
        if (source.shape().empty()) return HostTensor{};  // absent g or beta
        std::vector<Index> shape = source.shape();
        shape[1] = s.seq_len;
        HostTensor piece(source.dtype(), shape);
        Index inner = 1;  // elements of one (batch row, token)
        for (std::size_t d = 2; d < shape.size(); ++d) inner *= shape[d];
        for (Index r = 0; r < rows; ++r) {
            const RowInfo source_row = row_info(whole, r);
            for (Index t = 0; t < to[std::size_t(r)] - from[std::size_t(r)]; ++t)
                for (Index i = 0; i < inner; ++i)
                    piece.set((source_row.batch_row * s.seq_len + begin[std::size_t(r)] + t) * inner + i,
                              source.get((source_row.batch_row * whole.spec.seq_len + source_row.begin +
                                          from[std::size_t(r)] + t) * inner + i));
        }
        return piece;
    };
    out.q = cut(whole.q), out.k = cut(whole.k), out.v = cut(whole.v), out.g = cut(whole.g), out.beta = cut(whole.beta);
    return out;
}

// The case without circular buffer that circular mode means on the chunked path: every active
// row's read slot as the one slot of its entry, and rows with a negative cache_seqlen made
// inactive by the index -1. Its recurrence has no round trip (not circular), so its o and
// slot 0 are what the chunked path computes, up to fp64 rounding.
HostCase read_slots_only(const HostCase& c) {
    HostCase out = c;
    const Index rows = c.spec.rows();
    if (!out.has_state_indices) {
        out.has_state_indices = true;
        out.state_indices.resize(std::size_t(rows));
        for (Index r = 0; r < rows; ++r) out.state_indices[std::size_t(r)] = r;
    }
    for (Index r = 0; r < rows; ++r)
        if (c.cache_seqlens[std::size_t(r)] < 0) out.state_indices[std::size_t(r)] = -1;
    std::vector<Index> shape = c.initial_bank.shape();
    const Index slots = shape[1], slice = shape[2] * shape[3] * shape[4];
    shape[1] = 1;
    out.initial_bank = HostTensor(c.initial_bank.dtype(), shape);
    for (Index n = 0; n < shape[0]; ++n) {
        Index read = 0;
        for (Index r = 0; r < rows; ++r)
            if (c.row_is_active(r) && c.bank_entry(r) == n) read = Index(c.cache_seqlens[std::size_t(r)]) % slots;
        for (Index i = 0; i < slice; ++i)
            out.initial_bank.set(n * slice + i, c.initial_bank.get((n * slots + read) * slice + i));
    }
    out.spec.circular = false, out.spec.slots = 1, out.spec.seqlen_max = 0, out.spec.negative_seqlens = 0;
    out.spec.explicit_cache_seqlens.clear();
    out.cache_seqlens.clear();
    return out;
}

// What compare_checkpoints() found.
struct CheckpointAgreement {
    double worst = 0;
    Index compared = 0;           // (row, m, hv) matrices compared
    Index wrongly_written = 0;    // elements of places that must stay unwritten but changed
    bool holds() const { return worst <= kTolerance && wrongly_written == 0; }
};

// Each checkpoint of `chunked` (the state after m C tokens of a row) against the final state
// of the recurrence run on the first m C tokens of every row; the places of inactive rows
// must hold kUnwritten still. Needs an f32 state in circular mode (without_round_trip).
CheckpointAgreement compare_checkpoints(const HostCase& c, Index chunk, const ChunkedResult& chunked) {
    CheckpointAgreement a;
    const CaseSpec& s = c.spec;
    const Index rows = s.rows(), HV = s.num_value_heads, matrix = s.key_dim * s.value_dim;
    Index most = 0;
    for (Index r = 0; r < rows; ++r) most = std::max(most, s.row_tokens(r) / chunk);
    for (Index m = 1; m <= most; ++m) {
        std::vector<Index> from(static_cast<std::size_t>(rows), 0), to(static_cast<std::size_t>(rows));
        for (Index r = 0; r < rows; ++r) to[std::size_t(r)] = std::min(s.row_tokens(r), m * chunk);
        HostCase truncated = sub_case(c, from, to);
        truncated.spec.output_final_state = true;
        const RunBuffers truth = run_recurrence(truncated);
        for (Index r = 0; r < rows; ++r) {
            if (s.row_tokens(r) < m * chunk) continue;  // no m-th checkpoint
            for (Index hv = 0; hv < HV; ++hv) {
                const Index first = ((chunked.checkpoint_first[std::size_t(r)] + m - 1) * HV + hv) * matrix;
                const std::vector<double> stored(chunked.checkpoints.begin() + first,
                                                 chunked.checkpoints.begin() + first + matrix);
                if (!c.row_is_active(r)) {
                    for (double x : stored) a.wrongly_written += x != kUnwritten;
                    continue;
                }
                const Index slot = final_slot(truncated, r);
                a.worst = std::max(a.worst, relative_disagreement(stored, bank_matrix(truth.bank, c.bank_entry(r), slot, hv),
                                                                  term_scale(truncated, r, hv).state));
                ++a.compared;
            }
        }
    }
    return a;
}

void log_case(const HostCase& c, Index chunk) {
    RC_LOG() << "C = " << chunk << ", case: " << gdr::harness::to_text(c.spec) << '\n';
}

// A drawn case, made circular (Slots as drawn, cache_seqlens up to 3 Slots) when
// `make_circular`, over long rows (keep_long_rows_stable), and a chunk size; logged.
std::pair<HostCase, Index> draw_circular_case(const CaseGenConfig& config, bool make_circular) {
    CaseSpec spec = *gen_case(config);
    if (!spec.circular && make_circular) {
        spec.circular = true;
        spec.seqlen_max = *rc::gen::inRange<Index>(0, 3 * spec.slots + 1);
    }
    keep_long_rows_stable(spec);
    const Index chunk = *rc::gen::elementOf(kChunkSizes);
    HostCase c = gdr::harness::materialize(spec);
    log_case(c, chunk);
    return {std::move(c), chunk};
}

// The argument a gdr::InvalidArgument thrown by `call` names; "" when it throws none.
template <class Call>
std::string rejected_argument(Call&& call) {
    try {
        call();
    } catch (const gdr::InvalidArgument& error) {
        return error.argument();
    }
    return "";
}

}  // namespace

TEST_CASE("chunked oracle property: agrees with the recurrence on generated cases", "[property][chunked]") {
    CaseGenConfig config;
    config.max_seq_len = 9;  // longer than the small chunk sizes
    config.max_group = 4;
    WorstSeen seen{"generated cases"};
    check_property("chunked == recurrent", [&] {
        CaseSpec spec = *gen_case(config);
        without_round_trip(spec);
        const Index chunk = *rc::gen::elementOf(kChunkSizes);
        const HostCase c = gdr::harness::materialize(spec);
        log_case(c, chunk);
        RC_CLASSIFY(spec.layout == Layout::VK, "VK");
        RC_CLASSIFY(spec.num_value_heads > spec.num_heads, "grouped heads");
        RC_CLASSIFY(spec.varlen, "varlen");
        RC_CLASSIFY(spec.circular, "circular");
        RC_CLASSIFY(spec.inactive_rows > 0 || spec.negative_seqlens > 0, "inactive rows");
        RC_CLASSIFY(!spec.has_g || !spec.has_beta, "g or beta absent");
        RC_CLASSIFY(spec.use_qk_l2norm, "l2norm");
        RC_CLASSIFY(spec.longest_row() > chunk, "several chunks");
        const Agreement a = compare_with_recurrence(c, run_chunked_case(c, chunk));
        RC_LOG() << a.describe() << '\n';
        seen.add(a.worst);
        RC_ASSERT(a.holds());
    });
}

TEST_CASE("chunked oracle property: lengths at and next to multiples of C agree with the recurrence",
          "[property][chunked]") {
    const CaseGenConfig config = long_row_config();
    WorstSeen seen{"lengths at multiples of C"};
    check_property("chunk boundaries", [&] {
        auto [spec, chunk] = draw_comparable_case(config);
        const HostCase c = gdr::harness::materialize(spec);
        log_case(c, chunk);
        bool zero_length = false, multiple = false, tail = false;
        for (Index r = 0; r < spec.rows(); ++r) {
            const Index length = spec.row_tokens(r);
            zero_length |= length == 0, multiple |= length > 0 && length % chunk == 0, tail |= length % chunk != 0;
        }
        RC_CLASSIFY(zero_length, "a row of 0 tokens");
        RC_CLASSIFY(multiple, "a row of m C tokens");
        RC_CLASSIFY(tail, "a shorter tail chunk");
        RC_CLASSIFY(spec.varlen, "varlen");
        const Agreement a = compare_with_recurrence(c, run_chunked_case(c, chunk));
        RC_LOG() << a.describe() << '\n';
        seen.add(a.worst);
        RC_ASSERT(a.holds());
    });
}

TEST_CASE("chunked oracle property: circular mode with an f16 or bf16 state is the recurrence without the round trip",
          "[property][chunked]") {
    CaseGenConfig config = long_row_config();
    config.state_dtypes = {DType::bf16, DType::f16};
    config.max_seq_len = 20;
    config.skip_final_state = false;
    WorstSeen seen{"circular f16/bf16 state"};
    check_property("circular, no round trip", [&] {
        const auto [c, chunk] = draw_circular_case(config, true);
        // The recurrence from each row's read slot, not circular (so no round trip); its
        // final state lies in slot 0 and the chunked path's in (cache_seqlens + len) mod Slots.
        const Agreement a = compare(c, run_chunked_case(c, chunk), run_recurrence(read_slots_only(c)),
                                    [](Index) { return Index{0}; });
        RC_LOG() << a.describe() << '\n';
        seen.add(a.worst);
        RC_ASSERT(a.holds());
    });
}

TEST_CASE("chunked oracle property: the recurrence writing only the final state (StateWrites::final_only) is the "
          "chunked path's truth, f16/bf16 circular states included",
          "[property][chunked]") {
    // The harness's truth for a chunk kernel: the recurrence with its bounds, writing what the
    // chunked path writes. Judged by compare() with the roles turned: the recurrence's o and
    // final slot against the chunked oracle's, and every other slot of its bank bitwise the
    // initial one.
    CaseGenConfig config = long_row_config();
    config.state_dtypes = {DType::bf16, DType::f16, DType::f32};
    config.max_seq_len = 20;
    config.skip_final_state = false;
    WorstSeen seen{"recurrence, final state only"};
    check_property("final_only == chunked", [&] {
        const auto [c, chunk] = draw_circular_case(config, *rc::gen::arbitrary<bool>());
        RC_CLASSIFY(c.spec.circular && c.spec.slots > 1, "circular, several slots");
        RC_CLASSIFY(c.spec.state_dtype != DType::f32, "16-bit state");
        const ChunkedResult recurrent{run_recurrence_final_only(c), {}, {}};
        const Agreement a = compare(c, recurrent, run_chunked_case(c, chunk).buffers,
                                    [&](Index row) { return final_slot(c, row); });
        RC_LOG() << a.describe() << '\n';
        seen.add(a.worst);
        RC_ASSERT(a.holds());
    });
}

TEST_CASE("chunked oracle: the recurrence's head runs write one state matrix per row with final_only, and resuming "
          "from a subject's slots needs every token's", "[chunked]") {
    CaseSpec spec = gdr::harness::parse_text("B=3 T=5 H=1 HV=2 K=8 V=4 slots=4 circular=1 seqlen_max=9 state=bf16 seed=5");
    const HostCase c = gdr::harness::materialize(spec);
    RunBuffers buffers = gdr::harness::make_run_buffers(c, DType::f64, DType::f64);
    const gdr::Problem problem = gdr::harness::make_problem(c, buffers);
    gdr::reference::OracleOptions options;
    CHECK(gdr::reference::HeadRecurrence(problem, options, false).written_matrices(0) == 4);  // min(T, Slots)
    options.state_writes = gdr::reference::StateWrites::final_only;
    gdr::reference::HeadRecurrence final_only(problem, options, true);
    CHECK(final_only.written_matrices(0) == 1);
    // Its one matrix is the whole run's final slot, bounds and all computed.
    const RunBuffers whole = run_recurrence_final_only(c);
    const Index matrix = spec.key_dim * spec.value_dim;
    const auto o_elements = static_cast<std::size_t>(spec.seq_len * spec.value_dim);
    const auto state_elements = static_cast<std::size_t>(matrix);
    std::vector<double> o(o_elements), state(state_elements), o_magnitude(o_elements), state_magnitude(state_elements),
        o_flip(o_elements), state_flip(state_elements);
    for (Index row = 0; row < spec.rows(); ++row) {
        if (!c.row_is_active(row)) continue;
        final_only.run(row, 1, {o.data(), state.data(), o_magnitude.data(), state_magnitude.data(), o_flip.data(),
                                state_flip.data()});
        CHECK(state == bank_matrix(whole.bank, c.bank_entry(row), final_slot(c, row), 1));
        CHECK(o == row_head_output(c, whole.o, row, 1));
        CHECK(std::all_of(state_flip.begin(), state_flip.end(), [](double x) { return x == 0; }));  // no round trip
    }
    options.resume_bank = c.initial_bank.data();
    CHECK(rejected_argument([&] { gdr::reference::HeadRecurrence(problem, options, false); }) == "resume_bank");
}

TEST_CASE("chunked oracle property: head runs (HeadChunked) give run_chunked's stored values, truth and emulated",
          "[property][chunked]") {
    CaseGenConfig config = long_row_config();
    config.skip_final_state = false;
    check_property("HeadChunked == run_chunked", [&] {
        const auto [c, chunk] = draw_circular_case(config, *rc::gen::arbitrary<bool>());
        const CaseSpec& spec = c.spec;
        const bool emulated = *rc::gen::arbitrary<bool>();
        RC_CLASSIFY(emulated, "emulated");
        ChunkedOptions options;
        options.chunk_size = chunk;
        if (emulated) {
            options.precision = Precision::emulated_fp32;
            options.rounding_points = ChunkRoundingPoints::tensor_core_bf16();
        }
        const DType o_storage = emulated ? spec.input_dtype : DType::f64;
        const DType bank_storage = emulated ? spec.state_dtype : DType::f64;
        const ChunkedResult whole = run_chunked_case(c, chunk, false, o_storage, bank_storage, options);
        RunBuffers read_only = gdr::harness::make_run_buffers(c, o_storage, bank_storage);
        read_only.bank = c.initial_bank.converted(bank_storage);  // the initial values, read
        const gdr::reference::HeadChunked heads(gdr::harness::make_problem(c, read_only), options);
        RC_ASSERT(heads.written_matrices() == (spec.output_final_state ? 1 : 0));
        Index judged = 0;
        for (const auto& [row, hv] : heads.heads()) {
            RC_ASSERT(c.row_is_active(row));
            const Index length = spec.row_tokens(row);
            std::vector<double> o(std::size_t(length * spec.value_dim)), state(std::size_t(spec.key_dim * spec.value_dim));
            heads.run(row, hv, {o.data(), spec.output_final_state ? state.data() : nullptr});
            RC_ASSERT(o == row_head_output(c, whole.buffers.o, row, hv));
            if (spec.output_final_state)
                RC_ASSERT(state == bank_matrix(whole.buffers.bank, c.bank_entry(row), final_slot(c, row), hv));
            ++judged;
        }
        RC_CLASSIFY(judged == 0, "no active head");
    });
}

TEST_CASE("chunked oracle: a head run refuses checkpoints by name", "[chunked]") {
    const HostCase c = gdr::harness::materialize(gdr::harness::parse_text("B=2 T=4 H=1 HV=1 K=4 V=4 seed=3"));
    RunBuffers buffers = gdr::harness::make_run_buffers(c, DType::f64, DType::f64);
    std::vector<double> places(64);
    ChunkedOptions options;
    options.chunk_size = 2;
    options.checkpoints = places.data();
    CHECK(rejected_argument([&] { gdr::reference::HeadChunked(gdr::harness::make_problem(c, buffers), options); }) ==
          "checkpoints");
}

TEST_CASE("chunked oracle property: g = 0 everywhere and g = -80 per token agree with the recurrence",
          "[property][chunked]") {
    CaseGenConfig config = long_row_config();
    WorstSeen seen{"g = 0 and g = -80"};
    check_property("extreme gates", [&] {
        auto [spec, chunk] = draw_comparable_case(config);
        spec.has_g = true;
        const double gate = *rc::gen::element(0.0, -80.0);  // exp(-80 x 10 tokens) underflows to 0
        HostCase c = gdr::harness::materialize(spec);
        for (Index i = 0; i < c.g.numel(); ++i) c.g.set(i, gate);  // exact in every gate dtype
        log_case(c, chunk);
        RC_LOG() << "every g = " << gate << '\n';
        const ChunkedResult chunked = run_chunked_case(c, chunk);
        bool finite = true;
        for (Index i = 0; i < chunked.buffers.o.numel(); ++i) finite &= std::isfinite(chunked.buffers.o.get(i));
        for (Index i = 0; i < chunked.buffers.bank.numel(); ++i) finite &= std::isfinite(chunked.buffers.bank.get(i));
        RC_ASSERT(finite);
        const Agreement a = compare_with_recurrence(c, chunked);
        RC_LOG() << a.describe() << '\n';
        seen.add(a.worst);
        RC_ASSERT(a.holds());
    });
}

TEST_CASE("chunked oracle property: a prefill split in two calls equals one prefill", "[property][chunked]") {
    CaseGenConfig config = long_row_config();
    config.skip_final_state = false;  // the second call continues from the bank
    WorstSeen seen{"split prefill"};
    check_property("L1 then L2 == L1 + L2", [&] {
        CaseSpec spec = *gen_case(config);
        const Index chunk = *rc::gen::elementOf(kChunkSizes);
        draw_lengths(spec, chunk);
        keep_long_rows_stable(spec);
        const HostCase whole = gdr::harness::materialize(spec);
        const Index rows = spec.rows();
        // Split points: one for every row of a fixed-length batch, one per sequence for varlen.
        const auto count = static_cast<std::size_t>(rows);
        std::vector<Index> zero(count, 0), split(count), end(count);
        const Index shared = *rc::gen::inRange<Index>(0, spec.seq_len + 1);
        for (Index r = 0; r < rows; ++r) {
            end[std::size_t(r)] = spec.row_tokens(r);
            split[std::size_t(r)] = spec.varlen ? *rc::gen::inRange<Index>(0, end[std::size_t(r)] + 1) : shared;
        }
        log_case(whole, chunk);
        const ChunkedResult all = run_chunked_case(whole, chunk);

        const HostCase first = sub_case(whole, zero, split);
        const ChunkedResult first_run = run_chunked_case(first, chunk);
        HostCase second = sub_case(whole, split, end);
        second.initial_bank = first_run.buffers.bank;  // f64: the state is not rounded between the calls
        for (Index r = 0; r < rows; ++r)
            if (spec.circular && second.cache_seqlens[std::size_t(r)] >= 0)
                second.cache_seqlens[std::size_t(r)] += std::int32_t(split[std::size_t(r)]);
        const ChunkedResult second_run = run_chunked_case(second, chunk);

        double worst = 0;
        for (Index r = 0; r < rows; ++r) {
            if (!whole.row_is_active(r) || end[std::size_t(r)] == 0) continue;
            for (Index hv = 0; hv < spec.num_value_heads; ++hv) {
                const TermScale terms = term_scale(whole, r, hv);
                std::vector<double> joined = row_head_output(first, first_run.buffers.o, r, hv);
                const std::vector<double> rest = row_head_output(second, second_run.buffers.o, r, hv);
                joined.insert(joined.end(), rest.begin(), rest.end());
                worst = std::max(worst, relative_disagreement(joined, row_head_output(whole, all.buffers.o, r, hv),
                                                              terms.output));
                const Index n = whole.bank_entry(r), slot = final_slot(whole, r);
                worst = std::max(worst, relative_disagreement(bank_matrix(second_run.buffers.bank, n, slot, hv),
                                                              bank_matrix(all.buffers.bank, n, slot, hv), terms.state));
            }
        }
        RC_LOG() << "worst relative disagreement " << worst << '\n';
        seen.add(worst);
        RC_ASSERT(worst <= kTolerance);
    });
}

TEST_CASE("chunked oracle property: the checkpoint after m times C tokens is the state those tokens reach",
          "[property][chunked]") {
    CaseGenConfig config = long_row_config();
    WorstSeen seen{"checkpoints"};
    check_property("checkpoints == truncated runs", [&] {
        auto [spec, chunk] = draw_comparable_case(config);
        const HostCase c = gdr::harness::materialize(spec);
        log_case(c, chunk);
        const ChunkedResult chunked = run_chunked_case(c, chunk, true);
        const CheckpointAgreement a = compare_checkpoints(c, chunk, chunked);
        RC_CLASSIFY(a.compared > 0, "checkpoints compared");
        RC_LOG() << "worst " << a.worst << " over " << a.compared << " matrices, wrongly written " << a.wrongly_written
                 << '\n';
        seen.add(a.worst);
        RC_ASSERT(a.holds());
        // Places of active rows are all written (the comparison above reads them).
        Index expected_places = 0;
        for (Index r = 0; r < spec.rows(); ++r) expected_places += spec.row_tokens(r) / chunk;
        RC_ASSERT(chunked.checkpoint_first.back() == expected_places);
    });
}

TEST_CASE("chunked oracle property: storing in the problem's dtypes rounds the f64 result once",
          "[property][chunked]") {
    CaseGenConfig config;
    config.max_seq_len = 9;
    check_property("one rounding when stored", [&] {
        const CaseSpec spec = *gen_case(config);
        const Index chunk = *rc::gen::elementOf(kChunkSizes);
        const HostCase c = gdr::harness::materialize(spec);
        log_case(c, chunk);
        const ChunkedResult wide = run_chunked_case(c, chunk);
        const ChunkedResult narrow = run_chunked_case(c, chunk, false, spec.input_dtype, spec.state_dtype);
        for (Index i = 0; i < wide.buffers.o.numel(); ++i)
            RC_ASSERT(narrow.buffers.o.get(i) == gdr::reference::round_to(spec.input_dtype, wide.buffers.o.get(i)) ||
                      (std::isnan(narrow.buffers.o.get(i)) && std::isnan(wide.buffers.o.get(i))));
        for (Index i = 0; i < wide.buffers.bank.numel(); ++i)
            RC_ASSERT(narrow.buffers.bank.get(i) == gdr::reference::round_to(spec.state_dtype, wide.buffers.bank.get(i)));
    });
}

TEST_CASE("chunked oracle: a 2048-token sequence stays finite and agrees with the recurrence", "[chunked]") {
    CaseSpec spec;
    spec.varlen = true;
    spec.seq_lengths = {2048, 0, 1000};
    spec.seq_len = 3048;
    spec.num_heads = 1, spec.num_value_heads = 2, spec.key_dim = 4, spec.value_dim = 5;
    spec.input_dtype = DType::bf16, spec.state_dtype = DType::f32;
    spec.seed = 2048;
    WorstSeen seen{"2048 tokens"};
    for (const bool l2norm : {true, false}) {
        for (const Index chunk : {Index{64}, Index{7}}) {
            spec.use_qk_l2norm = l2norm;
            spec.qk = l2norm ? gdr::harness::QKDistribution::normal : gdr::harness::QKDistribution::l2normalized;
            const HostCase c = gdr::harness::materialize(spec);
            INFO("C = " << chunk << ", case: " << gdr::harness::to_text(spec));
            const ChunkedResult chunked = run_chunked_case(c, chunk);
            Index not_finite = 0;
            for (Index i = 0; i < chunked.buffers.o.numel(); ++i) not_finite += !std::isfinite(chunked.buffers.o.get(i));
            CHECK(not_finite == 0);
            const Agreement a = compare_with_recurrence(c, chunked);
            INFO(a.describe());
            seen.add(a.worst);
            CHECK(a.holds());
        }
    }
}

TEST_CASE("chunked oracle: a gate of -inf resets the state in both algorithms", "[chunked]") {
    CaseSpec spec;
    spec.batch = 2, spec.seq_len = 11, spec.num_heads = 1, spec.num_value_heads = 2, spec.key_dim = 3, spec.value_dim = 4;
    spec.input_dtype = DType::f32;
    spec.seed = 7;
    HostCase c = gdr::harness::materialize(spec);
    // Token 5 of row 0, head 1: exp(-inf) = 0 forgets everything before it. A difference of
    // cumulative log gates would give exp(-inf + inf) = NaN for the tokens after it.
    c.g.set(flat(c.g.shape(), {0, 5, 1}), -std::numeric_limits<double>::infinity());
    WorstSeen seen{"g = -inf"};
    for (const Index chunk : kChunkSizes) {
        CAPTURE(chunk);
        const Agreement a = compare_with_recurrence(c, run_chunked_case(c, chunk));
        INFO(a.describe());
        seen.add(a.worst);
        CHECK(a.holds());
    }
}

TEST_CASE("chunked oracle: the comparisons reject a wrong answer of every kind", "[chunked]") {
    // Three rows, one inactive; circular with Slots = 3, so the chunked path leaves two of each
    // active entry's slots untouched; 9 tokens with C = 4: two full chunks and a tail.
    CaseSpec spec;
    spec.batch = 3, spec.seq_len = 9, spec.num_heads = 1, spec.num_value_heads = 2, spec.key_dim = 3, spec.value_dim = 4;
    spec.input_dtype = DType::f32, spec.state_dtype = DType::f32;
    spec.indices = gdr::harness::IndicesRule::permutation, spec.inactive_rows = 1, spec.bank_entries = 4;
    spec.circular = true, spec.slots = 3, spec.seqlen_max = 7;
    spec.seed = 99;
    const Index chunk = 4;
    const HostCase c = gdr::harness::materialize(spec);
    const RunBuffers truth = run_recurrence(c);
    const auto truth_slot = [&](Index row) { return final_slot(c, row); };
    const ChunkedResult right = run_chunked_case(c, chunk, true);
    Index active = -1, inactive = -1;
    for (Index r = 0; r < spec.rows(); ++r) (c.row_is_active(r) ? active : inactive) = r;
    REQUIRE(active >= 0);
    REQUIRE(inactive >= 0);
    REQUIRE(compare(c, right, truth, truth_slot).holds());
    REQUIRE(compare_checkpoints(c, chunk, right).holds());

    // The logical index of o[row, t, hv, x] and of S[entry, slot, hv, element].
    const auto o_at = [&](Index row, Index t, Index hv, Index x) { return flat(right.buffers.o.shape(), {row, t, hv, x}); };
    const auto state_at = [&](Index n, Index slot, Index hv, Index element) {
        return flat(right.buffers.bank.shape(), {n, slot, hv, 0, 0}) + element;
    };
    const Index n = c.bank_entry(active), written = final_slot(c, active), untouched = (written + 1) % spec.slots;

    SECTION("o off by 1e-10 relative in one element") {
        ChunkedResult wrong = right;
        const Index i = o_at(active, 6, 1, 2);
        wrong.buffers.o.set(i, wrong.buffers.o.get(i) + 1e-10 * std::max(1.0, std::abs(wrong.buffers.o.get(i))));
        CHECK_FALSE(compare(c, wrong, truth, truth_slot).holds());
    }
    SECTION("an o element never written (poison)") {
        ChunkedResult wrong = right;
        wrong.buffers.o.set(o_at(active, 8, 0, 0), std::numeric_limits<double>::quiet_NaN());
        CHECK_FALSE(compare(c, wrong, truth, truth_slot).holds());
    }
    SECTION("an inactive row's o not exactly zero") {
        ChunkedResult wrong = right;
        wrong.buffers.o.set(o_at(inactive, 0, 0, 0), 1e-300);
        const Agreement a = compare(c, wrong, truth, truth_slot);
        CHECK(a.inactive_not_zero == 1);
        CHECK_FALSE(a.holds());
    }
    SECTION("the final state off by 1e-10 relative in one element") {
        ChunkedResult wrong = right;
        const Index i = state_at(n, written, 0, 5);
        wrong.buffers.bank.set(i, wrong.buffers.bank.get(i) + 1e-10 * std::max(1.0, std::abs(wrong.buffers.bank.get(i))));
        CHECK_FALSE(compare(c, wrong, truth, truth_slot).holds());
    }
    SECTION("a slot the chunked path must not write changed in its last bit") {
        ChunkedResult wrong = right;
        const Index i = state_at(n, untouched, 1, 0);
        wrong.buffers.bank.set(i, std::nextafter(wrong.buffers.bank.get(i), 1e300));
        const Agreement a = compare(c, wrong, truth, truth_slot);
        CHECK(a.untouched_changed == 1);
        CHECK_FALSE(a.holds());
    }
    SECTION("the state written into the recurrence's every-token slot instead of the final one") {
        // What a chunked kernel that copied the recurrent kernel's slot rule would leave.
        ChunkedResult wrong = right;
        for (Index e = 0; e < spec.num_value_heads * spec.key_dim * spec.value_dim; ++e)
            wrong.buffers.bank.set(state_at(n, untouched, 0, 0) + e, wrong.buffers.bank.get(state_at(n, written, 0, 0) + e));
        CHECK_FALSE(compare(c, wrong, truth, truth_slot).holds());
    }
    SECTION("one input one f32 ulp off") {
        HostCase nudged = c;
        const Index i = flat(nudged.v.shape(), {active, 3, 1, 2});
        nudged.v.set(i, std::nextafter(float(nudged.v.get(i)), 1e30f));
        CHECK_FALSE(compare(c, run_chunked_case(nudged, chunk, true), truth, truth_slot).holds());
        CHECK_FALSE(compare_checkpoints(c, chunk, run_chunked_case(nudged, chunk, true)).holds());
    }
    SECTION("a checkpoint off by 1e-10 relative in one element") {
        ChunkedResult wrong = right;
        const Index i = (right.checkpoint_first[std::size_t(active)] * spec.num_value_heads + 1) * spec.key_dim * spec.value_dim;
        wrong.checkpoints[std::size_t(i)] += 1e-10 * std::max(1.0, std::abs(wrong.checkpoints[std::size_t(i)]));
        CHECK_FALSE(compare_checkpoints(c, chunk, wrong).holds());
    }
    SECTION("an inactive row's checkpoint place written") {
        ChunkedResult wrong = right;
        const Index i = right.checkpoint_first[std::size_t(inactive)] * spec.num_value_heads * spec.key_dim * spec.value_dim;
        wrong.checkpoints[std::size_t(i)] = 0.0;
        const CheckpointAgreement a = compare_checkpoints(c, chunk, wrong);
        CHECK(a.wrongly_written == 1);
        CHECK_FALSE(a.holds());
    }
    SECTION("a disagreement is measured against the truth or the floor whichever is larger") {
        CHECK(relative_disagreement({1.0 + 0.5e-12}, {1.0}, 0.0) <= kTolerance);
        CHECK(relative_disagreement({1.0 + 2e-12}, {1.0}, 0.0) > kTolerance);
        CHECK(relative_disagreement({1.0 + 2e-12}, {1.0}, 4.0) <= kTolerance);
        CHECK(relative_disagreement({1e-13}, {0.0}, 1.0) <= kTolerance);
        CHECK(relative_disagreement({1e-11}, {0.0}, 1.0) > kTolerance);
        CHECK(relative_disagreement({1e-100}, {0.0}, 0.0) > kTolerance);  // no 0/0 pass where everything is 0
        CHECK(relative_disagreement({std::numeric_limits<double>::quiet_NaN()}, {1.0}, 1.0) > kTolerance);
        CHECK(relative_disagreement({1.0}, {std::numeric_limits<double>::infinity()}, 1.0) > kTolerance);
    }
}

TEST_CASE("chunked oracle: checkpoint_offsets packs floor of len over C places per row", "[chunked]") {
    CaseSpec spec;
    spec.varlen = true;
    spec.seq_lengths = {5, 0, 8, 3, 4};
    spec.seq_len = 20;
    spec.key_dim = 2, spec.value_dim = 3;
    for (const gdr::IndexType type : {gdr::IndexType::i32, gdr::IndexType::i64}) {
        spec.cu_seqlens_type = type;
        const HostCase c = gdr::harness::materialize(spec);
        RunBuffers buffers = gdr::harness::make_run_buffers(c, DType::f64, DType::f64);
        const gdr::Problem problem = gdr::harness::make_problem(c, buffers);
        CHECK(gdr::reference::checkpoint_offsets(problem, 4) == std::vector<Index>{0, 1, 1, 3, 3, 4});
        CHECK(gdr::reference::checkpoint_offsets(problem, 1) == std::vector<Index>{0, 5, 5, 13, 16, 20});
        CHECK(gdr::reference::checkpoint_offsets(problem, 64) == std::vector<Index>{0, 0, 0, 0, 0, 0});
    }
}

namespace {

// A small valid varlen case with every feature and its buffers (o in `o_storage`, the bank in
// `bank_storage`; bf16 inputs and an f32 state), for the invalid-input tests.
struct InvalidFixture {
    HostCase c;
    RunBuffers buffers;
    gdr::Problem problem;
    std::vector<double> checkpoints = std::vector<double>(4096, kUnwritten);

    explicit InvalidFixture(DType o_storage = DType::f64, DType bank_storage = DType::f64) {
        CaseSpec spec;
        spec.varlen = true;
        spec.seq_lengths = {3, 5};
        spec.seq_len = 8;
        spec.num_heads = 1, spec.num_value_heads = 2, spec.key_dim = 3, spec.value_dim = 2;
        spec.indices = gdr::harness::IndicesRule::identity;
        spec.circular = true, spec.slots = 2, spec.seqlen_max = 5;
        spec.seed = 3;
        c = gdr::harness::materialize(spec);
        buffers = RunBuffers{HostTensor(o_storage, {1, 8, 2, 2}), c.initial_bank.converted(bank_storage), {}};
        buffers.o.poison();
        problem = gdr::harness::make_problem(c, buffers);
    }

    // Runs with `options` and reports whether it threw InvalidArgument naming `argument`, and
    // whether o, the bank and the checkpoint buffer are byte for byte as before.
    void check_rejected(ChunkedOptions options, const std::string& argument) {
        options.checkpoints = checkpoints.data();
        const RunBuffers before = buffers;
        const std::vector<double> checkpoints_before = checkpoints;
        bool threw = false;
        try {
            gdr::reference::run_chunked(problem, options);
        } catch (const gdr::InvalidArgument& e) {
            threw = true;
            INFO("what(): " << e.what());
            CHECK(e.argument() == argument);
            CHECK(std::string(e.what()).rfind(argument, 0) == 0);
        }
        CHECK(threw);
        CHECK(std::equal(before.o.bytes().begin(), before.o.bytes().end(), buffers.o.bytes().begin()));
        CHECK(std::equal(before.bank.bytes().begin(), before.bank.bytes().end(), buffers.bank.bytes().begin()));
        CHECK(checkpoints == checkpoints_before);
    }
};

}  // namespace

TEST_CASE("chunked oracle invalid: chunk_size below 1 is rejected by name and nothing is written",
          "[chunked][invalid]") {
    InvalidFixture f;
    REQUIRE_NOTHROW(gdr::reference::run_chunked(f.problem, {.chunk_size = 2}));  // the fixture is valid
    InvalidFixture g;
    g.check_rejected({.chunk_size = 0}, "chunk_size");
    g.check_rejected({.chunk_size = -3}, "chunk_size");
    CHECK_THROWS_AS(gdr::reference::checkpoint_offsets(g.problem, 0), gdr::InvalidArgument);
}

TEST_CASE("chunked oracle invalid: an invalid problem is rejected by the shared validation before writing",
          "[chunked][invalid]") {
    {
        InvalidFixture f;
        f.c.state_indices = {1, 1};  // two active rows on one entry
        f.problem.state_indices = f.c.state_indices.data();
        f.check_rejected({}, "state_indices");
    }
    {
        InvalidFixture f;
        f.c.cu_seqlens_i32 = {0, 5, 3};  // decreasing
        f.problem.cu_seqlens = f.c.cu_seqlens_i32.data();
        f.check_rejected({}, "cu_seqlens");
    }
    {
        InvalidFixture f;
        f.problem.num_heads = 3;  // HV = 2 is not a multiple
        f.check_rejected({}, "num_value_heads");
    }
    {
        InvalidFixture f;
        f.problem.state_shape[1] = 0;  // Slots
        f.check_rejected({}, "state");
    }
}

// ---------------------------------------------------------------------------------------
// The emulated-precision run (Rlp of a chunk kernel: ChunkedOptions::precision =
// emulated_fp32 at declared ChunkRoundingPoints) against the fp64 chunked oracle.

namespace {

// Bounds on Rlp's relative disagreement with the fp64 oracle, per (row, value head), o over
// the row's tokens and each final state (Frobenius, against the larger of the truth and its
// term scale, as above), before the one rounding of each stored value (EmulatedBound adds it).
//
// none(), fp32 arithmetic only: every value is a chain of a few products (K K^T, T, W, W S,
// U', P U' or K^T U'), each a sequential sum of at most max(K, C) = 64 terms whose error is
// at most gamma_64 ~ 64 u32 = 3.8e-6 of its terms, plus the exps (a decay's exponent is a
// sum of up to 64 gates, so its relative error is up to 64 u32 |G|, largest in effect
// (|G| e^G) at G = -1), carried to later chunks by a non-expanding update (normalised keys,
// beta in [0, 1]). Errors of that chain add to a few gamma_64 in the worst case and come out
// near sqrt(n) u32 ~ 1e-6 in practice (worst seen over 2000 drawn cases: 8e-7; printed);
// 1e-5 (168 u32) leaves room above that and stays far below any rounding to 16 bits
// (2^-11 = 4.9e-4), which a rounding point leaking into none() would show.
constexpr double kFp32Bound = 1e-5;
// tensor_core_bf16(), in units of the input dtype's u (2^-8 bf16, 2^-11 f16). A first-order
// count, not a proof: each rounding moves its operand by at most u relative, so it changes a
// product by at most u of that product's terms; a final state passes through at most seven
// rounded operands on its longest path (Q, K -> diag(beta) D K -> T -> W -> S as an operand ->
// U' -> decayed U'), so about 7 u of its terms per chunk, the errors of earlier chunks
// decaying through the contractive update rather than adding up in full. The term scale
// stands in for those terms (it misses T's growth with correlated keys). Worst seen over
// 2000 drawn cases: 3.6 u (printed); 16 u leaves room for the second-order terms and for T.
constexpr double kRoundingsBound = 16;
// The smallest error tensor_core_bf16() must show on a case where its roundings certainly
// act (bf16 inputs, l2norm on, gates and beta present, many tokens): a fraction 1/16 of the
// input dtype's u (2.4e-4 for bf16, 3.1e-5 for f16). An Rlp that rounded nothing stays below
// kFp32Bound = 1e-5 (4e-8 on those cases).
constexpr double kRoundingsAtLeast = 1.0 / 16;

ChunkedOptions emulated(const ChunkRoundingPoints& points) {
    return {.precision = Precision::emulated_fp32, .rounding_points = points};
}

// Rlp on `c` with chunk size C at `points`: o and the bank in the problem's dtypes, as a
// kernel stores them (checkpoints too, rounded to the state dtype).
ChunkedResult run_emulated_case(const HostCase& c, Index chunk, const ChunkRoundingPoints& points,
                                bool with_checkpoints = false) {
    return run_chunked_case(c, chunk, with_checkpoints, c.spec.input_dtype, c.spec.state_dtype, emulated(points));
}

// Rlp's worst relative disagreement with the fp64 oracle, o and final states apart, and
// whether the rows the call must leave alone were left alone (compare()'s checks).
struct EmulatedError {
    double o = 0, state = 0;
    std::string o_at, state_at;
    bool others_intact = true;  // inactive o exactly 0, untouched slots bitwise as they were
    std::string describe() const {
        std::ostringstream os;
        os << "o " << o << " at " << o_at << ", state " << state << " at " << state_at
           << (others_intact ? "" : ", an inactive row or an untouched slot written");
        return os.str();
    }
};

EmulatedError emulated_error(const HostCase& c, const ChunkedResult& emulated, const ChunkedResult& truth) {
    EmulatedError e;
    const auto truth_slot = [&](Index row) { return final_slot(c, row); };
    each_disagreement(c, emulated.buffers, truth.buffers, truth_slot,
                      [&](bool is_state, double relative, const std::string& where) {
                          double& worst = is_state ? e.state : e.o;
                          std::string& at = is_state ? e.state_at : e.o_at;
                          if (relative > worst || at.empty()) worst = std::max(worst, relative), at = where;
                      });
    const Agreement a = compare(c, emulated, truth.buffers, truth_slot);
    e.others_intact = a.inactive_not_zero == 0 && a.untouched_changed == 0;
    return e;
}

// What Rlp may differ from the fp64 oracle by: `internal` (relative, the arithmetic and the
// declared roundings) plus the one rounding of each stored value, at most u of its dtype of
// every element and so of the Frobenius norm: o to the input dtype, the state to its own.
struct EmulatedBound {
    double o = 0, state = 0;
    bool holds(const EmulatedError& e) const { return e.o <= o && e.state <= state && e.others_intact; }
};
EmulatedBound emulated_bound(const CaseSpec& s, double internal) {
    return {internal + gdr::reference::unit_roundoff(s.input_dtype),
            internal + gdr::reference::unit_roundoff(s.state_dtype)};
}
// The bound for tensor_core_bf16(): kRoundingsBound units of the input dtype's u.
EmulatedBound rounded_operands_bound(const CaseSpec& s) {
    return emulated_bound(s, kRoundingsBound * gdr::reference::unit_roundoff(s.input_dtype));
}
// Whether an error shows the declared roundings at work: at least kRoundingsAtLeast of the
// input dtype's u in the final state (kept f32 by the cases that ask, so that its stored
// rounding adds nothing).
bool shows_roundings(const CaseSpec& s, const EmulatedError& e) {
    return e.state >= kRoundingsAtLeast * gdr::reference::unit_roundoff(s.input_dtype);
}

// Whether two runs wrote the same bytes: o, the bank and the checkpoints.
bool same_bytes(const ChunkedResult& x, const ChunkedResult& y) {
    return x.buffers.o.bytes() == y.buffers.o.bytes() && x.buffers.bank.bytes() == y.buffers.bank.bytes() &&
           x.checkpoints == y.checkpoints;
}

// A drawn case for the emulated runs: lengths at and next to multiples of C (draw_lengths)
// over long rows (keep_long_rows_stable), inputs and states of `config`'s dtypes.
ComparableCase draw_emulated_case(const CaseGenConfig& config) {
    ComparableCase drawn{*gen_case(config), *rc::gen::elementOf(kChunkSizes)};
    draw_lengths(drawn.spec, drawn.chunk);
    keep_long_rows_stable(drawn.spec);
    return drawn;
}

// A serving-like head: bf16 or f16 inputs, l2norm, weak gates and beta, an f32 state (its stored
// rounding adds nothing, so its error is all the declared roundings'), four sequences of
// 1 to 5 chunks of C = 64 with a tail, K = V = 64.
HostCase serving_like_case(DType input_dtype, std::uint64_t seed) {
    CaseSpec spec;
    spec.varlen = true;
    spec.seq_lengths = {300, 64, 1, 129};
    spec.seq_len = 494;
    spec.num_heads = 1, spec.num_value_heads = 2, spec.key_dim = 64, spec.value_dim = 64;
    spec.input_dtype = input_dtype, spec.state_dtype = DType::f32;
    spec.seed = seed;
    return gdr::harness::materialize(spec);
}

}  // namespace

TEST_CASE("chunked Rlp property: with no rounding points the emulated run agrees with the fp64 oracle to fp32 accuracy",
          "[property][chunked][emulated]") {
    CaseGenConfig config = long_row_config();
    config.state_dtypes = {DType::f32};  // the final state's error is then the arithmetic's alone
    WorstSeen seen_o{"Rlp none() o of f32 inputs"}, seen_state{"Rlp none() final state"};
    check_property("none() == fp64 to fp32 accuracy", [&] {
        auto [spec, chunk] = draw_emulated_case(config);
        const HostCase c = gdr::harness::materialize(spec);
        log_case(c, chunk);
        RC_CLASSIFY(spec.input_dtype == DType::f32, "f32 inputs");
        RC_CLASSIFY(spec.longest_row() > chunk, "several chunks");
        const EmulatedError e = emulated_error(c, run_emulated_case(c, chunk, ChunkRoundingPoints::none()),
                                               run_chunked_case(c, chunk));
        RC_LOG() << e.describe() << '\n';
        if (spec.input_dtype == DType::f32) seen_o.add(e.o);
        seen_state.add(e.state);
        RC_ASSERT(emulated_bound(spec, kFp32Bound).holds(e));
    });
}

TEST_CASE("chunked Rlp property: tensor_core_bf16 errs by a few units of the input dtype's roundoff and no more",
          "[property][chunked][emulated]") {
    CaseGenConfig config = long_row_config();
    config.input_dtypes = {DType::bf16, DType::f16};
    WorstSeen seen{"Rlp tensor_core_bf16() in units of u(input dtype)"};
    check_property("tensor_core_bf16() within its bound", [&] {
        auto [spec, chunk] = draw_emulated_case(config);
        const HostCase c = gdr::harness::materialize(spec);
        log_case(c, chunk);
        RC_CLASSIFY(spec.input_dtype == DType::f16, "f16 inputs");
        RC_CLASSIFY(spec.state_dtype != DType::f32, "f16 or bf16 state");
        const EmulatedError e = emulated_error(c, run_emulated_case(c, chunk, ChunkRoundingPoints::tensor_core_bf16()),
                                               run_chunked_case(c, chunk));
        RC_LOG() << e.describe() << '\n';
        const double u = gdr::reference::unit_roundoff(spec.input_dtype);
        if (spec.state_dtype == DType::f32) seen.add(e.state / u);
        RC_ASSERT(rounded_operands_bound(spec).holds(e));
    });
}

TEST_CASE("chunked Rlp: on serving-like heads tensor_core_bf16 errs by about the input dtype's roundoff and none() by fp32's",
          "[chunked][emulated]") {
    const Index chunk = 64;
    for (const DType input : {DType::bf16, DType::f16}) {
        for (const std::uint64_t seed : {1u, 2u}) {
            const HostCase c = serving_like_case(input, seed);
            CAPTURE(gdr::harness::to_text(c.spec));
            const ChunkedResult truth = run_chunked_case(c, chunk);
            const EmulatedError none = emulated_error(c, run_emulated_case(c, chunk, ChunkRoundingPoints::none()), truth);
            const EmulatedError bf16 =
                emulated_error(c, run_emulated_case(c, chunk, ChunkRoundingPoints::tensor_core_bf16()), truth);
            const double u = gdr::reference::unit_roundoff(input);
            std::printf("[chunked Rlp] serving-like %s seed %d: none() o %.3g state %.3g; tensor_core_bf16() o %.3g "
                        "(%.2f u) state %.3g (%.2f u)\n",
                        input == DType::bf16 ? "bf16" : "f16", int(seed), none.o, none.state, bf16.o, bf16.o / u,
                        bf16.state, bf16.state / u);
            INFO("none(): " << none.describe() << "; tensor_core_bf16(): " << bf16.describe());
            CHECK(emulated_bound(c.spec, kFp32Bound).holds(none));
            CHECK(none.state <= kFp32Bound);
            CHECK(rounded_operands_bound(c.spec).holds(bf16));
            CHECK(shows_roundings(c.spec, bf16));
            CHECK_FALSE(shows_roundings(c.spec, none));
        }
    }
}

TEST_CASE("chunked Rlp: each rounding point alone changes the result", "[chunked][emulated]") {
    // bf16 inputs and state, l2norm with K = 5 (so Q and K are not representable once
    // normalised), gates and beta, an initial state, 3 chunks of C = 8 (the last a tail):
    // every point has something to round, state_between_chunks a state to round between chunks.
    CaseSpec spec;
    spec.batch = 2, spec.seq_len = 20, spec.num_heads = 1, spec.num_value_heads = 2, spec.key_dim = 5, spec.value_dim = 4;
    spec.input_dtype = DType::bf16, spec.state_dtype = DType::bf16;
    spec.seed = 14;
    const HostCase c = gdr::harness::materialize(spec);
    const Index chunk = 8;
    const ChunkedResult none = run_emulated_case(c, chunk, ChunkRoundingPoints::none(), true);
    const ChunkedResult truth = run_chunked_case(c, chunk);
    for (const NamedRoundingPoint& point : kChunkRoundingPoints) {
        CAPTURE(point.name);
        ChunkRoundingPoints alone = ChunkRoundingPoints::none();
        alone.*point.flag = true;
        const ChunkedResult rounded = run_emulated_case(c, chunk, alone, true);
        CHECK_FALSE(same_bytes(rounded, none));
        // One rounding point errs no more than all of tensor_core_bf16()'s may.
        const EmulatedError e = emulated_error(c, rounded, truth);
        INFO(e.describe());
        CHECK(rounded_operands_bound(spec).holds(e));
    }
}

TEST_CASE("chunked Rlp: the presets are the documented sets", "[chunked][emulated]") {
    const ChunkRoundingPoints none = ChunkRoundingPoints::none();
    const ChunkRoundingPoints bf16 = ChunkRoundingPoints::tensor_core_bf16();
    CHECK_FALSE(none.any());
    const std::set<std::string> expected{"normalised_qk", "gated_keys",      "beta_values",   "t", "w",
                                         "u_prime",       "decayed_u_prime", "state_operand", "p"};
    std::set<std::string> set;
    for (const NamedRoundingPoint& point : kChunkRoundingPoints) {
        CHECK_FALSE(none.*point.flag);
        if (bf16.*point.flag) set.insert(point.name);
    }
    CHECK(set == expected);
}

TEST_CASE("chunked Rlp: the emulated run is bitwise deterministic across runs and thread counts",
          "[chunked][emulated]") {
    // Several rows and heads (the parallel loop's units), checkpoints, circular slots.
    CaseSpec spec;
    spec.varlen = true;
    spec.seq_lengths = {37, 0, 16, 50, 5};
    spec.seq_len = 108;
    spec.num_heads = 2, spec.num_value_heads = 4, spec.key_dim = 16, spec.value_dim = 8;
    spec.input_dtype = DType::bf16, spec.state_dtype = DType::bf16;
    spec.circular = true, spec.slots = 3, spec.seqlen_max = 9;
    spec.seed = 5;
    const HostCase c = gdr::harness::materialize(spec);
    const Index chunk = 16;
    const int threads = gdr::reference::oracle_threads();
    for (const ChunkRoundingPoints& points : {ChunkRoundingPoints::none(), ChunkRoundingPoints::tensor_core_bf16()}) {
        std::vector<ChunkedResult> runs;
        for (const int count : {1, 1, 2, 3}) {
            gdr::reference::set_oracle_threads(count);
            runs.push_back(run_emulated_case(c, chunk, points, true));
        }
        gdr::reference::set_oracle_threads(threads);
        for (std::size_t i = 1; i < runs.size(); ++i) {
            CAPTURE(i);
            CHECK(same_bytes(runs[i], runs[0]));
        }
    }
}

TEST_CASE("chunked Rlp: the emulated comparisons reject a wrong answer of every kind", "[chunked][emulated]") {
    const Index chunk = 64;
    const HostCase c = serving_like_case(DType::bf16, 1);
    const ChunkedResult truth = run_chunked_case(c, chunk);
    const ChunkedResult none = run_emulated_case(c, chunk, ChunkRoundingPoints::none(), true);
    const ChunkedResult bf16 = run_emulated_case(c, chunk, ChunkRoundingPoints::tensor_core_bf16(), true);
    const EmulatedBound fp32_bound = emulated_bound(c.spec, kFp32Bound);
    REQUIRE(fp32_bound.holds(emulated_error(c, none, truth)));
    REQUIRE(rounded_operands_bound(c.spec).holds(emulated_error(c, bf16, truth)));
    REQUIRE(shows_roundings(c.spec, emulated_error(c, bf16, truth)));
    // One element of row 0's first value head, of its o (token 7) or its final state, moved by
    // `times` x `bound` x what that row and head's disagreement is measured against (the larger
    // of the truth's norm and the term scale).
    const Index n = c.bank_entry(0);
    const TermScale terms = term_scale(c, 0, 0);
    const auto moved = [&](ChunkedResult result, bool state, double bound, double times) {
        const std::vector<double> truth_values = state ? bank_matrix(truth.buffers.bank, n, final_slot(c, 0), 0)
                                                       : row_head_output(c, truth.buffers.o, 0, 0);
        double norm = 0;
        for (double x : truth_values) norm += x * x;
        const double off = times * bound * std::max(std::sqrt(norm), state ? terms.state : terms.output);
        HostTensor& tensor = state ? result.buffers.bank : result.buffers.o;
        const Index i = state ? flat(tensor.shape(), {n, final_slot(c, 0), 0, 0, 0}) + 3 : flat(tensor.shape(), {0, 7, 0, 0});
        tensor.set(i, tensor.get(i) + off);  // rounded to the stored dtype: off is many of its ulps
        return result;
    };
    const EmulatedBound bf16_bound = rounded_operands_bound(c.spec);

    SECTION("none(): one element of the final state off by twice the bound") {
        CHECK(fp32_bound.holds(emulated_error(c, moved(none, true, fp32_bound.state, 0.5), truth)));
        CHECK_FALSE(fp32_bound.holds(emulated_error(c, moved(none, true, fp32_bound.state, 2), truth)));
    }
    SECTION("none(): one element of o off by twice the bound") {
        CHECK_FALSE(fp32_bound.holds(emulated_error(c, moved(none, false, fp32_bound.o, 2), truth)));
    }
    SECTION("tensor_core_bf16(): one element of the final state off by twice the bound") {
        CHECK(bf16_bound.holds(emulated_error(c, moved(bf16, true, bf16_bound.state, 0.5), truth)));
        CHECK_FALSE(bf16_bound.holds(emulated_error(c, moved(bf16, true, bf16_bound.state, 2), truth)));
    }
    SECTION("tensor_core_bf16(): one element of o off by twice the bound") {
        CHECK_FALSE(bf16_bound.holds(emulated_error(c, moved(bf16, false, bf16_bound.o, 2), truth)));
    }
    SECTION("tensor_core_bf16(): a run that rounded nothing does not show the roundings") {
        CHECK_FALSE(shows_roundings(c.spec, emulated_error(c, none, truth)));
    }
    SECTION("an inactive row written or an untouched slot changed") {
        CaseSpec spec = c.spec;
        spec.indices = gdr::harness::IndicesRule::permutation, spec.inactive_rows = 1, spec.bank_entries = 5;
        const HostCase with_inactive = gdr::harness::materialize(spec);
        const ChunkedResult right = run_emulated_case(with_inactive, chunk, ChunkRoundingPoints::none());
        const ChunkedResult exact = run_chunked_case(with_inactive, chunk);
        REQUIRE(emulated_error(with_inactive, right, exact).others_intact);
        Index inactive = -1;
        for (Index r = 0; r < spec.rows(); ++r)
            if (!with_inactive.row_is_active(r)) inactive = r;
        REQUIRE(inactive >= 0);
        ChunkedResult wrong = right;
        const RowInfo info = row_info(with_inactive, inactive);
        wrong.buffers.o.set(flat(wrong.buffers.o.shape(), {info.batch_row, info.begin, 1, 0}), 1e-30);
        CHECK_FALSE(emulated_error(with_inactive, wrong, exact).others_intact);
        // An entry no active row names (3 active rows on 5 entries leave two).
        std::set<Index> named;
        for (Index r = 0; r < spec.rows(); ++r)
            if (with_inactive.row_is_active(r)) named.insert(with_inactive.bank_entry(r));
        Index unused_entry = 0;
        while (named.count(unused_entry)) ++unused_entry;
        ChunkedResult changed = right;
        const Index i = flat(changed.buffers.bank.shape(), {unused_entry, 0, 0, 0, 0});
        changed.buffers.bank.set(i, changed.buffers.bank.get(i) * 2 + 1);
        CHECK_FALSE(emulated_error(with_inactive, changed, exact).others_intact);
    }
    SECTION("a rounding point that did nothing") {
        CHECK(same_bytes(none, run_emulated_case(c, chunk, ChunkRoundingPoints::none(), true)));
        CHECK_FALSE(same_bytes(none, bf16));
        ChunkedResult one_checkpoint_off = none;
        one_checkpoint_off.checkpoints[0] = std::nextafter(float(one_checkpoint_off.checkpoints[0]), 1e30f);
        CHECK_FALSE(same_bytes(none, one_checkpoint_off));
    }
}

namespace {

// The repro of an open fuzz class (docs/SPEC.md, chunked path, "Overflow of the declared
// precision"): f16 inputs, no gate, no beta, no l2norm, K = 15, so the delta rule amplifies
// the state every token and, rounded to f16 as an operand of the second chunk (C = 4), it
// passes 65504; in fp32 it stays finite.
const std::string kF16Overflow =
    "B=1 T=7 H=1 HV=1 K=15 V=2 layout=kv in=f16 gate=f32 state=f32 g=0 beta=0 l2norm=0 seed=4228728059393454271";

// What HeadChunked::run reports for every head of `c` at C = `chunk` (the precision and
// rounding points of `options`), in heads() order; the values it stores are not kept.
std::vector<std::optional<Index>> head_overflows(const HostCase& c, Index chunk, ChunkedOptions options) {
    options.chunk_size = chunk;
    const bool truth = options.precision == Precision::truth_fp64;
    const DType o_storage = truth ? DType::f64 : c.spec.input_dtype;
    const DType bank_storage = truth ? DType::f64 : c.spec.state_dtype;
    RunBuffers read_only = gdr::harness::make_run_buffers(c, o_storage, bank_storage);
    read_only.bank = c.initial_bank.converted(bank_storage);  // the initial values, read
    const gdr::reference::HeadChunked heads(gdr::harness::make_problem(c, read_only), options);
    std::vector<std::optional<Index>> found;
    for (const auto& [row, hv] : heads.heads()) {
        std::vector<double> o(std::size_t(c.spec.row_tokens(row) * c.spec.value_dim));
        std::vector<double> state(std::size_t(c.spec.key_dim * c.spec.value_dim));
        found.push_back(heads.run(row, hv, {o.data(), state.data()}));
    }
    return found;
}

HostCase with_input_dtype(const std::string& text, DType input) {
    CaseSpec spec = gdr::harness::parse_text(text);
    spec.input_dtype = input;
    return gdr::harness::materialize(spec);
}

}  // namespace

TEST_CASE("chunked Rlp: a declared rounding that overflows f16 is recorded at its chunk's first token",
          "[chunked][emulated]") {
    const HostCase c = gdr::harness::materialize(gdr::harness::parse_text(kF16Overflow));
    const auto found = head_overflows(c, 4, emulated(ChunkRoundingPoints::tensor_core_bf16()));
    REQUIRE(found.size() == 1);
    CHECK(found[0] == std::optional<Index>(4));
    // The same run stores Inf or NaN there (what the open class saw) and nothing non-finite
    // before: the record says where the declared precision stopped holding the values.
    const ChunkedResult run = run_emulated_case(c, 4, ChunkRoundingPoints::tensor_core_bf16());
    const std::vector<double> o = row_head_output(c, run.buffers.o, 0, 0);
    const Index first_nonfinite =
        std::find_if(o.begin(), o.end(), [](double x) { return !std::isfinite(x); }) - o.begin();
    CHECK(first_nonfinite >= 4 * c.spec.value_dim);
    CHECK(first_nonfinite < Index(o.size()));
}

TEST_CASE("chunked Rlp: no overflow is recorded in bf16, for a small f16 state, without declared roundings or in the "
          "truth", "[chunked][emulated]") {
    const ChunkedOptions bf16_points = emulated(ChunkRoundingPoints::tensor_core_bf16());
    const auto none_found = [](const std::vector<std::optional<Index>>& found) {
        return !found.empty() && std::none_of(found.begin(), found.end(), [](const auto& x) { return x.has_value(); });
    };
    // bf16 holds f32's exponent range: the state that overflows f16 fits.
    CHECK(none_found(head_overflows(with_input_dtype(kF16Overflow, DType::bf16), 4, bf16_points)));
    // l2norm keeps the update contractive, and the f16 state small.
    CHECK(none_found(head_overflows(
        gdr::harness::materialize(gdr::harness::parse_text(
            "B=2 T=9 H=1 HV=2 K=15 V=2 layout=kv in=f16 state=f16 g=0 beta=0 l2norm=1 seed=4228728059393454271")),
        4, bf16_points)));
    // The f16 state of the repro, but nothing declared: fp32 holds it (the stores are not
    // declared roundings), and the truth rounds nothing at all.
    const HostCase c = gdr::harness::materialize(gdr::harness::parse_text(kF16Overflow));
    CHECK(none_found(head_overflows(c, 4, emulated(ChunkRoundingPoints::none()))));
    CHECK(none_found(head_overflows(c, 4, ChunkedOptions{})));
}

TEST_CASE("chunked Rlp invalid: rounding points with the truth run and f64 storage with the emulated run are rejected",
          "[chunked][emulated][invalid]") {
    InvalidFixture f;
    REQUIRE_NOTHROW(gdr::reference::run_chunked(f.problem, {.chunk_size = 2}));  // the fixture is valid for the truth
    for (const NamedRoundingPoint& point : kChunkRoundingPoints) {
        CAPTURE(point.name);
        InvalidFixture g;
        ChunkedOptions options{.chunk_size = 2};
        options.rounding_points.*point.flag = true;  // precision stays truth_fp64
        g.check_rejected(options, "rounding_points");
    }
    {
        InvalidFixture g;  // f64 o and bank: the emulated run stores what a kernel stores
        g.check_rejected(emulated(ChunkRoundingPoints::none()), "state");
    }
    {
        InvalidFixture g(DType::f64, DType::f32);
        g.check_rejected(emulated(ChunkRoundingPoints::tensor_core_bf16()), "o");
    }
    {
        InvalidFixture g(DType::bf16, DType::f32);
        ChunkedOptions options = emulated(ChunkRoundingPoints::none());
        options.precision = static_cast<Precision>(7);
        g.check_rejected(options, "precision");
        REQUIRE_NOTHROW(gdr::reference::run_chunked(g.problem, emulated(ChunkRoundingPoints::tensor_core_bf16())));
    }
}
