#include "array_problem.hpp"

#include <fmt/format.h>

#include "empty_storage.hpp"
#include "gdr/core/errors.hpp"

namespace gdr::python {

namespace {

template <typename Array>
void* data_of(const Array& array) {
    void* data = const_cast<void*>(static_cast<const void*>(array.data()));
    return data != nullptr || array.size() != 0 ? data : empty_storage();
}

template <typename Array>
std::string shape_text(const Array& array) {
    std::string text = "[";
    for (std::size_t d = 0; d < array.ndim(); ++d) text += fmt::format("{}{}", d ? ", " : "", array.shape(d));
    return text + "]";
}

DType parse_dtype_name(const std::string& argument, const std::string& text) {
    const auto dtype = parse_dtype(text);
    if (!dtype) throw InvalidArgument(argument, fmt::format("unknown dtype '{}'", text));
    return *dtype;
}

// The element type an array stores, from its DLPack code (or the caller's override).
template <typename Array>
DType float_dtype(const std::string& name, const Array& array, const DecodeSettings& settings) {
    const nb::dlpack::dtype type = array.dtype();
    if (const auto it = settings.storage_dtypes.find(name); it != settings.storage_dtypes.end()) {
        const DType dtype = parse_dtype_name(name, it->second);
        if (type.bits != dtype_size(dtype) * 8 || type.lanes != 1)
            throw InvalidArgument(name, fmt::format("a {}-bit view cannot hold {}", type.bits, to_string(dtype)));
        return dtype;
    }
    const auto code = static_cast<nb::dlpack::dtype_code>(type.code);
    if (type.lanes == 1) {
        if (code == nb::dlpack::dtype_code::Float && type.bits == 32) return DType::f32;
        if (code == nb::dlpack::dtype_code::Float && type.bits == 16) return DType::f16;
        if (code == nb::dlpack::dtype_code::Float && type.bits == 64) return DType::f64;
        if (code == nb::dlpack::dtype_code::Bfloat && type.bits == 16) return DType::bf16;
    }
    throw InvalidArgument(name, fmt::format("must be a float32, float16 or bfloat16 array (DLPack type code {}, {} bits)",
                                            type.code, type.bits));
}

template <typename Array>
void require_rank(const std::string& name, const Array& array, std::size_t rank, const char* shape) {
    if (array.ndim() != rank)
        throw InvalidArgument(name, fmt::format("must have shape {} ({} dimensions), got {}", shape, rank, shape_text(array)));
}

template <typename Array>
void require_extent(const std::string& name, const Array& array, std::size_t dim, std::int64_t expected, const char* what) {
    if (extent(array, dim) != expected)
        throw InvalidArgument(name, fmt::format("dimension {} is {}, but {} is {} (shape {})", dim, extent(array, dim), what,
                                                expected, shape_text(array)));
}

template <typename Array>
TensorArg tensor_arg(const std::string& name, const Array& array, const DecodeSettings& settings) {
    TensorArg arg;
    arg.data = data_of(array);
    arg.dtype = float_dtype(name, array, settings);
    for (std::size_t d = 0; d < array.ndim() && d < 4; ++d) arg.stride[d] = array.stride(d);
    return arg;
}

template <typename Array>
ArrayDevice device_of(const std::string& name, const Array& array) {
    switch (array.device_type()) {
        case nb::device::cpu::value: case nb::device::cuda_host::value: return {false, 0};
        case nb::device::cuda::value: case nb::device::cuda_managed::value: return {true, array.device_id()};
        default:
            throw InvalidArgument(name, fmt::format("is on a device of DLPack type {}: only CPU and CUDA arrays are supported",
                                                    array.device_type()));
    }
}

std::string device_text(const ArrayDevice& device) {
    return device.cuda ? fmt::format("cuda:{}", device.id) : std::string("the CPU");
}

// An int32 or int64 vector of `length` elements, contiguous.
template <typename Array>
void check_index_array(const std::string& name, const Array& array, std::int64_t length, std::initializer_list<int> bits) {
    require_rank(name, array, 1, "[rows]");
    const nb::dlpack::dtype type = array.dtype();
    bool bits_ok = false;
    for (const int b : bits) bits_ok = bits_ok || type.bits == b;
    if (static_cast<nb::dlpack::dtype_code>(type.code) != nb::dlpack::dtype_code::Int || type.lanes != 1 || !bits_ok)
        throw InvalidArgument(name, fmt::format("must be an int{} array (DLPack type code {}, {} bits)",
                                                bits.size() == 1 ? fmt::format("{}", *bits.begin()) : "32 or int64",
                                                type.code, type.bits));
    if (length >= 0 && extent(array, 0) != length)
        throw InvalidArgument(name, fmt::format("has {} entries, but there are {} rows", extent(array, 0), length));
    if (extent(array, 0) > 1 && array.stride(0) != 1) throw InvalidArgument(name, "must be contiguous");
}

}  // namespace

ArrayProblem make_array_problem(const DecodeArrays& arrays, const DecodeSettings& settings) {
    ArrayProblem result;
    Problem& p = result.problem;
    const auto layout = parse_layout(settings.layout);
    if (!layout) throw InvalidArgument("layout", fmt::format("must be 'kv' or 'vk', got '{}'", settings.layout));
    p.layout = *layout;

    // Shapes: q, k [B, T, H, K]; v, o [B, T, HV, V]; g, beta [B, T, HV].
    require_rank("q", arrays.q, 4, "[B, T, H, K]");
    p.batch = extent(arrays.q, 0);
    p.seq_len = extent(arrays.q, 1);
    p.num_heads = extent(arrays.q, 2);
    p.key_dim = extent(arrays.q, 3);
    require_rank("k", arrays.k, 4, "[B, T, H, K]");
    for (std::size_t d = 0; d < 4; ++d) require_extent("k", arrays.k, d, extent(arrays.q, d), "q's");
    require_rank("v", arrays.v, 4, "[B, T, HV, V]");
    require_extent("v", arrays.v, 0, p.batch, "B (q's dimension 0)");
    require_extent("v", arrays.v, 1, p.seq_len, "T (q's dimension 1)");
    p.num_value_heads = extent(arrays.v, 2);
    p.value_dim = extent(arrays.v, 3);
    require_rank("o", arrays.o, 4, "[B, T, HV, V]");
    for (std::size_t d = 0; d < 4; ++d) require_extent("o", arrays.o, d, extent(arrays.v, d), "v's");
    for (const auto& [name, gate] : {std::pair{"g", &arrays.g}, std::pair{"beta", &arrays.beta}}) {
        if (!*gate) continue;
        require_rank(name, **gate, 3, "[B, T, HV]");
        require_extent(name, **gate, 0, p.batch, "B");
        require_extent(name, **gate, 1, p.seq_len, "T");
        require_extent(name, **gate, 2, p.num_value_heads, "HV (v's dimension 2)");
    }

    // The bank: [N, HV, ., .] or [N, Slots, HV, ., .], contiguous.
    const OutputArray& state = arrays.state;
    if (state.ndim() != 4 && state.ndim() != 5)
        throw InvalidArgument("state", fmt::format("must be a bank [N, HV, K, V] or [N, Slots, HV, K, V] (VK: V and K "
                                                   "swapped), got {}", shape_text(state)));
    if (!is_contiguous(state)) throw InvalidArgument("state", "the bank must be contiguous (it is read and written in place)");
    if (state.ndim() == 4)
        p.state_shape = {extent(state, 0), 1, extent(state, 1), extent(state, 2), extent(state, 3)};
    else
        p.state_shape = {extent(state, 0), extent(state, 1), extent(state, 2), extent(state, 3), extent(state, 4)};
    p.state = data_of(state);

    // Dtypes, strides, the semantic dtypes.
    p.q = tensor_arg("q", arrays.q, settings);
    p.k = tensor_arg("k", arrays.k, settings);
    p.v = tensor_arg("v", arrays.v, settings);
    p.o = tensor_arg("o", arrays.o, settings);
    if (arrays.g) p.g = tensor_arg("g", *arrays.g, settings);
    if (arrays.beta) p.beta = tensor_arg("beta", *arrays.beta, settings);
    p.state_storage = float_dtype("state", state, settings);
    p.input_dtype = settings.input_dtype ? parse_dtype_name("input_dtype", *settings.input_dtype) : p.q.dtype;
    p.state_dtype = settings.state_dtype ? parse_dtype_name("state_dtype", *settings.state_dtype) : p.state_storage;
    p.gate_dtype = p.g.present() ? p.g.dtype : p.beta.present() ? p.beta.dtype : DType::f32;

    // Rows and the index arrays.
    if (arrays.cu_seqlens) {
        check_index_array("cu_seqlens", *arrays.cu_seqlens, -1, {32, 64});
        if (extent(*arrays.cu_seqlens, 0) < 1) throw InvalidArgument("cu_seqlens", "needs at least one entry (0)");
        p.cu_seqlens = data_of(*arrays.cu_seqlens);
        p.cu_seqlens_type = arrays.cu_seqlens->dtype().bits == 32 ? IndexType::i32 : IndexType::i64;
        p.num_sequences = extent(*arrays.cu_seqlens, 0) - 1;
    }
    const std::int64_t rows = p.rows();
    if (arrays.state_indices) {
        check_index_array("state_indices", *arrays.state_indices, rows, {64});
        p.state_indices = static_cast<const std::int64_t*>(data_of(*arrays.state_indices));
    }
    if (arrays.cache_seqlens) {
        check_index_array("cache_seqlens", *arrays.cache_seqlens, rows, {32});
        p.cache_seqlens = static_cast<const std::int32_t*>(data_of(*arrays.cache_seqlens));
    }
    p.scale = settings.scale;
    p.use_qk_l2norm = settings.use_qk_l2norm;
    p.output_final_state = settings.output_final_state;

    // One device for every array.
    result.device = device_of("q", arrays.q);
    const auto same_device = [&](const std::string& name, const auto& array) {
        const ArrayDevice device = device_of(name, array);
        if (device.cuda != result.device.cuda || device.id != result.device.id)
            throw InvalidArgument(name, fmt::format("is on {}, but q is on {}", device_text(device), device_text(result.device)));
    };
    same_device("k", arrays.k);
    same_device("v", arrays.v);
    same_device("o", arrays.o);
    same_device("state", state);
    if (arrays.g) same_device("g", *arrays.g);
    if (arrays.beta) same_device("beta", *arrays.beta);
    if (arrays.state_indices) same_device("state_indices", *arrays.state_indices);
    if (arrays.cache_seqlens) same_device("cache_seqlens", *arrays.cache_seqlens);
    if (arrays.cu_seqlens) same_device("cu_seqlens", *arrays.cu_seqlens);

    validate(p, ValidateOptions{/*arrays_on_host=*/!result.device.cuda, settings.allow_f64_storage});
    return result;
}

}  // namespace gdr::python
