// ChunkArgs: the chunked prefill kernels' one parameter: the problem's arguments, its
// checkpoints, its value tiling and the workspace through which the two passes talk
// (filled by make_args in chunked_prefill.cu).
#pragma once

#include <cstdint>

#include "../common/mutation_hooks.cuh"
#include "../common/problem_args.cuh"

namespace GDR_KERNEL_NAMESPACE {
namespace {

constexpr int kChunk = 64;  // C (gdr::cuda::kChunkSize)

// Floats of a chunk's gate record: the decay from after each token to the chunk's end
// (C of them, 0 past the chunk's tokens), the whole chunk's decay, and padding to 16 bytes.
constexpr int kGateRecordFloats = kChunk + 4;
constexpr int kWholeChunkGate = kChunk;  // the record's index of exp(G_c)

// What the chunk-local pass (chunk_prepare_kernel) leaves for the state pass
// (chunk_state_kernel), one record per (chunk slot, value head); every matrix C rows, in
// the input dtype, zero in the rows past the chunk's tokens:
//   gates        [slot][HV][kGateRecordFloats] float
//   gated_queries D Q        [slot][HV][C][K]   (q normalised, scaled, rounded, then times D, rounded)
//   keys          K          [slot][HV][C][K]   (normalised, rounded)
//   w             W          [slot][HV][C][K]
//   u             U          [slot][HV][C][V]
//   p             P          [slot][HV][C][C]   (causal, zero above the diagonal)
// A row's chunks have consecutive slots from first_slot(row) on (chunk_geometry.cuh).
struct ChunkWorkspaceArgs {
    float* gates;
    void* gated_queries;
    void* keys;
    void* w;
    void* u;
    void* p;
    std::int64_t slots;           // slots in every array
    std::int64_t chunks_per_row;  // fixed-length rows: ceil(T / C)
};

struct ChunkArgs : ProblemArgs {
    void* checkpoints;
    const std::int64_t* checkpoint_offsets;
    std::int64_t value_tiles;  // V / the kernel's value tile
    ChunkWorkspaceArgs workspace;
#ifdef GDR_MUTANTS
    Mutant mutant;
#endif
};

}  // namespace
}  // namespace GDR_KERNEL_NAMESPACE
