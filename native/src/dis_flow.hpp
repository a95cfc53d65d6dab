// cpu-dis: OpenCV's DIS optical flow with a named preset of runtime/shared_params.json.
#pragma once

#include <string>

#include <nlohmann/json.hpp>
#include <opencv2/video/tracking.hpp>

namespace sofp {

class DisFlow {
public:
    // presets: the "dis_presets" object; name: one of its keys (base preset + overrides).
    DisFlow(const nlohmann::json &presets, const std::string &name);
    // prev, curr: H x W CV_8U of one size -> H x W CV_32FC2 (u, v) px.
    cv::Mat compute(const cv::Mat &prev, const cv::Mat &curr);
    const std::string &name() const { return name_; }

private:
    cv::Ptr<cv::DISOpticalFlow> dis_;
    std::string name_;
};

}  // namespace sofp
