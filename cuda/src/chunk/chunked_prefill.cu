// The chunked prefill kernel family (gdr/cuda/chunked_prefill.hpp): this file, its only
// translation unit (compiled twice, like decode.cu: gdr_cuda, and gdr_cuda_mutants with
// -DGDR_MUTANTS, ../common/mutation_hooks.cuh), is the host side (validation, what the kernel supports, dispatch and
// launch); private headers, one concept each:
//   chunk_args.cuh    ChunkArgs, the kernel's parameter
//   chunk_kernel.cuh  chunk_kernel, its shared memory and its tensor-core products
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
#include "chunk_kernel.cuh"
#include "../common/mutation_hooks.cuh"

namespace GDR_KERNEL_NAMESPACE {

namespace {

// The kernel arguments of a valid problem (in the mutant build, with `mutant` switched on).
#ifdef GDR_MUTANTS
ChunkArgs make_args(const Problem& problem, const ChunkCheckpoints& checkpoints, Mutant mutant) {
    ChunkArgs a{};
    a.mutant = mutant;
#else
ChunkArgs make_args(const Problem& problem, const ChunkCheckpoints& checkpoints) {
    ChunkArgs a{};
#endif
    static_cast<ProblemArgs&>(a) = problem_args(problem);
    a.checkpoints = checkpoints.data;
    a.checkpoint_offsets = checkpoints.offsets;
    a.value_tiles = problem.value_dim / value_tile_of(problem.key_dim);
    return a;
}

template <class In, class St, int KD>
void launch(const ChunkArgs& a, cudaStream_t stream) {
    constexpr int BV = value_tile_of(KD);
    const auto kernel = chunk_kernel<In, St, KD, BV>;
    constexpr int bytes = sizeof(ChunkShared<In, KD, BV>);
    // Above 48 KiB a kernel must ask for its dynamic shared memory; cheap, so asked every launch.
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes), "chunked_prefill shared memory");
    const std::int64_t items = a.rows * a.value_heads * a.value_tiles;
    // A grid-stride loop over the items: any number of rows is a legal grid.
    const auto blocks = static_cast<unsigned>(std::min<std::int64_t>(items, std::numeric_limits<std::int32_t>::max()));
    kernel<<<blocks, kChunkThreads, bytes, stream>>>(a);
    check(cudaGetLastError(), "chunked_prefill launch");
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

#ifdef GDR_MUTANTS
void chunked_prefill(const Problem& problem, const ChunkCheckpoints& checkpoints, Mutant mutant, cudaStream_t stream) {
    const auto make_kernel_args = [&] { return make_args(problem, checkpoints, mutant); };
#else
void chunked_prefill(const Problem& problem, const ChunkCheckpoints& checkpoints, cudaStream_t stream) {
    const auto make_kernel_args = [&] { return make_args(problem, checkpoints); };
#endif
    validate(problem, ValidateOptions{/*arrays_on_host=*/false, /*allow_f64_storage=*/false});
    if (checkpoints.data && !checkpoints.offsets)
        throw InvalidArgument("checkpoints", "checkpoint data without offsets (reference::checkpoint_offsets, on the device)");
    if (const auto reason = chunked_prefill_unsupported_reason(problem)) throw NotSupported(*reason);
    if (problem.rows() == 0 || problem.batch == 0 || problem.seq_len == 0) return;  // nothing to do
    const ChunkArgs a = make_kernel_args();
    if (problem.input_dtype == DType::f16) return dispatch_state<__half>(a, problem.state_dtype, stream);
    dispatch_state<__nv_bfloat16>(a, problem.state_dtype, stream);
}

}  // namespace GDR_KERNEL_NAMESPACE (gdr::cuda, or gdr::cuda::mutants in the mutant build)
