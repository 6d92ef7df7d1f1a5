// Invalid input (docs/SPEC.md "Invalid input", core validate()): the oracle throws
// gdr::InvalidArgument naming the argument, before anything is written.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "gdr/core/errors.hpp"
#include "gdr/core/poison.hpp"
#include "gdr/core/problem.hpp"
#include "gdr/reference/fused_recurrent.hpp"

using gdr::DType;
using gdr::Layout;
using gdr::Problem;
using gdr::reference::OracleOptions;
using gdr::reference::Precision;
using gdr::reference::run_fused_recurrent;

namespace {

using i64 = std::int64_t;

// A valid circular problem, B = 2, T = 2, H = 1, HV = 2, K = 2, V = 3 (K != V), Slots = 2,
// N = 3 with state_indices, f32 everywhere, g and beta present. Owns its buffers (sized
// generously so that mutations that grow a dimension stay in bounds). `varlen`: the same
// as two sequences of lengths 1 and 2 of a [1, 3, ...] batch.
struct Fixture {
    static constexpr i64 B = 2, T = 2, H = 1, HV = 2, K = 2, V = 3, S = 2, N = 3;
    std::vector<float> q, k, v, g, beta, o;
    std::vector<float> bank;
    std::vector<i64> indices{2, 0};
    std::vector<std::int32_t> cache{0, 3};
    std::vector<std::int32_t> cu32{0, 1, 3};
    std::vector<i64> cu64{0, 1, 3};
    Problem p;

    explicit Fixture(bool varlen = false) {
        const i64 big = 4096;  // room for any mutated extent below
        q.assign(big, 0.25f), k.assign(big, 0.5f), v.assign(big, 1.0f), g.assign(big, -0.1f), beta.assign(big, 0.5f);
        o.resize(big);
        bank.resize(big);
        for (std::size_t i = 0; i < bank.size(); ++i) bank[i] = float(i % 7) * 0.125f;
        gdr::fill_poison(o.data(), o.size() * 4, DType::f32);
        const i64 b = varlen ? 1 : B, t = varlen ? 3 : T;
        p.batch = b, p.seq_len = t, p.num_heads = H, p.num_value_heads = HV, p.key_dim = K, p.value_dim = V;
        p.layout = Layout::KV;
        p.q = {q.data(), DType::f32, {t * H * K, H * K, K, 1}};
        p.k = {k.data(), DType::f32, {t * H * K, H * K, K, 1}};
        p.v = {v.data(), DType::f32, {t * HV * V, HV * V, V, 1}};
        p.o = {o.data(), DType::f32, {t * HV * V, HV * V, V, 1}};
        p.g = {g.data(), DType::f32, {t * HV, HV, 1, 0}};
        p.beta = {beta.data(), DType::f32, {t * HV, HV, 1, 0}};
        p.state = bank.data();
        p.state_shape = {N, S, HV, K, V};
        p.state_indices = indices.data();
        p.cache_seqlens = cache.data();
        if (varlen) {
            p.cu_seqlens = cu32.data();
            p.num_sequences = 2;
        }
    }
};

struct Rule {
    const char* what;
    const char* argument;  // expected InvalidArgument::argument()
    std::function<void(Fixture&)> mutate;
    bool varlen = false;
    Precision precision = Precision::truth_fp64;
};

void check_rejected(const Rule& rule) {
    Fixture f(rule.varlen);
    rule.mutate(f);
    const std::vector<float> o_before = f.o, bank_before = f.bank;
    INFO(rule.what);
    bool threw = false;
    try {
        run_fused_recurrent(f.p, OracleOptions{rule.precision, gdr::reference::ReductionOrder::forward});
    } catch (const gdr::InvalidArgument& e) {
        threw = true;
        INFO("what(): " << e.what());
        CHECK(e.argument() == rule.argument);
        CHECK(std::string(e.what()).rfind(rule.argument, 0) == 0);  // the message starts with the argument
    }
    CHECK(threw);
    // Nothing written: o and the bank are byte-identical to before.
    CHECK(std::memcmp(f.o.data(), o_before.data(), o_before.size() * 4) == 0);
    CHECK(std::memcmp(f.bank.data(), bank_before.data(), bank_before.size() * 4) == 0);
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

TEST_CASE("oracle invalid: the fixtures themselves are valid and do write", "[oracle][invalid]") {
    for (bool varlen : {false, true}) {
        for (Precision precision : {Precision::truth_fp64, Precision::emulated_fp32}) {
            Fixture f(varlen);
            const std::vector<float> bank_before = f.bank;
            REQUIRE_NOTHROW(
                run_fused_recurrent(f.p, OracleOptions{precision, gdr::reference::ReductionOrder::forward}));
            CHECK_FALSE(gdr::is_poison(f.o.data(), 4, DType::f32));
            CHECK(std::memcmp(f.bank.data(), bank_before.data(), bank_before.size() * 4) != 0);
        }
    }
}

TEST_CASE("oracle invalid: every rule names its argument and writes nothing", "[oracle][invalid]") {
    const std::vector<Rule> rules = {
        // Sizes.
        {"batch < 0", "batch", [](Fixture& f) { f.p.batch = -1; }},
        {"seq_len < 0", "seq_len", [](Fixture& f) { f.p.seq_len = -1; }},
        {"H < 1", "num_heads", [](Fixture& f) { f.p.num_heads = 0; }},
        {"HV < 1", "num_value_heads", [](Fixture& f) { f.p.num_value_heads = 0; }},
        {"HV % H != 0 (HV = 2, H = 3)", "num_value_heads", [](Fixture& f) { f.p.num_heads = 3; }},
        {"HV % H != 0 (HV = 3, H = 2)", "num_value_heads",
         [](Fixture& f) { f.p.num_heads = 2, f.p.num_value_heads = 3, f.p.state_shape[2] = 3; }},
        {"K < 1", "key_dim", [](Fixture& f) { f.p.key_dim = 0, f.p.state_shape[3] = 0; }},
        {"V < 1", "value_dim", [](Fixture& f) { f.p.value_dim = 0, f.p.state_shape[4] = 0; }},
        {"scale NaN", "scale", [](Fixture& f) { f.p.scale = kNaN; }},
        {"scale infinite", "scale", [](Fixture& f) { f.p.scale = std::numeric_limits<double>::infinity(); }},
        // Dtypes.
        {"input dtype f64", "input_dtype", [](Fixture& f) { f.p.input_dtype = DType::f64; }},
        {"gate dtype neither f32 nor the input dtype", "gate_dtype",
         [](Fixture& f) { f.p.input_dtype = DType::f16, f.p.gate_dtype = DType::bf16; }},
        {"gate dtype f64", "gate_dtype", [](Fixture& f) { f.p.gate_dtype = DType::f64; }},
        {"state dtype f64", "state_dtype",
         [](Fixture& f) { f.p.state_dtype = DType::f64, f.p.state_storage = DType::f64; }},
        {"q buffer dtype differs from input dtype", "q", [](Fixture& f) { f.p.q.dtype = DType::bf16; }},
        {"k buffer dtype differs", "k", [](Fixture& f) { f.p.k.dtype = DType::f16; }},
        {"v buffer dtype differs", "v", [](Fixture& f) { f.p.v.dtype = DType::f64; }},
        {"o buffer dtype differs", "o", [](Fixture& f) { f.p.o.dtype = DType::bf16; }},
        {"g buffer dtype differs from gate dtype", "g", [](Fixture& f) { f.p.g.dtype = DType::bf16; }},
        {"beta buffer dtype differs", "beta", [](Fixture& f) { f.p.beta.dtype = DType::f16; }},
        {"bank storage differs from state dtype", "state", [](Fixture& f) { f.p.state_storage = DType::bf16; }},
        {"f64 o in the emulated run", "o", [](Fixture& f) { f.p.o.dtype = DType::f64; }, false,
         Precision::emulated_fp32},
        {"f64 bank in the emulated run", "state", [](Fixture& f) { f.p.state_storage = DType::f64; }, false,
         Precision::emulated_fp32},
        // The bank's shape.
        {"N < 1", "state", [](Fixture& f) { f.p.state_shape[0] = 0; }},
        {"Slots < 1", "state", [](Fixture& f) { f.p.state_shape[1] = 0; }},
        {"bank dim 2 != HV", "state", [](Fixture& f) { f.p.state_shape[2] = 1; }},
        {"KV layout given a [.., V, K] bank", "state",
         [](Fixture& f) {
             f.p.state_shape = {3, 2, 2, 3, 2};
         }},
        {"VK layout given a [.., K, V] bank", "state", [](Fixture& f) { f.p.layout = Layout::VK; }},
        {"bank K dim disagrees with K", "state", [](Fixture& f) { f.p.state_shape[3] = 4; }},
        {"N != B without state_indices", "state", [](Fixture& f) { f.p.state_indices = nullptr; }},
        // Required pointers.
        {"bank pointer null", "state", [](Fixture& f) { f.p.state = nullptr; }},
        {"q null", "q", [](Fixture& f) { f.p.q.data = nullptr; }},
        {"k null", "k", [](Fixture& f) { f.p.k.data = nullptr; }},
        {"v null", "v", [](Fixture& f) { f.p.v.data = nullptr; }},
        {"o null", "o", [](Fixture& f) { f.p.o.data = nullptr; }},
        // Strides.
        {"negative stride", "k", [](Fixture& f) { f.p.k.stride[1] = -2; }},
        {"innermost stride of v not 1", "v", [](Fixture& f) { f.p.v.stride[3] = 2; }},
        {"o heads overlap (stride[2] < V)", "o", [](Fixture& f) { f.p.o.stride[2] = 2; }},
        {"o tokens overlap (stride[1] = 0)", "o", [](Fixture& f) { f.p.o.stride[1] = 0; }},
        {"o rows alias (stride[0] = stride[1])", "o", [](Fixture& f) { f.p.o.stride[0] = f.p.o.stride[1]; }},
        // state_indices.
        {"duplicate active state_indices", "state_indices",
         [](Fixture& f) {
             f.indices = {1, 1};
             f.p.state_indices = f.indices.data();
         }},
        {"duplicate state_indices, both active in circular mode", "state_indices",
         [](Fixture& f) {
             f.indices = {0, 0}, f.cache = {1, 0};
             f.p.state_indices = f.indices.data(), f.p.cache_seqlens = f.cache.data();
         }},
        // cu_seqlens (varlen).
        {"varlen with batch != 1", "batch", [](Fixture& f) { f.p.batch = 2; }, true},
        {"cu_seqlens[0] != 0", "cu_seqlens",
         [](Fixture& f) {
             f.cu32 = {1, 1, 3};
             f.p.cu_seqlens = f.cu32.data();
         },
         true},
        {"cu_seqlens decreasing", "cu_seqlens",
         [](Fixture& f) {
             f.cu32 = {0, 2, 1};
             f.p.cu_seqlens = f.cu32.data();
         },
         true},
        {"cu_seqlens overrunning the tokens", "cu_seqlens",
         [](Fixture& f) {
             f.cu32 = {0, 1, 4};
             f.p.cu_seqlens = f.cu32.data();
         },
         true},
        {"cu_seqlens short of the tokens", "cu_seqlens",
         [](Fixture& f) {
             f.cu32 = {0, 1, 2};
             f.p.cu_seqlens = f.cu32.data();
         },
         true},
        {"cu_seqlens (i64) decreasing", "cu_seqlens",
         [](Fixture& f) {
             f.cu64 = {0, 3, 2};
             f.p.cu_seqlens = f.cu64.data(), f.p.cu_seqlens_type = gdr::IndexType::i64;
         },
         true},
        {"cu_seqlens (i64) overrunning", "cu_seqlens",
         [](Fixture& f) {
             f.cu64 = {0, 1, 7};
             f.p.cu_seqlens = f.cu64.data(), f.p.cu_seqlens_type = gdr::IndexType::i64;
         },
         true},
        {"negative num_sequences", "cu_seqlens", [](Fixture& f) { f.p.num_sequences = -1; }, true},
        {"varlen N != N_seq without state_indices", "state", [](Fixture& f) { f.p.state_indices = nullptr; }, true},
        {"varlen duplicate active state_indices", "state_indices",
         [](Fixture& f) {
             f.indices = {2, 2};
             f.p.state_indices = f.indices.data();
         },
         true},
    };
    for (const Rule& rule : rules) check_rejected(rule);
    // Also in the emulated run, for a sample of rules (the run path differs only after validation).
    for (std::size_t i = 0; i < rules.size(); i += 5) {
        Rule rule = rules[i];
        rule.precision = Precision::emulated_fp32;
        check_rejected(rule);
    }
}

TEST_CASE("oracle invalid: duplicates among inactive rows are allowed", "[oracle][invalid]") {
    Fixture f;
    f.indices = {-1, -1};
    f.p.state_indices = f.indices.data();
    const std::vector<float> bank_before = f.bank;
    REQUIRE_NOTHROW(run_fused_recurrent(f.p, OracleOptions{}));
    CHECK(std::memcmp(f.bank.data(), bank_before.data(), bank_before.size() * 4) == 0);
    CHECK(f.o[0] == 0.0f);
}
