#include "gray_frame.hpp"

#include <opencv2/imgproc.hpp>

namespace sofp {

GrayFrame::GrayFrame(const cv::Mat &src, int code) : src_(src), code_(code) {
    if (code_ < 0) {
        gray_ = src_;
        gray_full_ = true;
    } else {
        gray_.create(src_.size(), CV_8U);
    }
    set_small_size(src_.size());
}

GrayFrame GrayFrame::copy() const {
    GrayFrame c(src_.clone(), code_);
    c.set_small_size(small_size_);
    return c;
}

cv::Mat GrayFrame::region(const cv::Rect &r) {
    if (!gray_full_) cv::cvtColor(src_(r), gray_(r), code_);
    return gray_(r);
}

const cv::Mat &GrayFrame::full() {
    if (!gray_full_) {
        cv::cvtColor(src_, gray_, code_);
        gray_full_ = true;
    }
    return gray_;
}

void GrayFrame::set_small_size(cv::Size small_size) {
    small_size_ = small_size;
    small_done_ = false;
    const int k = src_.cols / std::max(1, small_size.width);
    factor_ = k >= 1 && small_size.width * k == src_.cols && small_size.height * k == src_.rows ? k : 0;
}

const cv::Mat &GrayFrame::small_full() {
    if (!small_done_) {
        if (small_size_ == src_.size())
            small_ = full();
        else
            cv::resize(full(), small_, small_size_, 0, 0, cv::INTER_AREA);
        small_done_ = true;
    }
    return small_;
}

cv::Mat GrayFrame::small_region(const cv::Rect &r) {
    if (small_done_ || factor_ == 0) return small_full()(r);
    const int k = factor_;
    const cv::Mat g = region(cv::Rect(r.x * k, r.y * k, r.width * k, r.height * k));
    if (k == 1) return g;
    cv::resize(g, small_part_, r.size(), 0, 0, cv::INTER_AREA);
    return small_part_;
}

}  // namespace sofp
