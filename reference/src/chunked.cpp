// The chunked (WY / UT-transform) form of the gated delta rule, one implementation for both
// scalars: double (the fp64 oracle) and float (Rlp of a chunk kernel, rounding at the
// declared ChunkRoundingPoints). chunked.hpp has the derivation, how the semantics relate to
// the recurrence's, and the emulated run's summation order.
#include "gdr/reference/chunked.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <Eigen/Core>

#include "convert.hpp"
#include "gdr/core/errors.hpp"
#include "gdr/reference/numeric.hpp"

namespace gdr::reference {
namespace {

using Index = std::int64_t;
using detail::from_scalar;
using detail::to_scalar;
using detail::with_storage;

template <class Scalar>
using MatrixOf = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;  // column-major
template <class Scalar>
using VectorOf = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
template <class Scalar>
using RowVectorOf = Eigen::Matrix<Scalar, 1, Eigen::Dynamic>;
// The bank's two layouts seen as K x V matrices: KV stores h[k][v] at k*V + v (row-major
// K x V), VK at v*K + k (column-major K x V). The bank is read and written as f64.
using F64Matrix = MatrixOf<double>;
using F64RowMajorMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void require_chunk_size(Index chunk_size) {
    if (chunk_size < 1) throw InvalidArgument("chunk_size", "must be >= 1, got " + std::to_string(chunk_size));
}

// Only the emulated run rounds at the kernel's points: the truth stays the truth.
void require_options(const ChunkedOptions& options) {
    require_chunk_size(options.chunk_size);
    if (options.precision != Precision::truth_fp64 && options.precision != Precision::emulated_fp32)
        throw InvalidArgument("precision", "must be truth_fp64 or emulated_fp32");
    if (options.precision == Precision::truth_fp64 && options.rounding_points.any())
        throw InvalidArgument("rounding_points",
                              "only the emulated run (emulated_fp32) rounds at a kernel's points; the truth (truth_fp64) "
                              "takes ChunkRoundingPoints::none()");
}

// Element offset of (b, t, head, 0) in a strided view (g and beta: of (b, t, head)).
Index offset_of(const TensorArg& a, Index b, Index t, Index head) {
    return b * a.stride[0] + t * a.stride[1] + head * a.stride[2];
}

// One chunk of one (row, value head), tokens as rows, after the per-token preprocessing
// the recurrence does: q and k l2-normalised if asked, q times the scale, g = 0 and
// beta = 1 where absent.
template <class Scalar>
struct ChunkInputs {
    MatrixOf<Scalar> q, k;  // c x K
    MatrixOf<Scalar> v;     // c x V
    VectorOf<Scalar> g, beta;
    Index size() const { return g.size(); }
};

// The arithmetic of one chunk in Scalar: the sums in the order chunked.hpp documents and
// the roundings the ChunkRoundingPoints declare.
template <class Scalar>
class ChunkAlgebra {
    using Matrix = MatrixOf<Scalar>;
    using Vector = VectorOf<Scalar>;
    using RowVector = RowVectorOf<Scalar>;

public:
    ChunkAlgebra(const ChunkRoundingPoints& points, ReductionOrder order, DType input_dtype, DType state_dtype)
        : points_(points), reversed_(order == ReductionOrder::reversed), input_dtype_(input_dtype),
          state_dtype_(state_dtype) {}

    // The n terms of a sequential sum in the run's order: index 0 up, or (reversed) n-1 down.
    Index term(Index step, Index n) const { return reversed_ ? n - 1 - step : step; }

    // x . y. fp64: Eigen's vectorised order. fp32: sequential in the run's order.
    template <class X, class Y>
    Scalar dot(const X& x, const Y& y) const {
        if constexpr (std::is_same_v<Scalar, double>) {
            return x.dot(y);
        } else {
            Scalar sum(0);
            for (Index step = 0; step < x.size(); ++step) sum += x[term(step, x.size())] * y[term(step, x.size())];
            return sum;
        }
    }

    // x . x for an l2 norm: like dot, but summed from index 0 in either run order. A kernel's
    // norm in another order than Rlp's is what its math mode's bound covers (precise), as in
    // the recurrence's runs, whose norms do not follow the reduction order either; the
    // reversed run stands in for a kernel's product and token-sum orders only.
    template <class X>
    Scalar squared_norm(const X& x) const {
        if constexpr (std::is_same_v<Scalar, double>) {
            return x.squaredNorm();
        } else {
            Scalar sum(0);
            for (Index l = 0; l < x.size(); ++l) sum += x[l] * x[l];
            return sum;
        }
    }

    // a b. fp64: Eigen's product. fp32: each element a sequential sum over the inner index in
    // the run's order (never Eigen's blocked float product: chunked.hpp, "Emulated precision").
    template <class A, class B>
    Matrix product(const A& a, const B& b) const {
        if constexpr (std::is_same_v<Scalar, double>) {
            return a * b;
        } else {
            // Column j accumulates a's columns in order l = 0, 1, ... (or reversed): every
            // element is the sequential sum sum_l a(i, l) b(l, j), each product rounded, then
            // each addition (the build enables no FMA, so nothing contracts a * b + c), rows
            // side by side in SIMD.
            Matrix out = Matrix::Zero(a.rows(), b.cols());
            for (Index j = 0; j < b.cols(); ++j)
                for (Index step = 0; step < a.cols(); ++step) {
                    const Index l = term(step, a.cols());
                    out.col(j) += a.col(l) * b(l, j);
                }
            return out;
        }
    }

    // L B for a lower triangular L: row i sums over j <= i only. The zeros above the
    // diagonal are never read: 0 x a later token's NaN or Inf would reach an earlier row.
    Matrix lower_product(const Matrix& l, const Matrix& b) const {
        Matrix out(l.rows(), b.cols());
        for (Index i = 0; i < l.rows(); ++i) out.row(i) = product(l.row(i).head(i + 1), b.topRows(i + 1));
        return out;
    }

    const ChunkRoundingPoints& points() const { return points_; }

    // x, rounded once to the input dtype (RNE) where `point` is declared; sets `overflowed`
    // where that rounding took a finite element to an infinity.
    Matrix operand(Matrix x, bool point, bool& overflowed) const {
        if (point) overflowed |= round_elements(x, input_dtype_);
        return x;
    }

    // One chunk of the recurrence (chunked.hpp's derivation): returns O (c x V) and advances
    // `state` (K x V) past the chunk; sets `overflowed` where a declared rounding overflowed.
    Matrix advance(const ChunkInputs<Scalar>& in, Matrix& state, bool& overflowed) const {
        const Index c = in.size();
        const Matrix decay = decays_between_positions(in.g);
        // Gamma_ij = exp(G_i - G_j), tokens i, j = 0..c-1 (token i ends at position i + 1).
        const Matrix gamma = decay.bottomRightCorner(c, c);
        const Vector from_start = decay.col(0).tail(c);  // exp(G_i)
        const RowVector to_end = decay.row(c).tail(c);   // exp(G_c - G_j)
        const Scalar whole_chunk = decay(c, 0);          // exp(G_c)

        // A = strictLower(diag(beta) (K K^T o Gamma)), and T = (I + A)^-1. The products are
        // whole (one vectorised pass); only their entries j < i (j <= i for P) are read.
        const Matrix kk = product(in.k, in.k.transpose());
        Matrix a = Matrix::Zero(c, c);
        for (Index i = 1; i < c; ++i)
            for (Index j = 0; j < i; ++j) a(i, j) = in.beta[i] * kk(i, j) * gamma(i, j);
        const Matrix t =
            operand(invert_unit_lower(operand(std::move(a), points_.a, overflowed)), points_.t, overflowed);

        // W = T diag(beta) D K, U = T diag(beta) V, and U' = U - W S: row i is token i's
        // u = beta_i (v_i - (a_i S_{i-1})^T k_i).
        const Matrix gated_keys =
            operand(in.beta.cwiseProduct(from_start).asDiagonal() * in.k, points_.gated_keys, overflowed);
        const Matrix w = operand(lower_product(t, gated_keys), points_.w, overflowed);
        const Matrix beta_values = operand(in.beta.asDiagonal() * in.v, points_.beta_values, overflowed);
        const Matrix u = operand(lower_product(t, beta_values), points_.u, overflowed);
        const Matrix s = operand(state, points_.state_operand, overflowed);
        const Matrix u_prime = operand(u - product(w, s), points_.u_prime, overflowed);

        // O = D Q S + P U', P = (Q K^T) o Gamma over j <= i only (causal).
        Matrix out = points_.gated_queries ? product(operand(from_start.asDiagonal() * in.q, true, overflowed), s)
                                           : Matrix(from_start.asDiagonal() * product(in.q, s));
        const Matrix qk = product(in.q, in.k.transpose());
        Matrix p = Matrix::Zero(c, c);
        for (Index i = 0; i < c; ++i)
            for (Index j = 0; j <= i; ++j) p(i, j) = qk(i, j) * gamma(i, j);
        out += lower_product(operand(std::move(p), points_.p, overflowed), u_prime);

        // S <- exp(G_c) S + K^T diag(exp(G_c - G)) U'.
        const Matrix decayed =
            operand(to_end.transpose().asDiagonal() * u_prime, points_.decayed_u_prime, overflowed);
        state = whole_chunk * state + product(in.k.transpose(), decayed);
        if (points_.state_between_chunks) overflowed |= round_elements(state, state_dtype_);
        return out;
    }

private:
    // Rounds x to `dtype` in place; true where a finite element rounded to an infinity (beyond
    // the dtype's range: docs/SPEC.md, chunked path, "Overflow of the declared precision").
    static bool round_elements(Matrix& x, DType dtype) {
        bool overflowed = false;
        with_storage(dtype, [&]<class S>(S) {
            x = x.unaryExpr([&overflowed](Scalar e) {
                const Scalar rounded = to_scalar<Scalar>(from_scalar<S>(e));
                overflowed = overflowed || (std::isfinite(e) && std::isinf(rounded));
                return rounded;
            });
        });
        return overflowed;
    }

    // The decays of a chunk of c tokens, between positions 0..c (position p: after p tokens):
    // decay(to, from) = exp(g[from] + ... + g[to - 1]) for from <= to, 0 above the diagonal.
    // Each exponent is summed over its own token range (never a difference of two cumulative
    // sums, never a ratio of exps): see chunked.hpp, "Numerics".
    static Matrix decays_between_positions(const Vector& g) {
        const Index c = g.size();
        Matrix decay = Matrix::Zero(c + 1, c + 1);
        for (Index from = 0; from <= c; ++from) {
            Scalar log_decay(0);
            for (Index to = from; to <= c; ++to) {
                decay(to, from) = std::exp(log_decay);
                if (to < c) log_decay += g[to];
            }
        }
        return decay;
    }

    // T = (I + A)^-1 for a strictly lower triangular A, by forward substitution of I:
    // T_i = e_i - sum_{j<i} A_ij T_j. Row i reads only rows j < i and columns < i (causal).
    Matrix invert_unit_lower(const Matrix& a) const {
        const Index c = a.rows();
        Matrix t = Matrix::Identity(c, c);
        for (Index i = 1; i < c; ++i) t.row(i).head(i) = -product(a.row(i).head(i), t.topLeftCorner(i, i));
        return t;
    }

    const ChunkRoundingPoints points_;
    const bool reversed_;
    const DType input_dtype_, state_dtype_;
};

// The run in Scalar: double (truth: f64 storage allowed, checkpoints unrounded) or float
// (emulated: stores in the problem's dtypes, checkpoints rounded to the state dtype).
template <class Scalar>
class ChunkedRun {
    using ScalarMatrix = MatrixOf<Scalar>;
    using ScalarVector = VectorOf<Scalar>;

public:
    // `o_store`, `state_store`: what HeadResults' values round to (run_head with `head`);
    // the problem's own buffers round to their storage dtypes.
    ChunkedRun(const Problem& problem, const ChunkedOptions& options, DType o_store = DType::f64,
               DType state_store = DType::f64)
        : p_(problem),
          algebra_(options.rounding_points, options.order, problem.input_dtype, problem.state_dtype),
          checkpoint_dtype_(std::is_same_v<Scalar, double> ? DType::f64 : problem.state_dtype),
          o_store_(o_store),
          state_store_(state_store),
          chunk_(options.chunk_size),
          checkpoints_(options.checkpoints),
          checkpoint_first_(options.checkpoints ? checkpoint_offsets(problem, options.chunk_size)
                                                : std::vector<Index>{}),
          K_(problem.key_dim),
          V_(problem.value_dim),
          group_(problem.num_value_heads / problem.num_heads),
          scale_(Scalar(problem.effective_scale())) {}

    // The (row, value head) pairs that run: every value head of every active row with at
    // least one token. Each writes only its own o[row, :, hv], bank matrix and checkpoints
    // (active bank entries are distinct), so they may run in any order on any thread.
    std::vector<std::pair<Index, Index>> heads() const {
        std::vector<std::pair<Index, Index>> heads;
        for (Index row = 0; row < p_.rows(); ++row) {
            if (row_tokens(p_, row).length() == 0 || !row_is_active(p_, row)) continue;
            for (Index hv = 0; hv < p_.num_value_heads; ++hv) heads.emplace_back(row, hv);
        }
        return heads;
    }

    // Inactive rows: o == 0 exactly; their bank entries are neither read nor written.
    void zero_inactive_rows() const {
        const std::vector<double> zeros(std::size_t(V_), 0.0);
        for (Index row = 0; row < p_.rows(); ++row) {
            if (row_is_active(p_, row)) continue;
            const RowTokens tokens = row_tokens(p_, row);
            for (Index token = tokens.begin; token < tokens.end; ++token)
                for (Index hv = 0; hv < p_.num_value_heads; ++hv)
                    store_doubles(p_.o.data, p_.o.dtype, offset_of(p_.o, tokens.batch_row, token, hv), 1, V_,
                                  zeros.data());
        }
    }

    // One head into the problem's o, bank and checkpoints, or, with `head`, into its o
    // ([length, V]) and state (one K x V matrix in the bank's layout) only. Returns the first
    // token of the chunk where a declared rounding first overflowed (HeadChunked::run).
    std::optional<Index> run_head(Index row, Index hv, const HeadResults* head = nullptr) const {
        const RowTokens tokens = row_tokens(p_, row);
        const Index length = tokens.length();
        const Index entry = row_bank_entry(p_, row);
        ScalarMatrix state = load_state(entry, row_read_slot(p_, row), hv).template cast<Scalar>();  // exact
        std::optional<Index> overflow;
        for (Index first = 0; first < length; first += chunk_) {
            const Index c = std::min(chunk_, length - first);  // the tail chunk is shorter, not padded
            bool overflowed = false;
            const ScalarMatrix out = algebra_.advance(load_chunk(tokens, hv, first, c, overflowed), state, overflowed);
            if (overflowed && !overflow) overflow = first;
            store_outputs(out.template cast<double>(), tokens, first, hv, head);
            // Chunks start at multiples of C, so a full chunk ends at one: a checkpoint.
            if (checkpoints_ && c == chunk_) store_checkpoint(state.template cast<double>(), row, (first + c) / chunk_, hv);
        }
        if (!p_.output_final_state) return overflow;
        if (head && head->state) {
            to_layout(state.template cast<double>(), head->state);
            round_doubles(state_store_, head->state, K_ * V_, head->state);
        } else if (!head) {
            store_state(state.template cast<double>(), entry, final_slot(row, length), hv);
        }
        return overflow;
    }

private:
    // Circular: (cache_seqlens + len) mod Slots, the slot the recurrence's last token writes.
    Index final_slot(Index row, Index length) const {
        return p_.circular() ? (Index(p_.cache_seqlens[row]) + length) % p_.slots() : 0;
    }

    // The chunk's inputs in Scalar (every stored input is exact in float), normalised and
    // scaled in Scalar, Q and K then rounded if normalised_qk is declared (`overflowed` as in
    // ChunkAlgebra::operand).
    ChunkInputs<Scalar> load_chunk(const RowTokens& tokens, Index hv, Index first, Index c, bool& overflowed) const {
        const Index head = hv / group_;  // q/k head of this value head
        ChunkInputs<Scalar> in{ScalarMatrix(c, K_), ScalarMatrix(c, K_), ScalarMatrix(c, V_), ScalarVector(c),
                               ScalarVector(c)};
        Eigen::VectorXd q(K_), k(K_), v(V_);
        for (Index i = 0; i < c; ++i) {
            const Index b = tokens.batch_row, token = tokens.begin + first + i;
            load_doubles(p_.q.data, p_.q.dtype, offset_of(p_.q, b, token, head), K_, q.data());
            load_doubles(p_.k.data, p_.k.dtype, offset_of(p_.k, b, token, head), K_, k.data());
            load_doubles(p_.v.data, p_.v.dtype, offset_of(p_.v, b, token, hv), V_, v.data());
            in.q.row(i) = q.transpose().cast<Scalar>();
            in.k.row(i) = k.transpose().cast<Scalar>();
            in.v.row(i) = v.transpose().cast<Scalar>();
            if (p_.use_qk_l2norm) {
                in.q.row(i) /= std::sqrt(algebra_.squared_norm(in.q.row(i)) + Scalar(1e-6));
                in.k.row(i) /= std::sqrt(algebra_.squared_norm(in.k.row(i)) + Scalar(1e-6));
            }
            in.q.row(i) *= scale_;  // the scale after the normalisation
            in.g[i] = p_.g.present() ? Scalar(load_double(p_.g.data, p_.g.dtype, offset_of(p_.g, b, token, hv))) : Scalar(0);
            in.beta[i] = p_.beta.present()
                             ? Scalar(load_double(p_.beta.data, p_.beta.dtype, offset_of(p_.beta, b, token, hv)))
                             : Scalar(1);
        }
        const bool round_qk = algebra_.points().normalised_qk;
        in.q = algebra_.operand(std::move(in.q), round_qk, overflowed);
        in.k = algebra_.operand(std::move(in.k), round_qk, overflowed);
        return in;
    }

    // o rows of the chunk, each rounded once to o's storage dtype (f64: not at all), or into
    // `head`'s o from row `first`, rounded to o_store_.
    void store_outputs(const F64Matrix& out, const RowTokens& tokens, Index first, Index hv,
                       const HeadResults* head) const {
        const F64RowMajorMatrix rows = out;  // one token's V values contiguous
        if (head) {
            if (head->o) round_doubles(o_store_, rows.data(), rows.size(), head->o + first * V_);
            return;
        }
        for (Index i = 0; i < out.rows(); ++i)
            store_doubles(p_.o.data, p_.o.dtype, offset_of(p_.o, tokens.batch_row, tokens.begin + first + i, hv), 1, V_,
                          rows.row(i).data());
    }

    // First element of S[n, slot, hv] (64-bit arithmetic: banks exceed 2^31 elements).
    Index matrix_offset(Index n, Index slot, Index hv) const {
        return ((n * p_.slots() + slot) * p_.num_value_heads + hv) * K_ * V_;
    }

    // A K x V matrix from / into K * V elements in the bank's layout.
    F64Matrix from_layout(const double* stored) const {
        if (p_.layout == Layout::KV) return Eigen::Map<const F64RowMajorMatrix>(stored, K_, V_);
        return Eigen::Map<const F64Matrix>(stored, K_, V_);
    }
    void to_layout(const F64Matrix& state, double* stored) const {
        if (p_.layout == Layout::KV)
            Eigen::Map<F64RowMajorMatrix>(stored, K_, V_) = state;
        else
            Eigen::Map<F64Matrix>(stored, K_, V_) = state;
    }

    F64Matrix load_state(Index n, Index slot, Index hv) const {
        std::vector<double> stored(std::size_t(K_ * V_));
        load_doubles(p_.state, p_.state_storage, matrix_offset(n, slot, hv), K_ * V_, stored.data());  // exact
        return from_layout(stored.data());
    }

    // Rounded once to the bank's storage dtype (f64: not at all).
    void store_state(const F64Matrix& state, Index n, Index slot, Index hv) const {
        std::vector<double> stored(std::size_t(K_ * V_));
        to_layout(state, stored.data());
        store_doubles(p_.state, p_.state_storage, matrix_offset(n, slot, hv), 1, K_ * V_, stored.data());
    }

    // The state after m * C tokens of `row` (m >= 1) at its place (chunked.hpp), rounded once
    // to checkpoint_dtype_ (f64: not at all).
    void store_checkpoint(const F64Matrix& state, Index row, Index m, Index hv) const {
        double* const place = checkpoints_ + ((checkpoint_first_[std::size_t(row)] + m - 1) * p_.num_value_heads + hv) * K_ * V_;
        to_layout(state, place);
        round_doubles(checkpoint_dtype_, place, K_ * V_, place);
    }

    const Problem& p_;
    const ChunkAlgebra<Scalar> algebra_;
    const DType checkpoint_dtype_;
    const DType o_store_, state_store_;
    const Index chunk_;
    double* const checkpoints_;
    const std::vector<Index> checkpoint_first_;
    const Index K_, V_, group_;
    const Scalar scale_;
};

// The (row, head) pairs on every thread OpenMP gives this caller. Each is independent and
// keeps its working storage local: the result is bitwise the same for any thread count
// (oracle_threads.hpp sets it).
template <class Scalar>
void run_in_parallel(const Problem& problem, const ChunkedOptions& options) {
    const ChunkedRun<Scalar> run(problem, options);
    run.zero_inactive_rows();
    const std::vector<std::pair<Index, Index>> heads = run.heads();
    const auto count = std::int64_t(heads.size());
#pragma omp parallel for schedule(dynamic, 1) if (count > 1)
    for (std::int64_t i = 0; i < count; ++i) run.run_head(heads[std::size_t(i)].first, heads[std::size_t(i)].second);
}

}  // namespace

std::vector<std::int64_t> checkpoint_offsets(const Problem& problem, std::int64_t chunk_size) {
    require_chunk_size(chunk_size);
    std::vector<std::int64_t> first(std::size_t(problem.rows() + 1), 0);
    for (Index row = 0; row < problem.rows(); ++row)
        first[std::size_t(row + 1)] = first[std::size_t(row)] + row_tokens(problem, row).length() / chunk_size;
    return first;
}

// Everything is checked before anything is written; only the truth run may keep o and the
// bank in f64 (the emulated run must store exactly what a kernel stores).
void validate_chunked(const Problem& problem, const ChunkedOptions& options) {
    require_options(options);
    validate(problem, {.arrays_on_host = true, .allow_f64_storage = options.precision == Precision::truth_fp64});
}

void run_chunked(const Problem& problem, const ChunkedOptions& options) {
    validate_chunked(problem, options);
    if (options.precision == Precision::truth_fp64)
        run_in_parallel<double>(problem, options);
    else
        run_in_parallel<float>(problem, options);
}

struct HeadChunked::Impl {
    Problem problem;  // the run keeps a reference to it
    std::variant<ChunkedRun<double>, ChunkedRun<float>> run;

    static std::variant<ChunkedRun<double>, ChunkedRun<float>> make(const Problem& p, const ChunkedOptions& o) {
        if (o.precision == Precision::truth_fp64) return ChunkedRun<double>(p, o, DType::f64, DType::f64);
        return ChunkedRun<float>(p, o, p.input_dtype, p.state_dtype);
    }
    Impl(const Problem& p, const ChunkedOptions& o) : problem(p), run(make(problem, o)) {}
};

HeadChunked::HeadChunked(const Problem& problem, const ChunkedOptions& options) {
    if (options.checkpoints)
        throw InvalidArgument("checkpoints", "a head run writes only HeadResults' o and state; run_chunked writes checkpoints");
    validate_chunked(problem, options);
    impl_ = std::make_unique<Impl>(problem, options);
}

HeadChunked::~HeadChunked() = default;
HeadChunked::HeadChunked(HeadChunked&&) noexcept = default;
HeadChunked& HeadChunked::operator=(HeadChunked&&) noexcept = default;

std::vector<std::pair<std::int64_t, std::int64_t>> HeadChunked::heads() const {
    return std::visit([](const auto& r) { return r.heads(); }, impl_->run);
}

std::int64_t HeadChunked::written_matrices() const { return impl_->problem.output_final_state ? 1 : 0; }

std::optional<std::int64_t> HeadChunked::run(std::int64_t row, std::int64_t hv, const HeadResults& out) const {
    return std::visit([&](const auto& r) { return r.run_head(row, hv, &out); }, impl_->run);
}

}  // namespace gdr::reference
