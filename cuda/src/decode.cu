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
// Mutation hooks (cuda/include/gdr/cuda/mutants.hpp) mark the place of each deliberate bug:
//   GDR_MUTATE(name, wrong, right)   the expression `right`, or `wrong` in mutant `name`
//   GDR_MUTANT_ONLY(name, stmt)      a statement only mutant `name` executes
//   GDR_UNLESS_MUTANT(name, stmt)    a statement that mutant `name` skips
// In this production build they expand to `right`, nothing and `stmt`: the preprocessed
// kernel is token for token the unhooked one (same PTX, same registers). Compiled with
// -DGDR_MUTANTS (gdr_cuda_mutants) they test the mutant id in the DecodeArgs `a` in scope,
// and the entry point is gdr::cuda::mutants::fused_recurrent_decode instead.
#include "gdr/cuda/decode.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "gdr/core/errors.hpp"
#include "gdr/cuda/device.hpp"

#ifdef GDR_MUTANTS
#include "gdr/cuda/mutants.hpp"
#define GDR_IS_MUTANT(name) (a.mutant == ::gdr::cuda::Mutant::name)
#define GDR_MUTATE(name, wrong, right) (GDR_IS_MUTANT(name) ? (wrong) : (right))
#define GDR_MUTANT_ONLY(name, ...) do { if (GDR_IS_MUTANT(name)) { __VA_ARGS__; } } while (0)
#define GDR_UNLESS_MUTANT(name, ...) do { if (!GDR_IS_MUTANT(name)) { __VA_ARGS__; } } while (0)
namespace gdr::cuda::mutants {
#else
#define GDR_MUTATE(name, wrong, right) (right)
#define GDR_MUTANT_ONLY(name, ...) ((void)0)
#define GDR_UNLESS_MUTANT(name, ...) __VA_ARGS__
namespace gdr::cuda {
#endif

namespace {

constexpr int kVec = 4;       // a thread's sub-tile is kVec x kVec; one access moves kVec elements

// Registers a thread needs besides its state tile (measured: 56 slowed VK f32 by 13 %).
constexpr int kRegisterOverhead = 72;
// A packed tile (PackedStateTile) unpacks and packs around every use: it needs as many
// registers as the f32 tile (measured: at 32 fewer it spilled 130-280 B and ran 10-15 %
// slower); its gain is the loads and stores without conversions.
constexpr int kPackedRegisterExtra = 32;
constexpr int kElementwiseRegisterOverhead = 112;  // the general tiling: its addresses and masks
enum class LayoutChoice { at_run_time, kv, vk };

// How a block covers its K x `columns` tile: in each warp, lanes_v lanes along v by lanes_k
// along k; the warps split K; each thread holds J sub-tile groups of kVec x kVec. The
// shapes (Tilings, tiling_of):
// - any problem: one warp of 2 x 16 lanes, 8 columns, the layout read at run time, and
//   element-wise accesses where an edge or the alignment needs them;
// - whole tiles in layout VK: one warp and no barrier; each column's K elements are
//   contiguous. 8 columns (16 for a 16-bit state and K <= 128);
// - whole tiles in layout KV: K / 64 warps of 8 x 4 lanes, 32 columns (a 16-bit state with
//   K <= 128: K / 32 warps of 16 x 2 lanes, 64 columns), so that a row's piece of the tile
//   is a 128-byte line (64 B for a 16-bit state at K = 256). Narrower pieces of a line,
//   read by different blocks at different times, make DRAM move the line more than once
//   (measured: 8 columns ran KV at half of VK's rate).
template <int LanesV, int Warps, int J, LayoutChoice Layout, bool Whole, bool Packed = false>
struct Tiling {
    static constexpr int lanes_v = LanesV, lanes_k = 32 / LanesV, warps = Warps, threads = 32 * Warps;
    static constexpr int groups = J;
    static constexpr int columns = lanes_v * kVec;                // value columns per block
    static constexpr int rows_per_group = warps * lanes_k * kVec;  // k rows per sub-tile group
    static constexpr int key_capacity = J * rows_per_group;
    static constexpr LayoutChoice layout = Layout;
    static constexpr bool whole = Whole;  // every access valid and aligned: no element-wise path
    static constexpr bool packed = Packed;  // a 16-bit state kept packed (PackedStateTile); whole tiles only
    static_assert(Whole || !Packed);
    // Where this thread sits: lane_v along v and lane_k along k in its warp.
    static __device__ __forceinline__ int warp() { return threadIdx.x / 32; }
    static __device__ __forceinline__ int lane_v() { return threadIdx.x % 32 % lanes_v; }
    static __device__ __forceinline__ int lane_k() { return threadIdx.x % 32 / lanes_v; }
    // The first tile column, and the first k row of sub-tile group j, that this thread holds.
    static __device__ __forceinline__ int first_column() { return lane_v() * kVec; }
    static __device__ __forceinline__ int first_row(int j) { return ((j * warps + warp()) * lanes_k + lane_k()) * kVec; }
    // Registers: the state's J kVec^2 elements (two per register when packed) and
    // kRegisterOverhead more; element-wise accesses need more.
    static constexpr int register_budget =
        J * kVec * kVec / (Packed ? 2 : 1) + (Whole ? kRegisterOverhead : kElementwiseRegisterOverhead) + (Packed ? kPackedRegisterExtra : 0);
    static constexpr int min_blocks_per_sm = 65536 / (threads * (register_budget < 255 ? register_budget : 255));
};

// Partial sums that the warps of a block exchange (only blocks of several warps use them).
template <class Tl>
struct CrossWarpSums {
    float norms[Tl::warps][2];  // |q|^2 and |k|^2
    float hk[Tl::warps][Tl::columns], out[Tl::warps][Tl::columns];
};

// Everything the kernel reads of a Problem, by value (a kernel parameter).
struct DecodeArgs {
    const void* q;
    const void* k;
    const void* v;
    void* o;
    const void* g;
    const void* beta;
    void* state;
    const std::int64_t* state_indices;
    const std::int32_t* cache_seqlens;
    const void* cu_seqlens;
    bool cu_seqlens_i64;
    std::int64_t q_stride[3], k_stride[3], v_stride[3], o_stride[3], g_stride[3], beta_stride[3];
    std::int64_t rows, seq_len, value_heads, group, K, V, N, slots;
    DType gate_dtype;
    bool l2norm, output_final_state, varlen, layout_kv;
    bool state_vector_access;   // the state's contiguous dimension is a multiple of kVec and the bank is aligned
    bool inputs_vector_access;  // q, k, v, o and their strides are aligned to kVec elements
    float scale;
#ifdef GDR_MUTANTS
    Mutant mutant;
#endif
};

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <class T>
__device__ __forceinline__ T from_float(float x);  // one round-to-nearest-even
template <>
__device__ __forceinline__ float from_float<float>(float x) { return x; }
template <>
__device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

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

// g and beta are fp32 or the input dtype, chosen at run time (one scalar per token).
template <class In>
__device__ __forceinline__ float load_gate(const void* base, DType dtype, std::int64_t offset) {
    return dtype == DType::f32 ? static_cast<const float*>(base)[offset] : to_float(static_cast<const In*>(base)[offset]);
}

__device__ __forceinline__ std::int64_t offset3(const std::int64_t* stride, std::int64_t b, std::int64_t t,
                                                std::int64_t head) {
    return b * stride[0] + t * stride[1] + head * stride[2];
}

// The decay alpha = exp(g) of one token.
__device__ __forceinline__ float decay_of(const DecodeArgs& a, float g) { return GDR_MUTATE(alpha_is_g, g, expf(g)); }

// The element offset of a state matrix in the bank: 64-bit, banks exceed 2^31 elements.
__device__ __forceinline__ std::int64_t bank_offset(const DecodeArgs& a, std::int64_t offset) {
    return GDR_MUTATE(bank_offset_32bit, static_cast<std::int32_t>(offset), offset);
}

// Circular mode: the slot a row reads, and the slot its token t writes (the next ones, wrapping).
__device__ __forceinline__ std::int64_t circular_read_slot(const DecodeArgs& a, std::int32_t cache_seqlen) {
    GDR_MUTANT_ONLY(read_slot_not_mod_slots, return cache_seqlen);
    GDR_MUTANT_ONLY(circular_reads_slot_zero, return 0);
    return cache_seqlen % a.slots;
}
__device__ __forceinline__ std::int64_t circular_write_slot(const DecodeArgs& a, std::int64_t read_slot, std::int64_t t) {
    GDR_MUTANT_ONLY(circular_write_slot_unwrapped, return read_slot + 1 + t);
    GDR_MUTANT_ONLY(circular_write_slot_off_by_one, return (read_slot + t) % a.slots);
    return (read_slot + 1 + t) % a.slots;
}

// Tiles of `columns` value columns per (row, value head); the last one may be partial.
__host__ __device__ __forceinline__ std::int64_t tile_count(const DecodeArgs& a, int columns) {
    return GDR_MUTATE(v_tail_dropped, a.V / columns, (a.V + columns - 1) / columns);
}

// The number of elements from `start` (up to kVec) that lie inside [0, extent).
__device__ __forceinline__ int valid_from(int start, int extent) { return max(0, min(kVec, extent - start)); }

// The sum over the lanes that hold the same columns (every lane_k), in every one of them:
// the K-sums of a column, and the norms of q and k.
template <class Tl>
__device__ __forceinline__ float sum_over_key_lanes(const DecodeArgs& a, float x) {
#pragma unroll
    for (int offset = Tl::lanes_v; offset < 32; offset *= 2)
        if (GDR_MUTATE(reduction_over_half_warp, offset < 16, true)) x += __shfl_xor_sync(0xffffffffu, x, offset);
    return x;
}

// Adds up, over the block's warps, the N sums each thread holds for its warp: the warp's
// `writer` threads publish them at slot[warp * pitch + n], and after a barrier every thread
// takes the total. Each use has its own slot, so that a slot is written again only after
// the barrier of a later sum, when every thread has read it. Nothing to do for one warp.
template <class Tl, int N>
__device__ __forceinline__ void add_across_warps(const DecodeArgs& a, float (&x)[N], float* slot, int pitch, bool writer) {
    if constexpr (Tl::warps > 1) {
        if (writer)
#pragma unroll
            for (int n = 0; n < N; ++n) slot[Tl::warp() * pitch + n] = x[n];
        GDR_UNLESS_MUTANT(cross_warp_sum_missing_barrier, __syncthreads());
#pragma unroll
        for (int n = 0; n < N; ++n) {
            float total = 0.0f;
#pragma unroll
            for (int w = 0; w < Tl::warps; ++w) total += slot[w * pitch + n];
            x[n] = total;
        }
    }
}

// The K-sums of this thread's kVec columns, over the block's k rows (every lane_k and warp).
template <class Tl>
__device__ __forceinline__ void column_sums(const DecodeArgs& a, float (&x)[kVec], float (*partials)[Tl::columns]) {
#pragma unroll
    for (int c = 0; c < kVec; ++c) x[c] = sum_over_key_lanes<Tl>(a, x[c]);
    add_across_warps<Tl>(a, x, &partials[0][Tl::first_column()], Tl::columns, Tl::lane_k() == 0);
}

// Calls fn(j, i, offset, valid, KV) for this thread's accesses of a K x V matrix, where
// KV is the layout as a compile-time constant and offset is relative to the matrix. Layout
// VK ([v][k]): access i of group j holds column i, rows first_row(j) ..+kVec. Layout KV
// ([k][v]): row i, columns ..+kVec. Offsets are 32-bit: a matrix has < 2^31 elements
// (unsupported_reason), and the first one is 64-bit in the caller.
template <class Tl, class Fn>
__device__ __forceinline__ void for_each_access(const DecodeArgs& a, int column0, Fn&& fn) {
    const int K = static_cast<int>(a.K), V = static_cast<int>(a.V);
    const int v0 = column0 + Tl::first_column();
    const auto walk = [&](auto layout_kv) {
        constexpr bool KV = decltype(layout_kv)::value;
        const int pitch = KV ? GDR_MUTATE(kv_row_pitch_uses_key_dim, K, V) : K;
#pragma unroll
        for (int j = 0; j < Tl::groups; ++j) {
            const int k0 = Tl::first_row(j);
#pragma unroll
            for (int i = 0; i < kVec; ++i) {
                if constexpr (KV) fn(j, i, (k0 + i) * pitch + v0, k0 + i < K ? valid_from(v0, V) : 0, layout_kv);
                else fn(j, i, (v0 + i) * pitch + k0, v0 + i < V ? valid_from(k0, K) : 0, layout_kv);
            }
        }
    };
    if constexpr (Tl::layout == LayoutChoice::kv) walk(std::true_type{});
    else if constexpr (Tl::layout == LayoutChoice::vk) walk(std::false_type{});
    else if (a.layout_kv) walk(std::true_type{});
    else walk(std::false_type{});
}

template <class St, class Tl>
struct StateTile {
    static constexpr int J = Tl::groups;
    float h[J][kVec][kVec];  // h[j][r][c] = S[first_row(j) + r][column0 + first_column() + c]

    __device__ __forceinline__ float get(int j, int r, int c) const { return h[j][r][c]; }
    __device__ __forceinline__ void set_pair(int j, int r, int c, float x0, float x1) { h[j][r][c] = x0, h[j][r][c + 1] = x1; }

    // Element e of access (j, i) in for_each_access.
    template <bool KV>
    __device__ __forceinline__ float& element(int j, int i, int e) { return KV ? h[j][i][e] : h[j][e][i]; }

    // S[n, slot, hv] as a K x V matrix; `column0` is the block's first value column.
    __device__ void load(const DecodeArgs& a, const St* matrix, int column0) {
        for_each_access<Tl>(a, column0, [&](int j, int i, int offset, int valid, auto layout_kv) {
            float x[kVec];
            load_vector<Caching::streaming, Tl::whole>(matrix + offset, valid, a.state_vector_access, x);
#pragma unroll
            for (int e = 0; e < kVec; ++e) element<decltype(layout_kv)::value>(j, i, e) = x[e];
        });
    }

    // Stores h rounded once to the state dtype.
    __device__ void store(const DecodeArgs& a, St* matrix, int column0) {
        for_each_access<Tl>(a, column0, [&](int j, int i, int offset, int valid, auto layout_kv) {
            float x[kVec];
#pragma unroll
            for (int e = 0; e < kVec; ++e) x[e] = element<decltype(layout_kv)::value>(j, i, e);
            store_vector<Caching::streaming, Tl::whole>(matrix + offset, valid, a.state_vector_access, x);
        });
    }

    // h = float(round_to_state_dtype(h)): what the next token would read back.
    __device__ void round_trip() {
#pragma unroll
        for (int j = 0; j < J; ++j)
#pragma unroll
            for (int r = 0; r < kVec; ++r)
#pragma unroll
                for (int c = 0; c < kVec; ++c) h[j][r][c] = to_float(from_float<St>(h[j][r][c]));
    }
};

// Two 16-bit values, one from each word: both low halves (high == 0) or both high halves,
// the first word's in the low half of the result. Applied to the 4 halves of a 2 x 2 block
// it transposes them: VK's accesses run along k, the packed pairs along v.
__device__ __forceinline__ unsigned same_halves(unsigned first, unsigned second, int high) {
    return __byte_perm(first, second, high ? 0x7632 : 0x5410);
}
// The word of a VK access (4 rows of one column) that holds row r.
__device__ __forceinline__ unsigned half_rows(uint2 access, int r) { return r < 2 ? access.x : access.y; }

// A 16-bit state kept in registers as stored, two elements per register, for calls that
// round h to the state dtype after every token anyway (T = 1, or circular with the state
// written, docs/SPEC.md): the same results as StateTile, with twice the state per register, so
// more state bytes in flight per SM. Whole tiles only (every access a 4-element vector).
// pairs[j][r][p] holds columns 2p (low half) and 2p + 1 (high half) of row r; layout VK
// loads 4 rows of one column per access, so its halves are transposed (same_halves).
template <class St, class Tl>
struct PackedStateTile {
    static_assert(Tl::whole && sizeof(St) == 2);
    static constexpr int J = Tl::groups;
    unsigned pairs[J][kVec][kVec / 2];

    __device__ __forceinline__ float get(int j, int r, int c) const {
        // Opaque to the compiler, so that it unpacks again at each use rather than keeping
        // unpacked copies live across the K-sum (which would undo the packing). The register
        // report is the same without it; the measured version (bench/NOTES.md) has it.
        unsigned bits;
        asm volatile("mov.b32 %0, %1;" : "=r"(bits) : "r"(pairs[j][r][c / 2]));
        const unsigned short half = static_cast<unsigned short>(c % 2 ? bits >> 16 : bits & 0xffffu);
        return to_float(*reinterpret_cast<const St*>(&half));
    }
    __device__ __forceinline__ void set_pair(int j, int r, int c, float x0, float x1) {
        pairs[j][r][c / 2] = Vector<St>::pack(x0, x1);
    }

    __device__ void load(const DecodeArgs& a, const St* matrix, int column0) {
        uint2 columns[J][kVec];  // layout VK: access (j, i) is column i, rows 0..3
        for_each_access<Tl>(a, column0, [&](int j, int i, int offset, int, auto layout_kv) {
            const uint2 raw = load_raw<Caching::streaming>(reinterpret_cast<const uint2*>(matrix + offset));
            if constexpr (decltype(layout_kv)::value) pairs[j][i][0] = raw.x, pairs[j][i][1] = raw.y;  // row i
            else columns[j][i] = raw;
        });
        if constexpr (Tl::layout == LayoutChoice::vk)
#pragma unroll
            for (int j = 0; j < J; ++j)
#pragma unroll
                for (int r = 0; r < kVec; ++r)
#pragma unroll
                    for (int p = 0; p < kVec / 2; ++p)
                        pairs[j][r][p] = same_halves(half_rows(columns[j][2 * p], r), half_rows(columns[j][2 * p + 1], r), r % 2);
    }

    __device__ void store(const DecodeArgs& a, St* matrix, int column0) {
        for_each_access<Tl>(a, column0, [&](int j, int i, int offset, int, auto layout_kv) {
            uint2 raw;
            if constexpr (decltype(layout_kv)::value) {
                raw = make_uint2(pairs[j][i][0], pairs[j][i][1]);
            } else {  // column i: its halves of rows 0 and 1, and of rows 2 and 3
                raw = make_uint2(same_halves(pairs[j][0][i / 2], pairs[j][1][i / 2], i % 2),
                                 same_halves(pairs[j][2][i / 2], pairs[j][3][i / 2], i % 2));
            }
            store_raw<Caching::streaming>(reinterpret_cast<uint2*>(matrix + offset), raw);
        });
    }

    __device__ void round_trip() {}  // h already holds state-dtype values
};

// One token's inputs, as this thread needs them: its rows of q and k, its columns of v, g
// and beta. load() only issues loads, so that they are in flight together (for the first
// token, alongside the state's); prepare() applies the l2 norms, exp(g) and the scale.
template <class In, class Tl>
struct TokenInputs {
    static constexpr int J = Tl::groups;
    float q[J][kVec], k[J][kVec], value[kVec], g, beta;

    // q and k are read at the key head, v at the value head (hv, which also indexes g and beta).
    __device__ void load(const DecodeArgs& a, std::int64_t batch_row, std::int64_t token, std::int64_t head,
                         std::int64_t value_head, std::int64_t hv, int column0) {
        g = a.g ? load_gate<In>(a.g, a.gate_dtype, offset3(a.g_stride, batch_row, token, hv)) : 0.0f;
        beta = GDR_MUTATE(beta_ignored_without_g, a.beta && a.g, a.beta != nullptr)
                   ? load_gate<In>(a.beta, a.gate_dtype, offset3(a.beta_stride, batch_row, token, hv))
                   : 1.0f;
        const In* q_row = static_cast<const In*>(a.q) + offset3(a.q_stride, batch_row, token, head);
        const In* k_row = static_cast<const In*>(a.k) + offset3(a.k_stride, batch_row, token, head);
#pragma unroll
        for (int j = 0; j < J; ++j) {
            const int k0 = Tl::first_row(j);
            const int valid = GDR_MUTATE(key_tail_unmasked, kVec, valid_from(k0, static_cast<int>(a.K)));
            load_vector<Caching::normal, Tl::whole>(q_row + k0, valid, a.inputs_vector_access, q[j]);
            load_vector<Caching::normal, Tl::whole>(k_row + k0, valid, a.inputs_vector_access, k[j]);
        }
        const In* v_row = static_cast<const In*>(a.v) + offset3(a.v_stride, batch_row, token, value_head);
        const int v0 = column0 + Tl::first_column();
        load_vector<Caching::normal, Tl::whole>(v_row + v0, valid_from(v0, static_cast<int>(a.V)), a.inputs_vector_access, value);
    }

    // Returns alpha = exp(g).
    __device__ float prepare(const DecodeArgs& a, CrossWarpSums<Tl>& sums) {
        if (a.l2norm) {
            float squares[2] = {sum_of_squares(q), sum_of_squares(k)};  // over the block's rows
#pragma unroll
            for (int n = 0; n < 2; ++n) {
                squares[n] = sum_over_key_lanes<Tl>(a, squares[n]);
                // The lanes of a row hold the same rows: adding them counts each square again.
                GDR_MUTANT_ONLY(norm_counts_duplicate_lanes, squares[n] += __shfl_xor_sync(0xffffffffu, squares[n], 1));
            }
            add_across_warps<Tl>(a, squares, &sums.norms[0][0], 2, threadIdx.x % 32 == 0);
            // x * (1 / norm) is within an ulp of x / norm, at one division instead of 4 J.
            const float epsilon = GDR_MUTATE(l2norm_eps_dropped, 0.0f, 1e-6f);
            scale_rows(q, 1.0f / sqrtf(squares[0] + epsilon));
            if (GDR_MUTATE(l2norm_skips_k, false, true)) scale_rows(k, 1.0f / sqrtf(squares[1] + epsilon));
        }
        GDR_UNLESS_MUTANT(scale_applied_to_k, scale_rows(q, a.scale));
        GDR_MUTANT_ONLY(scale_applied_to_k, scale_rows(k, a.scale));
        return a.g ? decay_of(a, g) : 1.0f;
    }

private:
    __device__ static float sum_of_squares(const float (&x)[J][kVec]) {
        float squares = 0.0f;
#pragma unroll
        for (int j = 0; j < J; ++j)
#pragma unroll
            for (int r = 0; r < kVec; ++r) squares += x[j][r] * x[j][r];
        return squares;
    }
    __device__ static void scale_rows(float (&x)[J][kVec], float factor) {
#pragma unroll
        for (int j = 0; j < J; ++j)
#pragma unroll
            for (int r = 0; r < kVec; ++r) x[j][r] *= factor;
    }
};

// Where a row's state lives, and whether the kernel touches it at all.
struct RowPlace {
    std::int64_t n;          // the bank entry
    std::int64_t read_slot;  // the slot the row reads: 0 unless circular
    bool active;             // a valid entry and, when circular, a non-negative cache_seqlen
};
__device__ __forceinline__ RowPlace place_of(const DecodeArgs& a, std::int64_t row) {
    RowPlace place;
    place.n = GDR_MUTATE(state_indices_ignored, row, a.state_indices ? a.state_indices[row] : row);
    const std::int32_t cache_seqlen = a.cache_seqlens ? a.cache_seqlens[row] : 0;
    place.active = place.n >= 0 && GDR_MUTATE(index_equal_n_active, place.n <= a.N, place.n < a.N) &&
                   GDR_MUTATE(negative_seqlen_active, true, cache_seqlen >= 0);
    place.read_slot = a.cache_seqlens && place.active ? circular_read_slot(a, cache_seqlen) : 0;
    return place;
}

// The state matrix S[n, slot, hv] in the bank.
template <class St>
__device__ __forceinline__ St* matrix_of(const DecodeArgs& a, std::int64_t n, std::int64_t slot, std::int64_t hv) {
    return static_cast<St*>(a.state) + bank_offset(a, ((n * a.slots + slot) * a.value_heads + hv) * a.K * a.V);
}

// o of this thread's columns, written by the lanes of lane_k 0 in warp 0 (one writer per column).
template <class Tl, class In>
__device__ __forceinline__ void store_columns(const DecodeArgs& a, In* row, int v0, const float (&x)[kVec]) {
    if (Tl::warp() != 0 || Tl::lane_k() != 0) return;
    store_vector<Caching::normal, Tl::whole>(row + v0, valid_from(v0, static_cast<int>(a.V)), a.inputs_vector_access, x);
}

template <class In, class St, class Tl>
__global__ void __launch_bounds__(Tl::threads, Tl::min_blocks_per_sm) decode_kernel(const DecodeArgs a) {
    __shared__ CrossWarpSums<Tl> sums;
    // blockIdx.x is the (value head, column tile) pair, blockIdx.y the row. A grid-stride
    // loop over rows keeps the launch legal for any B (gridDim.y <= 65535). Every branch
    // below is uniform across the block, so the barriers in add_across_warps are safe.
    const unsigned tiles = static_cast<unsigned>(tile_count(a, Tl::columns));
    const std::int64_t hv = blockIdx.x / tiles;
    const int column0 = static_cast<int>(blockIdx.x % tiles) * Tl::columns;
    const int v0 = column0 + Tl::first_column();  // this thread's first value column
    const std::int64_t head = GDR_MUTATE(head_mapping_modulo, hv % (a.value_heads / a.group), hv / a.group);
    const std::int64_t value_head = GDR_MUTATE(v_read_at_key_head, head, hv);  // of v and o
    In* o = static_cast<In*>(a.o);
    using Tile = std::conditional_t<Tl::packed, PackedStateTile<St, Tl>, StateTile<St, Tl>>;
    for (std::int64_t row = blockIdx.y; row < a.rows; row += GDR_MUTATE(grid_clamp_without_stride_loop, a.rows, gridDim.y)) {
        std::int64_t batch_row = row, begin = 0, end = a.seq_len;
        if (a.varlen) {
            batch_row = 0;
            begin = a.cu_seqlens_i64 ? static_cast<const std::int64_t*>(a.cu_seqlens)[row]
                                     : static_cast<const std::int32_t*>(a.cu_seqlens)[row];
            end = a.cu_seqlens_i64 ? static_cast<const std::int64_t*>(a.cu_seqlens)[row + 1]
                                   : static_cast<const std::int32_t*>(a.cu_seqlens)[row + 1];
            GDR_MUTANT_ONLY(varlen_end_off_by_one, end += 1);
        }
        if (end <= begin) continue;  // a row with no tokens writes nothing

        const RowPlace place = place_of(a, row);
        if (!place.active) {  // exact zeros, and no bank element read or written
            constexpr float zeros[kVec] = {};
            for (std::int64_t token = begin; token < end; ++token)
                GDR_UNLESS_MUTANT(inactive_row_output_unwritten,
                                  store_columns<Tl>(a, o + offset3(a.o_stride, batch_row, token, value_head), v0, zeros));
            GDR_MUTANT_ONLY(inactive_row_writes_state,  // a zero state into slot 0 of a valid entry
                            if (place.n >= 0 && place.n < a.N && a.output_final_state)
                                Tile{}.store(a, matrix_of<St>(a, place.n, 0, hv), column0));
            continue;
        }

        TokenInputs<In, Tl> in;
        in.load(a, batch_row, begin, head, value_head, hv, column0);  // first: in flight with the state's loads
        Tile state;
        state.load(a, matrix_of<St>(a, place.n, place.read_slot, hv), column0);

        const bool circular = a.cache_seqlens != nullptr;
        for (std::int64_t t = 0; t < end - begin; ++t) {
            const std::int64_t token = begin + t;
            if (t > 0) in.load(a, batch_row, token, head, value_head, hv, column0);
            const float alpha = in.prepare(a, sums);

            // The decayed state alpha h is computed where it is used, not stored back: a
            // packed tile could only store it rounded.
            float hk[kVec] = {};  // h^T k per column, after the decay h = alpha h
#pragma unroll
            for (int j = 0; j < Tl::groups; ++j)
#pragma unroll
                for (int r = 0; r < kVec; ++r)
#pragma unroll
                    for (int c = 0; c < kVec; ++c)
                        hk[c] += GDR_MUTATE(decay_after_delta, state.get(j, r, c), alpha * state.get(j, r, c)) * in.k[j][r];
            column_sums<Tl>(a, hk, sums.hk);
            float u[kVec], out[kVec] = {};
#pragma unroll
            for (int c = 0; c < kVec; ++c) u[c] = in.beta * (in.value[c] - hk[c]);  // u = beta (v - h^T k)
#pragma unroll
            for (int j = 0; j < Tl::groups; ++j)
#pragma unroll
                for (int r = 0; r < kVec; ++r)
#pragma unroll
                    for (int c = 0; c < kVec; c += 2) {
                        float updated[2];
#pragma unroll
                        for (int e = 0; e < 2; ++e) {
                            const float decayed = alpha * state.get(j, r, c + e);
                            GDR_MUTANT_ONLY(output_before_update, out[c + e] += decayed * in.q[j][r]);
                            updated[e] = decayed + in.k[j][r] * u[c + e];  // h = alpha h + k u^T
                            GDR_MUTANT_ONLY(decay_after_delta,
                                            updated[e] = alpha * (state.get(j, r, c + e) + in.k[j][r] * u[c + e]));
                            GDR_UNLESS_MUTANT(output_before_update, out[c + e] += updated[e] * in.q[j][r]);
                        }
                        state.set_pair(j, r, c, updated[0], updated[1]);
                    }
            column_sums<Tl>(a, out, sums.out);  // o = h^T q, from the updated h
#pragma unroll
            for (int c = 0; c < kVec; ++c) GDR_MUTANT_ONLY(output_rounded_through_state_dtype, out[c] = to_float(from_float<St>(out[c])));
            store_columns<Tl>(a, o + offset3(a.o_stride, batch_row, token, value_head), v0, out);

            if (circular && a.output_final_state) {
                state.store(a, matrix_of<St>(a, place.n, circular_write_slot(a, place.read_slot, t), hv), column0);
                if (GDR_MUTATE(round_trip_after_last_token, true, t < end - begin - 1) && !std::is_same_v<St, float>)
                    GDR_UNLESS_MUTANT(missing_cache_round_trip, state.round_trip());
            }
            GDR_MUTANT_ONLY(round_trip_in_non_circular_mode,
                            if (!circular && t < end - begin - 1 && !std::is_same_v<St, float>) state.round_trip());
        }
        if (!circular && a.output_final_state) state.store(a, matrix_of<St>(a, place.n, 0, hv), column0);
    }
}

template <class In, class St, class Tl>
void launch(const DecodeArgs& a, cudaStream_t stream) {
    const std::int64_t pairs = a.value_heads * tile_count(a, Tl::columns);  // < 2^31 (unsupported_reason)
    if (pairs == 0) return;
    // The kernel loops over the rows beyond gridDim.y (the mutant clamps lower, so that a
    // test of a few thousand rows reaches the missing loop).
    const std::int64_t max_rows = GDR_MUTATE(grid_clamp_without_stride_loop, 2048, 65535);
    const dim3 blocks(static_cast<unsigned>(pairs), static_cast<unsigned>(std::min(a.rows, max_rows)));
    decode_kernel<In, St, Tl><<<blocks, Tl::threads, 0, stream>>>(a);
    check(cudaGetLastError(), "fused_recurrent_decode launch");
}

// Lanes along v of the whole tiles. A 16-bit state takes twice the columns (KV: 128 B of a
// row per tile again; VK: twice the elements per thread, so as many bytes in flight), up to
// K = 128: at K = 256 that tile would need more registers than a thread has.
constexpr int whole_lanes_v(bool kv, std::size_t state_bytes, std::int64_t capacity) {
    const int wider = state_bytes == 2 && capacity <= 128 ? 2 : 1;
    return (kv ? 8 : 2) * wider;
}

// The kernels for keys up to KeyCapacity (64, 128 or 256).
template <int KeyCapacity, class St>
struct Tilings {
    static constexpr int kv_lanes = whole_lanes_v(true, sizeof(St), KeyCapacity);
    static constexpr int vk_lanes = whole_lanes_v(false, sizeof(St), KeyCapacity);
    static constexpr int kv_rows_per_warp = 32 / kv_lanes * kVec;
    using General = Tiling<2, 1, KeyCapacity / 64, LayoutChoice::at_run_time, false>;
    using WholeVK = Tiling<vk_lanes, 1, KeyCapacity / (32 / vk_lanes * kVec), LayoutChoice::vk, true>;
    using WholeKV = Tiling<kv_lanes, KeyCapacity / (4 * kv_rows_per_warp), 4, LayoutChoice::kv, true>;
    using WholeVKPacked = Tiling<vk_lanes, 1, WholeVK::groups, LayoutChoice::vk, true, true>;
    using WholeKVPacked = Tiling<kv_lanes, WholeKV::warps, 4, LayoutChoice::kv, true, true>;
    static_assert(General::key_capacity == KeyCapacity && WholeVK::key_capacity == KeyCapacity &&
                  WholeKV::key_capacity == KeyCapacity);
};

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

void copy_strides(std::int64_t (&out)[3], const TensorArg& tensor) {
    for (int d = 0; d < 3; ++d) out[d] = tensor.stride[d];
}

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
    a.q = problem.q.data;
    a.k = problem.k.data;
    a.v = problem.v.data;
    a.o = problem.o.data;
    a.g = problem.g.data;
    a.beta = problem.beta.data;
    a.state = problem.state;
    a.state_indices = problem.state_indices;
    a.cache_seqlens = problem.cache_seqlens;
    a.cu_seqlens = problem.cu_seqlens;
    a.cu_seqlens_i64 = problem.cu_seqlens_type == IndexType::i64;
    copy_strides(a.q_stride, problem.q);
    copy_strides(a.k_stride, problem.k);
    copy_strides(a.v_stride, problem.v);
    copy_strides(a.o_stride, problem.o);
    copy_strides(a.g_stride, problem.g);
    copy_strides(a.beta_stride, problem.beta);
    GDR_MUTANT_ONLY(strides_read_as_contiguous, dense_strides(a.q_stride, problem.qk_shape()); dense_strides(a.k_stride, problem.qk_shape());
                    dense_strides(a.v_stride, problem.vo_shape()); dense_strides(a.o_stride, problem.vo_shape()));
    a.rows = problem.rows();
    a.seq_len = problem.seq_len;
    a.value_heads = problem.num_value_heads;
    a.group = problem.num_value_heads / problem.num_heads;
    a.K = problem.key_dim;
    a.V = problem.value_dim;
    a.N = problem.bank_entries();
    a.slots = problem.slots();
    a.gate_dtype = GDR_MUTATE(gates_read_as_f32, DType::f32, problem.gate_dtype);
    a.l2norm = GDR_MUTATE(l2norm_always_on, true, problem.use_qk_l2norm);
    a.output_final_state = GDR_MUTATE(final_state_written_when_disabled, true, problem.output_final_state);
    a.varlen = problem.varlen();
    a.layout_kv = GDR_MUTATE(layout_flag_inverted, problem.layout != Layout::KV, problem.layout == Layout::KV);
    a.scale = static_cast<float>(problem.effective_scale());
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
DecodeTiling decode_tiling(const Problem& problem) {
    validate(problem, ValidateOptions{/*arrays_on_host=*/false, /*allow_f64_storage=*/false});
    if (const auto reason = unsupported_reason(problem)) throw NotSupported(*reason);
    return tiling_of(make_args(problem), problem.state_dtype);
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

}  // namespace gdr::cuda (gdr::cuda::mutants in the mutant build)
