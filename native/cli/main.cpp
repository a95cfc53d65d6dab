// sofp-stream-native: `python runtime/stream.py` on the native runtime. Opens a source, builds a libsofp
// pipeline, writes one JSON line per event (flushed per event) and optional per-frame telemetry.
// Exit codes as the Python script: 0 done, 1 a failure at run time, 2 bad usage or a missing
// capability, 130 Ctrl-C, 143 SIGTERM.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include <opencv2/core.hpp>

#include "jsonl.hpp"
#include "options.hpp"
#include "recorder.hpp"
#include "sofp/sofp.h"
#include "sources.hpp"

namespace {

using namespace sofp_cli;

std::atomic<int> g_signal{0};

void on_signal(int sig) { g_signal = sig; }

int exit_code_for(sofp_status st) {
    switch (st) {
        case SOFP_ERR_MODEL:  // corrupt, truncated or changed model file
        case SOFP_ERR_OUT_OF_MEMORY:
        case SOFP_ERR_INTERNAL: return 1;
        default: return 2;  // foreign or malformed sidecar, unsupported model or backend, bad parameters
    }
}

struct Pipeline {
    sofp_pipeline *p = nullptr;
    ~Pipeline() { sofp_destroy(p); }
};

int run(const Options &o) {
    if (o.cv_threads > 0) cv::setNumThreads(o.cv_threads);
    if (!std::ifstream(o.model))
        throw UsageError("model file not found: " + o.model + "; pass an .onnx (python export/to_onnx.py) or a "
                         "TensorRT engine (export/to_trt.py)");
    std::unique_ptr<FrameSource> source = open_source(o);
    const double out_fps = source->fps() > 0 ? source->fps() : o.fps;
    VideoOut record(o.record, out_fps), clip(o.save_clip, out_fps);

    sofp_config cfg;
    sofp_config_init(&cfg);
    cfg.model_path = o.model.c_str();
    cfg.params_path = o.params.empty() ? nullptr : o.params.c_str();
    cfg.cascade_path = o.cascade.empty() ? nullptr : o.cascade.c_str();
    cfg.backend = o.backend == "openvino" ? SOFP_BACKEND_OPENVINO
                  : o.backend == "tensorrt" ? SOFP_BACKEND_TENSORRT
                                            : SOFP_BACKEND_AUTO;
    cfg.threads = o.threads;
    cfg.flow = o.flow.c_str();
    cfg.fps = source->live() ? 0.0 : source->fps();
    Pipeline pipe;
    const sofp_status st = sofp_create(&cfg, &pipe.p);
    if (st != SOFP_OK) {
        std::cerr << "error: " << sofp_last_error() << "\n";
        return exit_code_for(st);
    }
    if (!o.quiet) {
        std::cerr << "capabilities:\n  source     " << source->name() << ", "
                  << (source->live() ? "live, rate measured" : cv::format("%.1f frames/s", source->fps())) << "\n"
                  << "  flow       " << sofp_flow_name(pipe.p) << " (parameters from runtime/shared_params.json)\n"
                  << "  inference  " << sofp_backend_description(pipe.p) << "\n  labels    ";
        for (int32_t i = 0; i < sofp_class_count(pipe.p); ++i) std::cerr << " " << sofp_class_label(pipe.p, i);
        std::cerr << "\n  libsofp    " << sofp_version() << "\n";
    }
    JsonLines events(o.events), telemetry(o.telemetry);
    std::string last_event;
    if (telemetry.open()) telemetry.write(start_record(*source, pipe.p, o.flow));

    long long frames = 0, with_face = 0, n_events = 0;
    int reconnects = 0;
    int64_t offset = 0, last_index = -1;
    Frame frame;
    sofp_event ev;
    sofp_frame_info info;
    int code = 0;
    while (!g_signal && (o.max_frames == 0 || frames < o.max_frames)) {
        const ReadStatus rs = source->read(frame);
        if (rs == ReadStatus::End) break;
        if (rs == ReadStatus::Failed) {
            if (!source->live() || reconnects >= o.retries) {
                if (source->live() && o.retries > 0)
                    std::cerr << "error: " << source->name() << " dropped out (" << source->error()
                              << ") and did not come back after " << o.retries << " tries\n";
                else
                    std::cerr << "error: " << source->error() << "\n";
                code = 1;
                break;
            }
            const double delay = 0.5 * (1 << std::min(reconnects, 10));
            if (!o.quiet) std::cerr << source->name() << ": " << source->error() << "; reconnecting in " << delay << " s\n";
            std::this_thread::sleep_for(std::chrono::duration<double>(delay));
            ++reconnects;
            try {
                source = open_source(o);
                offset = last_index + 1;  // indices continue: the pipeline sees a gap, not a restart
                sofp_reset(pipe.p);
            } catch (const std::exception &) {
            }
            continue;
        }
        if (rs != ReadStatus::Frame) continue;
        sofp_frame f;
        sofp_frame_init(&f);
        f.data = frame.image.data;
        f.width = frame.image.cols;
        f.height = frame.image.rows;
        f.stride = frame.image.step[0];
        f.format = SOFP_PIXEL_BGR8;
        f.capture_time_ns = frame.capture_time_ns;
        f.index = frame.index + offset;
        last_index = f.index;
        if (sofp_push_frame(pipe.p, &f) != SOFP_OK) {
            std::cerr << "error: " << sofp_last_error() << "\n";
            code = 1;
            break;
        }
        ++frames;
        sofp_event_init(&ev);
        while (sofp_poll_event(pipe.p, &ev) == SOFP_OK) {
            ++n_events;
            const std::string line = event_line(pipe.p, ev);
            last_event = cv::format("%s  apex %.2f s  p %.2f", ev.label, ev.apex_time,
                                    static_cast<double>(ev.probabilities[ev.label_index]));
            if (events.open()) events.write(line);
            else std::cout << line << std::endl;  // flushed per event
        }
        sofp_frame_info_init(&info);
        sofp_last_frame_info(pipe.p, &info);
        with_face += info.face;
        if (telemetry.open()) telemetry.write(frame_record(info));
        if (clip.open()) clip.write(frame.image);
        if (record.open()) record.write(annotate(frame.image, info, last_event));
    }
    const bool interrupted = g_signal != 0;
    sofp_frame_info_init(&info);
    sofp_last_frame_info(pipe.p, &info);
    if (telemetry.open())
        telemetry.write(summary_record(frames, with_face, reconnects, n_events, info.fps, interrupted));
    if (!o.quiet)
        std::cerr << (interrupted ? "interrupted" : "done") << ": " << frames << " frames (" << frames - with_face
                  << " without a face), " << n_events << " events" << (o.events.empty() ? "" : " -> " + o.events)
                  << "\n";
    if (interrupted) return g_signal == SIGTERM ? 143 : 130;
    return code;
}

}  // namespace

int main(int argc, char **argv) {
    std::signal(SIGINT, on_signal);  // first: a signal while the model loads ends the run cleanly too
    std::signal(SIGTERM, on_signal);
    try {
        const Options o = parse_options(argc, argv);
        if (o.help) {
            std::cout << usage_text();
            return 0;
        }
        return run(o);
    } catch (const UsageError &e) {
        std::cerr << "error: " << e.what() << "\n";
        return 2;
    } catch (const RunError &e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    } catch (const std::exception &e) {  // a bug: say so in one line rather than abort
        std::cerr << "error: internal error (please report): " << e.what() << "\n";
        return 1;
    }
}
