// HostTensor: strided offsets, dtype conversion, poison and the size guard.
#include <catch2/catch.hpp>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "gdr/core/errors.hpp"
#include "gdr/harness/host_tensor.hpp"

using gdr::DType;
using gdr::harness::HostTensor;

TEST_CASE("host tensor: strided offsets, conversion, poison and the size guard", "[generate][host_tensor]") {
    HostTensor t(DType::f32, {2, 3}, {10, 2});
    CHECK(t.numel() == 6);
    CHECK(t.storage_bytes() == (10 + 2 * 2 + 1) * 4);
    CHECK(t.offset_of(0) == 0);
    CHECK(t.offset_of(4) == 12);  // (1, 1)
    CHECK_THROWS_AS(t.offset_of(6), std::out_of_range);
    t.set(5, 1.0 / 3.0);
    CHECK(t.get(5) == double(1.0f / 3.0f));  // one rounding to f32

    HostTensor dense(DType::bf16, {2, 2});
    CHECK(dense.strides() == std::vector<std::int64_t>{2, 1});
    dense.set(1, 1.0 + 1.0 / 128.0 + 1.0 / 1024.0);  // rounds to nearest even in bf16
    CHECK(dense.get(1) == 1.0 + 1.0 / 128.0);
    const HostTensor wide = dense.converted(DType::f64);
    CHECK(wide.get(1) == dense.get(1));
    CHECK(wide.strides() == dense.strides());

    dense.poison();
    CHECK(dense.poison_survivors() == 4);
    dense.set(2, 0.5);
    CHECK(dense.poison_survivors() == 3);
    CHECK_FALSE(dense.element_is_poison(2));
    CHECK(dense.element_is_poison(3));

    CHECK(HostTensor{}.empty());
    CHECK(HostTensor(DType::f32, {3, 0}).storage_bytes() == 0);
    CHECK_THROWS_AS(HostTensor(DType::f32, {std::int64_t(1) << 40, std::int64_t(1) << 40}), gdr::InvalidArgument);
    CHECK_THROWS_AS(HostTensor(DType::f32, {2}, {std::int64_t(1) << 62}), gdr::InvalidArgument);
    CHECK_THROWS_AS(HostTensor(DType::f32, {-1}), gdr::InvalidArgument);
    CHECK_THROWS_AS(HostTensor(DType::f32, {2, 2}, {1}), gdr::InvalidArgument);
}
