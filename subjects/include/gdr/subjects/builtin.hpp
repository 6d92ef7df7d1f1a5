// The subjects this build has, registered once: the CPU stand-ins (a decode and a chunk
// kernel), the CUDA decode kernel (NOT_RUN, saying why, without a CUDA build or device)
// and, in CUDA builds, the decode kernel's mutants ("mutant:<name>") and their control ("mutant:none").
#pragma once

#include <string>

#include "gdr/subjects/registry.hpp"

namespace gdr::subjects {

const Registry& builtin_registry();

// Registration, split by what each part links: builtin.cpp calls both.
void register_cpu_subjects(Registry& registry);   // cpu_subjects.cpp
void register_cpu_chunked_subject(Registry& registry);  // cpu_chunked_subject.cpp
void register_cuda_subjects(Registry& registry);  // cuda_subjects.cpp, or no_cuda_subjects.cpp

// Usable CUDA devices here: 0 without a device, a driver or a CUDA build.
int cuda_device_count();
// Why no CUDA device can be used here, in plain words; empty when one can.
std::string cuda_unavailable_reason();

}  // namespace gdr::subjects
