#include "python_subject.hpp"

#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>

#include <cstdio>
#include <fmt/format.h>

#include "empty_storage.hpp"
#include "gdr/core/errors.hpp"
#include "gdr/harness/case_spec.hpp"
#include "gdr/subjects/limitation.hpp"

#ifdef GDR_PYTHON_WITH_CUDA
#include "gdr/subjects/cuda_launch_subject.hpp"
#endif

namespace gdr::python {

namespace {

nb::dlpack::dtype dlpack_dtype(DType dtype) {
    switch (dtype) {
        case DType::f32: return nb::dtype<float>();
        case DType::f64: return nb::dtype<double>();
        case DType::f16: return {static_cast<std::uint8_t>(nb::dlpack::dtype_code::Float), 16, 1};
        // numpy cannot import bfloat16 through DLPack: it travels as uint16, and the
        // settings' "dtypes" tell the trampoline to view it as bf16 again.
        case DType::bf16: return nb::dtype<std::uint16_t>();
    }
    return nb::dtype<float>();
}

struct Location {
    int device_type = nb::device::cpu::value;
    int device_id = 0;
};

// Non-owning views of one call's buffers, keyed by the SPEC's argument names.
class Views {
public:
    explicit Views(Location location) : location_(location) {}

    // `data` null: an absent optional tensor (None), or a present one with no elements (an
    // empty array: the harness need not allocate storage for zero elements).
    void add_view(const char* name, const void* data, std::vector<std::size_t> shape, std::vector<std::int64_t> strides,
                  nb::dlpack::dtype dtype, bool optional) {
        if (!data && optional) {
            arrays_[name] = nb::none();
            return;
        }
        nb::ndarray<nb::array_api> view(data ? const_cast<void*>(data) : empty_storage(), shape.size(), shape.data(),
                                        nb::handle(), strides.data(), dtype, location_.device_type, location_.device_id);
        arrays_[name] = nb::cast(view, nb::rv_policy::reference);
    }
    // A float tensor, its dtype noted for the trampoline (a bf16 one travels as uint16).
    void add(const char* name, void* data, std::vector<std::size_t> shape, std::vector<std::int64_t> strides, DType dtype,
             bool optional = false) {
        add_view(name, data, std::move(shape), std::move(strides), dlpack_dtype(dtype), optional);
        dtypes_[name] = std::string(to_string(dtype));
    }
    // An index array of `length` entries; absent (None) when `data` is null.
    void add_indices(const char* name, const void* data, std::size_t length, nb::dlpack::dtype dtype) {
        add_view(name, data, {length}, {1}, dtype, /*optional=*/true);
    }
    void add_tensor(const char* name, const TensorArg& tensor, const std::array<std::int64_t, 4>& shape, int rank,
                    bool optional = false) {
        std::vector<std::size_t> extents(shape.begin(), shape.begin() + rank);
        std::vector<std::int64_t> strides(tensor.stride.begin(), tensor.stride.begin() + rank);
        add(name, tensor.data, extents, strides, tensor.dtype, optional);
    }
    nb::dict arrays() const { return arrays_; }
    nb::dict dtypes() const { return dtypes_; }

private:
    Location location_;
    nb::dict arrays_, dtypes_;
};

std::vector<std::int64_t> contiguous_strides(const std::vector<std::size_t>& shape) {
    std::vector<std::int64_t> strides(shape.size());
    std::int64_t stride = 1;
    for (std::size_t d = shape.size(); d-- > 0;) {
        strides[d] = stride;
        stride *= static_cast<std::int64_t>(shape[d]);
    }
    return strides;
}

// Calls the trampoline with views of `problem`'s buffers (host or device pointers, as
// `location` says). Python's NotSupported becomes gdr::NotSupported; any other exception a
// std::runtime_error with its type and message (the case is then FAILED with that text).
void call_python(const PythonSubjectDeclaration& subject, const Problem& problem, Location location) {
    nb::gil_scoped_acquire gil;
    Views views(location);
    views.add_tensor("q", problem.q, problem.qk_shape(), 4);
    views.add_tensor("k", problem.k, problem.qk_shape(), 4);
    views.add_tensor("v", problem.v, problem.vo_shape(), 4);
    views.add_tensor("o", problem.o, problem.vo_shape(), 4);
    views.add_tensor("g", problem.g, problem.gate_shape(), 3, /*optional=*/true);
    views.add_tensor("beta", problem.beta, problem.gate_shape(), 3, /*optional=*/true);
    // The bank as callers hold it: 4-D [N, HV, ., .] when it has one slot and is not circular.
    const auto& s = problem.state_shape;
    std::vector<std::size_t> bank_shape = {std::size_t(s[0]), std::size_t(s[1]), std::size_t(s[2]), std::size_t(s[3]),
                                           std::size_t(s[4])};
    if (s[1] == 1 && !problem.circular()) bank_shape.erase(bank_shape.begin() + 1);
    views.add("state", problem.state, bank_shape, contiguous_strides(bank_shape), problem.state_storage);

    const std::size_t rows = std::size_t(problem.rows());
    views.add_indices("state_indices", problem.state_indices, rows, nb::dtype<std::int64_t>());
    views.add_indices("cache_seqlens", problem.cache_seqlens, rows, nb::dtype<std::int32_t>());
    views.add_indices("cu_seqlens", problem.cu_seqlens, problem.varlen() ? rows + 1 : 0,
                      problem.cu_seqlens_type == IndexType::i32 ? nb::dtype<std::int32_t>() : nb::dtype<std::int64_t>());

    nb::dict settings;
    settings["layout"] = problem.layout == Layout::KV ? "kv" : "vk";
    settings["scale"] = problem.scale ? nb::cast(*problem.scale) : nb::none();
    settings["use_qk_l2norm"] = problem.use_qk_l2norm;
    settings["output_final_state"] = problem.output_final_state;
    settings["dtypes"] = views.dtypes();
    settings["input_dtype"] = std::string(to_string(problem.input_dtype));
    settings["gate_dtype"] = std::string(to_string(problem.gate_dtype));
    settings["state_dtype"] = std::string(to_string(problem.state_dtype));
    settings["device"] = location.device_type == nb::device::cuda::value ? nb::cast(location.device_id) : nb::none();
    try {
        (*subject.call)(views.arrays(), settings);
    } catch (nb::python_error& error) {
        const std::string message = nb::str(error.value()).c_str();
        if (error.matches(*subject.not_supported_type)) throw NotSupported(message);
        const std::string type = nb::str(nb::handle(error.type()).attr("__name__")).c_str();
        throw std::runtime_error(fmt::format("{} raised {}: {}", subject.name, type, message));
    }
}

class PythonHostSubject final : public harness::Subject {
public:
    explicit PythonHostSubject(PythonSubjectDeclaration declaration) : subject_(std::move(declaration)) {}
    std::string name() const override { return subject_.name; }
    std::string description() const override { return subject_.description; }
    std::optional<std::string> unavailable_reason() const override { return std::nullopt; }
    harness::MathMode math_mode() const override { return subject_.math_mode; }
    harness::SubjectRunResult run(const Problem& host_problem) override {
        call_python(subject_, host_problem, Location{nb::device::cpu::value, 0});
        return {};
    }

private:
    PythonSubjectDeclaration subject_;
};

// A CUDA subject in a build without CUDA: NOT_RUN, saying why.
class UnavailableSubject final : public harness::Subject {
public:
    UnavailableSubject(std::string name, std::string description, std::string reason)
        : name_(std::move(name)), description_(std::move(description)), reason_(std::move(reason)) {}
    std::string name() const override { return name_; }
    std::string description() const override { return description_; }
    std::optional<std::string> unavailable_reason() const override { return reason_; }
    harness::SubjectRunResult run(const Problem&) override { throw std::logic_error(name_ + ": " + reason_); }

private:
    std::string name_, description_, reason_;
};

// What the declaration's Python predicate says, over the spec as the JSON dict `gdr spec`
// prints. A predicate that raises covers nothing (a strict gate then fails on the case)
// and says why on stderr.
bool python_covers(const PythonLimitation& limitation, const harness::CaseSpec& spec, std::string_view reason) {
    nb::gil_scoped_acquire gil;
    try {
        const nb::object spec_dict = nb::module_::import_("json").attr("loads")(harness::to_json(spec).dump());
        return nb::cast<bool>((*limitation.covers)(spec_dict, std::string(reason)));
    } catch (nb::python_error& error) {
        std::fprintf(stderr, "gdr_verify: the limitation '%s' raised %s; it covers nothing\n", limitation.id.c_str(),
                     nb::str(error.value()).c_str());
        return false;
    }
}

}  // namespace

SharedObject share(nb::object object) {
    return SharedObject(new nb::object(std::move(object)), [](nb::object* dropped) {
        nb::gil_scoped_acquire gil;
        delete dropped;
    });
}

subjects::SubjectEntry python_subject_entry(PythonSubjectDeclaration declaration) {
    subjects::SubjectEntry entry;
    entry.name = declaration.name;
    entry.description = declaration.description;
    entry.needs = declaration.cuda ? subjects::Needs::cuda_device : subjects::Needs::cpu;
    entry.kind = subjects::Kind::kernel;
    for (const PythonLimitation& limitation : declaration.limitations)
        entry.limitations.push_back({limitation.id, limitation.words, [limitation](const harness::CaseSpec& spec, std::string_view reason) {
                                         return python_covers(limitation, spec, reason);
                                     }});
    if (!declaration.cuda) {
        entry.make = [declaration](int) { return std::make_unique<PythonHostSubject>(declaration); };
        return entry;
    }
#ifdef GDR_PYTHON_WITH_CUDA
    entry.make = [declaration](int device) {
        subjects::CudaLaunchOptions options;
        options.device = device;
        options.math_mode = declaration.math_mode;
        const subjects::DeviceLaunch launch = [declaration, device](const Problem& on_device) {
            call_python(declaration, on_device, Location{nb::device::cuda::value, device});
        };
        return subjects::make_cuda_launch_subject(declaration.name, declaration.description, launch, options);
    };
#else
    entry.make = [declaration](int) -> std::unique_ptr<harness::Subject> {
        return std::make_unique<UnavailableSubject>(declaration.name, declaration.description,
                                                    "gdr_verify was built without CUDA (no nvcc), so CUDA subjects cannot run");
    };
#endif
    return entry;
}

}  // namespace gdr::python
