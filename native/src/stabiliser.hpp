// Head-motion removal: runtime/face/stabilise.py's "robust" method (phase correlation, then the
// median of a DIS flow), aligning a face crop to a reference crop.
#pragma once

#include <memory>

#include <opencv2/core.hpp>

#include "dis_flow.hpp"
#include "params.hpp"

namespace sofp {

class Stabiliser {
public:
    Stabiliser(const StabiliserParams &params, const nlohmann::json &dis_presets);
    // gray (S x S CV_8U) warped onto reference's geometry (same size and type).
    cv::Mat align(const cv::Mat &reference, const cv::Mat &gray);

private:
    void estimate(const cv::Mat &reference, const cv::Mat &gray, float &tx, float &ty);

    StabiliserParams p_;
    DisFlow dis_;
    cv::Mat window_;
};

}  // namespace sofp
