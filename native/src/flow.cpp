#include "flow.hpp"

#include "cuda_flow.hpp"
#include "dis_flow.hpp"
#include "error.hpp"
#include "params.hpp"

namespace sofp {

std::unique_ptr<Flow> make_flow(const std::string &name, const Params &params) {
    const std::string chosen = name == "auto" ? params.feature_flow : name;
    if (chosen == "cpu-dis") return std::make_unique<DisFlow>(params.dis_presets, params.feature_preset);
    if (is_cuda_flow(chosen)) return make_cuda_flow(chosen, params);
    throw Error(SOFP_ERR_INVALID_ARGUMENT,
                "unknown flow \"" + name + "\"; known: auto, cpu-dis, cuda-tvl1, cuda-farneback, cuda-nvof");
}

}  // namespace sofp
