// The C++ wrapper (sofp/sofp.hpp): RAII pipeline, exceptions, std::optional events.
//
//     example_cpp MODEL.onnx
//
// Pushes a gray frame sequence with a moving bright square (no face), then shows that a missing model
// is reported as a sofp::Error with its status. Exit 0 when both behave as documented.
#include <cstdint>
#include <iostream>
#include <vector>

#include <sofp/sofp.hpp>

int main(int argc, char **argv) {
    if (argc < 2) {
        std::cerr << "usage: " << argv[0] << " MODEL.onnx\n";
        return 2;
    }
    try {
        sofp::Config cfg;
        cfg.model_path = argv[1];
        sofp::Pipeline pipe(cfg);
        std::cout << "backend: " << pipe.backend_description() << "\nflow: " << pipe.flow_name() << "\nclasses:";
        for (const std::string &l : pipe.labels()) std::cout << " " << l;
        std::cout << "\n";

        const int w = 256, h = 192;
        std::vector<uint8_t> gray(static_cast<size_t>(w) * h);
        sofp::Frame frame;
        frame.data = gray.data();
        frame.width = w;
        frame.height = h;
        frame.stride = w;
        frame.format = SOFP_PIXEL_GRAY8;
        int events = 0;
        for (int t = 0; t < 40; ++t) {
            for (int y = 0; y < h; ++y)
                for (int x = 0; x < w; ++x)
                    gray[static_cast<size_t>(y) * w + x] = (x > 40 + t && x < 80 + t && y > 60 && y < 100) ? 230 : 20;
            frame.capture_time_ns = static_cast<int64_t>(t) * 33333333;  // 30 frames/s, measured by the pipeline
            pipe.push(frame);
            while (auto ev = pipe.poll()) {
                std::cout << pipe.to_json(*ev) << "\n";
                ++events;
            }
        }
        const sofp_frame_info info = pipe.last_frame_info();
        std::cout << "40 frames, " << events << " events, last frame " << info.state << "\n";
        if (events != 0) return 1;
    } catch (const sofp::Error &e) {
        std::cerr << "error (" << sofp_status_string(e.status()) << "): " << e.what() << "\n";
        return 1;
    }
    try {
        sofp::Config cfg;
        cfg.model_path = "no/such/model.onnx";
        sofp::Pipeline pipe(cfg);
        std::cerr << "a missing model was accepted\n";
        return 1;
    } catch (const sofp::Error &e) {
        std::cout << "missing model -> " << sofp_status_string(e.status()) << ": " << e.what() << "\n";
        return e.status() == SOFP_ERR_MODEL ? 0 : 1;
    }
}
