// The CUDA subjects (CUDA builds): the decode kernel and the chunked prefill kernel, and the
// mutants of each with their control. Each runs through the CUDA launch subject (guarded
// device buffers); the decode ones bring their own big-bank case, which only a device can
// hold.
#include <fmt/format.h>

#include "gdr/cuda/chunked_prefill.hpp"
#include "gdr/cuda/decode.hpp"
#include "gdr/cuda/device.hpp"
#include "gdr/cuda/mutants.hpp"
#include "gdr/subjects/big_bank_case.hpp"
#include "gdr/subjects/builtin.hpp"
#include "gdr/subjects/cuda_launch_subject.hpp"

namespace gdr::subjects {

namespace {

// A CUDA launch as a registry entry: the subject and its big-bank case share the launch.
SubjectEntry cuda_entry(std::string name, std::string description, Kind kind, std::string bug_class,
                        DeviceLaunch launch) {
    // The mutants share the kernel's host checks (cuda::unsupported_reason), so its limitations.
    SubjectEntry entry{name, description, Needs::cuda_device, kind, decode_kernel_limitations(), {}, {}, std::move(bug_class)};
    entry.make = [=](int device) { return make_cuda_launch_subject(name, description, launch, device); };
    entry.run_big_bank_case = [=] { return run_big_bank_case(name, launch); };
    return entry;
}

DeviceLaunch mutant_launch(cuda::Mutant mutant) {
    return [mutant](const Problem& device) { cuda::mutants::fused_recurrent_decode(device, mutant, nullptr); };
}

// A chunked prefill launch as a registry entry (no big-bank case yet).
SubjectEntry chunk_entry(std::string name, std::string description, Kind kind, std::string bug_class,
                         DeviceLaunch launch) {
    SubjectEntry entry{name, description, Needs::cuda_device, kind, chunk_kernel_limitations(), {}, {}, std::move(bug_class)};
    entry.make = [=](int device) { return make_cuda_chunk_subject(name, description, launch, device); };
    return entry;
}

DeviceLaunch chunk_mutant_launch(cuda::Mutant mutant) {
    return [mutant](const Problem& device) { cuda::mutants::chunked_prefill(device, {}, mutant, nullptr); };
}

}  // namespace

void register_cuda_subjects(Registry& registry) {
    registry.add(cuda_entry("cuda-decode", "the CUDA fused recurrent decode kernel (cuda/src/decode/)", Kind::kernel,
                            {}, [](const Problem& on_device) { cuda::fused_recurrent_decode(on_device, nullptr); }));
    registry.add(cuda_entry("mutant:none", "the decode kernel built with the mutant hooks, every hook off",
                            Kind::mutant_control, {}, mutant_launch(cuda::Mutant::none)));
    for (const cuda::MutantInfo& info : cuda::mutant_catalog())
        registry.add(cuda_entry(fmt::format("mutant:{}", info.name), fmt::format("decode kernel mutant: {}", info.bug_class),
                                Kind::mutant, {std::string(info.bug_class)}, mutant_launch(info.id)));
    registry.add(chunk_entry("cuda-chunked", "the CUDA chunked prefill kernel (cuda/src/chunk/)", Kind::kernel, {},
                             [](const Problem& on_device) { cuda::chunked_prefill(on_device, {}, nullptr); }));
    registry.add(chunk_entry("chunk-mutant:none", "the chunked prefill kernel built with the mutant hooks, every hook off",
                             Kind::mutant_control, {}, chunk_mutant_launch(cuda::Mutant::none)));
    for (const cuda::MutantInfo& info : cuda::chunk_mutant_catalog())
        registry.add(chunk_entry(fmt::format("chunk-mutant:{}", info.name),
                                 fmt::format("chunked prefill kernel mutant: {}", info.bug_class), Kind::mutant,
                                 {std::string(info.bug_class)}, chunk_mutant_launch(info.id)));
}

int cuda_device_count() {
    const cuda::DeviceStatus device = cuda::probe_device();
    return device.available ? device.device_count : 0;
}

std::string cuda_unavailable_reason() {
    const cuda::DeviceStatus device = cuda::probe_device();
    return device.available ? std::string() : device.reason;
}

}  // namespace gdr::subjects
