// An owning host buffer of one DType with a logical shape and element strides, so that
// strided views (slices of a fused projection) are real memory layouts, not fictions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "gdr/core/dtype.hpp"

namespace gdr::harness {

// HostTensor's storage: zeroed bytes without a pass that writes the zeros. A serving-size
// bank is gigabytes: a zero fill touched every page once in one thread (the kernel clears
// each page at its first touch), before the generator wrote it again in parallel.
namespace detail {
void* allocate_zeroed(std::size_t bytes);
void release_zeroed(void* block, std::size_t bytes) noexcept;
}  // namespace detail

template <class T>
struct ZeroedAllocator {
    using value_type = T;
    ZeroedAllocator() = default;
    template <class U>
    ZeroedAllocator(const ZeroedAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return static_cast<T*>(detail::allocate_zeroed(n * sizeof(T))); }
    void deallocate(T* block, std::size_t n) noexcept { detail::release_zeroed(block, n * sizeof(T)); }
    // A new element is left as the allocation made it (zero): no fill pass. Copies of
    // elements still construct from their value.
    template <class U>
    void construct(U* at) noexcept {
        ::new (static_cast<void*>(at)) U;
    }
    template <class U>
    bool operator==(const ZeroedAllocator<U>&) const noexcept {
        return true;
    }
};

using TensorBytes = std::vector<std::byte, ZeroedAllocator<std::byte>>;

class HostTensor {
public:
    HostTensor() = default;
    // Contiguous row-major tensor.
    HostTensor(DType dtype, std::vector<std::int64_t> shape);
    // Strided tensor; storage covers the largest reachable offset. Strides in elements.
    HostTensor(DType dtype, std::vector<std::int64_t> shape, std::vector<std::int64_t> strides);
    // Contiguous tensor inside a larger allocation: `before` and `after` more elements of
    // storage around it (a bank inside its arena, bank_arena.hpp), so that a write just
    // outside the tensor lands in memory the owner checks. data() is the tensor's first
    // element; bytes() and poison() cover the margins too.
    static HostTensor with_margins(DType dtype, std::vector<std::int64_t> shape, std::int64_t before,
                                   std::int64_t after);

    DType dtype() const { return dtype_; }
    const std::vector<std::int64_t>& shape() const { return shape_; }
    const std::vector<std::int64_t>& strides() const { return strides_; }
    std::int64_t numel() const { return numel_; }  // logical elements
    bool empty() const { return numel_ == 0; }

    void* data() { return storage_.data() + margin_before_bytes_; }
    const void* data() const { return storage_.data() + margin_before_bytes_; }
    // The tensor's own storage (margins excluded).
    std::size_t storage_bytes() const { return storage_.size() - margin_before_bytes_ - margin_after_bytes_; }
    // Every byte the tensor owns, margins included.
    TensorBytes& bytes() { return storage_; }
    const TensorBytes& bytes() const { return storage_; }
    std::size_t margin_before_bytes() const { return margin_before_bytes_; }
    std::size_t margin_after_bytes() const { return margin_after_bytes_; }

    // Storage offset (elements) of a logical row-major flat index.
    std::int64_t offset_of(std::int64_t logical_index) const;
    double get(std::int64_t logical_index) const;             // exact conversion to double
    void set(std::int64_t logical_index, double value);       // one RNE rounding to dtype()
    // Every logical element as double, in logical row-major order.
    std::vector<double> to_doubles() const;
    // Logical elements [begin, begin + count) as double (one slice of a large tensor).
    std::vector<double> to_doubles(std::int64_t begin, std::int64_t count) const;
    // The same logical values stored as `dtype` (contiguous); f64 copies are exact.
    HostTensor converted(DType dtype) const;

    // Fill every storage byte (including gaps between strided elements) with the poison
    // pattern of dtype() (gdr/core/poison.hpp), so that an element never written is visible.
    void poison();
    // Logical elements whose bytes still hold the poison pattern.
    std::int64_t poison_survivors() const;
    // Per logical element of [begin, begin + count): 1 where its bytes hold the poison pattern.
    std::vector<std::uint8_t> poison_mask(std::int64_t begin, std::int64_t count) const;
    bool element_is_poison(std::int64_t logical_index) const;

private:
    // The constructors' one body: the storage is allocated once, with its margins (a
    // serving-size bank is gigabytes, and first touches of fresh pages are its slow part).
    HostTensor(DType dtype, std::vector<std::int64_t> shape, std::vector<std::int64_t> strides,
               std::int64_t margin_before, std::int64_t margin_after);
    // Throws std::out_of_range unless [begin, begin + count) lies within the logical elements.
    void check_range(std::int64_t begin, std::int64_t count) const;

    DType dtype_ = DType::f32;
    std::vector<std::int64_t> shape_;
    std::vector<std::int64_t> strides_;
    TensorBytes storage_;  // [margin before | the tensor | margin after], zeroed
    std::size_t margin_before_bytes_ = 0, margin_after_bytes_ = 0;
    // Fixed at construction: offset_of runs once per element access, and fuzz campaigns
    // spent half their time recomputing these.
    std::int64_t numel_ = 0;
    bool dense_ = true;  // row-major strides: the storage offset is the logical index
};

}  // namespace gdr::harness
