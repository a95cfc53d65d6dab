// The C API (include/sofp/sofp.h): argument checks, exceptions -> status codes, thread-local last error.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <new>
#include <string>

#include <opencv2/imgproc.hpp>

#include "error.hpp"
#include "event_json.hpp"
#include "face_cropper.hpp"
#include "haar_detector.hpp"
#include "params.hpp"
#include "pipeline.hpp"
#include "sidecar.hpp"
#include "sofp/sofp.h"

struct sofp_pipeline {
    std::unique_ptr<sofp::Pipeline> pipeline;
    std::deque<sofp_event> events;
    std::string description;
    std::string flow_name;
    int64_t next_index = 0;
};

namespace {

constexpr size_t kMaxQueuedEvents = 1024;  // oldest dropped beyond this (a caller that never polls)
constexpr int32_t kMaxSide = 16384;
thread_local std::string g_last_error;

sofp_status fail(sofp_status status, const std::string &message) {
    g_last_error = message;
    return status;
}

// Run f, turning exceptions into status codes and the thread's last error.
template <typename F>
sofp_status guarded(F &&f) {
    try {
        g_last_error.clear();
        return f();
    } catch (const sofp::Error &e) {
        return fail(e.status(), e.what());
    } catch (const std::bad_alloc &) {
        return fail(SOFP_ERR_OUT_OF_MEMORY, "out of memory");
    } catch (const cv::Exception &e) {
        return fail(SOFP_ERR_INTERNAL, std::string("OpenCV: ") + e.what());
    } catch (const std::exception &e) {
        return fail(SOFP_ERR_INTERNAL, e.what());
    } catch (...) {
        return fail(SOFP_ERR_INTERNAL, "unknown exception");
    }
}

bool has_suffix(const std::string &s, const char *suffix) {
    const size_t n = std::strlen(suffix);
    if (s.size() < n) return false;
    std::string tail = s.substr(s.size() - n);
    std::transform(tail.begin(), tail.end(), tail.begin(), [](unsigned char c) { return std::tolower(c); });
    return tail == suffix;
}

int bytes_per_pixel(int32_t f) {
    switch (f) {
        case SOFP_PIXEL_GRAY8: return 1;
        case SOFP_PIXEL_BGR8:
        case SOFP_PIXEL_RGB8: return 3;
        case SOFP_PIXEL_BGRA8:
        case SOFP_PIXEL_RGBA8: return 4;
    }
    return 0;
}

// The caller's pixels as a frame (no copy: read during sofp_push_frame only).
sofp::GrayFrame as_frame(const sofp_frame &f) {
    const int bpp = bytes_per_pixel(f.format);
    const cv::Mat src(f.height, f.width, CV_8UC(bpp), const_cast<void *>(f.data), f.stride);
    switch (f.format) {
        case SOFP_PIXEL_BGR8: return sofp::GrayFrame(src, cv::COLOR_BGR2GRAY);
        case SOFP_PIXEL_RGB8: return sofp::GrayFrame(src, cv::COLOR_RGB2GRAY);
        case SOFP_PIXEL_BGRA8: return sofp::GrayFrame(src, cv::COLOR_BGRA2GRAY);
        case SOFP_PIXEL_RGBA8: return sofp::GrayFrame(src, cv::COLOR_RGBA2GRAY);
        default: return sofp::GrayFrame(src);
    }
}

sofp_event to_c_event(const sofp::Event &e, const std::vector<std::string> &labels) {
    sofp_event out;
    sofp_event_init(&out);
    out.onset_frame = e.interval.onset.index;
    out.apex_frame = e.interval.apex.index;
    out.offset_frame = e.interval.offset.index;
    out.onset_time = e.interval.onset.time;
    out.apex_time = e.interval.apex.time;
    out.offset_time = e.interval.offset.time;
    out.label_index = e.label_index;
    std::snprintf(out.label, sizeof out.label, "%s", labels[static_cast<size_t>(e.label_index)].c_str());
    out.num_classes = static_cast<int32_t>(e.probabilities.size());
    for (size_t i = 0; i < e.probabilities.size(); ++i) out.probabilities[i] = e.probabilities[i];
    out.magnitude = e.interval.apex.magnitude;
    out.has_face_box = e.has_box ? 1 : 0;
    out.face_box[0] = e.box.x, out.face_box[1] = e.box.y, out.face_box[2] = e.box.w, out.face_box[3] = e.box.h;
    out.latency_ms = e.latency_ms;
    return out;
}

}  // namespace

extern "C" {

const char *sofp_version(void) { return SOFP_VERSION_STRING; }

const char *sofp_status_string(int32_t status) {
    switch (status) {
        case SOFP_OK: return "ok";
        case SOFP_NO_EVENT: return "no-event";
        case SOFP_ERR_INVALID_ARGUMENT: return "invalid-argument";
        case SOFP_ERR_UNSUPPORTED: return "unsupported";
        case SOFP_ERR_MODEL: return "model";
        case SOFP_ERR_SIDECAR: return "sidecar";
        case SOFP_ERR_PARAMS: return "params";
        case SOFP_ERR_FACE_DETECTOR: return "face-detector";
        case SOFP_ERR_OUT_OF_MEMORY: return "out-of-memory";
        case SOFP_ERR_INTERNAL: return "internal";
    }
    return "unknown-status";
}

const char *sofp_last_error(void) { return g_last_error.c_str(); }

void sofp_config_init(sofp_config *config) {
    if (!config) return;
    std::memset(config, 0, sizeof *config);
    config->struct_size = sizeof *config;
    config->backend = SOFP_BACKEND_AUTO;
    config->threads = 1;
    config->mirror_average = -1;
}

void sofp_frame_init(sofp_frame *frame) {
    if (!frame) return;
    std::memset(frame, 0, sizeof *frame);
    frame->struct_size = sizeof *frame;
    frame->format = SOFP_PIXEL_BGR8;
    frame->index = -1;
}

void sofp_event_init(sofp_event *event) {
    if (!event) return;
    std::memset(event, 0, sizeof *event);
    event->struct_size = sizeof *event;
}

void sofp_frame_info_init(sofp_frame_info *info) {
    if (!info) return;
    std::memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
}

sofp_status sofp_create(const sofp_config *config, sofp_pipeline **out) {
    if (out) *out = nullptr;
    return guarded([&]() -> sofp_status {
        if (!config || !out) return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_create: config and out must not be NULL");
        const bool has_flow = config->struct_size == sizeof(sofp_config);  // 0.1.0's config ends before flow
        if (!has_flow && config->struct_size != offsetof(sofp_config, flow))
            return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_create: config->struct_size is " +
                                                       std::to_string(config->struct_size) + ", this library's is " +
                                                       std::to_string(sizeof(sofp_config)) +
                                                       "; fill the config with sofp_config_init");
        if (!config->model_path || !*config->model_path)
            return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_create: no model_path; pass an .onnx file from "
                                                   "export/to_onnx.py or a TensorRT engine from export/to_trt.py");
        if (config->threads < 1 || config->threads > 256)
            return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_create: threads " + std::to_string(config->threads) +
                                                       "; valid: 1..256");
        if (!(config->fps >= 0) || !std::isfinite(config->fps))
            return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_create: fps must be >= 0 (0: measured)");
        if (config->mirror_average < -1 || config->mirror_average > 1)
            return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_create: mirror_average must be -1, 0 or 1");
        const std::string model = config->model_path;
        int32_t backend = config->backend;
        const bool is_onnx = has_suffix(model, ".onnx");
        const bool is_engine = has_suffix(model, ".engine") || has_suffix(model, ".plan") || has_suffix(model, ".trt");
        if (backend == SOFP_BACKEND_AUTO) {
            if (has_suffix(model, ".pt") || has_suffix(model, ".pth"))
                return fail(SOFP_ERR_UNSUPPORTED, model + " is a PyTorch checkpoint; the native runtime loads its ONNX "
                                                          "export: python export/to_onnx.py --ckpt " + model);
            if (!is_onnx && !is_engine)
                return fail(SOFP_ERR_UNSUPPORTED, "model " + model + " has an unknown file type; valid: .onnx, "
                                                                     ".engine, .plan, .trt");
            backend = is_onnx ? SOFP_BACKEND_OPENVINO : SOFP_BACKEND_TENSORRT;
        }
        if (backend != SOFP_BACKEND_OPENVINO && backend != SOFP_BACKEND_TENSORRT)
            return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_create: unknown backend " + std::to_string(backend));
        if (backend == SOFP_BACKEND_OPENVINO && !is_onnx)
            return fail(SOFP_ERR_UNSUPPORTED, "the OpenVINO backend needs a .onnx file, got " + model);
        if (backend == SOFP_BACKEND_TENSORRT && !is_engine)
            return fail(SOFP_ERR_UNSUPPORTED, "the TensorRT backend needs an engine (.engine, .plan, .trt), got " + model);

        if (!std::ifstream(model))
            return fail(SOFP_ERR_MODEL, "model file not found: " + model +
                                            "; pass an .onnx file (python export/to_onnx.py) or a TensorRT engine");
        sofp::Params params = config->params_path && *config->params_path
                                  ? sofp::load_params_file(config->params_path)
                                  : sofp::embedded_params();
        const std::string kind = backend == SOFP_BACKEND_OPENVINO ? "onnx" : "tensorrt";
        sofp::Sidecar sidecar = sofp::read_sidecar(model, config->sidecar_path ? config->sidecar_path : "", {kind},
                                                   params.input_spec);
        const bool mirror = config->mirror_average < 0 ? params.mirror_average : config->mirror_average == 1;
        const int batch = mirror ? 2 : 1;
        std::unique_ptr<sofp::InferenceBackend> infer =
            backend == SOFP_BACKEND_OPENVINO
                ? sofp::make_openvino_backend(model, sidecar, params.feature_size, config->threads, batch)
                : sofp::make_tensorrt_backend(model, sidecar, params.feature_size, batch);
        const std::string cascade =
            sofp::find_cascade(params.detector.cascade, config->cascade_path ? config->cascade_path : "");
        auto face = std::make_unique<sofp::FaceCropper>(params.face, sofp::HaarDetector(params.detector, cascade));
        auto handle = std::make_unique<sofp_pipeline>();
        handle->description = infer->description();
        sofp::PipelineOptions options{config->fps, mirror, has_flow && config->flow ? config->flow : "auto"};
        handle->pipeline = std::make_unique<sofp::Pipeline>(std::move(params), std::move(face), std::move(infer),
                                                            sidecar.labels, options);
        handle->flow_name = handle->pipeline->flow_name();
        *out = handle.release();
        return SOFP_OK;
    });
}

void sofp_destroy(sofp_pipeline *pipeline) { delete pipeline; }

sofp_status sofp_push_frame(sofp_pipeline *p, const sofp_frame *f) {
    return guarded([&]() -> sofp_status {
        if (!p || !f) return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_push_frame: pipeline and frame must not be NULL");
        if (f->struct_size != sizeof(sofp_frame))
            return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_push_frame: frame->struct_size is " +
                                                       std::to_string(f->struct_size) + ", this library's is " +
                                                       std::to_string(sizeof(sofp_frame)) + "; use sofp_frame_init");
        if (!f->data) return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_push_frame: frame->data is NULL");
        if (f->width < 1 || f->height < 1 || f->width > kMaxSide || f->height > kMaxSide)
            return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_push_frame: frame size " + std::to_string(f->width) + " x " +
                                                       std::to_string(f->height) + "; valid: 1.." +
                                                       std::to_string(kMaxSide) + " px per side");
        const int bpp = bytes_per_pixel(f->format);
        if (bpp == 0)
            return fail(SOFP_ERR_UNSUPPORTED, "sofp_push_frame: pixel format " + std::to_string(f->format) +
                                                  "; valid: GRAY8, BGR8, RGB8, BGRA8, RGBA8");
        const size_t row = static_cast<size_t>(f->width) * static_cast<size_t>(bpp);
        if (f->stride < row)
            return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_push_frame: stride " + std::to_string(f->stride) +
                                                       " bytes is under one row (" + std::to_string(row) + " bytes)");
        if (f->stride > (size_t(1) << 31))
            return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_push_frame: stride " + std::to_string(f->stride) +
                                                       " bytes; at most 2^31");
        if (f->index < -1)
            return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_push_frame: index " + std::to_string(f->index) +
                                                       "; valid: >= 0, or -1 for the previous frame's + 1");
        const int64_t index = f->index >= 0 ? f->index : p->next_index;
        p->next_index = index + 1;
        sofp::GrayFrame frame = as_frame(*f);
        const std::vector<sofp::Event> events =
            p->pipeline->feed(frame, index, static_cast<double>(f->capture_time_ns) * 1e-9);
        for (const sofp::Event &e : events) {
            p->events.push_back(to_c_event(e, p->pipeline->labels()));
            if (p->events.size() > kMaxQueuedEvents) p->events.pop_front();
        }
        return SOFP_OK;
    });
}

sofp_status sofp_poll_event(sofp_pipeline *p, sofp_event *event) {
    return guarded([&]() -> sofp_status {
        if (!p || !event) return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_poll_event: pipeline and event must not be NULL");
        if (event->struct_size != sizeof(sofp_event))
            return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_poll_event: event->struct_size is " +
                                                       std::to_string(event->struct_size) + "; use sofp_event_init");
        if (p->events.empty()) return SOFP_NO_EVENT;
        *event = p->events.front();
        p->events.pop_front();
        return SOFP_OK;
    });
}

sofp_status sofp_last_frame_info(const sofp_pipeline *p, sofp_frame_info *info) {
    return guarded([&]() -> sofp_status {
        if (!p || !info) return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_last_frame_info: arguments must not be NULL");
        if (info->struct_size != sizeof(sofp_frame_info))
            return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_last_frame_info: info->struct_size is " +
                                                       std::to_string(info->struct_size) + "; use sofp_frame_info_init");
        const sofp::Telemetry &t = p->pipeline->telemetry();
        sofp_frame_info_init(info);
        info->index = t.index;
        info->timestamp = t.timestamp;
        info->face = t.face;
        info->tracked = t.tracked;
        info->has_magnitude = t.has_magnitude;
        info->magnitude = t.magnitude;
        info->threshold = t.threshold;
        std::snprintf(info->state, sizeof info->state, "%s", t.state.c_str());
        info->events = t.events;
        for (int i = 0; i < sofp::kStages; ++i) info->stage_ms[i] = t.stage_ms[i];
        info->total_ms = t.total_ms;
        info->fps = p->pipeline->fps();
        return SOFP_OK;
    });
}

sofp_status sofp_reset(sofp_pipeline *p) {
    return guarded([&]() -> sofp_status {
        if (!p) return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_reset: pipeline must not be NULL");
        p->pipeline->reset();
        return SOFP_OK;
    });
}

int32_t sofp_class_count(const sofp_pipeline *p) {
    return p ? static_cast<int32_t>(p->pipeline->labels().size()) : 0;
}

const char *sofp_class_label(const sofp_pipeline *p, int32_t i) {
    if (!p || i < 0 || i >= static_cast<int32_t>(p->pipeline->labels().size())) return nullptr;
    return p->pipeline->labels()[static_cast<size_t>(i)].c_str();
}

const char *sofp_backend_description(const sofp_pipeline *p) { return p ? p->description.c_str() : ""; }

const char *sofp_flow_name(const sofp_pipeline *p) { return p ? p->flow_name.c_str() : ""; }

sofp_status sofp_event_to_json(const sofp_pipeline *p, const sofp_event *event, char *buffer, size_t size,
                               size_t *written) {
    return guarded([&]() -> sofp_status {
        if (!p || !event) return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_event_to_json: pipeline and event must not be NULL");
        if (event->struct_size != sizeof(sofp_event))
            return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_event_to_json: event->struct_size is " +
                                                       std::to_string(event->struct_size) + "; use sofp_event_init");
        if (event->num_classes < 0 || event->num_classes > SOFP_MAX_CLASSES)
            return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_event_to_json: num_classes " +
                                                       std::to_string(event->num_classes) + " out of range");
        sofp_event e = *event;
        e.label[SOFP_LABEL_SIZE - 1] = '\0';
        const std::string json = sofp::event_json(e, p->pipeline->labels());
        if (written) *written = json.size();
        if (!buffer || size < json.size() + 1)
            return fail(SOFP_ERR_INVALID_ARGUMENT, "sofp_event_to_json: buffer of " + std::to_string(size) +
                                                       " bytes; needs " + std::to_string(json.size() + 1));
        std::memcpy(buffer, json.c_str(), json.size() + 1);
        return SOFP_OK;
    });
}

}  // extern "C"
