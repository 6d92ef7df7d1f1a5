// ChunkArgs: the chunked prefill kernel's one parameter: the problem's arguments, its
// checkpoints and its value tiling (filled by make_args in chunked_prefill.cu).
#pragma once

#include <cstdint>

#include "../common/mutation_hooks.cuh"
#include "../common/problem_args.cuh"

namespace GDR_KERNEL_NAMESPACE {
namespace {

struct ChunkArgs : ProblemArgs {
    void* checkpoints;
    const std::int64_t* checkpoint_offsets;
    std::int64_t value_tiles;  // V / the kernel's value tile
#ifdef GDR_MUTANTS
    Mutant mutant;
#endif
};

}  // namespace
}  // namespace GDR_KERNEL_NAMESPACE
