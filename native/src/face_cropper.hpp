// Frame -> square grey face crop, detecting every N frames and tracking in between:
// runtime/face/cropper.py's FaceCropper, step for step.
#pragma once

#include <deque>
#include <optional>

#include <opencv2/core.hpp>

#include "area_resize.hpp"
#include "face_box.hpp"
#include "gray_frame.hpp"
#include "haar_detector.hpp"
#include "params.hpp"

namespace sofp {

struct FaceCrop {
    cv::Mat gray;  // size x size CV_8U
    FaceBox box;
    bool tracked;
};

class FaceCropper {
public:
    FaceCropper(const FaceParams &params, HaarDetector detector);
    void reset();
    // The frame -> the crop, or nothing when no face is found.
    std::optional<FaceCrop> operator()(GrayFrame &frame);
    // The size x size crop of the frame around box enlarged by margin.
    cv::Mat crop(GrayFrame &frame, const FaceBox &box) const;
    double margin() const { return p_.margin; }
    int size() const { return p_.crop_size; }

private:
    std::optional<FaceBox> detect(GrayFrame &frame, double k);
    void grab_template(GrayFrame &frame, double k);
    bool track(GrayFrame &frame, double k);
    void smooth(const FaceBox &det);

    FaceParams p_;
    HaarDetector detector_;
    std::optional<FaceBox> box_;
    cv::Mat template_;
    double tpl_ox_ = 0, tpl_oy_ = 0;
    int since_detect_ = 0, misses_ = 0, searches_ = 0, idle_ = 0;
    std::deque<double> sizes_;
    mutable AreaResizer shrink_;  // buffers and tables only: crop() stays logically const
};

}  // namespace sofp
