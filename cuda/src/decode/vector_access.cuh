// Element access: kVec contiguous elements moved as one access (16 B for f32, 8 B for 16-bit
// types), with an element-wise path at edges and unaligned memory for the kernels that need
// one. The conversions to and from float are in ../common/element_conversions.cuh.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "../common/element_conversions.cuh"
#include "tiling.cuh"

namespace GDR_KERNEL_NAMESPACE {
namespace {

// How a kVec access is cached: the state is streamed (read once, written once, so it is
// marked evict-first); q, k and v are read by many blocks and cached as usual.
enum class Caching { normal, streaming };

template <Caching C, class T>
__device__ __forceinline__ T load_raw(const T* p) { return C == Caching::streaming ? __ldcs(p) : *p; }
template <Caching C, class T>
__device__ __forceinline__ void store_raw(T* p, T x) {
    if constexpr (C == Caching::streaming) __stcs(p, x);
    else *p = x;
}

// kVec contiguous elements as one access: 16 B for f32, 8 B for 16-bit types.
template <class T>
struct Vector;
template <>
struct Vector<float> {
    template <Caching C>
    static __device__ __forceinline__ void load(const float* p, float (&x)[kVec]) {
        const float4 r = load_raw<C>(reinterpret_cast<const float4*>(p));
        x[0] = r.x, x[1] = r.y, x[2] = r.z, x[3] = r.w;
    }
    template <Caching C>
    static __device__ __forceinline__ void store(float* p, const float (&x)[kVec]) {
        store_raw<C>(reinterpret_cast<float4*>(p), make_float4(x[0], x[1], x[2], x[3]));
    }
};
template <class Pair, Pair (*Pack)(float2), float2 (*Unpack)(Pair)>
struct PairedVector {  // f16 / bf16: two packed pairs in 8 bytes
    // Two elements rounded once and packed in one word, the first in the low half.
    static __device__ __forceinline__ unsigned pack(float low, float high) {
        const Pair pair = Pack(make_float2(low, high));
        return *reinterpret_cast<const unsigned*>(&pair);
    }
    template <Caching C, class T>
    static __device__ __forceinline__ void load(const T* p, float (&x)[kVec]) {
        const uint2 r = load_raw<C>(reinterpret_cast<const uint2*>(p));
        const float2 lo = Unpack(*reinterpret_cast<const Pair*>(&r.x)), hi = Unpack(*reinterpret_cast<const Pair*>(&r.y));
        x[0] = lo.x, x[1] = lo.y, x[2] = hi.x, x[3] = hi.y;
    }
    template <Caching C, class T>
    static __device__ __forceinline__ void store(T* p, const float (&x)[kVec]) {
        store_raw<C>(reinterpret_cast<uint2*>(p), make_uint2(pack(x[0], x[1]), pack(x[2], x[3])));
    }
};
__device__ __forceinline__ __half2 pack_half2(float2 x) { return __float22half2_rn(x); }
__device__ __forceinline__ float2 unpack_half2(__half2 x) { return __half22float2(x); }
__device__ __forceinline__ __nv_bfloat162 pack_bfloat162(float2 x) { return __float22bfloat162_rn(x); }
__device__ __forceinline__ float2 unpack_bfloat162(__nv_bfloat162 x) { return __bfloat1622float2(x); }
template <>
struct Vector<__half> : PairedVector<__half2, pack_half2, unpack_half2> {};
template <>
struct Vector<__nv_bfloat16> : PairedVector<__nv_bfloat162, pack_bfloat162, unpack_bfloat162> {};

// The first `valid` (0..kVec) of kVec contiguous elements (the rest read as 0), one access
// where the memory allows: `vector_access` and all kVec valid. A kernel for whole tiles
// (Whole: every access valid and aligned, decided on the host) has no element-wise path,
// which would cost it registers.
template <Caching C, bool Whole, class T>
__device__ __forceinline__ void load_vector(const T* p, int valid, bool vector_access, float (&x)[kVec]) {
    if constexpr (!Whole) {
        if (!vector_access || valid < kVec) {
#pragma unroll
            for (int e = 0; e < kVec; ++e) x[e] = e < valid ? to_float(load_raw<C>(p + e)) : 0.0f;
            return;
        }
    }
    Vector<T>::template load<C>(p, x);
}
template <Caching C, bool Whole, class T>
__device__ __forceinline__ void store_vector(T* p, int valid, bool vector_access, const float (&x)[kVec]) {
    if constexpr (!Whole) {
        if (!vector_access || valid < kVec) {
#pragma unroll
            for (int e = 0; e < kVec; ++e)
                if (e < valid) store_raw<C>(p + e, from_float<T>(x[e]));
            return;
        }
    }
    Vector<T>::template store<C>(p, x);
}

}  // namespace
}  // namespace GDR_KERNEL_NAMESPACE
