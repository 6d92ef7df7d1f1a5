// The guard bands and poison of GuardedBuffer must see what they exist to see: a write
// one element past the end, one element before the start, and an element never written.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "gdr/core/poison.hpp"
#include "gdr/cuda/device.hpp"
#include "gdr/cuda/guarded_buffer.hpp"
#include "cuda/write_floats.hpp"

namespace {

void run_write(const gdr::cuda::GuardedBuffer& buffer, std::int64_t begin, std::int64_t end) {
    write_floats(static_cast<float*>(buffer.data()), begin, end, 1.5f);
}

constexpr int cuda_error_invalid_value = 1;  // cudaErrorInvalidValue

}  // namespace

TEST_CASE("guarded buffer: an in-bounds write leaves the guards intact", "[gpu][harness]") {
    gdr::cuda::GuardedBuffer buffer(100 * sizeof(float), gdr::DType::f32);
    run_write(buffer, 0, 100);
    CHECK(buffer.damaged_guard_bytes() == 0);
    std::vector<float> host(100);
    buffer.download(host.data(), host.size() * sizeof(float));
    for (float x : host) REQUIRE(x == 1.5f);
}

TEST_CASE("guarded buffer: a write one element past the end damages the back guard", "[gpu][harness]") {
    gdr::cuda::GuardedBuffer buffer(100 * sizeof(float), gdr::DType::f32);
    run_write(buffer, 0, 101);
    CHECK(buffer.damaged_guard_bytes() == sizeof(float));
}

TEST_CASE("guarded buffer: a write one element before the start damages the front guard", "[gpu][harness]") {
    gdr::cuda::GuardedBuffer buffer(100 * sizeof(float), gdr::DType::f32);
    run_write(buffer, -1, 0);
    CHECK(buffer.damaged_guard_bytes() == sizeof(float));
}

TEST_CASE("guarded buffer: an element never written still holds poison", "[gpu][harness]") {
    gdr::cuda::GuardedBuffer buffer(100 * sizeof(float), gdr::DType::f32);
    run_write(buffer, 0, 99);
    std::vector<float> host(100);
    buffer.download(host.data(), host.size() * sizeof(float));
    CHECK(gdr::is_poison(&host[99], sizeof(float), gdr::DType::f32));
    CHECK_FALSE(gdr::is_poison(&host[98], sizeof(float), gdr::DType::f32));
}

TEST_CASE("cuda check names the failing call", "[gpu][harness]") {
    REQUIRE_THROWS_WITH(gdr::cuda::check(cuda_error_invalid_value, "my call"), Catch::Contains("my call") &&
                                                                                       Catch::Contains("cudaErrorInvalidValue"));
}

TEST_CASE("guarded buffer: a payload of several poison chunks, of an odd size, is poison throughout", "[gpu][harness]") {
    // The poison is a host chunk of 1 MiB doubled on the device: a payload of 3 MiB and 6
    // bytes of bf16 takes several doublings and ends off the chunk's size.
    const std::size_t bytes = (std::size_t(3) << 20) + 6;
    gdr::cuda::GuardedBuffer buffer(bytes, gdr::DType::bf16);
    CHECK(buffer.damaged_guard_bytes() == 0);
    std::vector<std::byte> host(bytes);
    buffer.download(host.data(), bytes);
    CHECK(gdr::is_poison(host.data(), bytes, gdr::DType::bf16));
}

TEST_CASE("guarded buffer: upload and download at an offset move only that range, and past the payload is an error",
          "[gpu][harness]") {
    gdr::cuda::GuardedBuffer buffer(100 * sizeof(float), gdr::DType::f32);
    const std::vector<float> values(10, 2.5f);
    buffer.upload(values.data(), 10 * sizeof(float), 40 * sizeof(float));
    std::vector<float> host(100);
    buffer.download(host.data(), host.size() * sizeof(float));
    for (int i = 0; i < 100; ++i) {
        INFO("element " << i);
        CHECK(gdr::is_poison(&host[std::size_t(i)], sizeof(float), gdr::DType::f32) == (i < 40 || i >= 50));
    }
    std::vector<float> middle(10);
    buffer.download(middle.data(), 10 * sizeof(float), 40 * sizeof(float));
    CHECK(middle == values);
    CHECK_THROWS_AS(buffer.upload(values.data(), 10 * sizeof(float), 91 * sizeof(float)), std::length_error);
    CHECK_THROWS_AS(buffer.download(middle.data(), 10 * sizeof(float), 200 * sizeof(float)), std::length_error);
    CHECK(buffer.damaged_guard_bytes() == 0);
}
