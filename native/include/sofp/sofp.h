/*
 * SOFP Edge native runtime: the live micro-expression pipeline as a C library.
 *
 * The same pipeline as the Python runtime (runtime/pipeline.py): face crop -> onset reference
 * window -> head-motion alignment -> optical flow -> spotting -> features (u, v, strain, 28 x 28)
 * -> inference -> events, with the parameters of runtime/shared_params.json (embedded at build
 * time) and the model's JSON sidecar written by export/to_onnx.py or export/to_trt.py.
 *
 * Usage:
 *     sofp_config cfg;
 *     sofp_config_init(&cfg);
 *     cfg.model_path = "sofp_composite.onnx";          // its sidecar: sofp_composite.onnx.json
 *     sofp_pipeline *p = NULL;
 *     if (sofp_create(&cfg, &p) != SOFP_OK) { fprintf(stderr, "%s\n", sofp_last_error()); ... }
 *     for each frame:
 *         sofp_frame f; sofp_frame_init(&f);
 *         f.data = pixels; f.width = w; f.height = h; f.stride = bytes_per_row;
 *         f.format = SOFP_PIXEL_BGR8; f.capture_time_ns = t;
 *         sofp_push_frame(p, &f);
 *         sofp_event ev; sofp_event_init(&ev);
 *         while (sofp_poll_event(p, &ev) == SOFP_OK) { ... ev.label, ev.apex_frame ... }
 *     sofp_destroy(p);
 *
 * Conventions
 *   - Every function returns a sofp_status (0 = SOFP_OK) unless stated. On failure the calling
 *     thread's last-error string (sofp_last_error) holds one line: what failed, the value
 *     given, what would be valid.
 *   - Structs the caller fills start with struct_size; fill them with their _init function,
 *     which sets struct_size and the defaults, so that later versions can grow them. Enum-valued
 *     fields are int32_t (an enum's size is the compiler's choice; any value is checked).
 *   - The library never prints, never exits and keeps no pointer to caller memory after a
 *     call returns: frame pixels are copied or consumed during sofp_push_frame.
 *
 * Thread safety
 *   - Different pipelines may be used from different threads at the same time.
 *   - One pipeline must not be used by two threads at the same time (push, poll, info and
 *     destroy on one handle need the caller's own serialisation); it may move between
 *     threads between calls.
 *   - sofp_last_error is per thread: it describes the last failed call made on that thread.
 *   - sofp_version, sofp_status_string and the _init functions may be called from any thread.
 *   - A pipeline owns one helper thread, started by its first periodic face re-detection (which
 *     runs there, off the push call; shared_params' face.detect_lag) and joined by sofp_destroy.
 *
 * This header includes only <stddef.h> and <stdint.h> and is C99.
 */
#ifndef SOFP_SOFP_H
#define SOFP_SOFP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  if defined(SOFP_BUILDING_LIBRARY)
#    define SOFP_API __declspec(dllexport)
#  else
#    define SOFP_API __declspec(dllimport)
#  endif
#else
#  define SOFP_API __attribute__((visibility("default")))
#endif

#define SOFP_VERSION_MAJOR 0
#define SOFP_VERSION_MINOR 1
#define SOFP_VERSION_PATCH 0

/* Most classes a model may have, and the longest label (bytes, with the terminating NUL). */
#define SOFP_MAX_CLASSES 16
#define SOFP_LABEL_SIZE 32

typedef enum sofp_status {
    SOFP_OK = 0,
    SOFP_NO_EVENT = 1,            /* sofp_poll_event: nothing waiting (not an error) */
    SOFP_ERR_INVALID_ARGUMENT = -1, /* null pointer, bad struct_size, bad size, stride or value */
    SOFP_ERR_UNSUPPORTED = -2,    /* pixel format, model kind or backend this build cannot use */
    SOFP_ERR_MODEL = -3,          /* model file missing, truncated, unreadable or not matching its sidecar */
    SOFP_ERR_SIDECAR = -4,        /* sidecar missing, malformed or describing another input */
    SOFP_ERR_PARAMS = -5,         /* parameter file missing or malformed */
    SOFP_ERR_FACE_DETECTOR = -6,  /* Haar cascade file not found or not loadable */
    SOFP_ERR_OUT_OF_MEMORY = -7,
    SOFP_ERR_INTERNAL = -8        /* a bug: please report it with sofp_last_error's text */
} sofp_status;

typedef enum sofp_pixel_format {
    SOFP_PIXEL_GRAY8 = 1,  /* 1 byte per pixel */
    SOFP_PIXEL_BGR8 = 2,   /* 3 bytes per pixel, B G R (OpenCV's order) */
    SOFP_PIXEL_RGB8 = 3,
    SOFP_PIXEL_BGRA8 = 4,  /* 4 bytes per pixel */
    SOFP_PIXEL_RGBA8 = 5
} sofp_pixel_format;

typedef enum sofp_backend {
    SOFP_BACKEND_AUTO = 0,      /* from the model file: .onnx -> OpenVINO, .engine/.plan/.trt -> TensorRT */
    SOFP_BACKEND_OPENVINO = 1,  /* CPU: the exported ONNX graph through OpenVINO */
    SOFP_BACKEND_TENSORRT = 2   /* GPU: a TensorRT engine from export/to_trt.py (builds with SOFP_WITH_TENSORRT) */
} sofp_backend;

/* How a pipeline is built. Fill with sofp_config_init, then set model_path. */
typedef struct sofp_config {
    size_t struct_size;         /* sizeof(sofp_config), set by sofp_config_init */
    const char *model_path;     /* .onnx (OpenVINO) or TensorRT engine; its sidecar is model_path + ".json" */
    const char *sidecar_path;   /* NULL: model_path + ".json" */
    const char *params_path;    /* NULL: the parameters embedded at build time (runtime/shared_params.json) */
    const char *cascade_path;   /* NULL: search OpenCV's data folders for the detector's cascade */
    int32_t backend;            /* a sofp_backend; SOFP_BACKEND_AUTO */
    int32_t threads;            /* inference threads on the CPU; 1 (the model is ~3 MFLOP) */
    double fps;                 /* the stream's rate (frames/s); 0: measured from capture times */
    int32_t mirror_average;     /* -1: the parameter file's choice; 0 off; 1 on */
    /* Added after 0.1.0 (a config of 0.1.0's struct_size is still accepted, as "auto"): the feature flow at
     * spotted apexes. NULL or "auto": the parameter file's feature_flow (cpu-dis); "cpu-dis"; "cuda-tvl1",
     * "cuda-farneback", "cuda-nvof": OpenCV's CUDA optical flow, in builds whose OpenCV has the cudaoptflow
     * module and on a machine with a CUDA device (otherwise SOFP_ERR_UNSUPPORTED). */
    const char *flow;
} sofp_config;

/* One frame, owned by the caller; read only during sofp_push_frame. */
typedef struct sofp_frame {
    size_t struct_size;         /* sizeof(sofp_frame), set by sofp_frame_init */
    const void *data;           /* first byte of the top row */
    int32_t width;              /* px, 1 .. 16384 */
    int32_t height;             /* px, 1 .. 16384 */
    size_t stride;              /* bytes from one row to the next, >= width x bytes per pixel */
    int32_t format;             /* a sofp_pixel_format */
    int64_t capture_time_ns;    /* capture time (ns, any epoch; monotonic for live sources) */
    int64_t index;              /* frame number in the stream; -1: the previous frame's + 1 */
} sofp_frame;

/* One spotted and classified micro-expression. Frames are stream indices, times seconds. */
typedef struct sofp_event {
    size_t struct_size;         /* sizeof(sofp_event), set by sofp_event_init */
    int64_t onset_frame;
    int64_t apex_frame;
    int64_t offset_frame;
    double onset_time;          /* s, from capture_time_ns */
    double apex_time;
    double offset_time;
    int32_t label_index;        /* argmax of probabilities */
    char label[SOFP_LABEL_SIZE];
    int32_t num_classes;
    float probabilities[SOFP_MAX_CLASSES]; /* class order of sofp_class_label */
    double magnitude;           /* motion signal at the apex (px of the face crop) */
    int32_t has_face_box;
    double face_box[4];         /* x, y, w, h (frame px) at the apex */
    double latency_ms;          /* from the offset frame's push to the event (ms) */
} sofp_event;

/* The last pushed frame's record (telemetry): stage timings and the motion signal. */
typedef struct sofp_frame_info {
    size_t struct_size;         /* sizeof(sofp_frame_info), set by sofp_frame_info_init */
    int64_t index;
    double timestamp;           /* s */
    int32_t face;               /* 1 when a face was found */
    int32_t tracked;            /* 1 when the face box came from tracking, not a detection */
    int32_t has_magnitude;
    double magnitude;           /* motion signal (px) */
    double threshold;           /* spotting start threshold (px); infinity before warm-up */
    char state[16];             /* "no-face", "measuring-fps", "quiet", "active", "long" */
    int32_t events;             /* events this frame produced */
    double stage_ms[5];         /* face, align, flow, spot, infer (ms) */
    double total_ms;
    double fps;                 /* the rate in use (frames/s); 0 while it is being measured */
} sofp_frame_info;

typedef struct sofp_pipeline sofp_pipeline;

/* "0.1.0": the library's version, a static string. */
SOFP_API const char *sofp_version(void);
/* A static one-word description of a status ("ok", "invalid-argument", ...). */
SOFP_API const char *sofp_status_string(int32_t status);
/* The calling thread's last error (one line), "" when none; valid until the thread's next call. */
SOFP_API const char *sofp_last_error(void);

SOFP_API void sofp_config_init(sofp_config *config);
SOFP_API void sofp_frame_init(sofp_frame *frame);
SOFP_API void sofp_event_init(sofp_event *event);
SOFP_API void sofp_frame_info_init(sofp_frame_info *info);

/* Build a pipeline: loads parameters, sidecar, model and face detector. On success *out owns a
 * pipeline the caller frees with sofp_destroy; on failure *out is NULL. */
SOFP_API sofp_status sofp_create(const sofp_config *config, sofp_pipeline **out);
/* Free a pipeline (NULL is allowed). Events not polled are dropped. */
SOFP_API void sofp_destroy(sofp_pipeline *pipeline);

/* Process one frame; the events it completes are queued for sofp_poll_event. */
SOFP_API sofp_status sofp_push_frame(sofp_pipeline *pipeline, const sofp_frame *frame);
/* Take the oldest queued event: SOFP_OK (filled), SOFP_NO_EVENT, or an error. */
SOFP_API sofp_status sofp_poll_event(sofp_pipeline *pipeline, sofp_event *event);
/* The last pushed frame's record. */
SOFP_API sofp_status sofp_last_frame_info(const sofp_pipeline *pipeline, sofp_frame_info *info);
/* Forget the window (a new stream, or a gap that cannot be bridged). */
SOFP_API sofp_status sofp_reset(sofp_pipeline *pipeline);

/* Class count and names of the loaded model (from its sidecar). */
SOFP_API int32_t sofp_class_count(const sofp_pipeline *pipeline);
/* Class name i (0 <= i < count), a string owned by the pipeline; NULL when out of range. */
SOFP_API const char *sofp_class_label(const sofp_pipeline *pipeline, int32_t i);
/* A one-line description of the backend and model ("openvino 2026.4.1 CPU: sofp_composite.onnx"). */
SOFP_API const char *sofp_backend_description(const sofp_pipeline *pipeline);
/* The feature flow in use ("cpu-dis", "cuda-tvl1", ...), a string owned by the pipeline; "" for NULL. */
SOFP_API const char *sofp_flow_name(const sofp_pipeline *pipeline);

/* The event as one JSON object (no newline), the Python runtime's event line (runtime/events.py),
 * with the pipeline's class names as probability keys, written to buffer (NUL-terminated).
 * *written (may be NULL) gets the length without the NUL; when size is too small the call returns
 * SOFP_ERR_INVALID_ARGUMENT with the needed length in *written and buffer untouched. */
SOFP_API sofp_status sofp_event_to_json(const sofp_pipeline *pipeline, const sofp_event *event, char *buffer,
                                        size_t size, size_t *written);

#ifdef __cplusplus
}
#endif

#endif /* SOFP_SOFP_H */
