#include "gdr/harness/host_tensor.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>

#include "gdr/core/errors.hpp"
#include "gdr/core/poison.hpp"
#include "gdr/reference/numeric.hpp"

namespace gdr::harness {

namespace {

// Storage is bounded well below what a size_t could hold so that a corrupt shape fails
// with a message instead of asking the allocator for exabytes.
constexpr std::int64_t kMaxStorageBytes = std::int64_t(1) << 40;

std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* what) {
    std::int64_t out = 0;
    if (__builtin_mul_overflow(a, b, &out)) throw InvalidArgument("shape", std::string(what) + " overflows int64");
    return out;
}

std::int64_t checked_add(std::int64_t a, std::int64_t b, const char* what) {
    std::int64_t out = 0;
    if (__builtin_add_overflow(a, b, &out)) throw InvalidArgument("shape", std::string(what) + " overflows int64");
    return out;
}

std::vector<std::int64_t> dense_strides(const std::vector<std::int64_t>& shape) {
    std::vector<std::int64_t> strides(shape.size(), 1);
    std::int64_t running = 1;
    for (std::size_t i = shape.size(); i-- > 0;) {
        strides[i] = running;
        // An extent of 0 makes the tensor empty; keep strides finite and positive.
        running = checked_mul(running, std::max<std::int64_t>(shape[i], 1), "dense stride");
    }
    return strides;
}

}  // namespace

namespace detail {

// calloc: large blocks are fresh pages from the kernel, zero without a write; their first
// touch then happens where the caller writes them (in parallel where it fills in parallel).
void* allocate_zeroed(std::size_t bytes) {
    void* block = std::calloc(bytes == 0 ? 1 : bytes, 1);
    if (!block) throw std::bad_alloc();
    return block;
}

void release_zeroed(void* block, std::size_t) noexcept { std::free(block); }

}  // namespace detail

HostTensor::HostTensor(DType dtype, std::vector<std::int64_t> shape)
    : HostTensor(dtype, shape, dense_strides(shape)) {}

HostTensor::HostTensor(DType dtype, std::vector<std::int64_t> shape, std::vector<std::int64_t> strides)
    : HostTensor(dtype, std::move(shape), std::move(strides), 0, 0) {}

HostTensor::HostTensor(DType dtype, std::vector<std::int64_t> shape, std::vector<std::int64_t> strides,
                       std::int64_t margin_before, std::int64_t margin_after)
    : dtype_(dtype), shape_(std::move(shape)), strides_(std::move(strides)) {
    if (margin_before < 0 || margin_after < 0) throw InvalidArgument("shape", "a margin is negative");
    if (shape_.size() != strides_.size())
        throw InvalidArgument("shape", "rank " + std::to_string(shape_.size()) + " but " +
                                           std::to_string(strides_.size()) + " strides");
    for (std::size_t d = 0; d < shape_.size(); ++d) {
        if (shape_[d] < 0) throw InvalidArgument("shape", "extent " + std::to_string(shape_[d]) + " is negative");
        if (strides_[d] < 0) throw InvalidArgument("shape", "stride " + std::to_string(strides_[d]) + " is negative");
    }
    // Also validates that the logical element count fits in int64.
    numel_ = 1;
    for (const std::int64_t e : shape_) numel_ = checked_mul(numel_, e, "element count");
    if (shape_.empty()) numel_ = 0;  // rank 0 is "absent" and holds nothing
    dense_ = strides_ == dense_strides(shape_);
    // Storage covers the largest reachable offset: sum of (extent - 1) * stride, plus one.
    std::int64_t storage_elements = 0;
    if (numel_ > 0) {
        std::int64_t last = 0;
        for (std::size_t d = 0; d < shape_.size(); ++d)
            last = checked_add(last, checked_mul(shape_[d] - 1, strides_[d], "storage offset"), "storage offset");
        storage_elements = checked_add(last, 1, "storage size");
    }
    const std::int64_t size = std::int64_t(dtype_size(dtype_));
    const std::int64_t bytes = checked_mul(storage_elements, size, "storage bytes");
    margin_before_bytes_ = std::size_t(checked_mul(margin_before, size, "margins"));
    margin_after_bytes_ = std::size_t(checked_mul(margin_after, size, "margins"));
    const std::int64_t total = checked_add(
        bytes, checked_add(std::int64_t(margin_before_bytes_), std::int64_t(margin_after_bytes_), "margins"), "storage bytes");
    if (total > kMaxStorageBytes)
        throw InvalidArgument("shape", "storage of " + std::to_string(total) + " bytes exceeds the 1 TiB limit");
    if (total > 0) storage_.resize(std::size_t(total));  // zeroed by the allocator
}

HostTensor HostTensor::with_margins(DType dtype, std::vector<std::int64_t> shape, std::int64_t before,
                                    std::int64_t after) {
    std::vector<std::int64_t> strides = dense_strides(shape);
    return HostTensor(dtype, std::move(shape), std::move(strides), before, after);
}

void HostTensor::check_range(std::int64_t begin, std::int64_t count) const {
    if (begin < 0 || count < 0 || begin > numel_ - count)
        throw std::out_of_range("HostTensor: elements [" + std::to_string(begin) + ", +" + std::to_string(count) +
                                ") outside [0, " + std::to_string(numel_) + ")");
}

std::int64_t HostTensor::offset_of(std::int64_t logical_index) const {
    if (logical_index < 0 || logical_index >= numel_)
        throw std::out_of_range("HostTensor: logical index " + std::to_string(logical_index) + " outside [0, " +
                                std::to_string(numel_) + ")");
    if (dense_) return logical_index;
    std::int64_t offset = 0;
    std::int64_t rest = logical_index;
    for (std::size_t d = shape_.size(); d-- > 0;) {
        const std::int64_t coordinate = rest % shape_[d];
        rest /= shape_[d];
        offset += coordinate * strides_[d];
    }
    return offset;
}

double HostTensor::get(std::int64_t logical_index) const {
    return reference::load_double(data(), dtype_, offset_of(logical_index));
}

void HostTensor::set(std::int64_t logical_index, double value) {
    reference::store_double(data(), dtype_, offset_of(logical_index), value);
}

std::vector<double> HostTensor::to_doubles() const { return to_doubles(0, numel()); }

std::vector<double> HostTensor::to_doubles(std::int64_t begin, std::int64_t count) const {
    if (count == 0) return {};
    check_range(begin, count);
    std::vector<double> out(static_cast<std::size_t>(count));
    if (dense_) {
        reference::load_doubles(data(), dtype_, begin, count, out.data());
        return out;
    }
    for (std::int64_t i = 0; i < count; ++i) out[std::size_t(i)] = reference::load_double(data(), dtype_, offset_of(begin + i));
    return out;
}

HostTensor HostTensor::converted(DType dtype) const {
    if (shape_.empty()) return HostTensor{};
    HostTensor out(dtype, shape_);
    const std::int64_t n = numel();
    if (dtype == dtype_) {
        // Same dtype: copy the bytes, so NaN payloads (the poison pattern) survive; a trip
        // through double would quiet a signalling NaN.
        const auto* from = static_cast<const std::byte*>(data());
        if (dense_) {
            if (storage_bytes() > 0) std::memcpy(out.data(), from, storage_bytes());
            return out;
        }
        const std::size_t size = dtype_size(dtype_);
        for (std::int64_t i = 0; i < n; ++i)
            std::memcpy(out.storage_.data() + std::size_t(i) * size, from + std::size_t(offset_of(i)) * size, size);
        return out;
    }
    if (dense_ && dtype == DType::f64) {  // widening, the oracle's common case: no offsets, no rounding
        auto* wide = static_cast<double*>(out.data());
        for (std::int64_t i = 0; i < n; ++i) wide[i] = reference::load_double(data(), dtype_, i);
        return out;
    }
    for (std::int64_t i = 0; i < n; ++i) out.set(i, get(i));
    return out;
}

void HostTensor::poison() { fill_poison(storage_.data(), storage_.size(), dtype_); }

bool HostTensor::element_is_poison(std::int64_t logical_index) const {
    const std::size_t size = dtype_size(dtype_);
    return is_poison(static_cast<const std::byte*>(data()) + std::size_t(offset_of(logical_index)) * size, size, dtype_);
}

std::int64_t HostTensor::poison_survivors() const {
    const std::vector<std::uint8_t> mask = poison_mask(0, numel());
    return std::int64_t(std::count(mask.begin(), mask.end(), std::uint8_t(1)));
}

std::vector<std::uint8_t> HostTensor::poison_mask(std::int64_t begin, std::int64_t count) const {
    if (count == 0) return {};
    check_range(begin, count);
    const std::vector<std::byte> pattern = poison_pattern(dtype_);  // once, not per element
    const std::size_t size = dtype_size(dtype_);
    const auto* base = static_cast<const std::byte*>(data());
    std::vector<std::uint8_t> mask(static_cast<std::size_t>(count));
    // Elements compared as integers of their width (a memcmp call per element was most of
    // the poison check's time on a serving-size bank).
    const auto compare_as = [&]<class Bits>(Bits) {
        Bits poison;
        std::memcpy(&poison, pattern.data(), sizeof(Bits));
        for (std::int64_t i = 0; i < count; ++i) {
            Bits element;
            std::memcpy(&element, base + std::size_t(dense_ ? begin + i : offset_of(begin + i)) * size, sizeof(Bits));
            mask[std::size_t(i)] = element == poison ? 1 : 0;
        }
    };
    switch (size) {
    case 2: compare_as(std::uint16_t{}); break;
    case 4: compare_as(std::uint32_t{}); break;
    default: compare_as(std::uint64_t{}); break;  // f64
    }
    return mask;
}

}  // namespace gdr::harness
