// A CPU subject with another token prologue than the oracle's: the correct CPU stand-in run
// on inputs that carry the prologue's results, so that a kernel's elementary functions
// (expf's 2 ulp, reciprocal-then-multiply), and bugs in them (a dropped epsilon, a skipped
// l2norm, a fast exp), can be judged on any machine. f32 q, k and g only (the prepared
// values must be stored exactly).
#pragma once

#include <cmath>
#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

#include "gdr/harness/subject.hpp"
#include "support/builtin_subjects.hpp"

namespace gdr::testing {

struct Prologue {
    // The l2 normalisation of one q or k row (x of K elements, in place), when use_qk_l2norm
    // is on; empty: leave l2norm to the stand-in (the oracle's x / sqrt(s + 1e-6)).
    std::function<void(float* x, std::int64_t K)> l2norm;
    // alpha = exp(g) as the kernel computes it; empty: the oracle's std::exp.
    std::function<float(float g)> decay;
    harness::MathMode math = harness::MathMode::precise;  // what the subject declares
};

// The kernel's x * (1 / sqrtf(s + eps)) (token_inputs.cuh), with `epsilon`.
inline std::function<void(float*, std::int64_t)> reciprocal_then_multiply(float epsilon = 1e-6f) {
    return [epsilon](float* x, std::int64_t K) {
        float squares = 0;
        for (std::int64_t i = 0; i < K; ++i) squares += x[i] * x[i];
        const float inverse = 1.0f / std::sqrt(squares + epsilon);
        for (std::int64_t i = 0; i < K; ++i) x[i] *= inverse;
    };
}

// std::exp(g) moved by `ulps` units in the last place (towards 0 for negative ulps).
inline std::function<float(float)> exp_off_by(std::function<int(float g)> ulps) {
    return [ulps](float g) {
        float alpha = std::exp(g);
        const int n = ulps(g);
        for (int i = 0; i < std::abs(n); ++i) alpha = std::nextafter(alpha, n > 0 ? INFINITY : 0.0f);
        return alpha;
    };
}

class PrologueSubject final : public harness::Subject {
public:
    explicit PrologueSubject(Prologue prologue) : inner_(cpu_stand_in()), prologue_(std::move(prologue)) {}
    std::string name() const override { return "cpu-emulated-reversed"; }  // its tolerance rows
    std::string description() const override { return "the CPU stand-in with another token prologue"; }
    std::optional<std::string> unavailable_reason() const override { return std::nullopt; }
    harness::MathMode math_mode() const override { return prologue_.math; }

    harness::SubjectRunResult run(const Problem& problem) override {
        Problem p = problem;
        std::vector<float> q, k, g;
        if (prologue_.l2norm && p.use_qk_l2norm) {
            q = rows_normalised(p, p.q);
            k = rows_normalised(p, p.k);
            p.q.data = q.data();
            p.k.data = k.data();
            p.use_qk_l2norm = false;
        }
        if (prologue_.decay && p.g.present()) {
            // The stand-in takes exp of what it reads: store log(alpha) exactly where a float
            // g' with std::exp(g') == alpha exists, else the nearest such g'.
            g = copy_of(p.g, {p.batch, p.seq_len, p.num_value_heads, 1});
            for (std::int64_t b = 0; b < p.batch; ++b)
                for (std::int64_t t = 0; t < p.seq_len; ++t)
                    for (std::int64_t hv = 0; hv < p.num_value_heads; ++hv) {
                        float& x = g[std::size_t(b * p.g.stride[0] + t * p.g.stride[1] + hv * p.g.stride[2])];
                        x = gate_for(prologue_.decay(x), x);
                    }
            p.g.data = g.data();
        }
        return inner_->run(p);
    }

private:
    static std::vector<float> copy_of(const TensorArg& a, std::array<std::int64_t, 4> extent) {
        if (a.dtype != DType::f32) throw std::invalid_argument("PrologueSubject: f32 inputs only");
        std::int64_t last = 0;
        for (int d = 0; d < 4; ++d) last += (extent[d] - 1) * a.stride[d];
        const auto* data = static_cast<const float*>(a.data);
        return std::vector<float>(data, data + last + 1);
    }

    std::vector<float> rows_normalised(const Problem& p, const TensorArg& a) const {
        std::vector<float> x = copy_of(a, {p.batch, p.seq_len, p.num_heads, p.key_dim});
        for (std::int64_t b = 0; b < p.batch; ++b)
            for (std::int64_t t = 0; t < p.seq_len; ++t)
                for (std::int64_t h = 0; h < p.num_heads; ++h)
                    prologue_.l2norm(x.data() + b * a.stride[0] + t * a.stride[1] + h * a.stride[2], p.key_dim);
        return x;
    }

    // The float g' nearest `g` whose std::exp is closest to `alpha`.
    static float gate_for(float alpha, float g) {
        float best = g;
        for (float x = g, steps = 0; steps < 256; ++steps, x = std::nextafter(x, alpha > std::exp(g) ? INFINITY : -INFINITY))
            if (std::abs(std::exp(x) - alpha) < std::abs(std::exp(best) - alpha)) best = x;
        return best;
    }

    std::unique_ptr<harness::Subject> inner_;
    Prologue prologue_;
};

}  // namespace gdr::testing
