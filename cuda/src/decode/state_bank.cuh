// Where a row's state lives in the state bank: its entry (state_indices), whether it is
// active, the circular slots it reads and writes (cache_seqlens), and the 64-bit offset of
// an (entry, slot, value head) matrix.
#pragma once

#include <cstdint>

#include "decode_args.cuh"
#include "../common/mutation_hooks.cuh"

namespace GDR_KERNEL_NAMESPACE {
namespace {

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

}  // namespace
}  // namespace GDR_KERNEL_NAMESPACE
