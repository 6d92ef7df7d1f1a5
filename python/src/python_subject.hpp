// A Python callable as a harness subject, registered beside the built-in ones so that every
// gdr verb (check, verify, fuzz, replay) judges it by the same rules and reports.
//
// The harness allocates as for any subject (poisoned o, the bank inside its poisoned arena,
// inputs whose bytes are compared after the call) and the callable gets views of those
// buffers for the length of the call: host buffers for a CPU subject; for a CUDA subject,
// the CUDA launch subject's guarded device buffers (guard bands checked after the call).
// The views go to `call`, the package's trampoline (gdr_verify/_subjects.py), which makes the
// framework's tensors and calls the user's function.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nanobind/nanobind.h>

#include "gdr/harness/math_mode.hpp"
#include "gdr/subjects/registry.hpp"

namespace gdr::python {

namespace nb = nanobind;

// A Python object that may be copied and dropped by threads that do not hold the GIL (the
// registry's std::functions are copied by campaign workers): the reference count is only
// touched, under the GIL, when the last copy goes.
using SharedObject = std::shared_ptr<nb::object>;
SharedObject share(nb::object object);

struct PythonLimitation {
    std::string id, words;
    SharedObject covers;  // covers(spec: dict, reason: str) -> bool
};

struct PythonSubjectDeclaration {
    std::string name, description;
    bool cuda = false;  // the callable takes CUDA tensors (else host arrays)
    harness::MathMode math_mode = harness::MathMode::precise;
    std::vector<PythonLimitation> limitations;
    // call(arrays: dict[str, ndarray], settings: dict) -> None; raises gdr_verify.NotSupported
    // for a valid case it declines.
    SharedObject call;
    SharedObject not_supported_type;  // gdr_verify.NotSupported
};

subjects::SubjectEntry python_subject_entry(PythonSubjectDeclaration declaration);

}  // namespace gdr::python
