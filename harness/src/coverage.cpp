#include "gdr/harness/coverage.hpp"

#include <fmt/format.h>

namespace gdr::harness {

namespace {

std::int64_t tokens_of_row(const CaseSpec& spec, std::int64_t row) {
    return spec.varlen ? spec.seq_lengths[std::size_t(row)] : spec.seq_len;
}

std::string dtype_pair(DType input, DType state) { return fmt::format("in={} state={}", to_string(input), to_string(state)); }

bool row_is_active(const HostCase& host, std::int64_t row) {
    if (host.has_state_indices) {
        const std::int64_t index = host.state_indices[std::size_t(row)];
        if (index < 0 || index >= host.spec.resolved_bank_entries()) return false;
    }
    return !host.spec.circular || host.cache_seqlens[std::size_t(row)] >= 0;
}

}  // namespace

std::vector<std::string> coverage_classes(const HostCase& host) {
    const CaseSpec& spec = host.spec;
    std::vector<std::string> classes;
    const auto add_if = [&](bool condition, std::string name) {
        if (condition) classes.push_back(std::move(name));
    };

    bool wraps = false, inactive = false, negative_seqlen = false;
    for (std::int64_t row = 0; row < spec.rows(); ++row) {
        if (spec.circular && host.cache_seqlens[std::size_t(row)] < 0) negative_seqlen = true;
        if (!row_is_active(host, row)) {
            inactive = true;
            continue;
        }
        const std::int64_t tokens = tokens_of_row(spec, row);
        if (spec.circular && tokens > 0 && host.cache_seqlens[std::size_t(row)] % spec.slots + tokens >= spec.slots)
            wraps = true;
    }
    add_if(wraps, "wraparound");
    add_if(spec.circular && !spec.varlen && spec.slots == spec.seq_len, "slots == T");
    add_if(spec.circular && spec.slots == 1, "slots == 1");
    add_if(inactive, "inactive rows");
    add_if(negative_seqlen, "negative cache_seqlens");
    add_if(spec.num_value_heads > spec.num_heads, "grouped heads");
    add_if(spec.varlen, "varlen");
    add_if(spec.strides != StrideRule::contiguous, "strided");
    add_if(spec.exact, "exact");
    add_if(spec.use_qk_l2norm, "l2norm");
    add_if(!spec.has_g, "no g");
    add_if(!spec.has_beta, "no beta");
    classes.push_back(spec.layout == Layout::KV ? "layout=kv" : "layout=vk");
    classes.push_back(dtype_pair(spec.input_dtype, spec.state_dtype));
    return classes;
}

std::vector<std::string> all_coverage_classes() {
    std::vector<std::string> classes = {"wraparound", "slots == T", "slots == 1", "inactive rows",
                                        "negative cache_seqlens", "grouped heads", "varlen", "strided",
                                        "exact", "l2norm", "no g", "no beta", "layout=kv", "layout=vk"};
    for (DType input : {DType::f32, DType::f16, DType::bf16})
        for (DType state : {DType::f32, DType::f16, DType::bf16}) classes.push_back(dtype_pair(input, state));
    return classes;
}

}  // namespace gdr::harness
