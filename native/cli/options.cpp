#include "options.hpp"

#include <cstdlib>
#include <vector>

namespace sofp_cli {

namespace {

const char *kUsage =
    "usage: sofp-stream-native (--camera N | --video PATH | --url URL | --pipeline GST | --csi N | --frames DIR)\n"
    "                          --model MODEL.onnx|ENGINE [options]\n"
    "\n"
    "Live micro-expression recognition with the native runtime (libsofp): the pipeline of\n"
    "`python runtime/stream.py`, the same JSON Lines events (stdout, or --events FILE, flushed per event).\n"
    "\n"
    "sources:\n"
    "  --camera N           camera index (0) or device (/dev/video0)\n"
    "  --video PATH         a video file\n"
    "  --url URL            rtsp://, http(s)://, rtmp://, udp:// stream\n"
    "  --pipeline GST       a GStreamer pipeline ending in appsink (an OpenCV built with GStreamer)\n"
    "  --csi N              Jetson CSI camera N (nvarguscamerasrc)\n"
    "  --frames DIR         a folder of frames (sorted numerically; needs --fps)\n"
    "options:\n"
    "  --model PATH         exported .onnx (OpenVINO, CPU) or TensorRT engine, with its .json sidecar\n"
    "  --backend NAME       auto | openvino | tensorrt (default auto: from the model file)\n"
    "  --flow NAME          feature flow: auto (cpu-dis) | cpu-dis | cuda-tvl1 | cuda-farneback | cuda-nvof\n"
    "                       (the cuda- flows: a libsofp built with OpenCV's cudaoptflow, and a CUDA device)\n"
    "  --width W --height H requested capture size (px)\n"
    "  --fps R              requested camera rate, or the rate of a folder/file (frames/s)\n"
    "  --events FILE        write events as JSON Lines here (default: stdout)\n"
    "  --telemetry FILE     per-frame JSON Lines: stage timings (ms), motion, state\n"
    "  --record OUT         write the stream with the pipeline's state and events drawn on it:\n"
    "                       .avi (MJPG), .mkv (FFV1, lossless) or .mp4 (mp4v)\n"
    "  --save-clip FILE     write the frames as read (no overlay), to run again later; .avi, .mkv or .mp4\n"
    "  --threads N          inference threads (default 1)\n"
    "  --cv-threads N       OpenCV threads (default 1; 0: OpenCV's default)\n"
    "  --max-frames N       stop after N frames\n"
    "  --retries N          reconnect tries for a live source that fails (default 5)\n"
    "  --params FILE        pipeline parameters (default: runtime/shared_params.json, built in)\n"
    "  --cascade FILE       Haar cascade (default: found in OpenCV's data folders)\n"
    "  --quiet              no report or summary on stderr\n"
    "\n"
    "exit codes: 0 done, 1 a failure at run time, 2 bad usage or a missing capability,\n"
    "130 interrupted (Ctrl-C), 143 terminated (SIGTERM); events so far are kept.\n";

long long integer(const std::string &flag, const std::string &v, long long lo) {
    char *end = nullptr;
    const long long x = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || x < lo)
        throw UsageError(flag + " " + v + ": must be an integer >= " + std::to_string(lo));
    return x;
}

double number(const std::string &flag, const std::string &v) {
    char *end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !(x > 0) || x > 1e6)
        throw UsageError(flag + " " + v + ": must be a positive number of frames/s");
    return x;
}

}  // namespace

const char *usage_text() { return kUsage; }

Options parse_options(int argc, char **argv) {
    Options o;
    const std::vector<std::string> sources = {"--camera", "--video", "--url", "--pipeline", "--csi", "--frames"};
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            o.help = true;
            return o;
        }
        if (a == "--quiet") {
            o.quiet = true;
            continue;
        }
        if (a.rfind("--", 0) != 0) throw UsageError("unrecognized argument: " + a);
        if (i + 1 >= argc) throw UsageError("argument " + a + ": expected one value");
        const std::string v = argv[++i];
        bool is_source = false;
        for (const std::string &s : sources) is_source = is_source || a == s;
        if (is_source) {
            if (!o.source_kind.empty())
                throw UsageError("argument " + a + ": not allowed with --" + o.source_kind + " (one source)");
            o.source_kind = a.substr(2);
            o.source = v;
            if (a == "--csi" && integer(a, v, 0) > 63) throw UsageError("--csi " + v + ": valid sensors are 0..63");
        } else if (a == "--model") o.model = v;
        else if (a == "--backend") {
            if (v != "auto" && v != "openvino" && v != "tensorrt")
                throw UsageError("argument --backend: invalid choice: '" + v + "' (choose from auto, openvino, tensorrt)");
            o.backend = v;
        } else if (a == "--flow") {
            if (v != "auto" && v != "cpu-dis" && v != "cuda-tvl1" && v != "cuda-farneback" && v != "cuda-nvof")
                throw UsageError("argument --flow: invalid choice: '" + v + "' (choose from auto, cpu-dis, cuda-tvl1, "
                                 "cuda-farneback, cuda-nvof; other flows: python runtime/stream.py)");
            o.flow = v;
        } else if (a == "--width") o.width = static_cast<int>(integer(a, v, 1));
        else if (a == "--height") o.height = static_cast<int>(integer(a, v, 1));
        else if (a == "--fps") o.fps = number(a, v);
        else if (a == "--events") o.events = v;
        else if (a == "--telemetry") o.telemetry = v;
        else if (a == "--record") o.record = v;
        else if (a == "--save-clip") o.save_clip = v;
        else if (a == "--threads") o.threads = static_cast<int>(integer(a, v, 1));
        else if (a == "--cv-threads") o.cv_threads = static_cast<int>(integer(a, v, 0));
        else if (a == "--max-frames") o.max_frames = integer(a, v, 1);
        else if (a == "--retries") o.retries = static_cast<int>(integer(a, v, 0));
        else if (a == "--params") o.params = v;
        else if (a == "--cascade") o.cascade = v;
        else throw UsageError("unrecognized argument: " + a);
    }
    if (o.source_kind.empty())
        throw UsageError("one of the arguments --camera --video --url --pipeline --csi --frames is required");
    if (o.model.empty())
        throw UsageError("--model is required: an .onnx from python export/to_onnx.py (e.g. "
                         "runtime/builtin/sofp_composite.onnx) or an engine from export/to_trt.py");
    if (o.source_kind == "frames" && o.fps <= 0)
        throw UsageError("--frames " + o.source + " needs --fps (the rate the frames were captured at)");
    return o;
}

}  // namespace sofp_cli
