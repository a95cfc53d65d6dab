// cpu-dis: OpenCV's DIS optical flow with a named preset of runtime/shared_params.json.
#pragma once

#include <string>

#include <nlohmann/json.hpp>
#include <opencv2/video/tracking.hpp>

#include "flow.hpp"

namespace sofp {

class DisFlow : public Flow {
public:
    // presets: the "dis_presets" object; name: one of its keys (base preset + overrides).
    DisFlow(const nlohmann::json &presets, const std::string &name);
    // prev, curr: H x W CV_8U of one size -> H x W CV_32FC2 (u, v) px.
    cv::Mat compute(const cv::Mat &prev, const cv::Mat &curr) override;
    std::string name() const override { return "cpu-dis"; }

private:
    cv::Ptr<cv::DISOpticalFlow> dis_;
};

}  // namespace sofp
