// Onset-to-apex flow -> the model's input, as runtime/features.py computes it.
#pragma once

#include <vector>

#include <opencv2/core.hpp>

namespace sofp {

// Optical strain sqrt(ux^2 + vy^2 + 0.5 (uy + vx)^2) of an H x W CV_32FC2 flow, with numpy.gradient's
// differences (central inside, one-sided at the borders); H x W CV_32F.
cv::Mat optical_strain(const cv::Mat &flow);
// H x W CV_32FC2 flow (px) -> size x size CV_8UC3 (u, v, strain), each channel min-max to 0..255.
cv::Mat flow_to_features(const cv::Mat &flow, int size);
// Left-right mirror of a features image: columns flipped, u -> 255 - u.
cv::Mat mirror_features(const cv::Mat &features);
// Append a features image to an NCHW float32 batch (values / 255).
void append_input(const cv::Mat &features, std::vector<float> &batch);

}  // namespace sofp
