// The fused recurrent gated delta rule on the CPU, exactly as docs/SPEC.md "The recurrence"
// writes it. One instantiation per compute scalar: double (R64, the truth) and float
// (Rlp, the emulated kernel precision). Rounding happens only where docs/SPEC.md stores.
#include "gdr/reference/fused_recurrent.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <Eigen/Core>

#include "convert.hpp"
#include "gdr/reference/numeric.hpp"
#include "gdr/core/errors.hpp"

namespace gdr::reference {
namespace {

using Index = std::int64_t;
using detail::from_scalar;
using detail::to_scalar;
using detail::with_storage;

// Element offset of (b, t, head, 0) in a strided view (g and beta: of (b, t, head)).
Index offset_of(const TensorArg& a, Index b, Index t, Index head) {
    return b * a.stride[0] + t * a.stride[1] + head * a.stride[2];
}

template <class Scalar>
class FusedRecurrent {
    using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
    // h[k][v] as a K x V column-major matrix: column v (all k) is contiguous, which is
    // what the per-column sums over k below walk.
    using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
    // The bank's two layouts seen as K x V matrices: KV stores h[k][v] at [k][v]
    // (row-major K x V), VK stores it at [v][k] (column-major K x V).
    template <class S>
    using StoredKV = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    template <class S>
    using StoredVK = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

public:
    // `o_store`, `state_store`: the dtypes values round to when stored (the problem's
    // storage, or HeadResults' rule); `with_magnitudes`: whether the bounds are computed.
    FusedRecurrent(const Problem& problem, const OracleOptions& options, bool with_magnitudes, DType o_store,
                   DType state_store)
        : p_(problem),
          elementary_(options.elementary),
          resume_bank_(options.resume_bank),
          writes_every_token_(problem.circular() && problem.output_final_state &&
                              options.state_writes == StateWrites::every_token),
          order_(options.order),
          magnitudes_(options.magnitudes),
          with_magnitudes_(with_magnitudes),
          o_store_(o_store),
          state_store_(state_store),
          K_(problem.key_dim),
          V_(problem.value_dim),
          group_(problem.num_value_heads / problem.num_heads),
          scale_(static_cast<Scalar>(problem.effective_scale())),
          h_(K_, V_),
          q_(K_),
          k_(K_),
          v_(V_),
          o_(V_) {
        if (with_magnitudes_) {
            magnitude_h_.resize(K_, V_);
            magnitude_o_.resize(V_);
            flip_read_.resize(K_, V_);
            flip_h_.resize(K_, V_);
            flip_o_.resize(V_);
            decayed_.resize(K_);
            decayed_error_.resize(K_);
            step_error_.resize(K_);
        }
    }

    // The (row, value head) pairs whose recurrences the call runs. Each pair reads and
    // writes only its own o[row, :, hv] and bank matrices (active indices are distinct), so
    // the pairs may run in any order on any thread.
    std::vector<std::pair<Index, Index>> heads() const {
        std::vector<std::pair<Index, Index>> heads;
        for (Index row = 0; row < p_.rows(); ++row) {
            if (row_tokens(p_, row).length() == 0 || !row_is_active(p_, row)) continue;  // no recurrence
            for (Index hv = 0; hv < p_.num_value_heads; ++hv) heads.emplace_back(row, hv);
        }
        return heads;
    }

    // The inactive rows' outputs: o == 0 exactly; their bank entries are neither read nor written.
    void zero_inactive_rows() {
        for (Index row = 0; row < p_.rows(); ++row)
            if (!row_is_active(p_, row)) zero_output(row_tokens(p_, row));
    }

    // One active row and one value head: the whole recurrence over its tokens, stored in
    // the problem's o and bank, or in `head` (HeadResults) when given.
    void run_head(Index row, Index hv, const HeadResults* head = nullptr) {
        head_ = head;
        run_head(row, row_tokens(p_, row), hv);
        head_ = nullptr;
    }

    // HeadResults' W for `row`.
    Index written_matrices(Index row) const {
        if (!p_.output_final_state) return 0;
        return writes_every_token_ ? std::min(row_tokens(p_, row).length(), p_.slots()) : 1;
    }

private:
    void run_head(Index row, const RowTokens& tokens, Index hv) {
        const Index n = row_bank_entry(p_, row);
        const Index r = row_read_slot(p_, row);
        const Index slots = p_.slots();
        const Index head = hv / group_;  // q/k head of this value head
        const Index b = tokens.batch_row;
        const Index T = tokens.length();

        load_state(n, r, hv);
        if (with_magnitudes_) {  // the bank is an input, read exactly
            flip_read_.setZero();
            magnitude_read_ = h_.cwiseAbs();
        }
        for (Index t = 0; t < T; ++t) {
            const Index token = tokens.begin + t;
            const Scalar g = p_.g.present() ? load_gate(p_.g, b, token, hv) : Scalar(0);
            const Scalar alpha = p_.g.present() ? std::exp(g) : Scalar(1);
            // The kernel's relative errors of alpha, k and q (ElementaryErrors).
            // exp(-Inf) = 0 exactly in every math mode (a full reset): no error, and none of
            // Inf x 0 = NaN, which would leave every later bound of the head NaN (unjudged).
            alpha_error_ = p_.g.present() && !(std::isinf(g) && g < 0)
                               ? elementary_.alpha_base + elementary_.alpha_per_unit_g * std::abs(double(g))
                               : 0.0;
            qk_error_ = p_.use_qk_l2norm ? elementary_.l2norm : 0.0;
            const Scalar beta = p_.beta.present() ? load_gate(p_.beta, b, token, hv) : Scalar(1);
            load_qk(p_.q, b, token, head, q_);
            load_qk(p_.k, b, token, head, k_);
            q_ *= scale_;
            load_vector(p_.v, offset_of(p_.v, b, token, hv), v_);
            if (with_magnitudes_) {
                abs_q_ = q_.cwiseAbs();
                abs_k_ = k_.cwiseAbs();
            }

            // Columns of h are independent, so one pass per column does every step of
            // the token for it; the result is the same as doing each step over all of h.
            for (Index j = 0; j < V_; ++j) {
                auto hj = h_.col(j);
                hj *= alpha;                                      // h = alpha * h
                if (with_magnitudes_) record_magnitudes(j, alpha, beta);  // of the decayed h, before the update
                const Scalar u = beta * (v_[j] - sum_k(hj, k_));  // u[v] = beta (v[v] - sum_k h[k][v] k[k])
                hj += u * k_;                                     // h[k][v] += k[k] u[v]
                o_[j] = sum_k(hj, q_);                            // o[v] = sum_k h[k][v] q[k], with the new h
            }
            store_output(b, token, t, hv);

            if (writes_every_token_) {
                store_state(n, (r + 1 + t) % slots, hv, t % slots);
                // The next token starts from what a kernel would read back from the cache.
                if (t < T - 1 && resume_bank_) resume_from((r + 1 + t) % slots, n, hv);
                else if (t < T - 1 && p_.state_dtype != DType::f32) round_trip_state();
                else if (with_magnitudes_) carry_bounds();
            } else if (with_magnitudes_) {
                carry_bounds();  // no round trip: the next token reads the bounds carried
            }
        }
        // One write after the last token, with no round trip between tokens: slot 0, or on
        // the chunked path the slot the recurrence's last token writes.
        if (!writes_every_token_ && p_.output_final_state) store_state(n, p_.circular() ? (r + T) % slots : 0, hv, 0);
    }

    // sum_k a[k] b[k]. fp64: Eigen's vectorised order. fp32: strictly sequential in the
    // chosen direction (the least accurate common order; see ReductionOrder).
    template <class A, class B>
    Scalar sum_k(const A& a, const B& b) const {
        if constexpr (std::is_same_v<Scalar, double>) {
            return a.dot(b);
        } else {
            Scalar acc(0);
            if (order_ == ReductionOrder::forward)
                for (Index i = 0; i < K_; ++i) acc += a[i] * b[i];
            else
                for (Index i = K_ - 1; i >= 0; --i) acc += a[i] * b[i];
            return acc;
        }
    }

    // The token's step for column j in absolute values, from the decayed h: the terms of
    // u = beta (v - h^T k), then of h + k u, then of o = h^T q (q carries the scale).
    void record_magnitudes(Index j, Scalar alpha, Scalar beta) {
        // |alpha| x the carried magnitude of h (|h| where it was read exactly): errors carried
        // from earlier tokens scale with their terms, not with a small h they cancelled to.
        Vector& decayed = decayed_;
        decayed.noalias() = std::abs(alpha) * magnitude_read_.col(j);
        const Scalar u_terms = std::abs(v_[j]) + decayed.dot(abs_k_);
        magnitude_h_.col(j) = decayed + (std::abs(beta) * u_terms) * abs_k_;
        magnitude_o_[j] = magnitude_h_.col(j).dot(abs_q_);

        // First-order propagation of the bound w on the h read (flip_read_) and of the
        // relative errors of alpha (ea), k (ek) and q (eq) through the step, in absolute
        // values: d = |alpha| w + ea |alpha h| is the decayed h's; h^T k then errs by
        // d.|k| + ek |alpha h|.|k|, u by |beta| times that, h + k u by d + |k| (that +
        // ek |u|), o = h^T q by its .|q| + eq sum |h||q|; |u| and sum |h||q| by their terms.
        const auto w = flip_read_.col(j);
        const double a = std::abs(double(alpha)), b = std::abs(double(beta));
        const double ea = alpha_error_, ek = qk_error_, eq = qk_error_;
        const auto k_abs = abs_k_.template cast<double>();
        Eigen::VectorXd& d = decayed_error_;  // working storage: no allocation per column
        d.noalias() = a * w.template cast<double>() + ea * decayed.template cast<double>();
        const double u_error = b * (d.dot(k_abs) + ek * double(decayed.dot(abs_k_)));
        Eigen::VectorXd& h_error = step_error_;
        h_error.noalias() = d + (u_error + ek * b * double(u_terms)) * k_abs;
        flip_h_.col(j) = h_error.template cast<Scalar>();
        flip_o_[j] = Scalar(h_error.dot(abs_q_.template cast<double>()) + eq * double(magnitude_o_[j]));
    }

    // `a` with its data replaced by an f64 array of the same element offsets.
    static TensorArg as_f64(TensorArg a, double* data) {
        a.data = data;
        a.dtype = DType::f64;
        return a;
    }

    // q or k of one token and head, l2-normalised in Scalar if asked.
    void load_qk(const TensorArg& a, Index b, Index token, Index head, Vector& out) const {
        load_vector(a, offset_of(a, b, token, head), out);
        if (p_.use_qk_l2norm) out /= std::sqrt(out.squaredNorm() + Scalar(1e-6));
    }

    Scalar load_gate(const TensorArg& a, Index b, Index token, Index hv) const {
        return with_storage(a.dtype, [&]<class S>(S) {
            return to_scalar<Scalar>(static_cast<const S*>(a.data)[offset_of(a, b, token, hv)]);
        });
    }

    // The innermost stride of q, k, v, o is 1 (validate() checks it), so a slice along
    // the last dimension is contiguous.
    static void load_vector(const TensorArg& a, Index offset, Vector& out) {
        with_storage(a.dtype, [&]<class S>(S) {
            const S* in = static_cast<const S*>(a.data) + offset;
            for (Index i = 0; i < out.size(); ++i) out[i] = to_scalar<Scalar>(in[i]);
        });
    }

    static void store_vector(const TensorArg& a, Index offset, const Vector& x) {
        with_storage(a.dtype, [&]<class S>(S) {
            S* out = static_cast<S*>(a.data) + offset;
            for (Index i = 0; i < x.size(); ++i) out[i] = from_scalar<S>(x[i]);  // one rounding
        });
    }

    // x rounded once to `rounding`'s dtype, held as double (HeadResults).
    static void store_widened(const Vector& x, DType rounding, double* out) {
        with_storage(rounding, [&]<class S>(S) {
            for (Index i = 0; i < x.size(); ++i) out[i] = to_scalar<double>(from_scalar<S>(x[i]));
        });
    }

    // o[b, token, hv] (token t of the row) and its bounds.
    void store_output(Index b, Index token, Index t, Index hv) {
        if (head_) {
            const Index at = t * V_;
            if (head_->o) store_widened(o_, o_store_, head_->o + at);
            if (!with_magnitudes_) return;
            if (head_->o_magnitude) store_widened(magnitude_o_, DType::f64, head_->o_magnitude + at);
            if (head_->o_flip) store_widened(flip_o_, DType::f64, head_->o_flip + at);
            return;
        }
        const Index at = offset_of(p_.o, b, token, hv);
        store_vector(p_.o, at, o_);
        if (magnitudes_.o) store_vector(as_f64(p_.o, magnitudes_.o), at, magnitude_o_);
        if (magnitudes_.o_flip) store_vector(as_f64(p_.o, magnitudes_.o_flip), at, flip_o_);
    }

    void zero_output(const RowTokens& tokens) {
        o_.setZero();
        for (Index token = tokens.begin; token < tokens.end; ++token)
            for (Index hv = 0; hv < p_.num_value_heads; ++hv)
                store_vector(p_.o, offset_of(p_.o, tokens.batch_row, token, hv), o_);
    }

    // First element of S[n, slot, hv] (64-bit arithmetic: banks exceed 2^31 elements).
    Index matrix_offset(Index n, Index slot, Index hv) const {
        return ((n * p_.slots() + slot) * p_.num_value_heads + hv) * K_ * V_;
    }

    // Layout KV is a transpose of h_'s column-major order: copy it in square tiles so that
    // both sides of the copy stay in L1.
    template <class F>
    void for_tiles(F&& copy) const {
        constexpr Index tile = 32;
        for (Index v0 = 0; v0 < V_; v0 += tile)
            for (Index k0 = 0; k0 < K_; k0 += tile) copy(k0, v0, std::min(tile, K_ - k0), std::min(tile, V_ - v0));
    }

    void load_state(Index n, Index slot, Index hv) { load_matrix(p_.state, p_.state_storage, n, slot, hv); }

    // h = the slot `slot` of the resume bank: what the subject stored, read exactly.
    void resume_from(Index slot, Index n, Index hv) {
        load_matrix(resume_bank_, p_.state_dtype, n, slot, hv);
        if (with_magnitudes_) {
            flip_read_.setZero();
            magnitude_read_ = h_.cwiseAbs();
        }
    }

    void carry_bounds() {
        flip_read_ = flip_h_;
        magnitude_read_ = magnitude_h_;
    }

    void load_matrix(const void* bank, DType storage, Index n, Index slot, Index hv) {
        with_storage(storage, [&]<class S>(S) {
            const S* m = static_cast<const S*>(bank) + matrix_offset(n, slot, hv);
            const auto widen = [](S x) { return to_scalar<Scalar>(x); };
            if (p_.layout == Layout::KV) {
                const Eigen::Map<const StoredKV<S>> stored(m, K_, V_);
                for_tiles([&](Index k0, Index v0, Index nk, Index nv) {
                    h_.block(k0, v0, nk, nv) = stored.block(k0, v0, nk, nv).unaryExpr(widen);
                });
            } else {
                h_ = Eigen::Map<const StoredVK<S>>(m, K_, V_).unaryExpr(widen);
            }
        });
    }

    // S[n, slot, hv] (matrix `written` of HeadResults' state) and its bounds.
    void store_state(Index n, Index slot, Index hv, Index written) const {
        if (head_) {
            const Index at = written * K_ * V_;
            if (head_->state) store_matrix_widened(h_, state_store_, head_->state + at);
            if (!with_magnitudes_) return;
            if (head_->state_magnitude) store_matrix_widened(magnitude_h_, DType::f64, head_->state_magnitude + at);
            if (head_->state_flip) store_matrix_widened(flip_h_, DType::f64, head_->state_flip + at);
            return;
        }
        store_matrix(h_, p_.state, p_.state_storage, n, slot, hv);
        if (magnitudes_.state) store_matrix(magnitude_h_, magnitudes_.state, DType::f64, n, slot, hv);
        if (magnitudes_.state_flip) store_matrix(flip_h_, magnitudes_.state_flip, DType::f64, n, slot, hv);
    }

    // h into the K x V matrix at `m`, in the bank's layout, each element through `convert`.
    template <class D, class Convert>
    void write_in_layout(const Matrix& h, D* m, Convert convert) const {
        if (p_.layout == Layout::KV) {
            Eigen::Map<StoredKV<D>> stored(m, K_, V_);
            for_tiles([&](Index k0, Index v0, Index nk, Index nv) {
                stored.block(k0, v0, nk, nv) = h.block(k0, v0, nk, nv).unaryExpr(convert);
            });
        } else {
            Eigen::Map<StoredVK<D>>(m, K_, V_) = h.unaryExpr(convert);
        }
    }

    void store_matrix(const Matrix& h, void* bank, DType storage, Index n, Index slot, Index hv) const {
        with_storage(storage, [&]<class S>(S) {
            write_in_layout(h, static_cast<S*>(bank) + matrix_offset(n, slot, hv),
                            [](Scalar x) { return from_scalar<S>(x); });  // one rounding
        });
    }

    // h rounded once to `rounding`'s dtype, held as double (HeadResults).
    void store_matrix_widened(const Matrix& h, DType rounding, double* m) const {
        with_storage(rounding, [&]<class S>(S) {
            write_in_layout(h, m, [](Scalar x) { return to_scalar<double>(from_scalar<S>(x)); });
        });
    }

    // h = float(round_to_state_dtype(h)): always the semantic state dtype, even when the
    // truth run stores its bank as f64, so that R64 follows the same recurrence.
    void round_trip_state() {
        if (with_magnitudes_) unrounded_ = h_;
        with_storage(p_.state_dtype, [&]<class S>(S) {
            h_ = h_.unaryExpr([](Scalar x) { return to_scalar<Scalar>(from_scalar<S>(x)); });
        });
        if (with_magnitudes_) {
            flip_read_ = flips_of_round_trip(unrounded_);
            magnitude_read_ = h_.cwiseAbs();  // a value read back exactly, or a flip in flip_read_
        }
    }

    // The bound on what the next token reads after the round trip (see Magnitudes): a legal
    // kernel's value lies within the carried bound plus gamma_(K+4) x the step's magnitude
    // of R64's unrounded x; where that interval rounds to one value the kernel read R64's
    // exactly (0), else at most the distance to the farthest rounded end; Inf where an end
    // (or R64's own value) overflows.
    Matrix flips_of_round_trip(const Matrix& unrounded) const {
        const double gamma = double(K_ + 4) * unit_roundoff(DType::f32);
        Matrix read(K_, V_);
        for (Index j = 0; j < V_; ++j)
            for (Index i = 0; i < K_; ++i) {
                const double x = double(unrounded(i, j)), stored = double(h_(i, j));
                const double reach = double(flip_h_(i, j)) + gamma * double(magnitude_h_(i, j));
                const double lo = round_to(p_.state_dtype, x - reach), hi = round_to(p_.state_dtype, x + reach);
                const bool overflow = !std::isfinite(lo) || !std::isfinite(hi) || !std::isfinite(stored);
                const double bound = overflow ? std::numeric_limits<double>::infinity()
                                              : std::max(std::abs(hi - stored), std::abs(stored - lo));
                read(i, j) = Scalar(lo == hi && !overflow ? 0.0 : bound);
            }
        return read;
    }

    const Problem& p_;
    const ElementaryErrors elementary_;
    const void* const resume_bank_;
    const bool writes_every_token_;  // circular, written, StateWrites::every_token
    const ReductionOrder order_;
    const Magnitudes magnitudes_;
    const bool with_magnitudes_;
    const DType o_store_, state_store_;
    const HeadResults* head_ = nullptr;  // run_head's destination when not the problem's arrays
    const Index K_, V_, group_;
    const Scalar scale_;
    // Working storage, allocated once per call; the token loop allocates nothing.
    Matrix h_, magnitude_h_, flip_read_, flip_h_, unrounded_, magnitude_read_;
    Vector q_, k_, v_, o_, abs_q_, abs_k_, magnitude_o_, flip_o_, decayed_;
    Eigen::VectorXd decayed_error_, step_error_;
    double alpha_error_ = 0, qk_error_ = 0;  // this token's, from elementary_
};

// The (row, head) recurrences on every thread OpenMP gives this caller (oracle_threads.hpp),
// each thread with its own working storage; the result is bitwise the same for any count.
template <class Scalar>
void run_in_parallel(const Problem& problem, const OracleOptions& options) {
    const Magnitudes& m = options.magnitudes;
    const auto make = [&] {
        return FusedRecurrent<Scalar>(problem, options, m.o || m.state || m.o_flip || m.state_flip, problem.o.dtype,
                                      problem.state_storage);
    };
    FusedRecurrent<Scalar> first = make();
    first.zero_inactive_rows();
    const std::vector<std::pair<Index, Index>> heads = first.heads();
    const auto count = std::int64_t(heads.size());
#pragma omp parallel if (count > 1)
    {
        FusedRecurrent<Scalar> recurrence = make();
#pragma omp for schedule(dynamic, 1)
        for (std::int64_t i = 0; i < count; ++i) recurrence.run_head(heads[std::size_t(i)].first, heads[std::size_t(i)].second);
    }
}

}  // namespace

// Everything is checked before anything is written; only the truth run may keep o and
// the bank in f64 (the emulated run must store exactly what a kernel stores).
void validate_run(const Problem& problem, const OracleOptions& options, bool with_magnitudes) {
    const bool truth = options.precision == Precision::truth_fp64;
    if (with_magnitudes && !truth) throw InvalidArgument("magnitudes", "only the truth run (R64) computes magnitudes");
    validate(problem, {.arrays_on_host = true, .allow_f64_storage = truth});
    if (options.resume_bank && !(problem.circular() && problem.output_final_state))
        throw InvalidArgument("resume_bank", "resuming from a subject's slots needs circular mode with output_final_state");
    if (options.resume_bank && options.state_writes != StateWrites::every_token)
        throw InvalidArgument("resume_bank", "resuming from a subject's slots needs the state of every token written");
}

void run_fused_recurrent(const Problem& problem, const OracleOptions& options) {
    const Magnitudes& m = options.magnitudes;
    validate_run(problem, options, m.o || m.state || m.o_flip || m.state_flip);
    if (options.precision == Precision::truth_fp64)
        run_in_parallel<double>(problem, options);
    else
        run_in_parallel<float>(problem, options);
}

struct HeadRecurrence::Impl {
    Problem problem;  // the recurrence keeps a reference to it
    std::variant<FusedRecurrent<double>, FusedRecurrent<float>> recurrence;

    static std::variant<FusedRecurrent<double>, FusedRecurrent<float>> make(const Problem& p, const OracleOptions& o,
                                                                              bool bounds) {
        if (o.precision == Precision::truth_fp64) return FusedRecurrent<double>(p, o, bounds, DType::f64, DType::f64);
        return FusedRecurrent<float>(p, o, bounds, p.input_dtype, p.state_dtype);
    }
    Impl(const Problem& p, const OracleOptions& o, bool bounds) : problem(p), recurrence(make(problem, o, bounds)) {}
};

HeadRecurrence::HeadRecurrence(const Problem& problem, const OracleOptions& options, bool bounds) {
    const Magnitudes& m = options.magnitudes;
    if (m.o || m.state || m.o_flip || m.state_flip)
        throw InvalidArgument("magnitudes", "a head run writes its bounds to HeadResults, not to Magnitudes");
    validate_run(problem, options, bounds);
    impl_ = std::make_unique<Impl>(problem, options, bounds);
}

HeadRecurrence::~HeadRecurrence() = default;
HeadRecurrence::HeadRecurrence(HeadRecurrence&&) noexcept = default;
HeadRecurrence& HeadRecurrence::operator=(HeadRecurrence&&) noexcept = default;

std::vector<std::pair<std::int64_t, std::int64_t>> HeadRecurrence::heads() const {
    return std::visit([](const auto& r) { return r.heads(); }, impl_->recurrence);
}

std::int64_t HeadRecurrence::written_matrices(std::int64_t row) const {
    return std::visit([&](const auto& r) { return r.written_matrices(row); }, impl_->recurrence);
}

void HeadRecurrence::run(std::int64_t row, std::int64_t hv, const HeadResults& out) {
    std::visit([&](auto& r) { r.run_head(row, hv, &out); }, impl_->recurrence);
}

}  // namespace gdr::reference
