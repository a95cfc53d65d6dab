// The per-frame motion number (px) of runtime/spotting.py's motion_magnitude.
#pragma once

#include <opencv2/core.hpp>

namespace sofp {

// H x W CV_32FC2 flow (px) -> mean magnitude of the top_fraction largest cell x cell block vectors,
// after the median block vector is subtracted (residual head translation).
double motion_magnitude(const cv::Mat &flow, double top_fraction, int cell);

}  // namespace sofp
