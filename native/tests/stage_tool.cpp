// sofp_stage_tool: one pipeline stage of sofp_core on files, for the parity test against the Python
// runtime (native/tests/parity_check.py). Images are PNG/PGM; flows and tensors raw little-endian float32.
//
//   sofp_stage_tool dis PRESET PREV.png CURR.png OUT.f32          flow H x W x 2
//   sofp_stage_tool align REF.png CURR.png OUT.png                 robust stabiliser
//   sofp_stage_tool features FLOW.f32 H W OUT.u8                   28 x 28 x 3 (u, v, strain)
//   sofp_stage_tool infer MODEL IN.f32 N OUT.f32                   N x 3 x 28 x 28 -> N x classes
//   sofp_stage_tool faces FRAME_LIST.txt OUT.f64 [DETECT_LAG]      per frame: found, x, y, w, h, tracked
//   sofp_stage_tool motion FLOW.f32 H W                            prints the motion magnitude (px)
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "backend.hpp"
#include "dis_flow.hpp"
#include "error.hpp"
#include "face_cropper.hpp"
#include "features.hpp"
#include "motion.hpp"
#include "params.hpp"
#include "sidecar.hpp"
#include "stabiliser.hpp"

namespace {

template <typename T>
std::vector<T> read_raw(const std::string &path, size_t count) {
    std::vector<T> v(count);
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char *>(v.data()), static_cast<std::streamsize>(count * sizeof(T)));
    if (static_cast<size_t>(in.gcount()) != count * sizeof(T)) throw std::runtime_error("short file " + path);
    return v;
}

template <typename T>
void write_raw(const std::string &path, const T *data, size_t count) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char *>(data), static_cast<std::streamsize>(count * sizeof(T)));
    if (!out) throw std::runtime_error("cannot write " + path);
}

cv::Mat read_gray(const std::string &path) {
    cv::Mat m = cv::imread(path, cv::IMREAD_GRAYSCALE);
    if (m.empty()) throw std::runtime_error("cannot read image " + path);
    return m;
}

cv::Mat read_flow(const std::string &path, int h, int w) {
    std::vector<float> v = read_raw<float>(path, static_cast<size_t>(h) * w * 2);
    return cv::Mat(h, w, CV_32FC2, v.data()).clone();
}

int run(int argc, char **argv) {
    const std::string cmd = argc > 1 ? argv[1] : "";
    cv::setNumThreads(1);  // as the Python runtime runs OpenCV (runtime/runner.py)
    const sofp::Params p = sofp::embedded_params();
    if (cmd == "dis" && argc == 6) {
        sofp::DisFlow dis(p.dis_presets, argv[2]);
        const cv::Mat flow = dis.compute(read_gray(argv[3]), read_gray(argv[4]));
        write_raw(argv[5], flow.ptr<float>(), flow.total() * 2);
        return 0;
    }
    if (cmd == "align" && argc == 5) {
        sofp::Stabiliser st(p.stabiliser, p.dis_presets);
        return cv::imwrite(argv[4], st.align(read_gray(argv[2]), read_gray(argv[3]))) ? 0 : 1;
    }
    if (cmd == "features" && argc == 6) {
        const cv::Mat f = sofp::flow_to_features(read_flow(argv[2], std::atoi(argv[3]), std::atoi(argv[4])),
                                                 p.feature_size);
        write_raw(argv[5], f.ptr<uint8_t>(), f.total() * 3);
        return 0;
    }
    if (cmd == "motion" && argc == 5) {
        const cv::Mat flow = read_flow(argv[2], std::atoi(argv[3]), std::atoi(argv[4]));
        std::printf("%.9g\n", sofp::motion_magnitude(flow, p.top_fraction, p.cell));
        return 0;
    }
    if (cmd == "infer" && argc == 6) {
        const int n = std::atoi(argv[4]);
        const sofp::Sidecar sc = sofp::read_sidecar(argv[2], "", {"onnx"}, p.input_spec);
        auto backend = sofp::make_openvino_backend(argv[2], sc, p.feature_size, 1, n);
        const std::vector<float> x = read_raw<float>(argv[3], static_cast<size_t>(n) * 3 * p.feature_size * p.feature_size);
        const std::vector<float> probs = backend->predict(x, n);
        write_raw(argv[5], probs.data(), probs.size());
        return 0;
    }
    if (cmd == "faces" && (argc == 4 || argc == 5)) {
        sofp::FaceParams fp = p.face;
        if (argc == 5) fp.detect_lag = std::atoi(argv[4]);
        sofp::FaceCropper face(fp, sofp::HaarDetector(p.detector, sofp::find_cascade(p.detector.cascade, "")));
        std::ifstream list(argv[2]);
        std::vector<double> out;
        for (std::string line; std::getline(list, line);) {
            if (line.empty()) continue;
            const cv::Mat gray = read_gray(line);
            sofp::GrayFrame frame(gray);
            const std::optional<sofp::FaceCrop> c = face(frame);
            out.insert(out.end(), {c ? 1.0 : 0.0, c ? c->box.x : 0, c ? c->box.y : 0, c ? c->box.w : 0, c ? c->box.h : 0,
                                   c && c->tracked ? 1.0 : 0.0});
        }
        write_raw(argv[3], out.data(), out.size());
        return 0;
    }
    std::cerr << "usage: sofp_stage_tool dis|align|features|motion|infer|faces ... (see the source's header)\n";
    return 2;
}

}  // namespace

int main(int argc, char **argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception &e) {
        std::cerr << "sofp_stage_tool: " << e.what() << "\n";
        return 1;
    }
}
