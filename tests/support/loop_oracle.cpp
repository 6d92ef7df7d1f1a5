// The long-double loop oracle of loop_oracle.hpp (std and plain loops only, no reference/).
#include "support/loop_oracle.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace gdr::testing::loop_oracle {

long double round_to_format(long double x, DType dtype) {
    if (x == 0) return x;
    const int precision = dtype == DType::f16 ? 11 : dtype == DType::bf16 ? 8 : dtype == DType::f32 ? 24 : 53;
    const int min_exponent = dtype == DType::f16 ? -14 : dtype == DType::f64 ? -1022 : -126;
    const int e = std::max(int(std::ilogb(x)), min_exponent);
    const long double spacing = std::ldexp(1.0L, e - precision + 1);
    return std::nearbyint(x / spacing) * spacing;
}

RandomCase random_case(Random& r) {
    RandomCase c;
    c.K = r.in(1, 6), c.V = r.in(1, 7);
    if (c.K == c.V) c.V += 1;  // K != V always: a layout bug hides when K == V
    c.H = r.in(1, 2), c.HV = c.H * r.in(1, 2);
    c.layout = r.coin() ? Layout::KV : Layout::VK;
    c.varlen = r.in(0, 2) == 0;
    c.circular = r.coin();
    c.slots = c.circular ? r.in(1, 3) : r.in(1, 2);
    c.has_g = r.coin(), c.has_beta = r.coin(), c.l2norm = r.coin(), c.final_state = r.in(0, 4) != 0;
    if (r.coin()) c.scale = r.dyadic(16, 128, 6);
    c.input = r.coin() ? DType::f32 : DType::bf16;
    c.gate = r.coin() ? DType::f32 : c.input;
    const DType states[] = {DType::f32, DType::bf16, DType::f16};
    c.state_dtype = states[r.in(0, 2)];
    c.state_storage = r.coin() ? DType::f64 : c.state_dtype;
    if (c.varlen) {
        c.rows = r.in(1, 3);
        c.cu_i64 = r.coin();
        c.cu = {0};
        for (i64 i = 0; i < c.rows; ++i) c.cu.push_back(c.cu.back() + r.in(0, 3));
        c.B = 1, c.T = c.cu.back();
    } else {
        c.B = c.rows = r.in(1, 3);
        c.T = r.in(1, 4);
    }
    c.N = c.rows;
    if (r.coin()) {  // state_indices: a random distinct choice of entries, some rows inactive
        c.N = c.rows + r.in(0, 2);
        std::vector<i64> entries(c.N);
        for (i64 i = 0; i < c.N; ++i) entries[i] = i;
        std::shuffle(entries.begin(), entries.end(), r.rng);
        for (i64 i = 0; i < c.rows; ++i) c.indices.push_back(r.in(0, 4) == 0 ? (r.coin() ? -1 : c.N) : entries[i]);
    }
    if (c.circular)
        for (i64 i = 0; i < c.rows; ++i) c.cache.push_back(std::int32_t(r.in(0, 5) == 0 ? -1 : r.in(0, 9)));

    const i64 bt = c.B * c.T;
    for (i64 i = 0; i < bt * c.H * c.K; ++i)
        c.q.push_back(r.dyadic(-128, 127, 6)), c.k.push_back(r.dyadic(-128, 127, 6));
    for (i64 i = 0; i < bt * c.HV * c.V; ++i) c.v.push_back(r.dyadic(-128, 127, 6));
    for (i64 i = 0; i < bt * c.HV; ++i) c.g.push_back(-r.dyadic(0, 255, 8)), c.beta.push_back(r.dyadic(0, 256, 8));
    for (i64 i = 0; i < c.N * c.slots * c.HV * c.K * c.V; ++i) c.state.push_back(r.dyadic(-128, 127, 7));
    return c;
}

Expected recurrence_long_double(const RandomCase& c) {
    Expected e;
    e.o.assign(c.B * c.T * c.HV * c.V, std::numeric_limits<long double>::quiet_NaN());
    e.state.assign(c.state.begin(), c.state.end());
    const long double scale = c.scale ? *c.scale : 1.0L / std::sqrt((long double)c.K);
    for (i64 row = 0; row < c.rows; ++row) {
        const i64 b = c.varlen ? 0 : row;
        const i64 t0 = c.varlen ? c.cu[row] : 0, t1 = c.varlen ? c.cu[row + 1] : c.T;
        const bool index_ok = c.indices.empty() || (c.indices[row] >= 0 && c.indices[row] < c.N);
        const bool cache_ok = c.cache.empty() || c.cache[row] >= 0;
        if (!(index_ok && cache_ok)) {
            for (i64 t = t0; t < t1; ++t)
                for (i64 hv = 0; hv < c.HV; ++hv)
                    for (i64 j = 0; j < c.V; ++j) e.o[c.vo(b, t, hv, j)] = 0;
            continue;
        }
        const i64 n = c.indices.empty() ? row : c.indices[row];
        const i64 r = c.circular ? c.cache[row] % c.slots : 0;
        for (i64 hv = 0; hv < c.HV; ++hv) {
            const i64 head = hv / (c.HV / c.H);
            std::vector<long double> h(c.K * c.V), q(c.K), k(c.K), u(c.V);
            for (i64 kk = 0; kk < c.K; ++kk)
                for (i64 vv = 0; vv < c.V; ++vv) h[kk * c.V + vv] = e.state[c.s(n, r, hv, kk, vv)];
            for (i64 t = t0; t < t1; ++t) {
                const long double alpha = c.has_g ? std::exp((long double)c.g[c.gate_at(b, t, hv)]) : 1.0L;
                const long double beta = c.has_beta ? c.beta[c.gate_at(b, t, hv)] : 1.0L;
                long double qq = 0, kk2 = 0;
                for (i64 i = 0; i < c.K; ++i) {
                    q[i] = c.q[c.qk(b, t, head, i)], k[i] = c.k[c.qk(b, t, head, i)];
                    qq += q[i] * q[i], kk2 += k[i] * k[i];
                }
                for (i64 i = 0; i < c.K; ++i) {
                    if (c.l2norm) q[i] /= std::sqrt(qq + 1e-6L), k[i] /= std::sqrt(kk2 + 1e-6L);
                    q[i] *= scale;
                }
                for (auto& x : h) x *= alpha;
                for (i64 vv = 0; vv < c.V; ++vv) {
                    long double hk = 0;
                    for (i64 i = 0; i < c.K; ++i) hk += h[i * c.V + vv] * k[i];
                    u[vv] = beta * (c.v[c.vo(b, t, hv, vv)] - hk);
                }
                for (i64 i = 0; i < c.K; ++i)
                    for (i64 vv = 0; vv < c.V; ++vv) h[i * c.V + vv] += k[i] * u[vv];
                for (i64 vv = 0; vv < c.V; ++vv) {
                    long double hq = 0;
                    for (i64 i = 0; i < c.K; ++i) hq += h[i * c.V + vv] * q[i];
                    e.o[c.vo(b, t, hv, vv)] = hq;
                }
                if (c.circular && c.final_state) {
                    const i64 slot = (r + 1 + (t - t0)) % c.slots;
                    for (i64 i = 0; i < c.K; ++i)
                        for (i64 vv = 0; vv < c.V; ++vv) e.state[c.s(n, slot, hv, i, vv)] = h[i * c.V + vv];
                    if (t < t1 - 1 && c.state_dtype != DType::f32)
                        for (auto& x : h) x = round_to_format(x, c.state_dtype);
                }
            }
            if (!c.circular && c.final_state && t1 > t0)
                for (i64 i = 0; i < c.K; ++i)
                    for (i64 vv = 0; vv < c.V; ++vv) e.state[c.s(n, 0, hv, i, vv)] = h[i * c.V + vv];
        }
    }
    return e;
}

std::string describe(const RandomCase& c) {
    std::string s = "B=" + std::to_string(c.B) + " T=" + std::to_string(c.T) + " H=" + std::to_string(c.H) +
                    " HV=" + std::to_string(c.HV) + " K=" + std::to_string(c.K) + " V=" + std::to_string(c.V) +
                    " N=" + std::to_string(c.N) + " Slots=" + std::to_string(c.slots) +
                    " layout=" + std::string(gdr::to_string(c.layout)) +
                    " input=" + std::string(gdr::to_string(c.input)) + " gate=" + std::string(gdr::to_string(c.gate)) +
                    " state=" + std::string(gdr::to_string(c.state_dtype)) + "/" +
                    std::string(gdr::to_string(c.state_storage));
    s += std::string(c.varlen ? " varlen" : "") + (c.circular ? " circular" : "") + (c.has_g ? " g" : "") +
         (c.has_beta ? " beta" : "") + (c.l2norm ? " l2norm" : "") + (c.final_state ? " final_state" : "") +
         (c.indices.empty() ? "" : " indices") + (c.scale ? " scale" : "");
    return s;
}

}  // namespace gdr::testing::loop_oracle
