// An owning host buffer of one DType with a logical shape and element strides, so that
// strided views (slices of a fused projection) are real memory layouts, not fictions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gdr/core/dtype.hpp"

namespace gdr::harness {

class HostTensor {
public:
    HostTensor() = default;
    // Contiguous row-major tensor.
    HostTensor(DType dtype, std::vector<std::int64_t> shape);
    // Strided tensor; storage covers the largest reachable offset. Strides in elements.
    HostTensor(DType dtype, std::vector<std::int64_t> shape, std::vector<std::int64_t> strides);

    DType dtype() const { return dtype_; }
    const std::vector<std::int64_t>& shape() const { return shape_; }
    const std::vector<std::int64_t>& strides() const { return strides_; }
    std::int64_t numel() const { return numel_; }  // logical elements
    bool empty() const { return numel_ == 0; }

    void* data() { return storage_.data(); }
    const void* data() const { return storage_.data(); }
    std::size_t storage_bytes() const { return storage_.size(); }
    std::vector<std::byte>& bytes() { return storage_; }
    const std::vector<std::byte>& bytes() const { return storage_; }

    // Storage offset (elements) of a logical row-major flat index.
    std::int64_t offset_of(std::int64_t logical_index) const;
    double get(std::int64_t logical_index) const;             // exact conversion to double
    void set(std::int64_t logical_index, double value);       // one RNE rounding to dtype()
    // Every logical element as double, in logical row-major order.
    std::vector<double> to_doubles() const;
    // The same logical values stored as `dtype` (contiguous); f64 copies are exact.
    HostTensor converted(DType dtype) const;

    // Fill every storage byte (including gaps between strided elements) with the poison
    // pattern of dtype() (gdr/core/poison.hpp), so that an element never written is visible.
    void poison();
    // Logical elements whose bytes still hold the poison pattern.
    std::int64_t poison_survivors() const;
    bool element_is_poison(std::int64_t logical_index) const;

private:
    DType dtype_ = DType::f32;
    std::vector<std::int64_t> shape_;
    std::vector<std::int64_t> strides_;
    std::vector<std::byte> storage_;
    // Fixed at construction: offset_of runs once per element access, and fuzz campaigns
    // spent half their time recomputing these.
    std::int64_t numel_ = 0;
    bool dense_ = true;  // row-major strides: the storage offset is the logical index
};

}  // namespace gdr::harness
