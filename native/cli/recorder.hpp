// --record and --save-clip: the stream written to a video file, as `python runtime/stream.py` writes it
// (.avi: MJPG, .mkv: FFV1 lossless, .mp4: mp4v). --record draws the pipeline's state and the last
// event on each frame; --save-clip keeps the frames as read, to run again later.
#pragma once

#include <string>

#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>

#include "sofp/sofp.h"

namespace sofp_cli {

class VideoOut {
public:
    // Opened on the first frame (its size); throws UsageError for an unknown extension.
    VideoOut(std::string path, double fps);
    bool open() const { return !path_.empty(); }
    // Throws RunError when the file cannot be written.
    void write(const cv::Mat &bgr);

private:
    std::string path_;
    double fps_;
    int fourcc_ = 0;
    cv::VideoWriter writer_;
};

// The frame with the pipeline's state (face, motion, threshold, spotter state) and the latest event.
cv::Mat annotate(const cv::Mat &bgr, const sofp_frame_info &info, const std::string &last_event);

}  // namespace sofp_cli
