// Fuzz-style robustness test of the C API: null pointers, wrong struct sizes, malformed and random
// sidecars and parameter files, truncated and foreign model files, wrong pixel formats, zero, huge and
// random frame sizes. Every call must return its documented status; none may crash (run it under
// -DSOFP_SANITIZE=ON to have AddressSanitizer and UBSan watch too).
//
//     sofp_bad_inputs MODEL.onnx WORK_DIR
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <cstddef>

#include <nlohmann/json.hpp>
#include <opencv2/core/cuda.hpp>

#include "check.hpp"
#include "cuda_flow.hpp"
#include "sha256.hpp"
#include "sofp/sofp.h"

namespace {

std::string g_model, g_dir;
std::mt19937 g_rng(12345);

std::string read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const std::string &path, const std::string &bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

sofp_status create(const std::string &model, const char *params = nullptr, sofp_pipeline **out = nullptr) {
    sofp_config cfg;
    sofp_config_init(&cfg);
    cfg.model_path = model.c_str();
    cfg.params_path = params;
    sofp_pipeline *p = nullptr;
    const sofp_status st = sofp_create(&cfg, &p);
    if (st != SOFP_OK) CHECK(p == nullptr && std::string(sofp_last_error()).size() > 0);
    if (out) *out = p;
    else sofp_destroy(p);
    return st;
}

// A copy of the model as `name` with a sidecar edited by `edit` (sha256 kept in step unless edit changes it).
std::string model_with_sidecar(const std::string &name, const std::string &model_bytes,
                               void (*edit)(nlohmann::json &)) {
    const std::string path = g_dir + "/" + name + ".onnx";
    write_file(path, model_bytes);
    nlohmann::json side = nlohmann::json::parse(read_file(g_model + ".json"));
    side["sha256"] = sofp::file_sha256(path);
    if (edit) edit(side);
    write_file(path + ".json", side.dump());
    return path;
}

void test_null_pointers_and_struct_sizes() {
    sofp_config cfg;
    sofp_config_init(&cfg);
    cfg.model_path = g_model.c_str();
    sofp_pipeline *p = nullptr;
    CHECK(sofp_create(nullptr, &p) == SOFP_ERR_INVALID_ARGUMENT);
    CHECK(sofp_create(&cfg, nullptr) == SOFP_ERR_INVALID_ARGUMENT);
    cfg.struct_size = 8;
    CHECK(sofp_create(&cfg, &p) == SOFP_ERR_INVALID_ARGUMENT && p == nullptr);
    sofp_config_init(&cfg);
    CHECK(sofp_create(&cfg, &p) == SOFP_ERR_INVALID_ARGUMENT);  // no model_path
    cfg.model_path = g_model.c_str();
    cfg.threads = 0;
    CHECK(sofp_create(&cfg, &p) == SOFP_ERR_INVALID_ARGUMENT);
    cfg.threads = 1;
    cfg.fps = NAN;
    CHECK(sofp_create(&cfg, &p) == SOFP_ERR_INVALID_ARGUMENT);
    cfg.fps = -5;
    CHECK(sofp_create(&cfg, &p) == SOFP_ERR_INVALID_ARGUMENT);
    cfg.fps = 0;
    cfg.mirror_average = 7;
    CHECK(sofp_create(&cfg, &p) == SOFP_ERR_INVALID_ARGUMENT);
    cfg.mirror_average = -1;
    cfg.backend = 99;
    CHECK(sofp_create(&cfg, &p) == SOFP_ERR_INVALID_ARGUMENT);
    cfg.backend = SOFP_BACKEND_TENSORRT;
    CHECK(sofp_create(&cfg, &p) == SOFP_ERR_UNSUPPORTED);  // an .onnx is not an engine
    cfg.backend = SOFP_BACKEND_AUTO;
    CHECK(sofp_create(&cfg, &p) == SOFP_OK && p != nullptr);

    sofp_frame f;
    sofp_frame_init(&f);
    sofp_event ev;
    sofp_event_init(&ev);
    sofp_frame_info info;
    sofp_frame_info_init(&info);
    char buf[64];
    CHECK(sofp_push_frame(nullptr, &f) == SOFP_ERR_INVALID_ARGUMENT);
    CHECK(sofp_push_frame(p, nullptr) == SOFP_ERR_INVALID_ARGUMENT);
    CHECK(sofp_poll_event(nullptr, &ev) == SOFP_ERR_INVALID_ARGUMENT);
    CHECK(sofp_poll_event(p, nullptr) == SOFP_ERR_INVALID_ARGUMENT);
    CHECK(sofp_poll_event(p, &ev) == SOFP_NO_EVENT);
    ev.struct_size = 3;
    CHECK(sofp_poll_event(p, &ev) == SOFP_ERR_INVALID_ARGUMENT);
    CHECK(sofp_event_to_json(p, &ev, buf, sizeof buf, nullptr) == SOFP_ERR_INVALID_ARGUMENT);
    sofp_event_init(&ev);
    ev.num_classes = 1000;
    CHECK(sofp_event_to_json(p, &ev, buf, sizeof buf, nullptr) == SOFP_ERR_INVALID_ARGUMENT);
    ev.num_classes = 3;
    size_t need = 0;
    CHECK(sofp_event_to_json(p, &ev, buf, 4, &need) == SOFP_ERR_INVALID_ARGUMENT && need > 4);
    CHECK(sofp_event_to_json(nullptr, &ev, buf, sizeof buf, nullptr) == SOFP_ERR_INVALID_ARGUMENT);
    CHECK(sofp_event_to_json(p, nullptr, buf, sizeof buf, nullptr) == SOFP_ERR_INVALID_ARGUMENT);
    CHECK(sofp_last_frame_info(nullptr, &info) == SOFP_ERR_INVALID_ARGUMENT);
    CHECK(sofp_last_frame_info(p, nullptr) == SOFP_ERR_INVALID_ARGUMENT);
    CHECK(sofp_reset(nullptr) == SOFP_ERR_INVALID_ARGUMENT);
    CHECK(sofp_class_label(p, -1) == nullptr && sofp_class_label(p, 99) == nullptr);
    CHECK(sofp_class_label(nullptr, 0) == nullptr && sofp_class_count(nullptr) == 0);
    sofp_config_init(nullptr);
    sofp_frame_init(nullptr);
    sofp_event_init(nullptr);
    sofp_frame_info_init(nullptr);
    sofp_destroy(nullptr);
    sofp_destroy(p);
}

void test_model_files() {
    const std::string bytes = read_file(g_model);
    CHECK(create(g_dir + "/missing.onnx") == SOFP_ERR_MODEL);
    CHECK(create(g_dir + "/model.pt") == SOFP_ERR_UNSUPPORTED);
    CHECK(create(g_dir + "/model.bin") == SOFP_ERR_UNSUPPORTED);
    // truncated: its sidecar's hash no longer matches
    const std::string cut = g_dir + "/truncated.onnx";
    write_file(cut, bytes.substr(0, bytes.size() / 2));
    write_file(cut + ".json", read_file(g_model + ".json"));
    CHECK(create(cut) == SOFP_ERR_MODEL);
    // truncated or foreign bytes with a sidecar that matches them: OpenVINO must refuse, not crash
    CHECK(create(model_with_sidecar("half", bytes.substr(0, bytes.size() / 2), nullptr)) == SOFP_ERR_MODEL);
    CHECK(create(model_with_sidecar("empty", "", nullptr)) == SOFP_ERR_MODEL);
    CHECK(create(model_with_sidecar("text", "this is not a model", nullptr)) == SOFP_ERR_MODEL);
    std::string noise(4096, '\0');
    for (char &c : noise) c = static_cast<char>(g_rng() & 0xff);
    CHECK(create(model_with_sidecar("noise", noise, nullptr)) == SOFP_ERR_MODEL);
    // wrong class count for the graph's output
    CHECK(create(model_with_sidecar("labels4", bytes, [](nlohmann::json &s) {
              s["labels"] = {"a", "b", "c", "d"};
          })) == SOFP_ERR_MODEL);
}

void test_sidecars() {
    const std::string bytes = read_file(g_model);
    const std::string path = g_dir + "/side.onnx";
    write_file(path, bytes);
    const std::string good = read_file(g_model + ".json");
    CHECK(create(path) == SOFP_ERR_SIDECAR);  // none yet
    for (const std::string &text : {std::string(""), std::string("{"), std::string("[]"), std::string("null"),
                                    std::string("{\"format\": \"sofp-sidecar/9\"}"),
                                    std::string("{\"format\": \"sofp-sidecar/1\"}")}) {
        write_file(path + ".json", text);
        CHECK(create(path) == SOFP_ERR_SIDECAR);
    }
    using Edit = void (*)(nlohmann::json &);
    const Edit edits[] = {
        [](nlohmann::json &s) { s["kind"] = "tensorrt"; },
        [](nlohmann::json &s) { s["kind"] = 5; },
        [](nlohmann::json &s) { s["role"] = "fusion"; },
        [](nlohmann::json &s) { s["labels"] = nlohmann::json::array(); },
        [](nlohmann::json &s) { s["labels"] = {1, 2, 3}; },
        [](nlohmann::json &s) { s["labels"] = std::vector<std::string>(17, "x"); },
        [](nlohmann::json &s) { s["labels"] = {std::string(40, 'y'), "b", "c"}; },
        [](nlohmann::json &s) { s["input_spec"]["height"] = 32; },
        [](nlohmann::json &s) { s.erase("input_spec"); },
        [](nlohmann::json &s) { s["inputs"] = "input"; },
        [](nlohmann::json &s) { s["outputs"] = nlohmann::json::array(); },
        [](nlohmann::json &s) { s["sha256"] = 42; },
    };
    for (Edit e : edits) CHECK(create(model_with_sidecar("edited", bytes, e)) == SOFP_ERR_SIDECAR);
    CHECK(create(model_with_sidecar("wrong_hash", bytes, [](nlohmann::json &s) {
              s["sha256"] = std::string(64, '0');
          })) == SOFP_ERR_MODEL);
    // random byte mutations of a valid sidecar: any status, never a crash
    int ok = 0, refused = 0;
    for (int i = 0; i < 120; ++i) {
        std::string text = good;
        const int n = 1 + static_cast<int>(g_rng() % 4);
        for (int k = 0; k < n; ++k) text[g_rng() % text.size()] = static_cast<char>(g_rng() & 0xff);
        write_file(path + ".json", text);
        const sofp_status st = create(path);
        CHECK(st == SOFP_OK || st == SOFP_ERR_SIDECAR || st == SOFP_ERR_MODEL);
        (st == SOFP_OK ? ok : refused)++;
    }
    std::printf("random sidecar mutations: %d accepted (mutated outside the checked fields), %d refused\n", ok,
                refused);
}

void test_params_files() {
    const std::string path = g_dir + "/params.json";
    CHECK(create(g_model, (g_dir + "/no-params.json").c_str()) == SOFP_ERR_PARAMS);
    for (int i = 0; i < 50; ++i) {
        std::string text(static_cast<size_t>(g_rng() % 300), '\0');
        for (char &c : text) c = static_cast<char>(g_rng() & 0xff);
        write_file(path, text);
        CHECK(create(g_model, path.c_str()) == SOFP_ERR_PARAMS);
    }
    write_file(path, "{\"format\": \"sofp-params/1\", \"input_spec\": {\"height\": 28, \"width\": 28}}");
    CHECK(create(g_model, path.c_str()) == SOFP_ERR_PARAMS);
}

// The feature flow by name: unknown names, CUDA flows in a build or on a machine without them, and configs
// of 0.1.0's size (before the flow field), which get the default flow.
void test_flows() {
    sofp_config cfg;
    sofp_config_init(&cfg);
    cfg.model_path = g_model.c_str();
    sofp_pipeline *p = nullptr;
    CHECK(cfg.flow == nullptr);
    CHECK(sofp_create(&cfg, &p) == SOFP_OK && std::string(sofp_flow_name(p)) == "cpu-dis");
    sofp_destroy(p);
    cfg.flow = "cpu-dis";
    CHECK(sofp_create(&cfg, &p) == SOFP_OK && std::string(sofp_flow_name(p)) == "cpu-dis");
    sofp_destroy(p);
    CHECK(std::string(sofp_flow_name(nullptr)).empty());
    cfg.flow = "cpu-bogus";
    CHECK(sofp_create(&cfg, &p) == SOFP_ERR_INVALID_ARGUMENT && p == nullptr &&
          std::string(sofp_last_error()).find("cuda-tvl1") != std::string::npos);
    const bool runnable = sofp::cuda_flow_built() && cv::cuda::getCudaEnabledDeviceCount() > 0;
    for (const char *name : {"cuda-tvl1", "cuda-farneback", "cuda-nvof"}) {
        cfg.flow = name;
        const sofp_status st = sofp_create(&cfg, &p);
        const std::string err = sofp_last_error();
        if (runnable) {
            // cuda-nvof may still refuse a GPU older than Turing: then one line saying so
            CHECK((st == SOFP_OK && std::string(sofp_flow_name(p)) == name) ||
                  (st == SOFP_ERR_UNSUPPORTED && std::string(name) == "cuda-nvof" && err.find("Turing") != std::string::npos));
        } else {
            const char *why = sofp::cuda_flow_built() ? "no CUDA device" : "cudaoptflow";
            CHECK(st == SOFP_ERR_UNSUPPORTED && p == nullptr && err.find(name) != std::string::npos &&
                  err.find(why) != std::string::npos && err.find('\n') == std::string::npos);
        }
        sofp_destroy(p);
        p = nullptr;
    }
    cfg.flow = "cuda-tvl1";  // not read from a config of 0.1.0's size
    cfg.struct_size = offsetof(sofp_config, flow);
    CHECK(sofp_create(&cfg, &p) == SOFP_OK && std::string(sofp_flow_name(p)) == "cpu-dis");
    sofp_destroy(p);
    cfg.struct_size = offsetof(sofp_config, flow) + 1;
    CHECK(sofp_create(&cfg, &p) == SOFP_ERR_INVALID_ARGUMENT);
}

void test_frames() {
    sofp_config cfg;
    sofp_config_init(&cfg);
    cfg.model_path = g_model.c_str();
    cfg.fps = 100;
    sofp_pipeline *p = nullptr;
    CHECK(sofp_create(&cfg, &p) == SOFP_OK);
    if (!p) return;
    std::vector<uint8_t> buf(640 * 480 * 4, 128);
    sofp_frame f;
    sofp_frame_init(&f);
    f.data = buf.data();
    f.width = 640;
    f.height = 480;
    f.stride = 640 * 3;
    CHECK(sofp_push_frame(p, &f) == SOFP_OK);
    auto refused = [&](sofp_frame g, sofp_status want) { CHECK(sofp_push_frame(p, &g) == want); };
    sofp_frame g = f;
    g.data = nullptr;
    refused(g, SOFP_ERR_INVALID_ARGUMENT);
    for (int32_t w : {0, -1, 16385, INT32_MAX, INT32_MIN}) {
        g = f;
        g.width = w;
        refused(g, SOFP_ERR_INVALID_ARGUMENT);
        g = f;
        g.height = w;
        refused(g, SOFP_ERR_INVALID_ARGUMENT);
    }
    for (int fmt : {0, 6, -1, 999}) {
        g = f;
        g.format = fmt;
        refused(g, SOFP_ERR_UNSUPPORTED);
    }
    g = f;
    g.stride = 640 * 3 - 1;
    refused(g, SOFP_ERR_INVALID_ARGUMENT);
    g = f;
    g.format = SOFP_PIXEL_BGRA8;  // 4 bytes per pixel: a BGR stride is too short
    refused(g, SOFP_ERR_INVALID_ARGUMENT);
    g = f;
    g.stride = SIZE_MAX;
    refused(g, SOFP_ERR_INVALID_ARGUMENT);
    g = f;
    g.struct_size = sizeof(sofp_frame) + 8;
    refused(g, SOFP_ERR_INVALID_ARGUMENT);
    g = f;
    g.index = -7;
    refused(g, SOFP_ERR_INVALID_ARGUMENT);
    // random sizes, formats, strides, contents and times (including 1 x 1 and time going backwards)
    const int32_t formats[] = {SOFP_PIXEL_GRAY8, SOFP_PIXEL_BGR8, SOFP_PIXEL_RGB8, SOFP_PIXEL_BGRA8,
                                         SOFP_PIXEL_RGBA8};
    const int bpps[] = {1, 3, 3, 4, 4};
    for (int i = 0; i < 200; ++i) {
        const int k = static_cast<int>(g_rng() % 5);
        g = f;
        g.format = formats[k];
        g.width = 1 + static_cast<int32_t>(g_rng() % (i < 20 ? 4 : 400));
        g.height = 1 + static_cast<int32_t>(g_rng() % (i < 20 ? 4 : 300));
        g.stride = static_cast<size_t>(g.width) * bpps[k] + g_rng() % 16;
        if (g.stride * static_cast<size_t>(g.height) > buf.size()) continue;
        for (size_t j = 0; j < g.stride * static_cast<size_t>(g.height); ++j) buf[j] = static_cast<uint8_t>(g_rng());
        g.capture_time_ns = static_cast<int64_t>(g_rng() % 1000000000) - 500000000;
        g.index = (g_rng() % 10 == 0) ? static_cast<int64_t>(g_rng() % 5) : -1;
        CHECK(sofp_push_frame(p, &g) == SOFP_OK);
        sofp_event ev;
        sofp_event_init(&ev);
        while (sofp_poll_event(p, &ev) == SOFP_OK) {
        }
    }
    sofp_destroy(p);
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s MODEL.onnx WORK_DIR\n", argv[0]);
        return 2;
    }
    g_model = argv[1];
    g_dir = argv[2];
    test_null_pointers_and_struct_sizes();
    test_model_files();
    test_sidecars();
    test_params_files();
    test_flows();
    test_frames();
    return TEST_MAIN_RESULT("sofp_bad_inputs");
}
