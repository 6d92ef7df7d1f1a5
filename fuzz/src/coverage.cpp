#include "gdr/fuzz/coverage.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "gdr/harness/case_gen.hpp"

namespace gdr::fuzz {

using harness::CaseSpec;

std::string dtype_pair_class(DType input, DType state) {
    return fmt::format("in={} state={}", to_string(input), to_string(state));
}

std::vector<std::string> coverage_classes(const harness::HostCase& host, std::int64_t chunk_size) {
    namespace cc = coverage_class;
    const CaseSpec& spec = host.spec;
    std::vector<std::string> classes;
    const auto add_if = [&](bool condition, const char* name) {
        if (condition) classes.emplace_back(name);
    };

    bool wraps = false, inactive = false, negative_seqlen = false, multi_chunk = false, chunk_boundary = false;
    for (std::int64_t row = 0; row < spec.rows(); ++row) {
        if (spec.circular && host.cache_seqlens[std::size_t(row)] < 0) negative_seqlen = true;
        if (!host.row_is_active(row)) {
            inactive = true;
            continue;
        }
        const std::int64_t tokens = spec.row_tokens(row);
        if (spec.circular && tokens > 0 && host.cache_seqlens[std::size_t(row)] % spec.slots + tokens >= spec.slots)
            wraps = true;
        if (chunk_size > 0) {
            const std::int64_t past_boundary = tokens % chunk_size;
            multi_chunk = multi_chunk || tokens > chunk_size;
            chunk_boundary = chunk_boundary || (tokens >= chunk_size - 1 && tokens > 0 &&
                                                (past_boundary <= 1 || past_boundary == chunk_size - 1));
        }
    }
    add_if(wraps, cc::wraparound);
    add_if(spec.circular && !spec.varlen && spec.slots == spec.seq_len, cc::slots_equal_t);
    add_if(spec.circular && spec.slots == 1, cc::single_slot);
    add_if(inactive, cc::inactive_rows);
    add_if(negative_seqlen, cc::negative_seqlens);
    add_if(spec.num_value_heads > spec.num_heads, cc::grouped_heads);
    add_if(spec.varlen, cc::varlen);
    add_if(spec.strides != harness::StrideRule::contiguous, cc::strided);
    add_if(spec.exact, cc::exact);
    add_if(spec.use_qk_l2norm, cc::l2norm);
    add_if(!spec.has_g, cc::no_g);
    add_if(!spec.has_beta, cc::no_beta);
    const auto at_boundary = [](std::int64_t dim) {
        const auto& dims = harness::boundary_head_dims();
        return std::find(dims.begin(), dims.end(), dim) != dims.end();
    };
    add_if(at_boundary(spec.key_dim), cc::boundary_key_dim);
    add_if(at_boundary(spec.value_dim), cc::boundary_value_dim);
    add_if(!spec.specials.empty(), cc::special_values);
    add_if(multi_chunk, cc::multi_chunk);
    add_if(chunk_boundary, cc::chunk_boundary);
    classes.emplace_back(spec.layout == Layout::KV ? cc::layout_kv : cc::layout_vk);
    classes.push_back(dtype_pair_class(spec.input_dtype, spec.state_dtype));
    return classes;
}

std::vector<std::string> all_coverage_classes(std::int64_t chunk_size) {
    namespace cc = coverage_class;
    std::vector<std::string> classes = {cc::wraparound, cc::slots_equal_t, cc::single_slot, cc::inactive_rows,
                                        cc::negative_seqlens, cc::grouped_heads, cc::varlen, cc::strided,
                                        cc::exact, cc::l2norm, cc::no_g, cc::no_beta, cc::layout_kv, cc::layout_vk,
                                        cc::boundary_key_dim, cc::boundary_value_dim, cc::special_values};
    for (DType input : {DType::f32, DType::f16, DType::bf16})
        for (DType state : {DType::f32, DType::f16, DType::bf16}) classes.push_back(dtype_pair_class(input, state));
    // Last, so that the bits of a campaign mask (records.hpp) keep their meaning without them.
    if (chunk_size > 0) classes.insert(classes.end(), {cc::multi_chunk, cc::chunk_boundary});
    return classes;
}

}  // namespace gdr::fuzz
