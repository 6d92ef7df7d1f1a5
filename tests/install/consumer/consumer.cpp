// What a user of the installed package writes: fill a gdr::Problem, run the oracle on host
// buffers, and (CUDA packages) run the decode kernel on the same values on the device and
// compare. Exits 0 when the oracle ran and, where a device exists, the kernel agreed.
#include <cmath>
#include <cstdio>
#include <vector>

#include "gdr/core/problem.hpp"
#include "gdr/reference/fused_recurrent.hpp"
#ifdef CONSUMER_HAS_CUDA
#include <cuda_runtime_api.h>

#include "gdr/cuda/decode.hpp"
#endif

namespace {

constexpr int B = 2, T = 1, H = 1, HV = 2, K = 8, V = 4;

// A decode call on f32 buffers, row b using bank entry b (no state_indices).
gdr::Problem make_problem(float* q, float* k, float* v, float* o, float* state) {
    gdr::Problem p;
    p.batch = B;
    p.seq_len = T;
    p.num_heads = H;
    p.num_value_heads = HV;
    p.key_dim = K;
    p.value_dim = V;
    p.q = {q, gdr::DType::f32, {T * H * K, H * K, K, 1}};
    p.k = {k, gdr::DType::f32, {T * H * K, H * K, K, 1}};
    p.v = {v, gdr::DType::f32, {T * HV * V, HV * V, V, 1}};
    p.o = {o, gdr::DType::f32, {T * HV * V, HV * V, V, 1}};
    p.state = state;
    p.state_shape = {B, 1, HV, K, V};
    return p;
}

}  // namespace

int main() {
    std::vector<float> q(B * T * H * K), k(q.size()), v(B * T * HV * V), o(v.size()), state(B * HV * K * V);
    for (std::size_t i = 0; i < q.size(); ++i) q[i] = std::sin(float(i)), k[i] = std::cos(float(i));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.25f * float(i % 7);
    for (std::size_t i = 0; i < state.size(); ++i) state[i] = 0.01f * float(i % 13);
    const std::vector<float> initial_state = state;

    gdr::reference::run_fused_recurrent(make_problem(q.data(), k.data(), v.data(), o.data(), state.data()),
                                        {gdr::reference::Precision::emulated_fp32});
    std::printf("oracle: o[0] = %g, state[0] = %g\n", o[0], state[0]);

#ifdef CONSUMER_HAS_CUDA
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        std::printf("decode kernel linked; no CUDA device here, not run\n");
        return 0;
    }
    float *dq, *dk, *dv, *dO, *ds;
    const auto upload = [](float** device, const std::vector<float>& host) {
        cudaMalloc(reinterpret_cast<void**>(device), host.size() * sizeof(float));
        cudaMemcpy(*device, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice);
    };
    upload(&dq, q), upload(&dk, k), upload(&dv, v), upload(&dO, o), upload(&ds, initial_state);
    gdr::cuda::fused_recurrent_decode(make_problem(dq, dk, dv, dO, ds));
    std::vector<float> o_kernel(o.size()), state_kernel(state.size());
    cudaMemcpy(o_kernel.data(), dO, o.size() * sizeof(float), cudaMemcpyDeviceToHost);
    cudaMemcpy(state_kernel.data(), ds, state.size() * sizeof(float), cudaMemcpyDeviceToHost);
    double worst = 0;
    for (std::size_t i = 0; i < o.size(); ++i) worst = std::fmax(worst, std::fabs(o[i] - o_kernel[i]));
    for (std::size_t i = 0; i < state.size(); ++i) worst = std::fmax(worst, std::fabs(state[i] - state_kernel[i]));
    std::printf("decode kernel vs oracle: max |difference| = %g\n", worst);
    return worst < 1e-4 ? 0 : 1;
#else
    return 0;
#endif
}
