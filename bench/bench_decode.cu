// bench_decode: the CUDA decode kernel (cuda/src/decode/) against the memory copy
// ceiling, measured side by side in one run (bench/NOTES.md).
//
// The kernel is memory-bound, so each case is reported as bytes moved over time and as a
// fraction of a large device-to-device copy's bandwidth measured first in the same run.
// Bytes moved per call (the floor): the state read once, the state written once per
// written slot (T = 1: one slot; circular T > 1 with Slots = T: T slots), q, k, v, o, g,
// beta once, plus state_indices and cache_seqlens.
//
// Timing: inputs and banks hold random values (never zeros); warm-up first; CUDA events
// around N launches, median over repeats. Launches rotate through several input sets,
// each naming its own bank entries, so that the rotation touches more than 2x L2 and L2
// does not serve repeats. At small B a CUDA graph of many launches is timed too (per-launch
// time = graph time / launches), which removes the host launch gaps.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gdr/core/dtype.hpp"
#include "gdr/core/problem.hpp"
#include "gdr/cuda/decode.hpp"
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
using gdr::bench::Gpu;
using gdr::bench::median;
using gdr::cuda::check;
using i64 = std::int64_t;

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr DType kInputDtype = DType::bf16;  // q, k, v, o
constexpr DType kGateDtype = DType::f32;    // g, beta

// ---------------------------------------------------------------------------------------
// Options and cases

struct Options {
    std::string csv_path;
    std::vector<std::string> shapes{"qwen3next", "tp"};
    std::vector<i64> batches{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
    std::vector<i64> tokens{1, 2, 4, 8};
    std::vector<std::string> layouts{"kv", "vk"};
    std::vector<std::string> state_dtypes{"f32", "bf16", "f16"};
    int repeats = 9;
    double target_ms = 2.0;  // device time per timed repeat of plain launches
    i64 graph_max_batch = 64;
    int graph_launches = 128;  // at least; rounded up to a multiple of the rotation
    double copy_gib = 2.0;
    i64 max_sets = 1024;
    std::uint64_t seed = 1234;
    int device = 0;
    bool quick = false;
    bool dry_run = false;
};

struct Shape {
    std::string name;
    i64 H, HV, K, V;
};

Shape shape_named(const std::string& name) {
    if (name == "tp") return {"tp", 4, 8, 128, 128};  // Qwen3-Next split 4 ways (tensor parallel)
    return {"qwen3next", 16, 32, 128, 128};
}

struct Case {
    Shape shape;
    Layout layout;
    DType state;
    i64 B, T;

    bool circular() const { return T > 1; }  // T > 1: circular with Slots = T
    i64 slots() const { return circular() ? T : 1; }
    i64 written_slots() const { return circular() ? T : 1; }
    i64 matrix_bytes() const { return shape.HV * shape.K * shape.V * i64(gdr::dtype_size(state)); }  // one row, one slot
    i64 entry_bytes() const { return slots() * matrix_bytes(); }  // one bank entry: Slots x HV x K x V
    i64 qk_elements() const { return B * T * shape.H * shape.K; }
    i64 vo_elements() const { return B * T * shape.HV * shape.V; }
    i64 gate_elements() const { return B * T * shape.HV; }

    // The floor: every byte the call must move through device memory, once.
    i64 floor_bytes() const {
        const i64 in = i64(gdr::dtype_size(kInputDtype)), gate = i64(gdr::dtype_size(kGateDtype));
        const i64 state_bytes = B * matrix_bytes() * (1 + written_slots());
        const i64 tensors = (2 * qk_elements() + 2 * vo_elements()) * in + 2 * gate_elements() * gate;
        const i64 indices = B * i64(sizeof(i64)) + (circular() ? B * i64(sizeof(std::int32_t)) : 0);
        return state_bytes + tensors + indices;
    }

    std::string label() const {
        return fmt::format("{:<9} {:<2} {:<4} B={:<4} T={}", shape.name, gdr::to_string(layout),
                           gdr::to_string(state), B, T);
    }
};

std::vector<Case> make_cases(const Options& o) {
    std::vector<Case> cases;
    for (const auto& s : o.shapes)
        for (const auto& l : o.layouts)
            for (const auto& d : o.state_dtypes)
                for (i64 T : o.tokens)
                    for (i64 B : o.batches)
                        cases.push_back({shape_named(s), *gdr::parse_layout(l), *gdr::parse_dtype(d), B, T});
    return cases;
}

// ---------------------------------------------------------------------------------------
// The copy ceiling: one large device-to-device copy, bytes read + bytes written.

struct CopyCeiling {
    double tbps = 0, min_tbps = 0, max_tbps = 0;
    int repeats = 0;
};

CopyCeiling measure_copy_ceiling(double gib, int repeats, cudaStream_t stream) {
    const std::size_t bytes = std::size_t(gib * kGiB) / 4 * 4;
    void *src = nullptr, *dst = nullptr;
    check(cudaMalloc(&src, bytes), "cudaMalloc(copy src)");
    check(cudaMalloc(&dst, bytes), "cudaMalloc(copy dst)");
    fill_uniform(src, DType::f32, i64(bytes / 4), -1, 1, 1, stream);
    fill_uniform(dst, DType::f32, i64(bytes / 4), -1, 1, 2, stream);
    const auto copy = [&] { check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync"); };
    for (int i = 0; i < 3; ++i) copy();  // warm-up
    EventPair events;
    std::vector<double> tbps;
    for (int r = 0; r < repeats; ++r) tbps.push_back(2.0 * double(bytes) / (events.time_ms(stream, copy) * 1e-3) / 1e12);
    check(cudaFree(src), "cudaFree(copy src)");
    check(cudaFree(dst), "cudaFree(copy dst)");
    return {median(tbps), *std::min_element(tbps.begin(), tbps.end()), *std::max_element(tbps.begin(), tbps.end()),
            repeats};
}

// ---------------------------------------------------------------------------------------
// A case's workload: one bank and `sets` input sets, each set naming B distinct entries
// of the bank (disjoint between sets), so launches in rotation touch different state.

struct Workload {
    std::vector<gdr::Problem> sets;
    std::size_t next = 0;  // the rotation continues across warm-up, plain and graph runs
    i64 bank_entries = 0;

    const gdr::Problem& next_problem() { return sets[next++ % sets.size()]; }
    void launch_next(cudaStream_t stream) { gdr::cuda::fused_recurrent_decode(next_problem(), stream); }
};

// Bytes one set makes the kernel touch: its rows' bank entries plus its tensors.
i64 touched_bytes_per_set(const Case& c) { return c.B * c.entry_bytes() + (c.floor_bytes() - c.B * c.matrix_bytes() * (1 + c.written_slots())); }

i64 rotation_sets(const Case& c, i64 l2_bytes, i64 max_sets) {
    return gdr::bench::rotation_sets(touched_bytes_per_set(c), l2_bytes, max_sets);
}

i64 bank_entries_for(const Case& c, i64 sets) { return std::max(2 * c.B, sets * c.B); }  // N >= 2B

std::size_t input_set_bytes(const Case& c) {
    const std::size_t in = gdr::dtype_size(kInputDtype), gate = gdr::dtype_size(kGateDtype);
    return Arena::aligned(c.qk_elements() * in) * 2 + Arena::aligned(c.vo_elements() * in) * 2 +
           Arena::aligned(c.gate_elements() * gate) * 2 + Arena::aligned(c.B * sizeof(i64)) +
           Arena::aligned(c.B * sizeof(std::int32_t));
}

std::size_t workload_bytes(const Case& c, i64 sets) {
    return Arena::aligned(std::size_t(bank_entries_for(c, sets)) * c.entry_bytes()) + sets * input_set_bytes(c);
}

Workload build_workload(const Case& c, i64 sets, Arena& arena, std::mt19937_64& rng, cudaStream_t stream) {
    arena.reset();
    const Shape& s = c.shape;
    Workload w;
    w.bank_entries = bank_entries_for(c, sets);
    void* bank = arena.take(std::size_t(w.bank_entries) * c.entry_bytes());
    const i64 state_elements = w.bank_entries * c.entry_bytes() / i64(gdr::dtype_size(c.state));
    fill_uniform(bank, c.state, state_elements, -0.5f, 0.5f, rng(), stream);

    // Bank entries: a random permutation of [0, N); set i takes entries [i B, (i + 1) B).
    const std::vector<i64> permutation = gdr::bench::shuffled_entries(w.bank_entries, rng);
    // cache_seqlens of every set (circular only): random, so read slots differ by row.
    std::vector<std::int32_t> seqlens_host(c.circular() ? sets * c.B : 0);
    std::uniform_int_distribution<std::int32_t> seqlen(0, 1 << 20);
    for (auto& x : seqlens_host) x = seqlen(rng);

    // g is a log decay (alpha = exp(g) in (0.6, 1)); beta in (0, 1]: the state stays bounded.
    constexpr gdr::bench::ValueRanges ranges{-1, 1, -1, 1, -0.5f, -0.01f, 0.05f, 1.0f};
    const gdr::bench::HeadShape heads{s.H, s.HV, s.K, s.V};
    for (i64 i = 0; i < sets; ++i) {
        gdr::Problem p = gdr::bench::bank_problem(heads, c.B, c.T, c.layout, kInputDtype, kGateDtype, c.state, bank,
                                                  w.bank_entries, c.slots());
        gdr::bench::take_token_tensors(p, arena, ranges, rng, stream);

        auto* indices = static_cast<i64*>(arena.take(c.B * sizeof(i64)));
        check(cudaMemcpyAsync(indices, permutation.data() + i * c.B, c.B * sizeof(i64), cudaMemcpyHostToDevice, stream),
              "cudaMemcpyAsync(state_indices)");
        p.state_indices = indices;
        auto* seqlens = static_cast<std::int32_t*>(arena.take(c.B * sizeof(std::int32_t)));
        if (c.circular()) {
            check(cudaMemcpyAsync(seqlens, seqlens_host.data() + i * c.B, c.B * sizeof(std::int32_t),
                                  cudaMemcpyHostToDevice, stream),
                  "cudaMemcpyAsync(cache_seqlens)");
            p.cache_seqlens = seqlens;
        }
        w.sets.push_back(p);
    }
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize(fill)");  // the host arrays die here
    return w;
}

// ---------------------------------------------------------------------------------------
// Timing a case

struct Timing {
    double us_plain = 0;
    std::optional<double> us_graph;
};

// Plain launches: warm-up, then `repeats` runs of L launches sized to ~target_ms each.
double time_plain(Workload& w, const Options& o, cudaStream_t stream, EventPair& events) {
    // Warm-up: module load, clocks, and one pass over every set (capped) so none is cold.
    for (std::size_t i = 0; i < std::min<std::size_t>(w.sets.size(), 512) + 1; ++i) w.launch_next(stream);
    const int probe = int(std::clamp<std::size_t>(w.sets.size(), 3, 20));
    const auto launch = [&] { w.launch_next(stream); };
    return gdr::bench::time_per_call(events, stream, launch, probe, o.target_ms, 3, 2000, o.repeats).median_ms * 1e3;
}

// A CUDA graph of launches (a multiple of the rotation, so that every set's reuse
// distance is a full rotation), replayed; per-launch time = replay time / launches.
double time_graph(Workload& w, const Options& o, cudaStream_t stream, EventPair& events) {
    const i64 sets = i64(w.sets.size());
    const i64 launches = (std::max<i64>(o.graph_launches, 1) + sets - 1) / sets * sets;
    w.next = 0;
    cudaGraph_t graph{};
    check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    for (i64 i = 0; i < launches; ++i) w.launch_next(stream);
    check(cudaStreamEndCapture(stream, &graph), "cudaStreamEndCapture");
    cudaGraphExec_t exec{};
    check(cudaGraphInstantiate(&exec, graph, 0), "cudaGraphInstantiate");
    check(cudaGraphUpload(exec, stream), "cudaGraphUpload");
    check(cudaGraphLaunch(exec, stream), "cudaGraphLaunch(warm-up)");
    std::vector<double> us;
    for (int r = 0; r < o.repeats; ++r)
        us.push_back(events.time_ms(stream, [&] { check(cudaGraphLaunch(exec, stream), "cudaGraphLaunch"); }) * 1e3 / launches);
    check(cudaGraphExecDestroy(exec), "cudaGraphExecDestroy");
    check(cudaGraphDestroy(graph), "cudaGraphDestroy");
    return median(us);
}

// Non-finite outputs mean the bench fed the kernel something wrong (or the kernel broke):
// the timing would not be of real work. Reads o of the first set.
i64 nonfinite_outputs(const Case& c, const gdr::Problem& p) {
    std::vector<std::uint16_t> host(c.vo_elements());  // bf16 bits
    check(cudaMemcpy(host.data(), p.o.data, host.size() * 2, cudaMemcpyDeviceToHost), "cudaMemcpy(o)");
    return std::count_if(host.begin(), host.end(), [](std::uint16_t x) { return (x & 0x7f80) == 0x7f80; });
}

// ---------------------------------------------------------------------------------------
// Output

const char* kCsvHeader =
    "gpu,layout,state_dtype,H,HV,K,V,B,T,us_per_call,us_per_call_graph,bytes,tbps,fraction_of_copy,copy_tbps\n";

void print_table_header() {
    fmt::print("{:<34} {:>9} {:>9} {:>9} {:>6} {:>6} {:>5}\n", "case", "us/call", "us/graph", "GB moved", "TB/s",
               "frac", "sets");
}

// TB/s and the fraction use the faster of plain and graph (graph removes launch gaps).
void report(const Case& c, const Timing& t, i64 sets, const Gpu& gpu, double copy_tbps, std::FILE* csv) {
    const double us = t.us_graph ? std::min(t.us_plain, *t.us_graph) : t.us_plain;
    const double bytes = double(c.floor_bytes());
    const double tbps = bytes / (us * 1e-6) / 1e12;
    const std::string graph = t.us_graph ? fmt::format("{:.2f}", *t.us_graph) : "";
    fmt::print("{:<34} {:>9.2f} {:>9} {:>9.4f} {:>6.3f} {:>6.3f} {:>5}\n", c.label(), t.us_plain, graph.empty() ? "-" : graph,
               bytes / 1e9, tbps, tbps / copy_tbps, sets);
    std::fflush(stdout);
    if (!csv) return;
    fmt::print(csv, "{},{},{},{},{},{},{},{},{},{:.3f},{},{:.0f},{:.4f},{:.4f},{:.4f}\n", gpu.name, gdr::to_string(c.layout),
               gdr::to_string(c.state), c.shape.H, c.shape.HV, c.shape.K, c.shape.V, c.B, c.T, t.us_plain, graph, bytes,
               tbps, tbps / copy_tbps, copy_tbps);
    std::fflush(csv);  // a run cut short keeps the rows it finished
}

// Without a GPU: the sweep, each case's floor and working set (L2 taken as 50 MB).
void print_dry_run(const std::vector<Case>& cases, const Options& o) {
    constexpr i64 l2 = 50 * 1000 * 1000;
    std::size_t largest = 0;
    for (const Case& c : cases) {
        const i64 sets = rotation_sets(c, l2, o.max_sets);
        largest = std::max(largest, workload_bytes(c, sets));
        fmt::print("{:<34} floor {:>10.4f} GB  sets {:>4}  N {:>6}  device {:>8.3f} GiB  at 3 TB/s {:>9.2f} us\n", c.label(),
                   c.floor_bytes() / 1e9, sets, bank_entries_for(c, sets), workload_bytes(c, sets) / kGiB,
                   c.floor_bytes() / 3e12 * 1e6);
    }
    fmt::print("{} cases; largest working set {:.2f} GiB\n", cases.size(), largest / kGiB);
}

void apply_quick(Options& o, const CLI::App& app) {
    if (!o.quick) return;
    if (!app.count("--batch")) o.batches = {1, 8, 64, 256, 1024};
    if (!app.count("--tokens")) o.tokens = {1, 4};
    if (!app.count("--repeats")) o.repeats = 5;
}

int run(Options& o) {
    const std::vector<Case> cases = make_cases(o);
    if (o.dry_run) {
        print_dry_run(cases, o);
        return 0;
    }
    check(cudaSetDevice(o.device), "cudaSetDevice");
    const Gpu gpu = gdr::bench::describe_gpu(o.device);
    cudaStream_t stream{};
    check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");

    const auto t0 = std::chrono::steady_clock::now();
    const CopyCeiling copy = measure_copy_ceiling(o.copy_gib, 20, stream);
    fmt::print("GPU: {} ({} SMs, L2 {:.1f} MB, bus-width peak {:.2f} TB/s)\n", gpu.name, gpu.sms, gpu.l2_bytes / 1e6,
               gpu.peak_tbps);
    fmt::print("copy ceiling: {:.3f} TB/s ({:.2f} GiB D2D cudaMemcpyAsync, read + write, median of {}; range {:.3f}-{:.3f})\n",
               copy.tbps, o.copy_gib, copy.repeats, copy.min_tbps, copy.max_tbps);
    fmt::print("inputs bf16 q/k/v/o, f32 g/beta, l2norm on, state_indices into N >= 2B; T > 1 circular with Slots = T\n");

    // One arena for the largest case that fits.
    std::size_t largest = 0;
    for (const Case& c : cases) largest = std::max(largest, workload_bytes(c, rotation_sets(c, gpu.l2_bytes, o.max_sets)));
    const std::size_t reserve = std::size_t(kGiB);  // graphs, the runtime, the kernel's own needs
    Arena arena(std::min(largest, Arena::usable_bytes(reserve)));

    const gdr::bench::CsvFile csv_file = gdr::bench::open_csv(o.csv_path, kCsvHeader);
    std::FILE* csv = csv_file.get();

    print_table_header();
    std::mt19937_64 rng(o.seed);
    EventPair events;
    for (const Case& c : cases) {
        const i64 sets = rotation_sets(c, gpu.l2_bytes, o.max_sets);
        if (workload_bytes(c, sets) > arena.capacity()) {
            fmt::print("{:<34} skipped: needs {:.2f} GiB of device memory\n", c.label(), workload_bytes(c, sets) / kGiB);
            continue;
        }
        Workload w = build_workload(c, sets, arena, rng, stream);
        Timing t;
        t.us_plain = time_plain(w, o, stream, events);
        if (c.B <= o.graph_max_batch) t.us_graph = time_graph(w, o, stream, events);
        if (const i64 bad = nonfinite_outputs(c, w.sets[0]))
            fmt::print(stderr, "warning: {}: {} non-finite outputs\n", c.label(), bad);
        report(c, t, sets, gpu, copy.tbps, csv);
    }
    check(cudaStreamDestroy(stream), "cudaStreamDestroy");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fmt::print("{} cases in {:.1f} s; copy ceiling {:.3f} TB/s on {}\n", cases.size(), seconds, copy.tbps, gpu.name);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    CLI::App app{"bench_decode: the fused recurrent decode kernel against the device copy ceiling, in one run"};
    app.add_option("--csv", o.csv_path, "write one CSV row per case to this file");
    app.add_option("--shapes", o.shapes, "qwen3next (H=16 HV=32) and/or tp (H=4 HV=8); K = V = 128")
        ->delimiter(',')
        ->check(CLI::IsMember({"qwen3next", "tp"}));
    app.add_option("--batch,-B", o.batches, "batch sizes B, e.g. 1,64,1024")->delimiter(',')->check(CLI::PositiveNumber);
    app.add_option("--tokens,-T", o.tokens, "tokens per row T (T > 1: circular, Slots = T)")
        ->delimiter(',')
        ->check(CLI::PositiveNumber);
    app.add_option("--layouts", o.layouts, "kv and/or vk")->delimiter(',')->check(CLI::IsMember({"kv", "vk"}));
    app.add_option("--state-dtypes", o.state_dtypes, "f32, bf16 and/or f16")
        ->delimiter(',')
        ->check(CLI::IsMember({"f32", "bf16", "f16"}));
    app.add_option("--repeats", o.repeats, "timed repeats per case (the median is reported)")->check(CLI::PositiveNumber);
    app.add_option("--target-ms", o.target_ms, "device time per repeat of plain launches")->check(CLI::PositiveNumber);
    app.add_option("--graph-max-batch", o.graph_max_batch, "also time a CUDA graph for B up to this (0: never)");
    app.add_option("--graph-launches", o.graph_launches, "launches per graph (rounded up to a multiple of the rotation)")
        ->check(CLI::PositiveNumber);
    app.add_option("--copy-gib", o.copy_gib, "size of the ceiling's device-to-device copy")->check(CLI::PositiveNumber);
    app.add_option("--max-sets", o.max_sets, "cap on input/state sets in the L2-defeating rotation")->check(CLI::PositiveNumber);
    app.add_option("--seed", o.seed, "random seed for data, indices and cache_seqlens");
    app.add_option("--device", o.device, "CUDA device index");
    app.add_flag("--quick", o.quick, "reduced sweep: B 1,8,64,256,1024; T 1,4; 5 repeats (explicit options win)");
    app.add_flag("--dry-run", o.dry_run, "list the cases, floors and working sets; needs no GPU");
    CLI11_PARSE(app, argc, argv);
    apply_quick(o, app);
    try {
        return run(o);
    } catch (const std::exception& e) {
        fmt::print(stderr, "bench_decode: {}\n", e.what());
        return 1;
    }
}
