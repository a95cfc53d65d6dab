// Frame -> square grey face crop, detecting every N frames and tracking in between:
// runtime/face/cropper.py's FaceCropper, step for step. A detection that falls due while a face is
// tracked runs on a background thread (one per cropper, for its life) on a copy of that frame and is
// applied detect_lag frames later, waiting for it there if needed: the answer never depends on
// thread timing (detect_lag 0: on the frame itself, no thread).
#pragma once

#include <deque>
#include <optional>

#include <opencv2/core.hpp>

#include "area_resize.hpp"
#include "background_job.hpp"
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
    // A detection on the background thread: its input (the copied frame, the box to look near and
    // the whole-frame search's number) and its answer; read by the cropper only after worker_.wait().
    struct DetectJob {
        std::optional<GrayFrame> frame;
        double k = 1;
        FaceBox near;
        int search = 0;
        std::optional<FaceBox> found;
        bool searched = false;
    };

    // Faces near `near` when given, else (or when none is there) in the whole downscaled frame, padded on
    // even-numbered searches; searched: whether the whole frame was searched. Touches no other state.
    std::optional<FaceBox> detect(GrayFrame &frame, double k, const std::optional<FaceBox> &near, int search,
                                  bool &searched);
    void launch(GrayFrame &frame, double k, const FaceBox &near);
    bool apply_pending(GrayFrame &frame, double k, bool &tracked);
    void drop_pending();
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
    DetectJob job_;
    FaceBox job_track_;   // the box tracked on the frame the pending detection looks at
    int pending_left_ = 0;  // frames until the pending detection is applied; 0: none pending
    BackgroundJob worker_;  // last: its thread ends before the members it uses go
};

}  // namespace sofp
