#include "face_cropper.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "median.hpp"
#include "pyround.hpp"

namespace sofp {

namespace {

// Constants of runtime/face/cropper.py's algorithm (not tuning parameters).
constexpr double kRoiMinFactor = 0.7, kRoiMaxFactor = 1.45, kRoiScaleFactor = 1.15;
constexpr double kTemplateHalf = 0.4, kTrackReach = 0.35, kRedetectIou = 0.3;
constexpr size_t kSizeHistory = 5;

// Parabolic refinement of a correlation peak; float32 arithmetic, as NumPy does on the float32 scores.
double peak_offset(float a, float b, float c) {
    const float d = a - 2.0f * b + c;
    if (std::fabs(d) < 1e-9f) return 0.0;
    return static_cast<double>(std::clamp(0.5f * (a - c) / d, -0.5f, 0.5f));
}

}  // namespace

FaceCropper::FaceCropper(const FaceParams &params, HaarDetector detector) : p_(params), detector_(std::move(detector)) {
    p_.search_every = std::max(1, p_.search_every);
    reset();
}

void FaceCropper::reset() {
    drop_pending();
    box_.reset();
    template_.release();
    since_detect_ = misses_ = searches_ = idle_ = 0;
    sizes_.clear();
}

std::optional<FaceBox> FaceCropper::detect(GrayFrame &frame, double k, const std::optional<FaceBox> &near,
                                           int search, bool &searched) {
    const cv::Size small = frame.small_size();
    searched = false;
    if (near) {
        const FaceBox b = near->scaled(1.0 / k);
        const int x0 = py_int(std::max(0.0, b.cx() - b.side())), y0 = py_int(std::max(0.0, b.cy() - b.side()));
        const int x1 = py_int(std::min(static_cast<double>(small.width), b.cx() + b.side()));
        const int y1 = py_int(std::min(static_cast<double>(small.height), b.cy() + b.side()));
        std::vector<FaceBox> found;
        if (x1 - x0 > 24 && y1 - y0 > 24) {
            const cv::Mat roi = frame.small_region(cv::Rect(x0, y0, x1 - x0, y1 - y0));
            found = detector_.detect(roi, kRoiMinFactor * b.side(), kRoiMaxFactor * b.side(), 0.0, kRoiScaleFactor);
        }
        if (!found.empty()) {
            const FaceBox *best = nullptr;
            double best_key = 0;
            for (FaceBox &f : found) {
                f.x += x0;
                f.y += y0;
                const double key = f.iou(b) + 1e-3 * f.w;
                if (!best || key > best_key) best = &f, best_key = key;
            }
            return best->scaled(k);
        }
    }
    // No face yet: the whole downscaled frame, alternating no padding and the detector's padding.
    // Of several candidates the most confident (largest first among equals), as runtime/face/cropper.py.
    searched = true;
    std::vector<FaceBox> found = detector_.detect(frame.small_full(), -1, -1, search % 2 ? 0.0 : -1.0);
    if (found.empty()) return std::nullopt;
    const FaceBox *best = &found.front();
    for (const FaceBox &f : found)
        if (f.score > best->score) best = &f;
    return best->scaled(k);
}

void FaceCropper::launch(GrayFrame &frame, double k, const FaceBox &near) {
    job_ = DetectJob{frame.copy(), k, near, searches_ + 1, std::nullopt, false};
    job_track_ = *box_;
    pending_left_ = p_.detect_lag;
    worker_.start([this] { job_.found = detect(*job_.frame, job_.k, job_.near, job_.search, job_.searched); });
}

bool FaceCropper::apply_pending(GrayFrame &frame, double k, bool &tracked) {
    pending_left_ = 0;
    worker_.wait();
    job_.frame.reset();
    searches_ += job_.searched;
    if (!job_.found) return ++misses_ <= p_.max_misses;
    misses_ = 0;
    const FaceBox &d = *job_.found;
    const double dx = box_->cx() - job_track_.cx(), dy = box_->cy() - job_track_.cy();
    smooth(FaceBox{d.x + dx, d.y + dy, d.w, d.h, d.score});
    grab_template(frame, k);
    tracked = false;
    return true;
}

void FaceCropper::drop_pending() {
    if (pending_left_ == 0) return;
    pending_left_ = 0;
    try {
        worker_.wait();  // the detector serves one call at a time
    } catch (...) {  // NOLINT(bugprone-empty-catch): the dropped detection's answer, error or not, is not used
    }
    job_.frame.reset();
}

void FaceCropper::grab_template(GrayFrame &frame, double k) {
    const cv::Size small = frame.small_size();
    const FaceBox b = box_->scaled(1.0 / k);
    const double half = kTemplateHalf * b.side();
    const int x0 = py_round(b.cx() - half), y0 = py_round(b.cy() - half);
    const int x1 = py_round(b.cx() + half), y1 = py_round(b.cy() + half);
    if (x0 < 0 || y0 < 0 || x1 > small.width || y1 > small.height || x1 - x0 < 8 || y1 <= y0) {
        template_.release();
        return;
    }
    template_ = frame.small_region(cv::Rect(x0, y0, x1 - x0, y1 - y0)).clone();
    tpl_ox_ = b.cx() - x0;
    tpl_oy_ = b.cy() - y0;
}

bool FaceCropper::track(GrayFrame &frame, double k) {
    if (template_.empty()) return false;
    const cv::Size small = frame.small_size();
    const int th = template_.rows, tw = template_.cols;
    const FaceBox b = box_->scaled(1.0 / k);
    const double reach = kTrackReach * b.side();
    const int x0 = py_int(std::max(0.0, b.cx() - tpl_ox_ - reach));
    const int y0 = py_int(std::max(0.0, b.cy() - tpl_oy_ - reach));
    const int x1 = py_int(std::min(static_cast<double>(small.width), b.cx() - tpl_ox_ + tw + reach));
    const int y1 = py_int(std::min(static_cast<double>(small.height), b.cy() - tpl_oy_ + th + reach));
    if (x1 - x0 <= tw || y1 - y0 <= th) return false;
    cv::Mat res;
    cv::matchTemplate(frame.small_region(cv::Rect(x0, y0, x1 - x0, y1 - y0)), template_, res, cv::TM_CCOEFF_NORMED);
    double score = 0;
    cv::Point at;
    cv::minMaxLoc(res, nullptr, &score, nullptr, &at);
    if (score < p_.track_min_score) return false;
    const int mx = at.x, my = at.y;
    auto r = [&](int y, int x) { return res.at<float>(y, x); };
    const double dx = (mx > 0 && mx < res.cols - 1) ? peak_offset(r(my, mx - 1), r(my, mx), r(my, mx + 1)) : 0.0;
    const double dy = (my > 0 && my < res.rows - 1) ? peak_offset(r(my - 1, mx), r(my, mx), r(my + 1, mx)) : 0.0;
    const double cx = (x0 + (mx + dx) + tpl_ox_) * k, cy = (y0 + (my + dy) + tpl_oy_) * k;
    box_ = FaceBox::square(cx, cy, box_->side(), score);
    return true;
}

void FaceCropper::smooth(const FaceBox &det) {
    if (!box_ || det.iou(*box_) < kRedetectIou) {
        sizes_.clear();
        sizes_.push_back(det.side());
        box_ = FaceBox::square(det.cx(), det.cy(), det.side(), det.score);
        return;
    }
    sizes_.push_back(det.side());
    while (sizes_.size() > kSizeHistory) sizes_.pop_front();
    const double a = p_.center_alpha;
    const double cx = (1 - a) * box_->cx() + a * det.cx();
    const double cy = (1 - a) * box_->cy() + a * det.cy();
    double cur = box_->side();
    std::vector<double> s(sizes_.begin(), sizes_.end());
    const double med = median_of(s);
    if (sizes_.size() == kSizeHistory && std::fabs(med - cur) > p_.size_deadband * cur) cur = med;
    box_ = FaceBox::square(cx, cy, cur, det.score);
}

cv::Mat FaceCropper::crop(GrayFrame &frame, const FaceBox &box) const {
    const double side = box.side() * (1.0 + p_.margin);
    const int x0 = py_round(box.cx() - side / 2), y0 = py_round(box.cy() - side / 2);
    const int s = std::max(1, py_round(side));
    cv::Mat patch;
    if (x0 >= 0 && y0 >= 0 && x0 + s <= frame.cols() && y0 + s <= frame.rows()) {
        patch = frame.region(cv::Rect(x0, y0, s, s));
    } else {  // partly outside the frame: replicate the border
        cv::Mat padded;
        cv::copyMakeBorder(frame.full(), padded, s, s, s, s, cv::BORDER_REPLICATE);
        const int px = std::clamp(x0 + s, 0, padded.cols - s), py = std::clamp(y0 + s, 0, padded.rows - s);
        patch = padded(cv::Rect(px, py, s, s));
    }
    cv::Mat out;
    if (s > p_.crop_size)
        shrink_(patch, out, cv::Size(p_.crop_size, p_.crop_size));  // cv::resize's INTER_AREA, faster
    else
        cv::resize(patch, out, cv::Size(p_.crop_size, p_.crop_size), 0, 0, cv::INTER_LINEAR);
    return out;
}

std::optional<FaceCrop> FaceCropper::operator()(GrayFrame &frame) {
    if (!box_) {  // no face known: search the whole frame only every search_every frames
        ++idle_;
        if (searches_ > 0 && idle_ < p_.search_every) return std::nullopt;
        idle_ = 0;
    }
    double k = std::max(1.0, static_cast<double>(frame.cols()) / p_.detect_width);
    if (k != 1.0) {
        const int sw = std::max(1, py_round(frame.cols() / k)), sh = std::max(1, py_round(frame.rows() / k));
        frame.set_small_size(cv::Size(sw, sh));
    } else {
        frame.set_small_size(cv::Size(frame.cols(), frame.rows()));
    }
    k = static_cast<double>(frame.cols()) / frame.small_size().width;
    const std::optional<FaceBox> known = box_;
    const bool due = since_detect_ >= p_.detect_every;
    bool tracked = box_ && (!due || p_.detect_lag > 0) && track(frame, k);
    if (tracked) {
        if (due) {
            launch(frame, k, *known);
            since_detect_ = 0;
        } else if (pending_left_ > 0 && --pending_left_ == 0 && !apply_pending(frame, k, tracked)) {
            box_.reset();
            template_.release();
            return std::nullopt;
        }
    } else {  // no face known, a detection due without a worker, or tracking lost: detect on this frame
        drop_pending();
        bool searched = false;
        std::optional<FaceBox> det = detect(frame, k, known, searches_ + 1, searched);
        searches_ += searched;
        since_detect_ = 0;
        if (!det) {
            ++misses_;
            if (!box_ || misses_ > p_.max_misses || !track(frame, k)) {
                box_.reset();
                template_.release();
                return std::nullopt;
            }
            tracked = true;
        } else {
            misses_ = 0;
            smooth(*det);
            grab_template(frame, k);
        }
    }
    ++since_detect_;
    return FaceCrop{crop(frame, *box_), *box_, tracked};
}

}  // namespace sofp
