// sofp-stream-native's command line: the main options of `python runtime/stream.py`.
#pragma once

#include <stdexcept>
#include <string>

namespace sofp_cli {

// Bad usage: one line, exit code 2.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// A failure at run time (source unreadable, model file corrupt): one line, exit code 1.
struct RunError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Options {
    std::string source_kind;  // camera | video | url | pipeline | csi | frames
    std::string source;
    int width = 0, height = 0;  // requested capture size (0: the device's)
    double fps = 0;             // camera request, or the rate of a folder / file override (0: none)
    std::string model, backend = "auto", flow = "auto", events, telemetry, params, cascade;
    std::string record, save_clip;  // annotated / clean video out (empty: none)
    int threads = 1, cv_threads = 1, retries = 5;
    long long max_frames = 0;  // 0: no limit
    bool quiet = false, help = false;
};

// Parse argv; throws UsageError with one line.
Options parse_options(int argc, char **argv);
const char *usage_text();

}  // namespace sofp_cli
