// CaseSpec: text and JSON forms round-trip, and every invalid key or value is an error
// that names the key as it is written in the text form.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gdr/core/errors.hpp"
#include "gdr/harness/case_spec.hpp"
#include "gdr/harness/case_gen.hpp"
#include "support/rc_property.hpp"

using gdr::InvalidArgument;
using gdr::harness::CaseSpec;
using gdr::harness::from_json;
using gdr::harness::parse_text;
using gdr::harness::to_json;
using gdr::harness::to_text;
using nlohmann::json;

namespace {

// The key an invalid text names, or "<accepted>" when it parses.
std::string rejected_key(const std::string& text) {
    try {
        (void)parse_text(text);
    } catch (const InvalidArgument& e) {
        // what() must start with the argument, so messages read "K: must be ...".
        if (std::string(e.what()).rfind(e.argument() + ": ", 0) != 0) return "<bad message: " + std::string(e.what()) + ">";
        return e.argument();
    }
    return "<accepted>";
}

std::string rejected_json_key(const json& j) {
    try {
        (void)from_json(j);
    } catch (const InvalidArgument& e) {
        return e.argument();
    }
    return "<accepted>";
}

// A generated spec, sometimes with its rule-made arrays replaced by explicit ones and
// with arbitrary doubles, so that every field's codec is exercised.
rc::Gen<CaseSpec> gen_any_spec() {
    return rc::gen::exec([] {
        CaseSpec s = *gdr::harness::gen_case();
        const std::int64_t rows = s.rows();
        if (*rc::gen::arbitrary<bool>()) {
            s.indices = gdr::harness::IndicesRule::none;
            s.inactive_rows = 0;
            const std::int64_t n = s.resolved_bank_entries();
            s.explicit_indices = *rc::gen::container<std::vector<std::int64_t>>(
                std::size_t(rows), rc::gen::inRange<std::int64_t>(-8, n + 8));
            std::set<std::int64_t> active;  // a repeated active entry is invalid: make the repeat inactive
            for (std::int64_t& index : s.explicit_indices)
                if (index >= 0 && index < n && !active.insert(index).second) index = -1;
        }
        if (s.circular && *rc::gen::arbitrary<bool>()) {
            s.seqlen_max = 0;
            s.negative_seqlens = 0;
            s.explicit_cache_seqlens =
                *rc::gen::container<std::vector<std::int32_t>>(std::size_t(rows), rc::gen::arbitrary<std::int32_t>());
        }
        if (!s.exact && *rc::gen::arbitrary<bool>()) {
            const double x = *rc::gen::arbitrary<double>();
            if (std::isfinite(x)) s.scale = x;
        }
        const double y = std::abs(*rc::gen::arbitrary<double>());
        if (std::isfinite(y)) s.state_scale = y;
        return s;
    });
}

}  // namespace

TEST_CASE("case spec: text and JSON forms round-trip exactly", "[case_spec][property]") {
    gdr::testing::check_property("text round trip", [] {
        const CaseSpec s = *gen_any_spec();
        const std::string text = to_text(s);
        RC_LOG() << text << "\n";
        const CaseSpec back = parse_text(text);
        RC_ASSERT(back == s);
        RC_ASSERT(to_text(back) == text);
        // The doubles must come back bit for bit (== would accept -0 for +0).
        if (s.scale) RC_ASSERT(std::memcmp(&*back.scale, &*s.scale, sizeof(double)) == 0);
        RC_ASSERT(std::memcmp(&back.state_scale, &s.state_scale, sizeof(double)) == 0);
    });
    gdr::testing::check_property("json round trip", [] {
        const CaseSpec s = *gen_any_spec();
        RC_ASSERT(from_json(to_json(s)) == s);
        // Through serialised text too, as replay files hold it.
        RC_ASSERT(from_json(json::parse(to_json(s).dump())) == s);
    });
}

TEST_CASE("case spec: the text form has a fixed shape", "[case_spec]") {
    CHECK(to_text(CaseSpec{}) == "B=1 T=1 H=1 HV=1 K=16 V=16 layout=kv in=bf16 gate=f32 state=f32 seed=0");
    CaseSpec s;
    s.num_value_heads = 2;
    s.layout = gdr::Layout::VK;
    s.scale = 0.1;
    s.circular = true;
    s.seqlen_max = 9;
    s.explicit_indices = {};
    s.varlen = true;
    s.seq_lengths = {0, 3};
    s.seq_len = 3;
    s.seed = 18446744073709551615ull;
    CHECK(to_text(s) ==
          "B=1 T=3 H=1 HV=2 K=16 V=16 layout=vk in=bf16 gate=f32 state=f32 scale=0.1 circular=1 seqlen_max=9 "
          "varlen=1 seq_lengths=0,3 seed=18446744073709551615");
    CHECK(parse_text(to_text(s)) == s);
    // Whitespace of any kind separates pairs; missing keys keep their defaults; aliases.
    const CaseSpec t = parse_text("  K=4\tV=3\n in=fp32  ");
    CHECK(t.key_dim == 4);
    CHECK(t.value_dim == 3);
    CHECK(t.input_dtype == gdr::DType::f32);
    CHECK(t.seq_len == 1);
    CHECK(parse_text("") == CaseSpec{});
}

TEST_CASE("case spec: each invalid key or value names the key", "[case_spec]") {
    struct Case {
        const char* text;
        const char* key;
    };
    const std::vector<Case> cases = {
        {"B=-1", "B"},
        {"B=abc", "B"},
        {"B=1x", "B"},
        {"B=", "B"},
        {"B=99999999999999999999999", "B"},
        {"T=2000000", "T"},
        {"H=0", "H"},
        {"H=2 HV=3", "HV"},
        {"HV=0", "HV"},
        {"K=0", "K"},
        {"V=0", "V"},
        {"V=1.5", "V"},
        {"layout=kx", "layout"},
        {"in=f64", "in"},
        {"in=int8", "in"},
        {"in=f32 gate=bf16", "gate"},
        {"state=f64", "state"},
        {"g=2", "g"},
        {"beta=yes", "beta"},
        {"l2norm=true", "l2norm"},
        {"final=-1", "final"},
        {"scale=inf", "scale"},
        {"scale=nan", "scale"},
        {"scale=abc", "scale"},
        {"N=-1", "N"},
        {"N=3", "N"},
        {"B=0", "N"},
        {"slots=0", "slots"},
        {"indices=random", "indices"},
        {"indices=identity B=3 N=2", "N"},
        {"indices=permutation B=4 inactive=1 N=2", "N"},
        {"inactive=1", "inactive"},
        {"indices=permutation inactive=2", "inactive"},
        {"indices=permutation inactive=-1", "inactive"},
        {"explicit_indices=1,x", "explicit_indices"},
        {"explicit_indices=0,1", "explicit_indices"},
        {"explicit_indices=0 indices=identity", "indices"},
        // Two active rows on one bank entry (issue 11: was FAILED at run time, not invalid input).
        {"B=3 N=4 explicit_indices=1,1,3", "explicit_indices"},
        {"B=2 N=2 circular=1 cache_seqlens=0,4 explicit_indices=1,1", "explicit_indices"},
        {"B=2 N=2 circular=1 seqlen_max=3 neg_seqlens=1 explicit_indices=0,0", "explicit_indices"},
        {"circular=2", "circular"},
        {"seqlen_max=3", "seqlen_max"},
        {"circular=1 seqlen_max=-1", "seqlen_max"},
        {"circular=1 seqlen_max=2147483648", "seqlen_max"},
        {"neg_seqlens=1", "neg_seqlens"},
        {"circular=1 neg_seqlens=2", "neg_seqlens"},
        {"cache_seqlens=1", "cache_seqlens"},
        {"circular=1 cache_seqlens=2147483648", "cache_seqlens"},
        {"circular=1 cache_seqlens=1,2", "cache_seqlens"},
        {"circular=1 cache_seqlens=1 seqlen_max=4", "seqlen_max"},
        {"varlen=1 B=2 seq_lengths=1 T=1", "B"},
        {"varlen=1 seq_lengths=1,2 T=4", "T"},
        {"varlen=1 seq_lengths=1,-1 T=0", "seq_lengths"},
        {"varlen=1 seq_lengths=1,,2 T=3", "seq_lengths"},
        {"seq_lengths=1", "seq_lengths"},
        {"cu_type=i16", "cu_type"},
        {"strides=weird", "strides"},
        {"qk=x", "qk"},
        {"gdist=x", "gdist"},
        {"bdist=x", "bdist"},
        {"state_scale=-1", "state_scale"},
        {"exact=2", "exact"},
        {"exact=1 l2norm=1 gdist=zero bdist=one scale=1", "l2norm"},
        {"exact=1 l2norm=0 bdist=one scale=1", "gdist"},
        {"exact=1 l2norm=0 gdist=zero scale=1", "bdist"},
        {"exact=1 l2norm=0 gdist=zero bdist=one", "scale"},
        {"exact=1 l2norm=0 gdist=zero bdist=one scale=0.3", "scale"},
        {"exact=1 l2norm=0 gdist=zero bdist=half scale=1 state=bf16 T=8", "T"},
        {"exact=1 l2norm=0 gdist=zero bdist=half scale=1 varlen=1 seq_lengths=1,8 T=9 state=bf16", "seq_lengths"},
        {"seed=-1", "seed"},
        {"seed=18446744073709551616", "seed"},
        {"B=1048576 T=1048576", "B"},
        {"indices=identity N=1048576 K=1024 V=1024", "N"},
        // Structure of the line itself.
        {"foo=1", "foo"},
        {"B=1 B=1", "B"},
        {"K=4 V=4 K=4", "K"},
        {"B", "B"},
    };
    for (const Case& c : cases) {
        INFO("text: " << c.text);
        CHECK(rejected_key(c.text) == c.key);
    }
    // The boundary cases just inside the limits are accepted, so the limits are where
    // the messages say.
    CHECK(rejected_key("exact=1 l2norm=0 gdist=zero bdist=half scale=1 state=bf16 T=7") == "<accepted>");
    CHECK(rejected_key("exact=1 g=0 beta=0 l2norm=0 scale=0.5") == "<accepted>");
    CHECK(rejected_key("indices=permutation B=4 inactive=2 N=2") == "<accepted>");
    CHECK(rejected_key("circular=1 seqlen_max=2147483647 neg_seqlens=1") == "<accepted>");
    CHECK(rejected_key("B=0 N=1") == "<accepted>");
    // Duplicates are fine where at most one of the rows is active.
    CHECK(rejected_key("B=4 N=2 explicit_indices=-1,-1,2,2") == "<accepted>");
    CHECK(rejected_key("B=3 N=2 explicit_indices=1,-1,1 circular=1 cache_seqlens=-1,0,2") == "<accepted>");
    CHECK(rejected_key("g=0 gdist=huge_negative") == "<accepted>");  // a distribution of an absent tensor is ignored
}

TEST_CASE("case spec: JSON errors name the key", "[case_spec]") {
    const json good = to_json(CaseSpec{});
    CHECK(rejected_json_key(good) == "<accepted>");
    auto with = [&](const char* key, json value) {
        json j = good;
        j[key] = std::move(value);
        return rejected_json_key(j);
    };
    CHECK(with("B", "2") == "B");
    CHECK(with("B", 2.5) == "B");
    CHECK(with("B", json(18446744073709551615ull)) == "B");
    CHECK(with("K", 0) == "K");
    CHECK(with("g", 1) == "g");
    CHECK(with("layout", 1) == "layout");
    CHECK(with("layout", "xy") == "layout");
    CHECK(with("scale", "x") == "scale");
    CHECK(with("seed", -1) == "seed");
    CHECK(with("explicit_indices", json::array({1, "a"})) == "explicit_indices");
    CHECK(with("cache_seqlens", json::array({1})) == "cache_seqlens");
    CHECK(with("seq_lengths", json::object()) == "seq_lengths");
    CHECK(with("nope", 1) == "nope");
    CHECK(with("scale", nullptr) == "<accepted>");
    CHECK(rejected_json_key(json::array()) == "spec");
    CHECK(rejected_json_key(json::object()) == "<accepted>");
}

TEST_CASE("case spec: parsing never crashes on arbitrary text", "[case_spec][property]") {
    // Only gdr::InvalidArgument may escape; anything else (or a crash) is a bug.
    gdr::testing::check_property("arbitrary strings", [](const std::string& text) {
        try {
            const CaseSpec s = parse_text(text);
            RC_ASSERT(parse_text(to_text(s)) == s);
        } catch (const InvalidArgument&) {
        }
    });
    gdr::testing::check_property("mutated valid lines", [] {
        std::string text = to_text(*gdr::harness::gen_case());
        const int edits = *rc::gen::inRange(1, 6);
        for (int i = 0; i < edits && !text.empty(); ++i) {
            const std::size_t at = *rc::gen::inRange<std::size_t>(0, text.size());
            const char c = *rc::gen::elementOf(std::string("=, -0123456789eE.+x\t\x01\xff"));
            switch (*rc::gen::inRange(0, 3)) {
            case 0: text[at] = c; break;
            case 1: text.insert(at, 1, c); break;
            default: text.erase(at, 1); break;
            }
        }
        RC_LOG() << text << "\n";
        try {
            const CaseSpec s = parse_text(text);
            RC_ASSERT(parse_text(to_text(s)) == s);
        } catch (const InvalidArgument&) {
        }
    });
}

TEST_CASE("case spec: explicit_indices stay within the bank arena's reach", "[case_spec]") {
    CHECK(rejected_key("B=2 N=3 explicit_indices=0,67") == "explicit_indices");
    CHECK(rejected_key("B=2 N=3 explicit_indices=0,-65") == "explicit_indices");
    CHECK(rejected_key("B=2 N=3 explicit_indices=66,-64") == "<accepted>");
}

TEST_CASE("case spec: an exact case takes no subnormal special value", "[case_spec]") {
    // Found by the H200 campaign: k = subnormal in an exact case; k v underflows in fp32
    // (subject and Rlp 0, R64 -2.76e-40), so the case was not exact.
    const std::string base = "B=2 T=2 H=1 HV=1 K=8 V=8 layout=kv in=f32 gate=f32 state=f32 l2norm=0 scale=1 gdist=zero "
                             "bdist=one exact=1 seed=5";
    CHECK_NOTHROW(parse_text(base + " specials=k:inf"));
    try {
        parse_text(base + " specials=k:sub");
        FAIL("a subnormal in an exact case was accepted");
    } catch (const gdr::InvalidArgument& error) {
        CHECK(std::string(error.what()).find("specials") != std::string::npos);
    }
}

TEST_CASE("case spec: special values round-trip and are validated", "[case_spec]") {
    const std::string text = "B=2 T=2 H=1 HV=2 K=3 V=4 layout=kv in=f32 gate=f32 state=f32 "
                             "specials=v:nan@1.0.1.3,q:inf,k:-inf@0.1.0.2,g:sub,state:nan@1.0.1.2.3,beta:inf@0.0.1 seed=4";
    const CaseSpec spec = parse_text(text);
    REQUIRE(spec.specials.size() == 6);
    CHECK(spec.specials[0] == gdr::harness::SpecialValue{gdr::harness::SpecialTensor::v, gdr::harness::SpecialKind::nan, {1, 0, 1, 3}});
    CHECK(spec.specials[1].at.empty());
    CHECK(spec.specials[2].kind == gdr::harness::SpecialKind::neg_inf);
    CHECK(spec.specials[3].kind == gdr::harness::SpecialKind::subnormal);
    CHECK(to_text(spec) == text);
    CHECK(parse_text(to_text(spec)) == spec);
    CHECK(from_json(to_json(spec)) == spec);
    CHECK(to_json(spec)["specials"] == "v:nan@1.0.1.3,q:inf,k:-inf@0.1.0.2,g:sub,state:nan@1.0.1.2.3,beta:inf@0.0.1");
    CHECK_FALSE(to_json(parse_text("B=1")).contains("specials"));  // older replay files stay equal

    for (const char* bad : {"specials=x:nan", "specials=v:zero", "specials=v", "specials=v:nan@1.0", "specials=v:nan@0.0.0.a",
                            "specials=v:nan@2.0.0.0", "specials=v:nan@0.2.0.0", "specials=v:nan@0.0.0.4",
                            "specials=k:nan@0.0.0.3", "specials=state:inf@2.0.0.0.0", "specials=state:inf@0.1.0.0.0",
                            "specials=g:nan g=0", "specials=beta:nan beta=0", "specials=v:nan,", "specials=v:nan@-1.0.0.0"}) {
        INFO(bad);
        CHECK(rejected_key(std::string("B=2 T=2 H=1 HV=1 K=3 V=4 ") + bad) == "specials");
    }
    CHECK(rejected_key("B=2 T=0 specials=v:nan") == "specials");  // no token to place it in
    CHECK(rejected_key("B=2 T=0 specials=state:nan") == "<accepted>");
}
