// Dense optical flow between two grey images (runtime/flow/base.py's FlowBackend), chosen by name.
#pragma once

#include <memory>
#include <string>

#include <opencv2/core.hpp>

namespace sofp {

struct Params;

class Flow {
public:
    virtual ~Flow() = default;
    // prev, curr: H x W CV_8U of one size -> H x W CV_32FC2 (u, v) px: prev(p) moves to curr(p + flow(p)).
    virtual cv::Mat compute(const cv::Mat &prev, const cv::Mat &curr) = 0;
    // The registry name: "cpu-dis", "cuda-tvl1", ...
    virtual std::string name() const = 0;
};

// The feature flow `name`: "auto" (the parameters' feature_flow, cpu-dis), "cpu-dis" (the feature preset),
// "cuda-tvl1", "cuda-farneback" or "cuda-nvof" (cuda_flow.hpp). Unknown or unavailable: Error.
std::unique_ptr<Flow> make_flow(const std::string &name, const Params &params);

}  // namespace sofp
