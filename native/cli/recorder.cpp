#include "recorder.hpp"

#include <cmath>

#include <opencv2/imgproc.hpp>

#include "options.hpp"

namespace sofp_cli {

namespace {

std::string lower_extension(const std::string &path) {
    const size_t dot = path.find_last_of('.');
    std::string ext = dot == std::string::npos ? "" : path.substr(dot);
    for (char &c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ext;
}

}  // namespace

VideoOut::VideoOut(std::string path, double fps) : path_(std::move(path)), fps_(fps > 0 ? fps : 30.0) {
    if (path_.empty()) return;
    const std::string ext = lower_extension(path_);
    if (ext == ".avi") fourcc_ = cv::VideoWriter::fourcc('M', 'J', 'P', 'G');
    else if (ext == ".mkv") fourcc_ = cv::VideoWriter::fourcc('F', 'F', 'V', '1');
    else if (ext == ".mp4") fourcc_ = cv::VideoWriter::fourcc('m', 'p', '4', 'v');
    else throw UsageError(path_ + ": unknown video type \"" + ext + "\"; use .avi (MJPG), .mkv (FFV1) or .mp4 (mp4v)");
}

void VideoOut::write(const cv::Mat &bgr) {
    if (!writer_.isOpened() && !writer_.open(path_, fourcc_, fps_, bgr.size(), true))
        throw RunError("cannot write the video " + path_ + " (no encoder for it in this OpenCV, or the folder "
                       "is not writable)");
    writer_.write(bgr);
}

cv::Mat annotate(const cv::Mat &bgr, const sofp_frame_info &info, const std::string &last_event) {
    cv::Mat out = bgr.clone();
    const cv::Scalar green(60, 220, 60), white(255, 255, 255);
    std::string line = info.face ? std::string(info.state) : "no face";
    if (info.has_magnitude && std::isfinite(info.threshold))
        line += cv::format("  motion %.3f px / on %.3f", info.magnitude, info.threshold);
    cv::putText(out, line, {8, 20}, cv::FONT_HERSHEY_SIMPLEX, 0.5, white, 1, cv::LINE_AA);
    if (!last_event.empty()) cv::putText(out, last_event, {8, 42}, cv::FONT_HERSHEY_SIMPLEX, 0.6, green, 2, cv::LINE_AA);
    return out;
}

}  // namespace sofp_cli
