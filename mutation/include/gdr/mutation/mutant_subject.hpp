// A mutant of the decode kernel as a harness subject, named "mutant:<name>": the CUDA
// subject's guarded buffers and checks around gdr::cuda::mutants::fused_recurrent_decode.
#pragma once

#include <memory>
#include <string_view>

#include "gdr/cuda/mutants.hpp"
#include "gdr/harness/subject.hpp"

namespace gdr::mutation {

inline constexpr std::string_view mutant_subject_prefix = "mutant:";

// The mutant's launch: gdr::cuda::mutants::fused_recurrent_decode on the default stream.
harness::DeviceLaunch mutant_launch(cuda::Mutant mutant);
// NOT_RUN without a device. Mutant::none is the production kernel built the mutant way.
std::unique_ptr<harness::Subject> make_cuda_mutant_subject(cuda::Mutant mutant);
// "mutant:<name>" or "<name>" (a catalog name or "none"); throws gdr::InvalidArgument("mutant", ...).
cuda::Mutant parse_mutant(std::string_view name);

}  // namespace gdr::mutation
