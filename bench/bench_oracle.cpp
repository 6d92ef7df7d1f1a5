// Throughput of the Eigen oracle (reference/fused_recurrent.hpp) on a serving decode
// shape: B = 64, H = 16, HV = 32, K = V = 128, bf16 q/k/v/o, f32 g and beta, f32
// state, with g, beta and l2norm; T = 1 (both layouts) and a T = 4 circular call with
// Slots = 4. R64 runs as the harness runs the truth (o and the bank stored as f64); Rlp
// stores the kernel dtypes.
//
// Counters: GFLOP/s counts 7 K V flops per token per value head: the decay h *= alpha
// (K V), h^T k (2 K V), the rank-1 update h += k u^T (2 K V) and o = h^T q (2 K V); the
// O(K + V) work (l2norm, u) is left out. bytes_per_second counts what a kernel would
// move: the state read once and written once per written slot, plus q, k, v, o, g and
// beta once.
#include <benchmark/benchmark.h>

#include <Eigen/Core>

#include <cstdint>
#include <random>
#include <vector>

#include "gdr/core/dtype.hpp"
#include "gdr/core/problem.hpp"
#include "gdr/reference/fused_recurrent.hpp"
#include "gdr/reference/oracle_threads.hpp"

namespace {

using gdr::DType;
using gdr::reference::Precision;
using i64 = std::int64_t;

constexpr i64 B = 64, H = 16, HV = 32, K = 128, V = 128;

template <class T>
std::vector<T> random_values(i64 count, float lo, float hi, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<T> out(count);
    for (auto& x : out) x = T(u(rng));
    return out;
}

struct Workload {
    std::vector<Eigen::bfloat16> q, k, v, o_bf16;
    std::vector<double> o_f64, bank_f64;
    std::vector<float> g, beta, bank_f32;
    std::vector<std::int32_t> cache;
    gdr::Problem p;
    double bytes_per_call = 0;
    double flops_per_call = 0;

    Workload(Precision precision, i64 T, gdr::Layout layout) {
        const bool truth = precision == Precision::truth_fp64;
        const bool circular = T > 1;
        const i64 slots = circular ? T : 1;  // the production case: Slots == T
        std::mt19937 rng(42);
        q = random_values<Eigen::bfloat16>(B * T * H * K, -1, 1, rng);
        k = random_values<Eigen::bfloat16>(B * T * H * K, -1, 1, rng);
        v = random_values<Eigen::bfloat16>(B * T * HV * V, -1, 1, rng);
        g = random_values<float>(B * T * HV, -0.5f, 0.0f, rng);
        beta = random_values<float>(B * T * HV, 0.0f, 1.0f, rng);
        const i64 bank_elements = B * slots * HV * K * V;
        if (truth) {
            o_f64.resize(B * T * HV * V);
            bank_f64 = random_values<double>(bank_elements, -1, 1, rng);
        } else {
            o_bf16.resize(B * T * HV * V);
            bank_f32 = random_values<float>(bank_elements, -1, 1, rng);
        }
        for (i64 b = 0; b < B; ++b) cache.push_back(std::int32_t(b % 7));

        p.batch = B, p.seq_len = T, p.num_heads = H, p.num_value_heads = HV, p.key_dim = K, p.value_dim = V;
        p.layout = layout;
        p.input_dtype = DType::bf16, p.gate_dtype = DType::f32, p.state_dtype = DType::f32;
        p.state_storage = truth ? DType::f64 : DType::f32;
        p.q = {q.data(), DType::bf16, {T * H * K, H * K, K, 1}};
        p.k = {k.data(), DType::bf16, {T * H * K, H * K, K, 1}};
        p.v = {v.data(), DType::bf16, {T * HV * V, HV * V, V, 1}};
        p.o = {truth ? static_cast<void*>(o_f64.data()) : static_cast<void*>(o_bf16.data()),
               truth ? DType::f64 : DType::bf16, {T * HV * V, HV * V, V, 1}};
        p.g = {g.data(), DType::f32, {T * HV, HV, 1, 0}};
        p.beta = {beta.data(), DType::f32, {T * HV, HV, 1, 0}};
        p.state = truth ? static_cast<void*>(bank_f64.data()) : static_cast<void*>(bank_f32.data());
        p.state_shape = {B, slots, HV, layout == gdr::Layout::KV ? K : V, layout == gdr::Layout::KV ? V : K};
        if (circular) p.cache_seqlens = cache.data();
        p.use_qk_l2norm = true;

        const double state_bytes = double(B * HV * K * V) * double(gdr::dtype_size(p.state_storage));
        const double written_slots = circular ? double(T) : 1.0;
        bytes_per_call = state_bytes * (1.0 + written_slots) +
                         double(B * T) * (2.0 * H * K * 2 + HV * V * 2 + HV * V * double(gdr::dtype_size(p.o.dtype)) +
                                          2.0 * HV * 4);
        flops_per_call = 7.0 * double(K * V) * double(B * T * HV);
    }
};

void bench_oracle(benchmark::State& state, Precision precision, i64 T, gdr::Layout layout) {
    // One thread: the per-core rate, what a campaign worker gets (the oracle spreads over
    // every core by default; reference/oracle_threads.hpp).
    gdr::reference::set_oracle_threads(1);
    Workload w(precision, T, layout);
    const gdr::reference::OracleOptions options{precision, gdr::reference::ReductionOrder::forward};
    for (auto _ : state) {
        gdr::reference::run_fused_recurrent(w.p, options);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(i64(double(state.iterations()) * w.bytes_per_call));
    state.counters["GFLOP/s"] =
        benchmark::Counter(w.flops_per_call * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["tokens/s"] = benchmark::Counter(double(B * T), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK_CAPTURE(bench_oracle, R64_T1_kv, Precision::truth_fp64, 1, gdr::Layout::KV)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bench_oracle, R64_T1_vk, Precision::truth_fp64, 1, gdr::Layout::VK)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bench_oracle, R64_T4_circular_kv, Precision::truth_fp64, 4, gdr::Layout::KV)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bench_oracle, Rlp_T1_kv, Precision::emulated_fp32, 1, gdr::Layout::KV)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bench_oracle, Rlp_T1_vk, Precision::emulated_fp32, 1, gdr::Layout::VK)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bench_oracle, Rlp_T4_circular_kv, Precision::emulated_fp32, 4, gdr::Layout::KV)
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
