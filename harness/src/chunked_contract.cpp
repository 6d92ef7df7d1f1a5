#include "gdr/harness/chunked_contract.hpp"

#include <fmt/format.h>

namespace gdr::harness {

std::string describe(const ChunkedContract& contract) {
    std::string points;
    for (const reference::NamedRoundingPoint& point : reference::kChunkRoundingPoints)
        if (contract.rounding_points.*point.flag) points += (points.empty() ? "" : ", ") + std::string(point.name);
    return fmt::format("C={}, rounding points: {}", contract.chunk_size, points.empty() ? "none" : points);
}

}  // namespace gdr::harness
