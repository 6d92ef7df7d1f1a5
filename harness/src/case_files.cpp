#include "gdr/harness/case_files.hpp"

#include <cstring>
#include <map>
#include <span>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "gdr/core/errors.hpp"
#include "gdr/harness/case_spec.hpp"
#include "gdr/harness/version.hpp"

namespace gdr::harness {

namespace {

std::span<const std::byte> bytes_of(const HostTensor& tensor) {
    return {static_cast<const std::byte*>(tensor.data()), tensor.storage_bytes()};
}

template <class T>
std::span<const std::byte> bytes_of(const std::vector<T>& values) {
    return std::as_bytes(std::span<const T>(values));
}

std::vector<std::int64_t> o_shape(const CaseSpec& s) {
    return {s.varlen ? 1 : s.batch, s.seq_len, s.num_value_heads, s.value_dim};
}

}  // namespace

std::vector<std::byte> case_inputs_file(const HostCase& host) {
    const CaseSpec& s = host.spec;
    RunBuffers buffers = make_run_buffers(host, s.input_dtype, s.state_dtype);  // o poison, bank poison where written
    const Problem problem = make_problem(host, buffers);
    // Contiguous copies whatever the case's strides (a file has no strides).
    const HostTensor q = host.q.converted(host.q.dtype()), k = host.k.converted(host.k.dtype()),
                     v = host.v.converted(host.v.dtype());
    std::vector<SafetensorsTensor> tensors = {
        {"q", safetensors_type_of(q.dtype()), q.shape(), bytes_of(q)},
        {"k", safetensors_type_of(k.dtype()), k.shape(), bytes_of(k)},
        {"v", safetensors_type_of(v.dtype()), v.shape(), bytes_of(v)},
    };
    if (!host.g.empty()) tensors.push_back({"g", safetensors_type_of(host.g.dtype()), host.g.shape(), bytes_of(host.g)});
    if (!host.beta.empty())
        tensors.push_back({"beta", safetensors_type_of(host.beta.dtype()), host.beta.shape(), bytes_of(host.beta)});
    tensors.push_back({"state", safetensors_type_of(buffers.bank.dtype()), buffers.bank.shape(), bytes_of(buffers.bank)});
    tensors.push_back({"o", safetensors_type_of(buffers.o.dtype()), buffers.o.shape(), bytes_of(buffers.o)});
    const auto rows = std::int64_t(s.rows());
    if (host.has_state_indices) tensors.push_back({"state_indices", SafetensorsType::i64, {rows}, bytes_of(host.state_indices)});
    if (s.circular) tensors.push_back({"cache_seqlens", SafetensorsType::i32, {rows}, bytes_of(host.cache_seqlens)});
    if (s.varlen) {
        if (s.cu_seqlens_type == IndexType::i32)
            tensors.push_back({"cu_seqlens", SafetensorsType::i32, {rows + 1}, bytes_of(host.cu_seqlens_i32)});
        else
            tensors.push_back({"cu_seqlens", SafetensorsType::i64, {rows + 1}, bytes_of(host.cu_seqlens_i64)});
    }
    const std::map<std::string, std::string> metadata = {
        {"format", kCaseFileFormat},
        {"case", to_text(s)},
        {"layout", s.layout == Layout::KV ? "kv" : "vk"},
        {"scale", fmt::format("{}", problem.effective_scale())},  // shortest form that reads back exactly
        {"use_qk_l2norm", s.use_qk_l2norm ? "1" : "0"},
        {"output_final_state", s.output_final_state ? "1" : "0"},
        {"gdr_version", std::string(gdr_version())},
    };
    return serialize_safetensors(tensors, metadata);
}

ResultsFileSubject::ResultsFileSubject(SafetensorsFile results, std::string origin)
    : results_(std::move(results)), origin_(std::move(origin)) {}

std::string ResultsFileSubject::description() const { return "o and the bank read from " + origin_; }

std::optional<std::string> ResultsFileSubject::results_only_reason() const {
    return "judged from a results file (" + origin_ + "): no call ran here to watch";
}

const SafetensorsTensor& ResultsFileSubject::expect(const char* tensor, SafetensorsType type,
                                                    const std::vector<std::int64_t>& shape) const {
    const std::string where = origin_ + ": tensor '" + tensor + "'";
    const SafetensorsTensor* found = results_.find(tensor);
    if (!found) throw InvalidArgument(where, "missing (a results file holds o and state)");
    if (found->type != type)
        throw InvalidArgument(where, fmt::format("is {}, the case's is {}", to_string(found->type), to_string(type)));
    if (found->shape != shape)
        throw InvalidArgument(where, fmt::format("has shape [{}], the case's is [{}]", fmt::join(found->shape, ", "),
                                                 fmt::join(shape, ", ")));
    return *found;
}

void ResultsFileSubject::validate_against(const HostCase& host) const {
    const CaseSpec& s = host.spec;
    expect("o", safetensors_type_of(s.input_dtype), o_shape(s));
    expect("state", safetensors_type_of(s.state_dtype), host.initial_bank.shape());
}

SubjectRunResult ResultsFileSubject::run(const Problem& p) {
    const std::vector<std::int64_t> o_dims = {p.batch, p.seq_len, p.num_value_heads, p.value_dim};
    const SafetensorsTensor& o = expect("o", safetensors_type_of(p.o.dtype), o_dims);
    const SafetensorsTensor& state =
        expect("state", safetensors_type_of(p.state_dtype), {p.state_shape.begin(), p.state_shape.end()});
    // The harness's o is contiguous; the bank is the arena's middle, contiguous.
    if (!o.bytes.empty()) std::memcpy(p.o.data, o.bytes.data(), o.bytes.size());
    if (!state.bytes.empty()) std::memcpy(p.state, state.bytes.data(), state.bytes.size());
    return {};
}

}  // namespace gdr::harness
