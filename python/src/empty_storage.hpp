// Where an array with no elements points, in both directions of the crossing between
// framework arrays and a Problem: a zero-element array may have no storage at all, and a null
// pointer means "absent" to a Problem and None to a Python subject. Nothing reads here.
#pragma once

#include <cstddef>

namespace gdr::python {

inline void* empty_storage() {
    alignas(16) static std::byte storage[16];
    return storage;
}

}  // namespace gdr::python
