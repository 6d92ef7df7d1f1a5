// The fused recurrent decode kernel. A block owns one (row, value head, tile of value
// columns) and keeps that K x columns slice of the state in registers for all the row's
// tokens, so the state is read once and written once per written slot. Each thread holds
// 4 x 4 sub-tiles (4 consecutive k by 4 consecutive v), so that in either layout one
// thread moves 4 contiguous elements per access (16 B for f32, 8 B for 16-bit states).
// The tile's shape depends on the layout (Tiling): in VK, and for any odd shape, one warp
// of 8 or 16 columns whose K-sums are in-thread sums and shuffles, with no shared memory
// and no barrier; in KV, several warps over 32 or 64 columns, so that each tile row is a
// whole 128-byte line, with one exchange through shared memory per sum.
//
// The kernel family is this folder: this file, its only translation unit (compiled twice:
// gdr_cuda, and gdr_cuda_mutants with -DGDR_MUTANTS; its hooks and the namespace of each build
// are ../common/mutation_hooks.cuh), and private headers, one concept each:
//   decode_args.cuh        DecodeArgs, the kernel's parameter
//   tiling.cuh             Tiling, the tilings compiled, tile geometry, for_each_access
//   vector_access.cuh      conversions and kVec-element loads and stores
//   reductions.cuh         sums over lanes and warps (K-sums, norms)
//   state_bank.cuh         a row's bank entry, circular slots, matrix offsets
//   state_tile.cuh         StateTile, the state tile as floats in registers
//   packed_state_tile.cuh  PackedStateTile, a 16-bit state tile packed two per register
//   token_inputs.cuh       one token's q, k, v, g, beta; l2 norms, scale, decay
//   kernel.cuh             decode_kernel
// This file: the host side: validation, the tiling a problem takes, dispatch to the
// kernel templates and launch, and the public entry points (gdr/cuda/decode.hpp).
#include "gdr/cuda/decode.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <string>

#include "gdr/core/errors.hpp"
#include "gdr/cuda/device.hpp"
#include "decode_args.cuh"
#include "kernel.cuh"
#include "../common/mutation_hooks.cuh"
#include "tiling.cuh"

namespace GDR_KERNEL_NAMESPACE {

namespace {

template <class In, class St, class Tl>
void launch(const DecodeArgs& a, cudaStream_t stream) {
    const std::int64_t pairs = a.value_heads * tile_count(a, Tl::columns);  // < 2^31 (unsupported_reason)
    if (pairs == 0) return;
    // The kernel loops over the rows beyond gridDim.y (the mutant clamps lower, so that a
    // test of a few thousand rows reaches the missing loop).
    const std::int64_t max_rows = GDR_MUTATE(grid_clamp_without_stride_loop, 2048, 65535);
    const dim3 blocks(static_cast<unsigned>(pairs), static_cast<unsigned>(std::min(a.rows, max_rows)));
    if constexpr (Tl::one_token_kernel) {
        if (one_token_call(a)) {
            decode_kernel<In, St, Tl, true><<<blocks, Tl::threads, 0, stream>>>(a);
            return check(cudaGetLastError(), "fused_recurrent_decode launch");
        }
    }
    decode_kernel<In, St, Tl, false><<<blocks, Tl::threads, 0, stream>>>(a);
    check(cudaGetLastError(), "fused_recurrent_decode launch");
}

std::int64_t key_capacity(std::int64_t K) { return K <= 64 ? 64 : K <= 128 ? 128 : 256; }

// Whole tiles (K fills the key capacity, V a multiple of the tile's columns, every access
// aligned: the serving shapes) take their layout's own tiling, anything else the general one.
// A 16-bit state stays packed where every token's h is rounded to the state dtype anyway:
// T = 1, or circular with the state written (the round trip between tokens).
DecodeTiling tiling_of(const DecodeArgs& a, DType state_dtype) {
    const bool aligned = a.K == key_capacity(a.K) && a.state_vector_access && a.inputs_vector_access;
    const int columns = whole_lanes_v(a.layout_kv, dtype_size(state_dtype), key_capacity(a.K)) * kVec;
    if (!aligned || a.V % columns != 0) return DecodeTiling::general;
    const bool rounded_every_token = (a.cache_seqlens && a.output_final_state) || (!a.varlen && a.seq_len == 1);
    if (dtype_size(state_dtype) == 2 && rounded_every_token)
        return a.layout_kv ? DecodeTiling::whole_kv_packed : DecodeTiling::whole_vk_packed;
    return a.layout_kv ? DecodeTiling::whole_kv : DecodeTiling::whole_vk;
}

template <class In, class St, int KeyCapacity>
void dispatch_tiling(const DecodeArgs& a, DType state_dtype, cudaStream_t stream) {
    using Kernels = Tilings<KeyCapacity, St>;
    switch (tiling_of(a, state_dtype)) {
    case DecodeTiling::whole_kv: return launch<In, St, typename Kernels::WholeKV>(a, stream);
    case DecodeTiling::whole_vk: return launch<In, St, typename Kernels::WholeVK>(a, stream);
    case DecodeTiling::whole_kv_packed:  // never chosen for an f32 state
        if constexpr (sizeof(St) == 2) {
            static_assert(Kernels::WholeKVPacked::key_capacity == KeyCapacity);
            return launch<In, St, typename Kernels::WholeKVPacked>(a, stream);
        }
        break;
    case DecodeTiling::whole_vk_packed:
        if constexpr (sizeof(St) == 2) {
            static_assert(Kernels::WholeVKPacked::key_capacity == KeyCapacity);
            return launch<In, St, typename Kernels::WholeVKPacked>(a, stream);
        }
        break;
    case DecodeTiling::general: break;
    }
    launch<In, St, typename Kernels::General>(a, stream);
}

template <class In, class St>
void dispatch_key_dim(const DecodeArgs& args, DType state_dtype, cudaStream_t stream) {
    static_assert(kMaxKeyDim <= 256);
    switch (key_capacity(args.K)) {
    case 64: return dispatch_tiling<In, St, 64>(args, state_dtype, stream);
    case 128: return dispatch_tiling<In, St, 128>(args, state_dtype, stream);
    default: return dispatch_tiling<In, St, 256>(args, state_dtype, stream);
    }
}

template <class In>
void dispatch_state(const DecodeArgs& args, DType state_dtype, cudaStream_t stream) {
    switch (state_dtype) {
    case DType::f32: return dispatch_key_dim<In, float>(args, state_dtype, stream);
    case DType::f16: return dispatch_key_dim<In, __half>(args, state_dtype, stream);
    case DType::bf16: return dispatch_key_dim<In, __nv_bfloat16>(args, state_dtype, stream);
    case DType::f64: break;
    }
    throw NotSupported("fused_recurrent_decode: state dtype f64 is not a kernel dtype");
}

#ifdef GDR_MUTANTS
// The strides of a dense tensor of this shape (dimensions 0..2).
void dense_strides(std::int64_t (&out)[3], const std::array<std::int64_t, 4>& shape) {
    out[2] = shape[3];
    out[1] = shape[2] * out[2];
    out[0] = shape[1] * out[1];
}
#endif

bool aligned(const void* pointer, std::size_t bytes) { return reinterpret_cast<std::uintptr_t>(pointer) % bytes == 0; }

}  // namespace

#ifndef GDR_MUTANTS  // the mutant build shares gdr::cuda::unsupported_reason
std::optional<std::string> unsupported_reason(const Problem& problem) {
    if (problem.key_dim > kMaxKeyDim)
        return "fused_recurrent_decode supports K <= " + std::to_string(kMaxKeyDim) + ", got K = " +
               std::to_string(problem.key_dim);
    if (problem.key_dim * problem.value_dim > std::numeric_limits<std::int32_t>::max())
        return "fused_recurrent_decode indexes within a state matrix in 32 bits: K x V must be < 2^31, got " +
               std::to_string(problem.key_dim * problem.value_dim);
    constexpr int kNarrowestTile = 8;  // columns, of the general tiling
    const std::int64_t column_tiles = (problem.value_dim + kNarrowestTile - 1) / kNarrowestTile;
    if (problem.num_value_heads * column_tiles > std::numeric_limits<std::int32_t>::max())
        return "fused_recurrent_decode launches one block per value head and " + std::to_string(kNarrowestTile) +
               " value columns: HV x ceil(V / " + std::to_string(kNarrowestTile) + ") must be < 2^31, got " +
               std::to_string(problem.num_value_heads * column_tiles);
    if (problem.state_storage == DType::f64 || problem.o.dtype == DType::f64)
        return std::string("fused_recurrent_decode stores no f64 (an oracle-only storage type)");
    return std::nullopt;
}
#endif

namespace {

// The kernel arguments of a valid problem (in the mutant build, with `mutant` switched on).
#ifdef GDR_MUTANTS
DecodeArgs make_args(const Problem& problem, Mutant mutant) {
    DecodeArgs a{};
    a.mutant = mutant;
#else
DecodeArgs make_args(const Problem& problem) {
    DecodeArgs a{};
#endif
    static_cast<ProblemArgs&>(a) = problem_args(problem);
    GDR_MUTANT_ONLY(strides_read_as_contiguous, dense_strides(a.q_stride, problem.qk_shape()); dense_strides(a.k_stride, problem.qk_shape());
                    dense_strides(a.v_stride, problem.vo_shape()); dense_strides(a.o_stride, problem.vo_shape()));
    // The flags mutants change (the production build assigns the same values again).
    a.gate_dtype = GDR_MUTATE(gates_read_as_f32, DType::f32, problem.gate_dtype);
    a.l2norm = GDR_MUTATE(l2norm_always_on, true, problem.use_qk_l2norm);
    a.output_final_state = GDR_MUTATE(final_state_written_when_disabled, true, problem.output_final_state);
    a.layout_kv = GDR_MUTATE(layout_flag_inverted, problem.layout != Layout::KV, problem.layout == Layout::KV);
    // One access per kVec contiguous elements needs every matrix, row and column start
    // aligned to kVec elements: the contiguous dimension a multiple of kVec and the bank
    // aligned (a caller may pass any element-aligned pointer, e.g. an offset view).
    const std::int64_t contiguous_dim = a.layout_kv ? a.V : a.K;
    const std::size_t vector_bytes = kVec * dtype_size(problem.state_dtype);
    a.state_vector_access = contiguous_dim % kVec == 0 && aligned(problem.state, vector_bytes);
    // q, k, v, o: their innermost stride is 1 (validate), so the other strides and the base.
    const std::size_t input_vector_bytes = kVec * dtype_size(problem.input_dtype);
    a.inputs_vector_access = true;
    for (const TensorArg* tensor : {&problem.q, &problem.k, &problem.v, &problem.o}) {
        a.inputs_vector_access = a.inputs_vector_access && aligned(tensor->data, input_vector_bytes);
        for (int d = 0; d < 3; ++d) a.inputs_vector_access = a.inputs_vector_access && tensor->stride[d] % kVec == 0;
    }

    return a;
}

}  // namespace

#ifndef GDR_MUTANTS
DecodeLaunch decode_launch(const Problem& problem) {
    validate(problem, ValidateOptions{/*arrays_on_host=*/false, /*allow_f64_storage=*/false});
    if (const auto reason = unsupported_reason(problem)) throw NotSupported(*reason);
    const DecodeArgs a = make_args(problem);
    const DecodeTiling tiling = tiling_of(a, problem.state_dtype);
    const bool packed = tiling == DecodeTiling::whole_kv_packed || tiling == DecodeTiling::whole_vk_packed;
    const LayoutChoice layout = tiling == DecodeTiling::general ? LayoutChoice::at_run_time
                                : a.layout_kv                  ? LayoutChoice::kv
                                                               : LayoutChoice::vk;
    return {tiling, one_token_tiling(packed, layout) && one_token_call(a)};
}
#endif

#ifdef GDR_MUTANTS
void fused_recurrent_decode(const Problem& problem, Mutant mutant, cudaStream_t stream) {
    const auto make_kernel_args = [&] { return make_args(problem, mutant); };
#else
void fused_recurrent_decode(const Problem& problem, cudaStream_t stream) {
    const auto make_kernel_args = [&] { return make_args(problem); };
#endif
    validate(problem, ValidateOptions{/*arrays_on_host=*/false, /*allow_f64_storage=*/false});
    if (const auto reason = unsupported_reason(problem)) throw NotSupported(*reason);
    if (problem.rows() == 0 || problem.batch == 0 || problem.seq_len == 0) return;  // nothing to do
    const DecodeArgs a = make_kernel_args();
    switch (problem.input_dtype) {
    case DType::f32: return dispatch_state<float>(a, problem.state_dtype, stream);
    case DType::f16: return dispatch_state<__half>(a, problem.state_dtype, stream);
    case DType::bf16: return dispatch_state<__nv_bfloat16>(a, problem.state_dtype, stream);
    case DType::f64: break;
    }
    throw NotSupported("fused_recurrent_decode: input dtype f64 is not a kernel dtype");
}

}  // namespace GDR_KERNEL_NAMESPACE (gdr::cuda, or gdr::cuda::mutants in the mutant build)
