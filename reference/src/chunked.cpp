// The chunked (WY / UT-transform) form of the gated delta rule in fp64 (chunked.hpp has the
// derivation and how its semantics relate to the recurrence's).
#include "gdr/reference/chunked.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "gdr/core/errors.hpp"
#include "gdr/reference/numeric.hpp"

namespace gdr::reference {
namespace {

using Index = std::int64_t;
using Matrix = Eigen::MatrixXd;  // column-major
using Vector = Eigen::VectorXd;
using RowVector = Eigen::RowVectorXd;
// The bank's two layouts seen as K x V matrices: KV stores h[k][v] at k*V + v (row-major
// K x V), VK at v*K + k (column-major K x V).
using RowMajorMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void require_chunk_size(Index chunk_size) {
    if (chunk_size < 1) throw InvalidArgument("chunk_size", "must be >= 1, got " + std::to_string(chunk_size));
}

// Element offset of (b, t, head, 0) in a strided view (g and beta: of (b, t, head)).
Index offset_of(const TensorArg& a, Index b, Index t, Index head) {
    return b * a.stride[0] + t * a.stride[1] + head * a.stride[2];
}

// One chunk of one (row, value head), tokens as rows, after the per-token preprocessing
// the recurrence does: q and k l2-normalised if asked, q times the scale, g = 0 and
// beta = 1 where absent.
struct ChunkInputs {
    Matrix q, k;  // c x K
    Matrix v;     // c x V
    Vector g, beta;
    Index size() const { return g.size(); }
};

// The decays of a chunk of c tokens, between positions 0..c (position p: after p tokens):
// decay(to, from) = exp(g[from] + ... + g[to - 1]) for from <= to, 0 above the diagonal.
// Each exponent is summed over its own token range (never a difference of two cumulative
// sums, never a ratio of exps): see chunked.hpp, "Numerics".
Matrix decays_between_positions(const Vector& g) {
    const Index c = g.size();
    Matrix decay = Matrix::Zero(c + 1, c + 1);
    for (Index from = 0; from <= c; ++from) {
        double log_decay = 0;
        for (Index to = from; to <= c; ++to) {
            decay(to, from) = std::exp(log_decay);
            if (to < c) log_decay += g[to];
        }
    }
    return decay;
}

// X = (I + A)^-1 B for a strictly lower triangular A, by forward substitution:
// X_i = B_i - sum_{j<i} A_ij X_j. Row i reads only rows j < i (causal, and no product with
// the zeros above the diagonal, which would turn a later token's NaN into an earlier one's).
Matrix forward_substitute(const Matrix& a, Matrix b) {
    for (Index i = 1; i < b.rows(); ++i) b.row(i).noalias() -= a.row(i).head(i) * b.topRows(i);
    return b;
}

// One chunk of the recurrence (chunked.hpp's derivation): returns O (c x V) and advances
// `state` (K x V) past the chunk.
Matrix advance_chunk(const ChunkInputs& in, Matrix& state) {
    const Index c = in.size();
    const Matrix decay = decays_between_positions(in.g);
    // Gamma_ij = exp(G_i - G_j), tokens i, j = 0..c-1 (token i ends at position i + 1).
    const Matrix gamma = decay.bottomRightCorner(c, c);
    const Vector from_start = decay.col(0).tail(c);  // exp(G_i)
    const RowVector to_end = decay.row(c).tail(c);   // exp(G_c - G_j)
    const double whole_chunk = decay(c, 0);          // exp(G_c)

    // A = strictLower(diag(beta) (K K^T o Gamma)).
    Matrix a = Matrix::Zero(c, c);
    for (Index i = 1; i < c; ++i)
        for (Index j = 0; j < i; ++j) a(i, j) = in.beta[i] * in.k.row(i).dot(in.k.row(j)) * gamma(i, j);

    // W = T diag(beta) D K and U = T diag(beta) V, with T = (I + A)^-1, in one substitution.
    const Index K = in.k.cols(), V = in.v.cols();
    Matrix rhs(c, K + V);
    rhs.leftCols(K) = (in.beta.cwiseProduct(from_start)).asDiagonal() * in.k;
    rhs.rightCols(V) = in.beta.asDiagonal() * in.v;
    const Matrix wu = forward_substitute(a, std::move(rhs));
    // U' = U - W S: row i is token i's u = beta_i (v_i - (a_i S_{i-1})^T k_i).
    const Matrix u = wu.rightCols(V) - wu.leftCols(K) * state;

    // O = D Q S + ((Q K^T) o Gamma) U', the second term over j <= i only (causal).
    Matrix out = from_start.asDiagonal() * (in.q * state);
    for (Index i = 0; i < c; ++i) {
        RowVector weights(i + 1);  // (q_i . k_j) Gamma_ij for j <= i
        for (Index j = 0; j <= i; ++j) weights[j] = in.q.row(i).dot(in.k.row(j)) * gamma(i, j);
        out.row(i).noalias() += weights * u.topRows(i + 1);
    }

    // S <- exp(G_c) S + K^T diag(exp(G_c - G)) U'.
    const Matrix decayed_keys = in.k.transpose() * to_end.asDiagonal();  // K x c
    state = whole_chunk * state + decayed_keys * u;
    return out;
}

class ChunkedRun {
public:
    ChunkedRun(const Problem& problem, const ChunkedOptions& options)
        : p_(problem),
          chunk_(options.chunk_size),
          checkpoints_(options.checkpoints),
          checkpoint_first_(options.checkpoints ? checkpoint_offsets(problem, options.chunk_size)
                                                : std::vector<Index>{}),
          K_(problem.key_dim),
          V_(problem.value_dim),
          group_(problem.num_value_heads / problem.num_heads),
          scale_(problem.effective_scale()) {}

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

    void run_head(Index row, Index hv) const {
        const RowTokens tokens = row_tokens(p_, row);
        const Index length = tokens.length();
        const Index entry = row_bank_entry(p_, row);
        Matrix state = load_state(entry, row_read_slot(p_, row), hv);
        for (Index first = 0; first < length; first += chunk_) {
            const Index c = std::min(chunk_, length - first);  // the tail chunk is shorter, not padded
            const Matrix out = advance_chunk(load_chunk(tokens, hv, first, c), state);
            store_outputs(out, tokens, first, hv);
            // Chunks start at multiples of C, so a full chunk ends at one: a checkpoint.
            if (checkpoints_ && c == chunk_) store_checkpoint(state, row, (first + c) / chunk_, hv);
        }
        if (p_.output_final_state) store_state(state, entry, final_slot(row, length), hv);
    }

private:
    // Circular: (cache_seqlens + len) mod Slots, the slot the recurrence's last token writes.
    Index final_slot(Index row, Index length) const {
        return p_.circular() ? (Index(p_.cache_seqlens[row]) + length) % p_.slots() : 0;
    }

    ChunkInputs load_chunk(const RowTokens& tokens, Index hv, Index first, Index c) const {
        const Index head = hv / group_;  // q/k head of this value head
        ChunkInputs in{Matrix(c, K_), Matrix(c, K_), Matrix(c, V_), Vector(c), Vector(c)};
        Vector q(K_), k(K_), v(V_);
        for (Index i = 0; i < c; ++i) {
            const Index b = tokens.batch_row, token = tokens.begin + first + i;
            load_doubles(p_.q.data, p_.q.dtype, offset_of(p_.q, b, token, head), K_, q.data());
            load_doubles(p_.k.data, p_.k.dtype, offset_of(p_.k, b, token, head), K_, k.data());
            load_doubles(p_.v.data, p_.v.dtype, offset_of(p_.v, b, token, hv), V_, v.data());
            if (p_.use_qk_l2norm) {
                q /= std::sqrt(q.squaredNorm() + 1e-6);
                k /= std::sqrt(k.squaredNorm() + 1e-6);
            }
            in.q.row(i) = scale_ * q.transpose();  // the scale after the normalisation
            in.k.row(i) = k.transpose();
            in.v.row(i) = v.transpose();
            in.g[i] = p_.g.present() ? load_double(p_.g.data, p_.g.dtype, offset_of(p_.g, b, token, hv)) : 0.0;
            in.beta[i] = p_.beta.present() ? load_double(p_.beta.data, p_.beta.dtype, offset_of(p_.beta, b, token, hv))
                                           : 1.0;
        }
        return in;
    }

    // o rows of the chunk, each rounded once to o's storage dtype (f64: not at all).
    void store_outputs(const Matrix& out, const RowTokens& tokens, Index first, Index hv) const {
        const RowMajorMatrix rows = out;  // one token's V values contiguous
        for (Index i = 0; i < out.rows(); ++i)
            store_doubles(p_.o.data, p_.o.dtype, offset_of(p_.o, tokens.batch_row, tokens.begin + first + i, hv), 1, V_,
                          rows.row(i).data());
    }

    // First element of S[n, slot, hv] (64-bit arithmetic: banks exceed 2^31 elements).
    Index matrix_offset(Index n, Index slot, Index hv) const {
        return ((n * p_.slots() + slot) * p_.num_value_heads + hv) * K_ * V_;
    }

    // A K x V matrix from / into K * V elements in the bank's layout.
    Matrix from_layout(const double* stored) const {
        if (p_.layout == Layout::KV) return Eigen::Map<const RowMajorMatrix>(stored, K_, V_);
        return Eigen::Map<const Matrix>(stored, K_, V_);
    }
    void to_layout(const Matrix& state, double* stored) const {
        if (p_.layout == Layout::KV)
            Eigen::Map<RowMajorMatrix>(stored, K_, V_) = state;
        else
            Eigen::Map<Matrix>(stored, K_, V_) = state;
    }

    Matrix load_state(Index n, Index slot, Index hv) const {
        std::vector<double> stored(std::size_t(K_ * V_));
        load_doubles(p_.state, p_.state_storage, matrix_offset(n, slot, hv), K_ * V_, stored.data());  // exact
        return from_layout(stored.data());
    }

    // Rounded once to the bank's storage dtype (f64: not at all).
    void store_state(const Matrix& state, Index n, Index slot, Index hv) const {
        std::vector<double> stored(std::size_t(K_ * V_));
        to_layout(state, stored.data());
        store_doubles(p_.state, p_.state_storage, matrix_offset(n, slot, hv), 1, K_ * V_, stored.data());
    }

    // The state after m * C tokens of `row` (m >= 1), unrounded, at its place (chunked.hpp).
    void store_checkpoint(const Matrix& state, Index row, Index m, Index hv) const {
        const Index matrix = (checkpoint_first_[std::size_t(row)] + m - 1) * p_.num_value_heads + hv;
        to_layout(state, checkpoints_ + matrix * K_ * V_);
    }

    const Problem& p_;
    const Index chunk_;
    double* const checkpoints_;
    const std::vector<Index> checkpoint_first_;
    const Index K_, V_, group_;
    const double scale_;
};

}  // namespace

std::vector<std::int64_t> checkpoint_offsets(const Problem& problem, std::int64_t chunk_size) {
    require_chunk_size(chunk_size);
    std::vector<std::int64_t> first(std::size_t(problem.rows() + 1), 0);
    for (Index row = 0; row < problem.rows(); ++row)
        first[std::size_t(row + 1)] = first[std::size_t(row)] + row_tokens(problem, row).length() / chunk_size;
    return first;
}

void run_chunked(const Problem& problem, const ChunkedOptions& options) {
    // Everything is checked before anything is written.
    validate(problem, {.arrays_on_host = true, .allow_f64_storage = true});
    require_chunk_size(options.chunk_size);

    const ChunkedRun run(problem, options);
    run.zero_inactive_rows();
    const std::vector<std::pair<Index, Index>> heads = run.heads();
    const auto count = std::int64_t(heads.size());
    // Each (row, head) is independent and keeps its working storage local: the result is
    // bitwise the same for any thread count (oracle_threads.hpp sets it).
#pragma omp parallel for schedule(dynamic, 1) if (count > 1)
    for (std::int64_t i = 0; i < count; ++i) run.run_head(heads[std::size_t(i)].first, heads[std::size_t(i)].second);
}

}  // namespace gdr::reference
