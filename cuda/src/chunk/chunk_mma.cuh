// The tensor-core products of the chunk kernels: wmma 16 x 16 x 16 tiles, operands in the
// input dtype (f16/bf16) from shared memory, fp32 accumulators, and cp.async copies into
// shared memory.
#pragma once

#include <cuda_runtime.h>
#include <mma.h>

#include "chunk_geometry.cuh"

namespace GDR_KERNEL_NAMESPACE {
namespace {

template <class In>
using FragmentA = nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, kTile, kTile, kTile, In, nvcuda::wmma::row_major>;
template <class In>
using FragmentAColumns = nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, kTile, kTile, kTile, In, nvcuda::wmma::col_major>;
template <class In>
using FragmentB = nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, kTile, kTile, kTile, In, nvcuda::wmma::row_major>;
template <class In>
using FragmentBColumns = nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, kTile, kTile, kTile, In, nvcuda::wmma::col_major>;
using Accumulator = nvcuda::wmma::fragment<nvcuda::wmma::accumulator, kTile, kTile, kTile, float>;

// acc += X Y^T over `inner` columns of row-major X and Y (Y^T is Y's rows read as columns).
template <class In>
__device__ __forceinline__ void add_product_transposed(Accumulator& acc, const In* x, int ld_x, const In* y, int ld_y, int inner) {
    FragmentA<In> a;
    FragmentBColumns<In> b;
    for (int l = 0; l < inner; l += kTile) {
        nvcuda::wmma::load_matrix_sync(a, x + l, ld_x);
        nvcuda::wmma::load_matrix_sync(b, y + l, ld_y);
        nvcuda::wmma::mma_sync(acc, a, b, acc);
    }
}

// acc += X Y for row-major X (ld_x) and Y (ld_y) over `inner`.
template <class In>
__device__ __forceinline__ void add_product(Accumulator& acc, const In* x, int ld_x, const In* y, int ld_y, int inner) {
    FragmentA<In> a;
    FragmentB<In> b;
    for (int l = 0; l < inner; l += kTile) {
        nvcuda::wmma::load_matrix_sync(a, x + l, ld_x);
        nvcuda::wmma::load_matrix_sync(b, y + l * ld_y, ld_y);
        nvcuda::wmma::mma_sync(acc, a, b, acc);
    }
}

// A warp's accumulator tile through its scratch (16 x 16 floats): fn(r, c, value) for each
// of its 256 elements, 8 a lane, consecutive lanes on consecutive columns.
template <class Fn>
__device__ __forceinline__ void for_each_element(const Accumulator& acc, float* scratch, Fn&& fn) {
    nvcuda::wmma::store_matrix_sync(scratch, acc, kTile, nvcuda::wmma::mem_row_major);
    __syncwarp();
    const int lane = threadIdx.x % 32;
#pragma unroll
    for (int e = 0; e < kTile * kTile / 32; ++e) {
        const int index = e * 32 + lane;
        fn(index / kTile, index % kTile, scratch[index]);
    }
    __syncwarp();
}

// 16 bytes from global to shared memory without passing through registers (sm_80+);
// visible after copies_wait<n>() (at most n newer groups in flight) and a barrier.
__device__ __forceinline__ void copy_async_16(void* shared, const void* global) {
    const auto address = static_cast<unsigned>(__cvta_generic_to_shared(shared));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(address), "l"(global));
}
__device__ __forceinline__ void copies_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int kNewerGroups>
__device__ __forceinline__ void copies_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(kNewerGroups));
}

// `rows` rows of `row_bytes` (a multiple of 16) from global rows `global_ld` bytes apart into
// shared rows `shared_ld` bytes apart, by the whole block.
__device__ __forceinline__ void copy_rows_async(void* shared, int shared_ld, const void* global, std::int64_t global_ld, int rows,
                                                int row_bytes) {
    const int pieces_per_row = row_bytes / 16;
    for (int piece = threadIdx.x; piece < rows * pieces_per_row; piece += kChunkThreads) {
        const int r = piece / pieces_per_row, offset = piece % pieces_per_row * 16;
        copy_async_16(static_cast<unsigned char*>(shared) + r * shared_ld + offset,
                      static_cast<const unsigned char*>(global) + r * global_ld + offset);
    }
}

}  // namespace
}  // namespace GDR_KERNEL_NAMESPACE
