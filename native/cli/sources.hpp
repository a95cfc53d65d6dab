// Frame sources of the CLI: cameras, files, network streams, GStreamer/CSI pipelines (cv::VideoCapture)
// and folders of frames; the shapes of runtime/sources/.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <opencv2/core.hpp>

#include "options.hpp"

namespace sofp_cli {

enum class ReadStatus { Frame, NotReady, End, Failed };

struct Frame {
    cv::Mat image;  // BGR8
    int64_t index = 0;
    int64_t capture_time_ns = 0;
};

class FrameSource {
public:
    virtual ~FrameSource() = default;
    // FRAME (frame filled), END (file or folder played out), FAILED (error() says why).
    virtual ReadStatus read(Frame &frame) = 0;
    virtual double fps() const = 0;  // 0: unknown (the pipeline measures it from capture times)
    virtual bool live() const = 0;
    const std::string &name() const { return name_; }
    const std::string &error() const { return error_; }

protected:
    std::string name_, error_;
};

// Opens the source the options name; throws UsageError (not found, bad value, capability missing)
// or RunError (exists but cannot be read), each with one line.
std::unique_ptr<FrameSource> open_source(const Options &options);
// The nvarguscamerasrc pipeline of runtime/sources/csi.py for sensor `id`.
std::string csi_pipeline(int id, int width, int height, double fps);

}  // namespace sofp_cli
