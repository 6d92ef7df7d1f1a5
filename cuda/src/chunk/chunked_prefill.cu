// The chunked prefill kernel family (gdr/cuda/chunked_prefill.hpp): this file, its only
// translation unit (compiled twice, like decode.cu: gdr_cuda, and gdr_cuda_mutants with
// -DGDR_MUTANTS, ../common/mutation_hooks.cuh), is the host side (validation, what the
// kernels support, the workspace, dispatch and launch). Two passes: chunk_prepare_kernel
// (everything chunk-local, every chunk at once) then chunk_state_kernel (the state, chunk
// after chunk), talking through the workspace. Private headers, one concept each:
//   chunk_args.cuh            ChunkArgs, the kernels' parameter, and the workspace's records
//   chunk_geometry.cuh        where a chunk is: rows, slots, tokens, tiling constants
//   chunk_mma.cuh             tensor-core tiles and cp.async copies
//   chunk_prepare_kernel.cuh  the chunk-local pass
//   chunk_state_kernel.cuh    the state pass
#include "gdr/cuda/chunked_prefill.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "gdr/core/errors.hpp"
#include "gdr/cuda/device.hpp"
#include "chunk_args.cuh"
#include "chunk_prepare_kernel.cuh"
#include "chunk_state_kernel.cuh"
#include "../common/mutation_hooks.cuh"

namespace GDR_KERNEL_NAMESPACE {

namespace {

static_assert(kChunk == kChunkSize);

// The workspace of a problem: where each array of ChunkWorkspaceArgs starts, in bytes
// (each aligned to 256), and the total.
struct WorkspaceLayout {
    std::int64_t slots = 0, chunks_per_row = 0;
    std::size_t gates = 0, gated_queries = 0, keys = 0, w = 0, u = 0, p = 0, bytes = 0;
};
WorkspaceLayout workspace_layout(const Problem& problem) {
    WorkspaceLayout layout;
    const std::int64_t T = problem.seq_len;
    layout.chunks_per_row = (T + kChunk - 1) / kChunk;
    layout.slots = problem.varlen() ? T / kChunk + problem.rows() : problem.rows() * layout.chunks_per_row;
    const std::size_t records = static_cast<std::size_t>(layout.slots * problem.num_value_heads);
    const std::size_t in = dtype_size(problem.input_dtype), key_matrix = records * kChunk * problem.key_dim * in;
    std::size_t at = 0;
    const auto place = [&](std::size_t bytes) {
        const std::size_t start = at;
        at = (at + bytes + 255) / 256 * 256;
        return start;
    };
    layout.gates = place(records * kGateRecordFloats * sizeof(float));
    layout.gated_queries = place(key_matrix);
    layout.keys = place(key_matrix);
    layout.w = place(key_matrix);
    layout.u = place(records * kChunk * problem.value_dim * in);
    layout.p = place(records * kChunk * kChunk * in);
    layout.bytes = at;
    return layout;
}

// The kernel arguments of a valid problem (in the mutant build, with `mutant` switched on).
#ifdef GDR_MUTANTS
ChunkArgs make_args(const Problem& problem, const ChunkCheckpoints& checkpoints, void* workspace, Mutant mutant) {
    ChunkArgs a{};
    a.mutant = mutant;
#else
ChunkArgs make_args(const Problem& problem, const ChunkCheckpoints& checkpoints, void* workspace) {
    ChunkArgs a{};
#endif
    static_cast<ProblemArgs&>(a) = problem_args(problem);
    a.checkpoints = checkpoints.data;
    a.checkpoint_offsets = checkpoints.offsets;
    a.value_tiles = problem.value_dim / value_tile_of(problem.key_dim);
    const WorkspaceLayout layout = workspace_layout(problem);
    auto* base = static_cast<unsigned char*>(workspace);
    a.workspace = {reinterpret_cast<float*>(base + layout.gates), base + layout.gated_queries, base + layout.keys, base + layout.w,
                   base + layout.u, base + layout.p, layout.slots, layout.chunks_per_row};
    return a;
}

// Above 48 KiB a kernel must ask for its dynamic shared memory; cheap, so asked every launch.
template <class Kernel>
void launch_kernel(Kernel kernel, std::size_t shared_bytes, std::int64_t items, const ChunkArgs& a, cudaStream_t stream, const char* what) {
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared_bytes)), what);
    // Both kernels loop over their items with a grid stride: any number of rows is a legal grid.
    const auto blocks = static_cast<unsigned>(std::min<std::int64_t>(items, std::numeric_limits<std::int32_t>::max()));
    kernel<<<blocks, kChunkThreads, shared_bytes, stream>>>(a);
    check(cudaGetLastError(), what);
}

template <class In, class St, int KD>
void launch(const ChunkArgs& a, cudaStream_t stream) {
    constexpr int BV = value_tile_of(KD);
    launch_kernel(chunk_prepare_kernel<In, KD, BV>, sizeof(PrepareShared<In, KD, BV>), a.workspace.slots * a.value_heads, a, stream,
                  "chunked_prefill: the chunk-local pass");
    launch_kernel(chunk_state_kernel<In, St, KD, BV>, sizeof(StateShared<In, KD, BV>), a.rows * a.value_heads * a.value_tiles, a, stream,
                  "chunked_prefill: the state pass");
}

template <class In, class St>
void dispatch_key_dim(const ChunkArgs& a, cudaStream_t stream) {
    switch (a.K) {
    case 64: return launch<In, St, 64>(a, stream);
    case 128: return launch<In, St, 128>(a, stream);
    default: return launch<In, St, 256>(a, stream);  // unsupported_reason allows 64, 128, 256 only
    }
}

template <class In>
void dispatch_state(const ChunkArgs& a, DType state_dtype, cudaStream_t stream) {
    switch (state_dtype) {
    case DType::f32: return dispatch_key_dim<In, float>(a, stream);
    case DType::f16: return dispatch_key_dim<In, __half>(a, stream);
    case DType::bf16: return dispatch_key_dim<In, __nv_bfloat16>(a, stream);
    case DType::f64: break;
    }
    throw NotSupported("chunked_prefill: state dtype f64 is not a kernel dtype");
}

}  // namespace

#ifndef GDR_MUTANTS  // the mutant build shares gdr::cuda::chunked_prefill_unsupported_reason
std::optional<std::string> chunked_prefill_unsupported_reason(const Problem& problem) {
    if (problem.input_dtype != DType::f16 && problem.input_dtype != DType::bf16)
        return "chunked_prefill takes f16 or bf16 inputs (the tensor cores' operands), got " +
               std::string(to_string(problem.input_dtype));
    const std::int64_t K = problem.key_dim;
    if (K != 64 && K != 128 && K != 256)
        return "chunked_prefill supports K = 64, 128 or 256, got K = " + std::to_string(K);
    const int tile = value_tile_of(K);
    if (problem.value_dim % tile != 0)
        return "chunked_prefill at K = " + std::to_string(K) + " needs V a multiple of " + std::to_string(tile) +
               ", got V = " + std::to_string(problem.value_dim);
    if (problem.state_storage == DType::f64 || problem.o.dtype == DType::f64)
        return std::string("chunked_prefill stores no f64 (an oracle-only storage type)");
    return std::nullopt;
}
#endif

#ifndef GDR_MUTANTS  // shared by the mutant build
std::size_t chunked_prefill_workspace_bytes(const Problem& problem) {
    validate(problem, ValidateOptions{/*arrays_on_host=*/false, /*allow_f64_storage=*/false});
    return workspace_layout(problem).bytes;
}
#endif

#ifdef GDR_MUTANTS
void chunked_prefill(const Problem& problem, const ChunkCheckpoints& checkpoints, Mutant mutant, cudaStream_t stream) {
    const ChunkWorkspace workspace{};
    const auto make_kernel_args = [&](void* bytes) { return make_args(problem, checkpoints, bytes, mutant); };
#else
void chunked_prefill(const Problem& problem, const ChunkCheckpoints& checkpoints, cudaStream_t stream, const ChunkWorkspace& workspace) {
    const auto make_kernel_args = [&](void* bytes) { return make_args(problem, checkpoints, bytes); };
#endif
    validate(problem, ValidateOptions{/*arrays_on_host=*/false, /*allow_f64_storage=*/false});
    if (checkpoints.data && !checkpoints.offsets)
        throw InvalidArgument("checkpoints", "checkpoint data without offsets (reference::checkpoint_offsets, on the device)");
    if (const auto reason = chunked_prefill_unsupported_reason(problem)) throw NotSupported(*reason);
    const std::size_t needed = workspace_layout(problem).bytes;
    if (workspace.data && workspace.bytes < needed)
        throw InvalidArgument("workspace", "holds " + std::to_string(workspace.bytes) + " bytes, the problem needs " + std::to_string(needed) +
                                               " (chunked_prefill_workspace_bytes)");
    if (problem.rows() == 0 || problem.batch == 0 || problem.seq_len == 0) return;  // nothing to do
    // Without a caller's workspace, one from the stream-ordered allocator, freed after the
    // two passes in stream order (graph capture records both).
    void* bytes = workspace.data;
    if (!bytes) check(cudaMallocAsync(&bytes, needed, stream), "chunked_prefill workspace");
    const ChunkArgs a = make_kernel_args(bytes);
    try {
        if (problem.input_dtype == DType::f16) dispatch_state<__half>(a, problem.state_dtype, stream);
        else dispatch_state<__nv_bfloat16>(a, problem.state_dtype, stream);
    } catch (...) {
        if (!workspace.data) cudaFreeAsync(bytes, stream);
        throw;
    }
    if (!workspace.data) check(cudaFreeAsync(bytes, stream), "chunked_prefill workspace");
}

}  // namespace GDR_KERNEL_NAMESPACE (gdr::cuda, or gdr::cuda::mutants in the mutant build)
