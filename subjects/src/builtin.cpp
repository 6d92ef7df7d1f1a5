#include "gdr/subjects/builtin.hpp"

namespace gdr::subjects {

const Registry& builtin_registry() {
    static const Registry registry = [] {
        Registry r;
        register_cpu_subjects(r);
        register_cpu_chunked_subject(r);
        register_cuda_subjects(r);
        return r;
    }();
    return registry;
}

}  // namespace gdr::subjects
