// Element conversions of the oracle (reference/numeric.hpp): exact loads, one RNE
// rounding per store (double -> f16/bf16 included), ulp and unit roundoff, and the
// poison patterns of core/poison.hpp.
#include <algorithm>
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "gdr/core/poison.hpp"
#include "gdr/reference/numeric.hpp"

using gdr::DType;
using gdr::reference::load_double;
using gdr::reference::load_float;
using gdr::reference::round_to;
using gdr::reference::store_double;
using gdr::reference::store_float;
using gdr::reference::ulp;
using gdr::reference::unit_roundoff;

namespace {

std::uint16_t bits16_of_double(DType dtype, double value) {
    std::uint16_t out = 0;
    store_double(&out, dtype, 0, value);
    return out;
}

std::uint16_t bits16_of_float(DType dtype, float value) {
    std::uint16_t out = 0;
    store_float(&out, dtype, 0, value);
    return out;
}

double value16(DType dtype, std::uint16_t bits) { return load_double(&bits, dtype, 0); }

// Correct RNE rounding of a double to a binary format with `precision` significand bits
// and smallest normal exponent `min_exponent`, written independently of the library:
// scale to an integer significand (exact, a power of two) and let nearbyint round it.
double rne_reference(double x, int precision, int min_exponent) {
    if (x == 0.0 || !std::isfinite(x)) return x;
    const int e = std::max(std::ilogb(x), min_exponent);
    const double spacing = std::ldexp(1.0, e - precision + 1);
    return std::nearbyint(x / spacing) * spacing;
}

}  // namespace

TEST_CASE("numeric: every f16 and bf16 value loads exactly and stores back to the same bits", "[numeric]") {
    for (DType dtype : {DType::f16, DType::bf16}) {
        CAPTURE(gdr::to_string(dtype));
        int nan_count = 0;
        for (std::uint32_t b = 0; b < 0x10000u; ++b) {
            const auto bits = static_cast<std::uint16_t>(b);
            const double d = value16(dtype, bits);
            const float f = load_float(&bits, dtype, 0);
            if (std::isnan(d)) {
                ++nan_count;
                REQUIRE(std::isnan(f));
                continue;
            }
            REQUIRE(double(f) == d);
            REQUIRE(bits16_of_double(dtype, d) == bits);
            REQUIRE(bits16_of_float(dtype, f) == bits);
            REQUIRE(std::bit_cast<std::uint64_t>(round_to(dtype, d)) == std::bit_cast<std::uint64_t>(d));
        }
        // 2 signs x (2^m - 1) non-zero mantissas with an all-ones exponent.
        CHECK(nan_count == (dtype == DType::f16 ? 2 * 1023 : 2 * 127));
    }
}

TEST_CASE("numeric: known encodings", "[numeric]") {
    CHECK(bits16_of_double(DType::bf16, 1.0) == 0x3F80);
    CHECK(bits16_of_double(DType::f16, 1.0) == 0x3C00);
    CHECK(bits16_of_double(DType::bf16, -2.0) == 0xC000);
    CHECK(bits16_of_double(DType::f16, 65504.0) == 0x7BFF);
    CHECK(bits16_of_double(DType::f16, 0.0) == 0x0000);
    CHECK(bits16_of_double(DType::f16, -0.0) == 0x8000);
    CHECK(value16(DType::f16, 0x0001) == std::ldexp(1.0, -24));  // smallest f16 subnormal
    CHECK(value16(DType::bf16, 0x0001) == std::ldexp(1.0, -133));
    float f = 0;
    store_double(&f, DType::f32, 0, 0.1);
    CHECK(f == 0.1f);
    double d = 0;
    store_double(&d, DType::f64, 0, 0.1);
    CHECK(d == 0.1);
    CHECK(load_double(&f, DType::f32, 0) == double(0.1f));
    CHECK(load_float(&d, DType::f64, 0) == 0.1f);
}

TEST_CASE("numeric: ties round to even for bf16 and f16", "[numeric]") {
    // bf16 has 8 significand bits: spacing 2^-7 on [1, 2).
    const double bf_down = 1.0 + std::ldexp(1.0, -8);    // tie between 1 (even) and 1 + 2^-7 (odd)
    const double bf_up = 1.0 + 3 * std::ldexp(1.0, -8);  // tie between 1 + 2^-7 (odd) and 1 + 2^-6 (even)
    CHECK(bits16_of_double(DType::bf16, bf_down) == 0x3F80);
    CHECK(bits16_of_double(DType::bf16, bf_up) == 0x3F82);
    CHECK(bits16_of_float(DType::bf16, float(bf_down)) == 0x3F80);
    CHECK(bits16_of_float(DType::bf16, float(bf_up)) == 0x3F82);
    CHECK(bits16_of_double(DType::bf16, -bf_up) == 0xBF82);
    // f16 has 11 significand bits: spacing 2^-10 on [1, 2).
    const double h_down = 1.0 + std::ldexp(1.0, -11);
    const double h_up = 1.0 + 3 * std::ldexp(1.0, -11);
    CHECK(bits16_of_double(DType::f16, h_down) == 0x3C00);
    CHECK(bits16_of_double(DType::f16, h_up) == 0x3C02);
    CHECK(bits16_of_float(DType::f16, float(h_down)) == 0x3C00);
    CHECK(bits16_of_float(DType::f16, float(h_up)) == 0x3C02);
    // Off the tie by one float ulp goes to the nearer neighbour.
    CHECK(bits16_of_float(DType::bf16, std::nextafter(float(bf_down), 2.0f)) == 0x3F81);
    CHECK(bits16_of_float(DType::f16, std::nextafter(float(h_up), 0.0f)) == 0x3C01);
    // f32 ties (double -> float is the hardware's RNE).
    CHECK(round_to(DType::f32, 1.0 + std::ldexp(1.0, -24)) == 1.0);
    CHECK(round_to(DType::f32, 1.0 + 3 * std::ldexp(1.0, -24)) == 1.0 + std::ldexp(1.0, -22));
}

TEST_CASE("numeric: double -> f16/bf16 is one rounding, not double -> float -> 16 bits", "[numeric]") {
    struct Case {
        DType dtype;
        double value;
        double correct;
    };
    const double bf_tie = 1.0 + std::ldexp(1.0, -8);
    const double bf_tie_odd = 1.0 + 3 * std::ldexp(1.0, -8);
    const double h_tie = 1.0 + std::ldexp(1.0, -11);
    const Case cases[] = {
        // Just above a tie whose lower neighbour is even: float rounding lands on the tie,
        // and RNE then wrongly goes down.
        {DType::bf16, bf_tie + std::ldexp(1.0, -30), 1.0 + std::ldexp(1.0, -7)},
        {DType::bf16, -(bf_tie + std::ldexp(1.0, -30)), -(1.0 + std::ldexp(1.0, -7))},
        // Just below a tie whose upper neighbour is even: naive goes wrongly up.
        {DType::bf16, bf_tie_odd - std::ldexp(1.0, -30), 1.0 + std::ldexp(1.0, -7)},
        {DType::f16, h_tie + std::ldexp(1.0, -40), 1.0 + std::ldexp(1.0, -10)},
        // In the subnormal ranges (half the smallest subnormal, plus a little).
        {DType::f16, std::ldexp(1.0, -25) + std::ldexp(1.0, -60), std::ldexp(1.0, -24)},
        {DType::bf16, std::ldexp(1.0, -134) + std::ldexp(1.0, -170), std::ldexp(1.0, -133)},
    };
    for (const Case& c : cases) {
        CAPTURE(gdr::to_string(c.dtype), c.value, c.correct);
        // The case is a real double-rounding trap: the naive route gives something else.
        const float via_float = static_cast<float>(c.value);
        std::uint16_t naive_bits = 0;
        store_float(&naive_bits, c.dtype, 0, via_float);
        REQUIRE(value16(c.dtype, naive_bits) != c.correct);

        CHECK(value16(c.dtype, bits16_of_double(c.dtype, c.value)) == c.correct);
        CHECK(round_to(c.dtype, c.value) == c.correct);
    }
}

TEST_CASE("numeric: double -> f16/bf16 matches an independent correct rounding near ties", "[numeric]") {
    std::mt19937_64 rng(20240611);
    std::uniform_int_distribution<int> exponent(-12, 12), sub_bits(25, 52), coin(0, 1);
    std::uniform_int_distribution<std::uint32_t> mantissa(0, 0xFFFFFFFFu);
    struct Format {
        DType dtype;
        int precision, min_exponent;
    };
    for (const Format fmt : {Format{DType::bf16, 8, -126}, Format{DType::f16, 11, -14}}) {
        CAPTURE(gdr::to_string(fmt.dtype));
        for (int i = 0; i < 20000; ++i) {
            // A random representable value plus half a spacing (a tie), nudged by a tiny
            // relative amount of either sign (or not at all).
            const int e = exponent(rng);
            const double base = std::ldexp(1.0 + std::ldexp(double(mantissa(rng) >> 8), -24), e);
            const double spacing = std::ldexp(1.0, std::max(std::ilogb(base), fmt.min_exponent) - fmt.precision + 1);
            const double rounded_base = rne_reference(base, fmt.precision, fmt.min_exponent);
            double x = rounded_base + spacing / 2;
            const int nudge = coin(rng) ? 0 : sub_bits(rng);
            if (nudge) x += (coin(rng) ? 1 : -1) * std::ldexp(x, -nudge);
            if (coin(rng)) x = -x;
            CAPTURE(x);
            REQUIRE(round_to(fmt.dtype, x) == rne_reference(x, fmt.precision, fmt.min_exponent));
        }
    }
}

TEST_CASE("numeric: overflow, infinities, NaN and tiny values", "[numeric]") {
    const double inf = std::numeric_limits<double>::infinity();
    CHECK(round_to(DType::bf16, 1e300) == inf);
    CHECK(round_to(DType::bf16, -1e300) == -inf);
    CHECK(round_to(DType::f16, 1e300) == inf);
    CHECK(round_to(DType::f32, 1e300) == inf);
    CHECK(round_to(DType::f16, 65520.0) == inf);  // the tie above 65504 rounds to "even" 2^16: inf
    CHECK(round_to(DType::f16, 65519.99) == 65504.0);
    CHECK(round_to(DType::bf16, double(std::numeric_limits<float>::max())) == inf);
    CHECK(round_to(DType::bf16, inf) == inf);
    CHECK(round_to(DType::f16, -inf) == -inf);
    CHECK(std::isnan(round_to(DType::bf16, std::nan(""))));
    CHECK(std::isnan(round_to(DType::f16, std::nan(""))));
    CHECK(std::isnan(round_to(DType::f32, std::nan(""))));
    CHECK(std::isnan(round_to(DType::f16, std::nanf(""))));
    // Below half the smallest subnormal: a zero that keeps the sign.
    CHECK(bits16_of_double(DType::bf16, 1e-300) == 0x0000);
    CHECK(bits16_of_double(DType::bf16, -1e-300) == 0x8000);
    CHECK(bits16_of_double(DType::f16, -1e-300) == 0x8000);
    CHECK(bits16_of_double(DType::f16, std::ldexp(1.0, -25)) == 0x0000);  // exact tie: to even (zero)
    CHECK(bits16_of_double(DType::f16, 3 * std::ldexp(1.0, -25)) == 0x0002);
    CHECK(round_to(DType::f16, 3.0f * std::ldexp(1.0f, -25)) == 2.0f * std::ldexp(1.0f, -24));
}

TEST_CASE("numeric: ulp and unit roundoff", "[numeric]") {
    CHECK(ulp(DType::f32, 1.0) == std::ldexp(1.0, -23));
    CHECK(ulp(DType::f32, 1.99) == std::ldexp(1.0, -23));
    CHECK(ulp(DType::f32, 2.0) == std::ldexp(1.0, -22));
    CHECK(ulp(DType::f32, -2.0) == std::ldexp(1.0, -22));
    CHECK(ulp(DType::bf16, 1.0) == std::ldexp(1.0, -7));
    CHECK(ulp(DType::bf16, 300.0) == 2.0);
    CHECK(ulp(DType::f16, 1.5) == std::ldexp(1.0, -10));
    CHECK(ulp(DType::f16, 0.75) == std::ldexp(1.0, -11));
    CHECK(ulp(DType::f16, 1e-7) == std::ldexp(1.0, -24));  // subnormal spacing
    CHECK(ulp(DType::f16, 0.0) == std::ldexp(1.0, -24));
    CHECK(ulp(DType::bf16, 0.0) == std::ldexp(1.0, -133));
    CHECK(ulp(DType::f32, 1e-45) == std::ldexp(1.0, -149));
    CHECK(ulp(DType::f64, 1.0) == std::ldexp(1.0, -52));
    CHECK(ulp(DType::f64, 1e-310) == std::ldexp(1.0, -1074));  // a double subnormal
    CHECK(ulp(DType::f32, 1e300) == std::ldexp(1.0, 996 - 23));
    CHECK(std::isnan(ulp(DType::f32, std::nan(""))));
    CHECK(ulp(DType::f32, -std::numeric_limits<double>::infinity()) == std::numeric_limits<double>::infinity());
    // The bit-level exponent agrees with the definition, 2^(max(ilogb x, e_min) - p + 1),
    // over every binade a double has (the comparison calls ulp per element, so it is fast).
    {
        std::mt19937_64 bits_rng(11);
        const std::pair<DType, std::pair<int, int>> formats[] = {
            {DType::f32, {-126, 24}}, {DType::bf16, {-126, 8}}, {DType::f16, {-14, 11}}, {DType::f64, {-1022, 53}}};
        for (int i = 0; i < 20000; ++i) {
            const double x = std::bit_cast<double>(bits_rng());  // every exponent, subnormals, both signs
            if (!std::isfinite(x)) continue;
            for (const auto& [dtype, format] : formats) {
                const int e = x == 0.0 ? format.first : std::max(std::ilogb(x), format.first);
                REQUIRE(ulp(dtype, x) == std::ldexp(1.0, e - format.second + 1));
            }
        }
    }
    CHECK(unit_roundoff(DType::f32) == std::ldexp(1.0, -24));
    // round_to is finite exactly below overflow_threshold (the comparison decides finiteness
    // with this one comparison instead of rounding every element).
    CHECK(gdr::reference::overflow_threshold(DType::f16) == 65520.0);
    CHECK(gdr::reference::overflow_threshold(DType::f64) == std::numeric_limits<double>::infinity());
    for (const DType dtype : {DType::f32, DType::bf16, DType::f16, DType::f64}) {
        const double edge = gdr::reference::overflow_threshold(dtype);
        if (std::isfinite(edge)) {
            CHECK(std::isinf(round_to(dtype, edge)));
            CHECK(std::isinf(round_to(dtype, -edge)));
            CHECK(std::isfinite(round_to(dtype, std::nextafter(edge, 0.0))));
            CHECK(std::isfinite(round_to(dtype, -std::nextafter(edge, 0.0))));
        }
        std::mt19937_64 bits_rng(12);
        for (int i = 0; i < 20000; ++i) {
            const double x = std::bit_cast<double>(bits_rng());  // every exponent, NaN and Inf included
            REQUIRE(std::isfinite(round_to(dtype, x)) == (std::abs(x) < edge));
        }
    }
    CHECK(unit_roundoff(DType::f16) == std::ldexp(1.0, -11));
    CHECK(unit_roundoff(DType::bf16) == std::ldexp(1.0, -8));
    CHECK(unit_roundoff(DType::f64) == std::ldexp(1.0, -53));
    // Rounding to nearest moves a value by at most half an ulp.
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> u(-1000.0, 1000.0);
    for (DType dtype : {DType::f32, DType::f16, DType::bf16}) {
        for (int i = 0; i < 1000; ++i) {
            const double x = u(rng);
            REQUIRE(std::fabs(round_to(dtype, x) - x) <= ulp(dtype, x) / 2);
        }
    }
}

TEST_CASE("numeric: fill_poison repeats the pattern over any length, and writes nothing past it", "[numeric]") {
    for (DType dtype : {DType::f32, DType::f16, DType::bf16, DType::f64}) {
        const std::vector<std::byte> pattern = gdr::poison_pattern(dtype);
        for (std::size_t bytes : {std::size_t(0), std::size_t(1), pattern.size(), std::size_t(7), std::size_t(1000),
                                  std::size_t(4099)}) {
            std::vector<std::byte> buffer(bytes + 8, std::byte{0x11});
            gdr::fill_poison(buffer.data(), bytes, dtype);
            for (std::size_t i = 0; i < bytes; ++i) REQUIRE(buffer[i] == pattern[i % pattern.size()]);
            for (std::size_t i = bytes; i < buffer.size(); ++i) REQUIRE(buffer[i] == std::byte{0x11});
        }
    }
}

TEST_CASE("numeric: poison patterns are signalling NaNs in every dtype", "[numeric]") {
    for (DType dtype : {DType::f32, DType::f16, DType::bf16, DType::f64}) {
        CAPTURE(gdr::to_string(dtype));
        std::byte element[8] = {};
        gdr::fill_poison(element, gdr::dtype_size(dtype), dtype);
        REQUIRE(gdr::is_poison(element, gdr::dtype_size(dtype), dtype));
        CHECK(std::isnan(load_double(element, dtype, 0)));
        // The quiet bit (the top mantissa bit) is clear: arithmetic never makes this NaN.
        std::uint64_t bits = 0;
        std::memcpy(&bits, element, gdr::dtype_size(dtype));
        const int mantissa_bits = dtype == DType::f32 ? 23 : dtype == DType::f16 ? 10 : dtype == DType::bf16 ? 7 : 52;
        CHECK(((bits >> (mantissa_bits - 1)) & 1u) == 0u);
        // A quiet NaN that arithmetic produces is not mistaken for poison.
        store_double(element, dtype, 0, std::numeric_limits<double>::quiet_NaN());
        CHECK(std::isnan(load_double(element, dtype, 0)));
        CHECK_FALSE(gdr::is_poison(element, gdr::dtype_size(dtype), dtype));
    }
    // Exact bit patterns of core/poison.hpp.
    std::uint32_t f32 = 0;
    gdr::fill_poison(&f32, 4, DType::f32);
    CHECK(f32 == 0x7FA5A5A5u);
    std::uint16_t h = 0;
    gdr::fill_poison(&h, 2, DType::f16);
    CHECK(h == 0x7D5Au);
}
