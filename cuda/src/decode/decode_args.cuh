// DecodeArgs: the decode kernel's one parameter, ProblemArgs and the decode kernel's own
// flags. make_args (decode.cu) fills it on the host; every device function takes it as `a`,
// which is also where the mutant build's hooks find the mutant id.
#pragma once

#include <cstdint>

#include "../common/problem_args.cuh"
#include "../common/mutation_hooks.cuh"

namespace GDR_KERNEL_NAMESPACE {
namespace {

// The problem's arguments, and what the decode kernel adds to them.
struct DecodeArgs : ProblemArgs {
    bool state_vector_access;   // the state's contiguous dimension is a multiple of kVec and the bank is aligned
    bool inputs_vector_access;  // q, k, v, o and their strides are aligned to kVec elements
#ifdef GDR_MUTANTS
    Mutant mutant;
#endif
};

}  // namespace
}  // namespace GDR_KERNEL_NAMESPACE
