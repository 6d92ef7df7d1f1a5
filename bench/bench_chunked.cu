// bench_chunked: the CUDA chunked prefill kernel (gdr::cuda::chunked_prefill) at Qwen3-Next
// shapes, as a serving engine calls it for one layer's prefill: a varlen batch of N
// sequences of L tokens each (cu_seqlens, int32), the initial states read from a bank
// through state_indices (int64) and the final states written back in place.
//
// Reported per case: milliseconds per call, Mtok/s (N L tokens over that time) and TFLOP/s
// by the chunked algorithm's own FLOP count (chunked_flops below). The peer, fla's
// chunk_gated_delta_rule, is timed the same way by bench/peers/fla_chunk.py over the same
// cases (bench/peers/README.md, "Chunked prefill").
//
// Timing (bench/NOTES.md's method): inputs and bank hold random values (never zeros);
// warm-up first; CUDA events around L back-to-back calls (L sized to about --target-ms),
// median of --repeats. Calls rotate through input sets, each with its own tensors and its
// own bank entries, so that one pass touches more than 2x L2; prefill cases are large, so
// the default cases need one set.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "gdr/core/dtype.hpp"
#include "gdr/core/problem.hpp"
#include "gdr/cuda/chunked_prefill.hpp"
#include "gdr/cuda/device.hpp"
#include "common/csv_file.hpp"
#include "common/bench_problem.hpp"
#include "common/device_arena.hpp"
#include "common/device_fill.cuh"
#include "common/event_timing.hpp"
#include "common/gpu_description.hpp"
#include "common/l2_rotation.hpp"

namespace {

using gdr::DType;
using gdr::Layout;
using gdr::bench::Arena;
using gdr::bench::EventPair;
using gdr::bench::fill_uniform;
using gdr::bench::PerCallTiming;
using gdr::cuda::check;
using i64 = std::int64_t;

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr DType kInputDtype = DType::bf16;  // q, k, v, o
constexpr DType kGateDtype = DType::f32;    // g, beta
constexpr i64 kH = 16, kHV = 32, kK = 128, kV = 128;  // Qwen3-Next's gated delta rule layers
constexpr gdr::bench::HeadShape kHeads{kH, kHV, kK, kV};
constexpr std::size_t kReserveBytes = std::size_t(kGiB);  // the runtime's and the driver's own needs

// Value ranges, the same in bench/peers/fla_chunk.py. q and k are l2-normalised in the
// kernel, so their scale is immaterial; g is a log decay (alpha = exp(g) in (0.82, 0.995),
// a chunk of 64 decays by at most exp(-12.8)); beta in (0, 1): the state stays bounded.
constexpr gdr::bench::ValueRanges kRanges{-0.1f, 0.1f, -1.0f, 1.0f, -0.2f, -0.005f, 0.05f, 1.0f};
constexpr float kStateRange = 0.5f;

// ---------------------------------------------------------------------------------------
// Options and cases

struct Options {
    std::string csv_path;
    std::vector<std::string> seqs{"1x8192", "4x8192", "32x8192", "64x256", "1x32768"};
    std::vector<std::string> layouts{"kv", "vk"};
    std::vector<std::string> state_dtypes{"f32"};
    int repeats = 9;
    double target_ms = 20.0;  // device time per timed repeat
    i64 max_sets = 64;
    std::uint64_t seed = 1234;
    int device = 0;
    bool dry_run = false;
};

struct Case {
    Layout layout;
    DType state;
    i64 N, L;  // N sequences of L tokens

    i64 tokens() const { return N * L; }
    i64 qk_elements() const { return tokens() * kH * kK; }
    i64 vo_elements() const { return tokens() * kHV * kV; }
    i64 gate_elements() const { return tokens() * kHV; }
    i64 matrix_bytes() const { return kHV * kK * kV * i64(gdr::dtype_size(state)); }  // one sequence's state

    std::size_t tensor_bytes() const {
        const std::size_t in = gdr::dtype_size(kInputDtype), gate = gdr::dtype_size(kGateDtype);
        return std::size_t(2 * qk_elements() + 2 * vo_elements()) * in + std::size_t(2 * gate_elements()) * gate;
    }
    // What one call must move at least: q, k, v, o, g, beta once, the N states read and written.
    std::size_t floor_bytes() const { return tensor_bytes() + std::size_t(2 * N * matrix_bytes()); }

    // FLOPs of the chunked algorithm (chunk C = 64, reference/chunked.hpp's steps), per value
    // head and chunk of c tokens, 2 per multiply-add:
    //   K K^T and Q K^T                    2 * 2 c^2 K
    //   (I + A)^-1, forward substitution   c^3 / 3
    //   W = T (diag(beta) D K)             2 c^2 K
    //   U = T (diag(beta) V)               2 c^2 V
    //   W S, Q S, the state update K^T U'  3 * 2 c K V
    //   P U'                               2 c^2 V
    // = 2 c^2 (3K + 2V) + 6 c K V + c^3 / 3: at K = V = 128, HV = 32, full chunks, 5.81
    // MFLOP per token. Element-wise work (l2norm, gates, decays) is O(K + V) a token and left
    // out; so is the kernel's recomputing K K^T and Q K^T once per value tile (it counts
    // the algorithm's work, not one implementation's).
    double flops() const {
        const auto chunk = [](double c) { return 2 * c * c * (3 * kK + 2 * kV) + 6 * c * kK * kV + c * c * c / 3; };
        const i64 C = gdr::cuda::kChunkSize;
        const double per_sequence = double(L / C) * chunk(double(C)) + chunk(double(L % C));
        return double(kHV) * double(N) * per_sequence;
    }

    std::string label() const {
        return fmt::format("{:<2} {:<4} {:>3}x{:<6}", gdr::to_string(layout), gdr::to_string(state), N, L);
    }
};

// "NxL": N sequences of L tokens.
std::pair<i64, i64> parse_sequences(const std::string& text) {
    const auto x = text.find('x');
    std::size_t used_n = 0, used_l = 0;
    i64 n = 0, l = 0;
    try {
        if (x == std::string::npos) throw std::invalid_argument("no x");
        n = std::stoll(text.substr(0, x), &used_n);
        l = std::stoll(text.substr(x + 1), &used_l);
    } catch (const std::exception&) {
        throw CLI::ValidationError("--seqs", "expected NxL (N sequences of L tokens), got '" + text + "'");
    }
    if (used_n != x || used_l != text.size() - x - 1 || n <= 0 || l <= 0)
        throw CLI::ValidationError("--seqs", "expected NxL with N, L > 0, got '" + text + "'");
    if (n * l > std::numeric_limits<std::int32_t>::max())  // cu_seqlens are int32
        throw CLI::ValidationError("--seqs", "'" + text + "' has more tokens than int32 cu_seqlens can index");
    return {n, l};
}

std::vector<Case> make_cases(const Options& o) {
    std::vector<Case> cases;
    for (const auto& l : o.layouts)
        for (const auto& d : o.state_dtypes)
            for (const auto& s : o.seqs) {
                const auto [n, length] = parse_sequences(s);
                cases.push_back({*gdr::parse_layout(l), *gdr::parse_dtype(d), n, length});
            }
    return cases;
}

// ---------------------------------------------------------------------------------------
// Device memory of a case: one bank, `sets` input sets of tensors, indices and cu_seqlens.

// A set touches its tensors and its N states, read and written: its floor bytes.
i64 rotation_sets(const Case& c, i64 l2_bytes, i64 max_sets) {
    return gdr::bench::rotation_sets(i64(c.floor_bytes()), l2_bytes, max_sets);
}

i64 bank_entries_for(const Case& c, i64 sets) { return std::max(2 * c.N, sets * c.N); }  // N_bank >= 2N

std::size_t input_set_bytes(const Case& c) {
    const std::size_t in = gdr::dtype_size(kInputDtype), gate = gdr::dtype_size(kGateDtype);
    return Arena::aligned(c.qk_elements() * in) * 2 + Arena::aligned(c.vo_elements() * in) * 2 +
           Arena::aligned(c.gate_elements() * gate) * 2 + Arena::aligned(c.N * sizeof(i64)) +
           Arena::aligned((c.N + 1) * sizeof(std::int32_t));
}

std::size_t workload_bytes(const Case& c, i64 sets) {
    return Arena::aligned(std::size_t(bank_entries_for(c, sets)) * c.matrix_bytes()) + sets * input_set_bytes(c);
}

// ---------------------------------------------------------------------------------------
// A case's workload

struct DeviceFree {
    void operator()(void* p) const { cudaFree(p); }
};

// The input sets, and one workspace for them (the same shape), as a serving engine keeps
// one: the timed calls allocate nothing.
struct Workload {
    std::vector<gdr::Problem> sets;
    std::unique_ptr<void, DeviceFree> workspace;
    std::size_t workspace_bytes = 0;
    std::size_t next = 0;

    void launch_next(cudaStream_t stream) {
        gdr::cuda::chunked_prefill(sets[next++ % sets.size()], {}, stream, {workspace.get(), workspace_bytes});
    }
};

Workload build_workload(const Case& c, i64 sets, Arena& arena, std::mt19937_64& rng, cudaStream_t stream) {
    arena.reset();
    const i64 entries = bank_entries_for(c, sets);
    void* bank = arena.take(std::size_t(entries) * c.matrix_bytes());
    fill_uniform(bank, c.state, entries * c.matrix_bytes() / i64(gdr::dtype_size(c.state)), -kStateRange, kStateRange,
                 rng(), stream);

    // Bank entries: a random permutation; set i takes entries [i N, (i + 1) N).
    const std::vector<i64> permutation = gdr::bench::shuffled_entries(entries, rng);
    std::vector<std::int32_t> cu_seqlens(c.N + 1);
    for (i64 i = 0; i <= c.N; ++i) cu_seqlens[i] = std::int32_t(i * c.L);

    Workload w;
    for (i64 i = 0; i < sets; ++i) {
        // The varlen problem: batch 1 of N L tokens, the bank [entries, 1, HV, K, V] (vk: V, K).
        gdr::Problem p = gdr::bench::bank_problem(kHeads, 1, c.tokens(), c.layout, kInputDtype, kGateDtype, c.state, bank,
                                                  entries, 1);
        p.num_sequences = c.N;
        p.cu_seqlens_type = gdr::IndexType::i32;
        gdr::bench::take_token_tensors(p, arena, kRanges, rng, stream);

        auto* indices = static_cast<i64*>(arena.take(c.N * sizeof(i64)));
        check(cudaMemcpyAsync(indices, permutation.data() + i * c.N, c.N * sizeof(i64), cudaMemcpyHostToDevice, stream),
              "cudaMemcpyAsync(state_indices)");
        p.state_indices = indices;
        auto* cu = static_cast<std::int32_t*>(arena.take((c.N + 1) * sizeof(std::int32_t)));
        check(cudaMemcpyAsync(cu, cu_seqlens.data(), cu_seqlens.size() * sizeof(std::int32_t), cudaMemcpyHostToDevice, stream),
              "cudaMemcpyAsync(cu_seqlens)");
        p.cu_seqlens = cu;
        w.sets.push_back(p);
    }
    w.workspace_bytes = gdr::cuda::chunked_prefill_workspace_bytes(w.sets.front());
    void* workspace = nullptr;
    check(cudaMalloc(&workspace, w.workspace_bytes), "cudaMalloc(workspace)");
    w.workspace.reset(workspace);
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize(fill)");  // the host arrays die here
    return w;
}

// ---------------------------------------------------------------------------------------
// Timing a case

// Per call: the median, fastest and slowest repeat. Calls take milliseconds, so a repeat
// may be a single call.
PerCallTiming time_calls(Workload& w, const Options& o, cudaStream_t stream, EventPair& events) {
    // Warm-up: module load, clocks, one pass over every set so none is cold.
    for (std::size_t i = 0; i < w.sets.size() + 1; ++i) w.launch_next(stream);
    const int probe = int(std::min<std::size_t>(w.sets.size(), 3));
    return gdr::bench::time_per_call(events, stream, [&] { w.launch_next(stream); }, probe, o.target_ms, 1, 1000, o.repeats);
}

// Non-finite values mean the bench fed the kernel something wrong (or the kernel broke):
// the timing would not be of real work. Counted on the device: o is gigabytes at 32x8192.
template <class T>
__global__ void count_nonfinite_kernel(const T* data, i64 n, unsigned long long* count) {
    unsigned long long local = 0;
    const i64 step = i64(gridDim.x) * blockDim.x;
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
        local += !isfinite(float(data[i]));
    if (local) atomicAdd(count, local);
}

i64 count_nonfinite(const void* data, DType dtype, i64 n, cudaStream_t stream) {
    unsigned long long* count = nullptr;
    check(cudaMallocAsync(reinterpret_cast<void**>(&count), sizeof(*count), stream), "cudaMallocAsync(count)");
    check(cudaMemsetAsync(count, 0, sizeof(*count), stream), "cudaMemsetAsync(count)");
    const unsigned blocks = unsigned(std::clamp<i64>((n + 255) / 256, 1, 4096));
    if (dtype == DType::f32)
        count_nonfinite_kernel<<<blocks, 256, 0, stream>>>(static_cast<const float*>(data), n, count);
    else if (dtype == DType::bf16)
        count_nonfinite_kernel<<<blocks, 256, 0, stream>>>(static_cast<const __nv_bfloat16*>(data), n, count);
    else
        throw std::runtime_error("count_nonfinite: f32 or bf16 only");
    check(cudaGetLastError(), "count_nonfinite launch");
    unsigned long long host = 0;
    check(cudaMemcpyAsync(&host, count, sizeof(host), cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync(count)");
    check(cudaFreeAsync(count, stream), "cudaFreeAsync(count)");
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize(count)");
    return i64(host);
}

// ---------------------------------------------------------------------------------------
// Output

const char* kCsvHeader = "gpu,layout,state_dtype,H,HV,K,V,N,L,tokens,ms_per_call,ms_min,ms_max,mtok_per_s,gflop,tflops,sets\n";

void print_table_header() {
    fmt::print("{:<18} {:>8} {:>9} {:>9} {:>9} {:>8} {:>8} {:>4}\n", "case", "tokens", "ms/call", "min", "max",
               "Mtok/s", "TFLOP/s", "sets");
}

void report(const Case& c, const PerCallTiming& t, i64 sets, const std::string& gpu, std::FILE* csv) {
    const double mtok = double(c.tokens()) / (t.median_ms * 1e-3) / 1e6;
    const double tflops = c.flops() / (t.median_ms * 1e-3) / 1e12;
    fmt::print("{:<18} {:>8} {:>9.3f} {:>9.3f} {:>9.3f} {:>8.1f} {:>8.1f} {:>4}\n", c.label(), c.tokens(), t.median_ms, t.min_ms,
               t.max_ms, mtok, tflops, sets);
    std::fflush(stdout);
    if (!csv) return;
    fmt::print(csv, "{},{},{},{},{},{},{},{},{},{},{:.4f},{:.4f},{:.4f},{:.2f},{:.3f},{:.3f},{}\n", gpu,
               gdr::to_string(c.layout), gdr::to_string(c.state), kH, kHV, kK, kV, c.N, c.L, c.tokens(), t.median_ms, t.min_ms,
               t.max_ms, mtok, c.flops() / 1e9, tflops, sets);
    std::fflush(csv);  // a run cut short keeps the rows it finished
}

// Without a GPU: the cases, their work and device memory (L2 taken as 50 MB).
void print_dry_run(const std::vector<Case>& cases, const Options& o) {
    constexpr i64 l2 = 50 * 1000 * 1000;
    constexpr double h100_gib = 79.0;  // an 80 GB card's usable memory, roughly
    std::size_t largest = 0;
    for (const Case& c : cases) {
        const i64 sets = rotation_sets(c, l2, o.max_sets);
        const std::size_t bytes = workload_bytes(c, sets);
        largest = std::max(largest, bytes);
        fmt::print("{:<18} tokens {:>8}  GFLOP {:>9.1f}  floor {:>7.3f} GB  sets {:>3}  device {:>7.2f} GiB{}\n", c.label(),
                   c.tokens(), c.flops() / 1e9, c.floor_bytes() / 1e9, sets, bytes / kGiB,
                   bytes + kReserveBytes > h100_gib * kGiB ? "  (too big for an 80 GB card)" : "");
    }
    fmt::print("{} cases; {:.2f} MFLOP per full-chunk token; largest working set {:.2f} GiB\n", cases.size(),
               Case{Layout::KV, DType::f32, 1, gdr::cuda::kChunkSize}.flops() / double(gdr::cuda::kChunkSize) / 1e6,
               largest / kGiB);
}

int run(const Options& o) {
    const std::vector<Case> cases = make_cases(o);
    if (o.dry_run) {
        print_dry_run(cases, o);
        return 0;
    }
    check(cudaSetDevice(o.device), "cudaSetDevice");
    const gdr::bench::Gpu gpu = gdr::bench::describe_gpu(o.device);
    cudaStream_t stream{};
    check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
    const auto t0 = std::chrono::steady_clock::now();
    fmt::print("GPU: {} ({} SMs, L2 {:.1f} MB)\n", gpu.name, gpu.sms, gpu.l2_bytes / 1e6);
    fmt::print("chunked_prefill, H={} HV={} K={} V={}: bf16 q/k/v/o, f32 g/beta, l2norm on, varlen (int32 cu_seqlens), "
               "state_indices (int64) into a bank of >= 2N entries, final state in place\n",
               kH, kHV, kK, kV);

    // One arena for the largest case that fits; a case over it is refused, by name.
    std::size_t largest = 0;
    for (const Case& c : cases) largest = std::max(largest, workload_bytes(c, rotation_sets(c, gpu.l2_bytes, o.max_sets)));
    const std::size_t usable = Arena::usable_bytes(kReserveBytes);
    Arena arena(std::min(largest, usable));

    const gdr::bench::CsvFile csv_file = gdr::bench::open_csv(o.csv_path, kCsvHeader);
    print_table_header();
    std::mt19937_64 rng(o.seed);
    EventPair events;
    for (const Case& c : cases) {
        const i64 sets = rotation_sets(c, gpu.l2_bytes, o.max_sets);
        if (workload_bytes(c, sets) > arena.capacity()) {
            fmt::print("{:<18} refused: needs {:.2f} GiB of device memory, {:.2f} GiB usable (free less {:.0f} GiB reserved)\n",
                       c.label(), workload_bytes(c, sets) / kGiB, usable / kGiB, kReserveBytes / kGiB);
            continue;
        }
        Workload w = build_workload(c, sets, arena, rng, stream);
        const PerCallTiming t = time_calls(w, o, stream, events);
        const gdr::Problem& first = w.sets[0];
        if (const i64 bad = count_nonfinite(first.o.data, kInputDtype, c.vo_elements(), stream))
            fmt::print(stderr, "warning: {}: {} non-finite outputs\n", c.label(), bad);
        const i64 bank_elements = first.bank_elements();
        if (const i64 bad = count_nonfinite(first.state, c.state, bank_elements, stream))
            fmt::print(stderr, "warning: {}: {} non-finite state elements\n", c.label(), bad);
        report(c, t, sets, gpu.name, csv_file.get());
    }
    check(cudaStreamDestroy(stream), "cudaStreamDestroy");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fmt::print("{} cases in {:.1f} s on {}\n", cases.size(), seconds, gpu.name);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    CLI::App app{"bench_chunked: the chunked prefill kernel at Qwen3-Next shapes (H=16 HV=32 K=V=128), varlen batches"};
    app.add_option("--csv", o.csv_path, "write one CSV row per case to this file");
    app.add_option("--seqs", o.seqs, "cases NxL: N sequences of L tokens, e.g. 1x8192,4x8192,64x256")->delimiter(',');
    app.add_option("--layouts", o.layouts, "state layouts: kv and/or vk")->delimiter(',')->check(CLI::IsMember({"kv", "vk"}));
    app.add_option("--state-dtypes", o.state_dtypes, "state dtypes: f32 and/or bf16")
        ->delimiter(',')
        ->check(CLI::IsMember({"f32", "bf16"}));
    app.add_option("--repeats", o.repeats, "timed repeats per case (the median is reported)")->check(CLI::PositiveNumber);
    app.add_option("--target-ms", o.target_ms, "device time per timed repeat (calls per repeat sized to it)")
        ->check(CLI::PositiveNumber);
    app.add_option("--max-sets", o.max_sets, "cap on input sets in the L2-defeating rotation")->check(CLI::PositiveNumber);
    app.add_option("--seed", o.seed, "random seed for data and state indices");
    app.add_option("--device", o.device, "CUDA device index");
    app.add_flag("--dry-run", o.dry_run, "list the cases, their FLOPs and device memory; needs no GPU");
    CLI11_PARSE(app, argc, argv);
    try {
        return run(o);
    } catch (const CLI::ValidationError& e) {
        fmt::print(stderr, "bench_chunked: {}\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        fmt::print(stderr, "bench_chunked: {}\n", e.what());
        return 1;
    }
}
