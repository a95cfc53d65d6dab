// JSON Lines output of the CLI: events as libsofp writes them, telemetry records shaped like
// runtime/events.py's FrameTelemetry and runtime/runner.py's start and summary records.
#pragma once

#include <cstdio>
#include <string>

#include "sofp/sofp.h"
#include "sources.hpp"

namespace sofp_cli {

// A file written one line at a time, flushed after each (an interrupted run keeps every line).
class JsonLines {
public:
    explicit JsonLines(const std::string &path);
    ~JsonLines();
    JsonLines(const JsonLines &) = delete;
    JsonLines &operator=(const JsonLines &) = delete;
    bool open() const { return f_ != nullptr; }
    void write(const std::string &line);

private:
    std::FILE *f_ = nullptr;
};

std::string event_line(const sofp_pipeline *pipeline, const sofp_event &event);
std::string start_record(const FrameSource &source, const sofp_pipeline *pipeline, const std::string &flow);
std::string frame_record(const sofp_frame_info &info);
std::string summary_record(long long frames, long long with_face, int reconnects, long long events, double fps,
                           bool interrupted);

}  // namespace sofp_cli
