// The guard bands and poison of GuardedBuffer must see what they exist to see: a write
// one element past the end, one element before the start, and an element never written.
#include <catch2/catch.hpp>

#include <cstdint>
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
