// A frame seen as grey, converted and downscaled only where the pipeline looks: between detections
// the face stage reads a small region of the downscaled frame (template tracking) and the face crop,
// so converting and downscaling the whole frame (most of the face stage's time) is not needed.
// Colour conversion is per pixel and INTER_AREA downscaling by an integer factor is per block, so a
// region gives exactly the pixels the same region of the whole converted or downscaled frame has.
#pragma once

#include <opencv2/core.hpp>

namespace sofp {

class GrayFrame {
public:
    // src: H x W CV_8UC1/3/4; code: its cv::cvtColor code to grey (-1 for an already grey frame).
    // src is read during the GrayFrame's life only.
    GrayFrame(const cv::Mat &src, int code);
    explicit GrayFrame(const cv::Mat &gray) : GrayFrame(gray, -1) {}

    // A frame owning a copy of this one's pixels, with the same small_size (to read on another thread).
    GrayFrame copy() const;

    int cols() const { return src_.cols; }
    int rows() const { return src_.rows; }
    // Grey pixels of r (inside the frame); a view valid while this frame lives.
    cv::Mat region(const cv::Rect &r);
    // The whole frame in grey.
    const cv::Mat &full();

    // The frame downscaled with INTER_AREA to small_size (at most the frame's size).
    void set_small_size(cv::Size small_size);
    cv::Size small_size() const { return small_size_; }
    // Pixels of r in the downscaled frame (a view valid until the next call).
    cv::Mat small_region(const cv::Rect &r);
    const cv::Mat &small_full();

private:
    cv::Mat src_;
    int code_;
    cv::Mat gray_, small_, small_part_;
    bool gray_full_ = false, small_done_ = false;
    cv::Size small_size_;
    int factor_ = 0;  // integer downscale factor, 0 when the scale is not an integer
};

}  // namespace sofp
