// gdr_verify._core: the bindings the Python package (gdr_verify/) wraps. Python-facing
// documentation lives there; this file only converts.
//   run_decode   the decode kernel (CUDA arrays) or the oracle (host arrays) on framework arrays,
//                or the chunked prefill kernel (CUDA arrays)
//   run_chunked_oracle, chunked_checkpoint_offsets   the chunked oracle (host arrays)
//   run_cli      the gdr verbs over the built-in subjects plus Python ones
#include <algorithm>
#include <array>
#include <cstdint>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <fmt/format.h>

#include "array_problem.hpp"
#include "cli.hpp"
#include "gdr/core/errors.hpp"
#include "gdr/harness/version.hpp"
#include "gdr/reference/chunked.hpp"
#include "gdr/reference/fused_recurrent.hpp"
#include "gdr/subjects/builtin.hpp"
#include "python_subject.hpp"

#ifdef GDR_PYTHON_WITH_CUDA
#include <cuda_runtime_api.h>

#include "gdr/cuda/chunked_prefill.hpp"
#include "gdr/cuda/decode.hpp"
#include "gdr/cuda/device.hpp"
#endif

namespace nb = nanobind;
using namespace nb::literals;

namespace gdr::python {

namespace {

nb::object g_not_supported;  // gdr_verify._core.NotSupported

#ifdef GDR_PYTHON_WITH_CUDA
// Launches the decode kernel (or the chunked prefill kernel) on the arrays' device and puts
// the caller's current device back.
void launch_on(const ArrayProblem& call, bool chunked, std::uintptr_t stream) {
    int previous = 0;
    cuda::check(cudaGetDevice(&previous), "cudaGetDevice");
    cuda::check(cudaSetDevice(call.device.id), "cudaSetDevice");
    try {
        if (chunked)
            cuda::chunked_prefill(call.problem, {}, reinterpret_cast<cudaStream_t>(stream));
        else
            cuda::fused_recurrent_decode(call.problem, reinterpret_cast<cudaStream_t>(stream));
    } catch (...) {
        cudaSetDevice(previous);
        throw;
    }
    cuda::check(cudaSetDevice(previous), "cudaSetDevice");
}
#endif

// mode: "kernel" (CUDA arrays: the decode kernel on `stream`; host arrays: the emulated
// oracle, the CPU's decode), "chunk_kernel" (CUDA arrays only: the chunked prefill kernel),
// "truth" or "emulated" (the oracle; host arrays only).
void run_decode(const DecodeArrays& arrays, const DecodeSettings& settings, const std::string& mode, std::uintptr_t stream) {
    if (mode != "kernel" && mode != "chunk_kernel" && mode != "truth" && mode != "emulated")
        throw InvalidArgument("precision", fmt::format("must be 'truth' or 'emulated', got '{}'", mode));
    const ArrayProblem call = make_array_problem(arrays, settings);
    if (!call.device.cuda && mode == "chunk_kernel")
        throw InvalidArgument("q", "the chunked prefill kernel runs on CUDA arrays (gdr_verify.oracle_chunked is its reference on host arrays)");
    if (call.device.cuda) {
        if (mode != "kernel" && mode != "chunk_kernel")
            throw InvalidArgument("q", "the oracle runs on host arrays (numpy, or CPU tensors)");
#ifdef GDR_PYTHON_WITH_CUDA
        nb::gil_scoped_release released;
        launch_on(call, mode == "chunk_kernel", stream);
        return;
#else
        throw NotSupported("gdr_verify was built without CUDA (no nvcc), so it cannot run on CUDA arrays");
#endif
    }
    const reference::Precision precision =
        mode == "truth" ? reference::Precision::truth_fp64 : reference::Precision::emulated_fp32;
    nb::gil_scoped_release released;
    reference::run_fused_recurrent(call.problem, {precision, reference::ReductionOrder::forward});
}

void add_rounding_point(reference::ChunkRoundingPoints& points, const reference::NamedRoundingPoint& point) {
    if (points.*point.flag) throw InvalidArgument("rounding_points", fmt::format("'{}' is given twice", point.name));
    points.*point.flag = true;
}

// The chunked oracle's options from the Python arguments: a rounding point by its name
// (reference::kChunkRoundingPoints) or a preset's name ("tensor_core_bf16",
// "tensor_core_two_pass": gdr_verify.chunked_prefill's) for its set, each point at most once.
reference::ChunkedOptions chunked_options(const std::string& precision, std::int64_t chunk_size,
                                          const std::vector<std::string>& rounding_points) {
    if (precision != "truth" && precision != "emulated")
        throw InvalidArgument("precision", fmt::format("must be 'truth' or 'emulated', got '{}'", precision));
    reference::ChunkedOptions options;
    options.chunk_size = chunk_size;
    options.precision = precision == "truth" ? reference::Precision::truth_fp64 : reference::Precision::emulated_fp32;
    for (const std::string& name : rounding_points) {
        if (name == "tensor_core_bf16" || name == "tensor_core_two_pass") {
            const reference::ChunkRoundingPoints preset = name == "tensor_core_bf16" ? reference::ChunkRoundingPoints::tensor_core_bf16()
                                                                                     : reference::ChunkRoundingPoints::tensor_core_two_pass();
            for (const reference::NamedRoundingPoint& point : reference::kChunkRoundingPoints)
                if (preset.*point.flag) add_rounding_point(options.rounding_points, point);
            continue;
        }
        const auto* point = std::find_if(reference::kChunkRoundingPoints.begin(), reference::kChunkRoundingPoints.end(),
                                         [&](const reference::NamedRoundingPoint& p) { return name == p.name; });
        if (point == reference::kChunkRoundingPoints.end()) {
            std::string known;
            for (const reference::NamedRoundingPoint& p : reference::kChunkRoundingPoints)
                known += (known.empty() ? "" : ", ") + std::string(p.name);
            throw InvalidArgument("rounding_points", fmt::format("unknown rounding point '{}'; known: {}", name, known));
        }
        add_rounding_point(options.rounding_points, *point);
    }
    return options;
}

std::vector<std::string> rounding_point_names() {
    std::vector<std::string> names;
    for (const reference::NamedRoundingPoint& point : reference::kChunkRoundingPoints) names.push_back(point.name);
    return names;
}

// A host problem for the chunked oracle (the arrays as run_decode's oracle takes them).
Problem chunked_problem(const DecodeArrays& arrays, const DecodeSettings& settings) {
    const ArrayProblem call = make_array_problem(arrays, settings);
    if (call.device.cuda) throw InvalidArgument("q", "the oracle runs on host arrays (numpy, or CPU tensors)");
    return call.problem;
}

// Per row, the index of its first checkpoint, and last the total (reference::checkpoint_offsets).
std::vector<std::int64_t> checkpoint_offsets_of(const DecodeArrays& arrays, const DecodeSettings& settings,
                                                std::int64_t chunk_size) {
    return reference::checkpoint_offsets(chunked_problem(arrays, settings), chunk_size);
}

// run_chunked, with its checkpoints written into `checkpoints` when given: f64, C-contiguous,
// [checkpoint_offsets(...).back(), HV, K, V] (layout 'vk': V and K swapped), on the host.
void run_chunked_oracle(const DecodeArrays& arrays, const DecodeSettings& settings, const std::string& precision,
                        std::int64_t chunk_size, const std::vector<std::string>& rounding_points,
                        std::optional<OutputArray> checkpoints) {
    reference::ChunkedOptions options = chunked_options(precision, chunk_size, rounding_points);
    const Problem problem = chunked_problem(arrays, settings);
    if (checkpoints) {
        const std::int64_t places = reference::checkpoint_offsets(problem, chunk_size).back();
        const bool kv = problem.layout == Layout::KV;
        const std::array<std::int64_t, 4> shape{places, problem.num_value_heads, kv ? problem.key_dim : problem.value_dim,
                                                kv ? problem.value_dim : problem.key_dim};
        const OutputArray& c = *checkpoints;
        bool matches = c.ndim() == 4 && c.device_type() == nb::device::cpu::value && c.dtype() == nb::dtype<double>() &&
                       is_contiguous(c);
        for (std::size_t d = 0; matches && d < 4; ++d) matches = extent(c, d) == shape[d];
        if (!matches)
            throw InvalidArgument("checkpoints", fmt::format("must be a C-contiguous float64 host array of shape [{}, {}, {}, {}]",
                                                             shape[0], shape[1], shape[2], shape[3]));
        options.checkpoints = static_cast<double*>(c.data());
    }
    nb::gil_scoped_release released;
    reference::run_chunked(problem, options);
}

harness::MathMode parse_math_mode_argument(const std::string& text) {
    const auto mode = harness::parse_math_mode(text);
    if (!mode) throw InvalidArgument("math_mode", fmt::format("must be correctly-rounded, precise or fast, got '{}'", text));
    return *mode;
}

// One Python subject from its declaration dict (gdr_verify/_subjects.py writes it).
PythonSubjectDeclaration declaration_from(const nb::dict& d) {
    PythonSubjectDeclaration declaration;
    declaration.name = nb::cast<std::string>(d["name"]);
    declaration.description = nb::cast<std::string>(d["description"]);
    const std::string device = nb::cast<std::string>(d["device"]);
    if (device != "cpu" && device != "cuda")
        throw InvalidArgument("device", fmt::format("must be 'cpu' or 'cuda', got '{}'", device));
    declaration.cuda = device == "cuda";
    declaration.math_mode = parse_math_mode_argument(nb::cast<std::string>(d["math_mode"]));
    for (nb::handle limitation : nb::cast<nb::list>(d["limitations"])) {
        nb::object covers = limitation.attr("covers");
        declaration.limitations.push_back({nb::cast<std::string>(limitation.attr("id")),
                                           nb::cast<std::string>(limitation.attr("words")), share(std::move(covers))});
    }
    nb::object call = d["call"];
    declaration.call = share(std::move(call));
    declaration.not_supported_type = share(g_not_supported);
    return declaration;
}

int run_cli_with(const std::vector<std::string>& args, const nb::list& python_subjects, const std::string& program) {
    subjects::Registry registry = subjects::builtin_registry();
    for (nb::handle subject : python_subjects) {
        try {
            registry.add(python_subject_entry(declaration_from(nb::cast<nb::dict>(subject))));
        } catch (const std::logic_error& error) {
            throw InvalidArgument("subject", error.what());
        }
    }
    const cli::CliContext context{&registry, program};
    nb::gil_scoped_release released;  // campaign workers call back into Python
    return cli::run_cli(args, context);
}

std::vector<std::string> builtin_subject_names() {
    std::vector<std::string> names;
    for (const subjects::SubjectEntry& entry : subjects::builtin_registry().entries()) names.push_back(entry.name);
    return names;
}

}  // namespace

}  // namespace gdr::python

NB_MODULE(_core, m) {
    using namespace gdr::python;
    m.doc() = "gdr_verify's compiled core (use the gdr_verify package, not this module)";
    nb::register_exception_translator([](const std::exception_ptr& error, void*) {
        try {
            std::rethrow_exception(error);
        } catch (const gdr::InvalidArgument& invalid) {
            PyErr_SetString(PyExc_ValueError, invalid.what());
        }
    });
    g_not_supported = nb::borrow(nb::exception<gdr::NotSupported>(m, "NotSupported", PyExc_RuntimeError));

    m.def(
        "run_decode",
        [](InputArray q, InputArray k, InputArray v, std::optional<InputArray> g, std::optional<InputArray> beta,
           OutputArray state, OutputArray o, std::optional<InputArray> state_indices,
           std::optional<InputArray> cache_seqlens, std::optional<InputArray> cu_seqlens, DecodeSettings settings,
           const std::string& mode, std::uintptr_t stream) {
            const DecodeArrays arrays{q, k, v, g, beta, state, o, state_indices, cache_seqlens, cu_seqlens};
            run_decode(arrays, settings, mode, stream);
        },
        "q"_a, "k"_a, "v"_a, "g"_a.none(), "beta"_a.none(), "state"_a, "o"_a, "state_indices"_a.none(),
        "cache_seqlens"_a.none(), "cu_seqlens"_a.none(), "settings"_a, "mode"_a, "stream"_a);

    m.def(
        "run_chunked_oracle",
        [](InputArray q, InputArray k, InputArray v, std::optional<InputArray> g, std::optional<InputArray> beta,
           OutputArray state, OutputArray o, std::optional<InputArray> state_indices,
           std::optional<InputArray> cache_seqlens, std::optional<InputArray> cu_seqlens, DecodeSettings settings,
           const std::string& precision, std::int64_t chunk_size, const std::vector<std::string>& rounding_points,
           std::optional<OutputArray> checkpoints) {
            const DecodeArrays arrays{q, k, v, g, beta, state, o, state_indices, cache_seqlens, cu_seqlens};
            run_chunked_oracle(arrays, settings, precision, chunk_size, rounding_points, checkpoints);
        },
        "q"_a, "k"_a, "v"_a, "g"_a.none(), "beta"_a.none(), "state"_a, "o"_a, "state_indices"_a.none(),
        "cache_seqlens"_a.none(), "cu_seqlens"_a.none(), "settings"_a, "precision"_a, "chunk_size"_a,
        "rounding_points"_a, "checkpoints"_a.none());
    m.def("chunk_rounding_points", &rounding_point_names);
    m.def(
        "chunked_checkpoint_offsets",
        [](InputArray q, InputArray k, InputArray v, std::optional<InputArray> g, std::optional<InputArray> beta,
           OutputArray state, OutputArray o, std::optional<InputArray> state_indices,
           std::optional<InputArray> cache_seqlens, std::optional<InputArray> cu_seqlens, DecodeSettings settings,
           std::int64_t chunk_size) {
            const DecodeArrays arrays{q, k, v, g, beta, state, o, state_indices, cache_seqlens, cu_seqlens};
            return checkpoint_offsets_of(arrays, settings, chunk_size);
        },
        "q"_a, "k"_a, "v"_a, "g"_a.none(), "beta"_a.none(), "state"_a, "o"_a, "state_indices"_a.none(),
        "cache_seqlens"_a.none(), "cu_seqlens"_a.none(), "settings"_a, "chunk_size"_a);

    nb::class_<DecodeSettings>(m, "DecodeSettings")
        .def(nb::init<>())
        .def_rw("layout", &DecodeSettings::layout)
        .def_rw("scale", &DecodeSettings::scale, nb::arg().none())
        .def_rw("use_qk_l2norm", &DecodeSettings::use_qk_l2norm)
        .def_rw("output_final_state", &DecodeSettings::output_final_state)
        .def_rw("storage_dtypes", &DecodeSettings::storage_dtypes)
        .def_rw("input_dtype", &DecodeSettings::input_dtype, nb::arg().none())
        .def_rw("state_dtype", &DecodeSettings::state_dtype, nb::arg().none())
        .def_rw("allow_f64_storage", &DecodeSettings::allow_f64_storage);

    m.def("run_cli", &run_cli_with, "args"_a, "subjects"_a, "program"_a);
    m.def("builtin_subject_names", &builtin_subject_names);
    m.def("cuda_unavailable_reason", [] {
#ifdef GDR_PYTHON_WITH_CUDA
        return gdr::subjects::cuda_unavailable_reason();
#else
        return std::string("gdr_verify was built without CUDA (no nvcc)");
#endif
    });
    m.attr("built_with_cuda") = nb::bool_(
#ifdef GDR_PYTHON_WITH_CUDA
        true
#else
        false
#endif
    );
    m.attr("version") = std::string(gdr::harness::gdr_version());
}
