// Head-motion removal: runtime/face/stabilise.py's "robust" method (phase correlation, then the
// median of a DIS flow), aligning a face crop to a reference crop.
#pragma once

#include <vector>

#include <opencv2/core.hpp>

#include "dis_flow.hpp"
#include "params.hpp"
#include "phase_correlation.hpp"

namespace sofp {

class Stabiliser {
public:
    Stabiliser(const StabiliserParams &params, const nlohmann::json &dis_presets);
    // gray (S x S CV_8U) warped onto reference's geometry (same size and type).
    cv::Mat align(const cv::Mat &reference, const cv::Mat &gray);
    // The same, with each crop's phase-correlation spectrum kept by the caller: computed here when
    // empty, reused when not (a crop aligned now is the reference of a later frame).
    cv::Mat align(const cv::Mat &reference, cv::Mat &reference_spectrum, const cv::Mat &gray, cv::Mat &gray_spectrum);

private:
    void estimate(const cv::Mat &reference, cv::Mat &reference_spectrum, const cv::Mat &gray, cv::Mat &gray_spectrum,
                  float &tx, float &ty);

    StabiliserParams p_;
    DisFlow dis_;
    PhaseCorrelator correlator_;
    std::vector<float> u_, v_;
};

}  // namespace sofp
