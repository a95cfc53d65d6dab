// cuda-tvl1, cuda-farneback, cuda-nvof: OpenCV's CUDA optical flow (cudaoptflow), as runtime/flow/cuda.py,
// with the parameters of runtime/shared_params.json's flow_params.
//
// Built only when OpenCV has the cudaoptflow module (CMake defines SOFP_HAVE_CUDA_FLOW). Written against
// OpenCV 4.x's documented API; not compiled or run on CUDA hardware during development.
#pragma once

#include <memory>
#include <string>

#include "flow.hpp"

namespace sofp {

// Whether `name` is one of the CUDA flows.
bool is_cuda_flow(const std::string &name);
// Whether this build has OpenCV's CUDA optical flow.
bool cuda_flow_built();
// The CUDA flow `name` for crops of crop_size px; Error(SOFP_ERR_UNSUPPORTED) when this build or machine
// cannot run it.
std::unique_ptr<Flow> make_cuda_flow(const std::string &name, const Params &params);

}  // namespace sofp
