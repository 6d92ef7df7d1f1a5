// The Catch2 main of every test binary. A GPU test binary (compiled with
// GDR_TESTS_NEED_GPU) exits 77 - ctest's "skipped" - when no CUDA device is present,
// except while Catch lists tests (test discovery must see them) and except when
// GDR_REQUIRE_GPU=1, which turns the missing device into a failure. Catch's own exit
// code (the number of failed assertions, capped at 255) is clamped so that a run with
// 77 failures can never read as a skip.
//
// `--check-test-names` (before any other argument) checks the registered test names
// instead of running tests: a name that ctest would cut into two entries fails (ctest.hpp).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "gdr/harness/require_gpu.hpp"
#include "support/ctest.hpp"
#ifdef GDR_TESTS_NEED_GPU
#include "gdr/cuda/device.hpp"
#endif

namespace {
bool is_listing(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg(argv[i]);
        if (arg.rfind("--list", 0) == 0 || arg == "-l" || arg == "-t" || arg == "-h" || arg == "--help") return true;
    }
    return false;
}
}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && std::string_view(argv[1]) == "--check-test-names") {
        std::vector<std::string> names;
        for (const Catch::TestCase& test : Catch::getRegistryHub().getTestCaseRegistry().getAllTests())
            names.push_back(test.name);
        const std::vector<std::string> bad = gdr::testing::names_ctest_would_split(names);
        for (const std::string& name : bad)
            std::fprintf(stderr, "test name ctest would split (it contains ';'): %s\n", name.c_str());
        std::printf("%zu test names, %zu that ctest would split\n", names.size(), bad.size());
        return bad.empty() ? 0 : 1;
    }
#ifdef GDR_TESTS_NEED_GPU
    if (!is_listing(argc, argv)) {
        const gdr::cuda::DeviceStatus device = gdr::cuda::probe_device();
        if (!device.available) {
            const bool required = gdr::harness::gpu_required_by_environment();
            std::fprintf(stderr, "%s: no usable CUDA device (%s)\n", required ? "FAILED" : "SKIPPED",
                         device.reason.c_str());
            return required ? 1 : 77;
        }
        std::fprintf(stderr, "GPU: %s\n", device.name.c_str());
    }
#else
    (void)is_listing;
#endif
    const int failures = Catch::Session().run(argc, argv);
    return failures == 0 ? 0 : 1;
}
