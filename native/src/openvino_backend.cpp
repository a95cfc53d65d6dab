// CPU inference: the exported ONNX graph through OpenVINO's C++ API, one thread by default.
#include <openvino/frontend/manager.hpp>
#include <openvino/openvino.hpp>

#include "backend.hpp"
#include "error.hpp"

namespace sofp {

namespace {

class OpenVinoBackend : public InferenceBackend {
public:
    OpenVinoBackend(const std::string &model_path, const Sidecar &sidecar, int size, int threads, int batch)
        : size_(size), batch_(batch), classes_(static_cast<int>(sidecar.labels.size())) {
        std::shared_ptr<ov::Model> model;
        try {
            // The ONNX frontend only (ov::Core::read_model tries every frontend: TensorFlow's would claim
            // a garbage file, log parse errors to stderr and leave memory in libprotobuf).
            onnx_ = frontends_.load_by_framework("onnx");
            const ov::frontend::InputModel::Ptr input = onnx_->load(model_path);
            if (!input) throw std::runtime_error("not an ONNX model");
            model = onnx_->convert(input);
        } catch (const std::exception &e) {
            throw Error(SOFP_ERR_MODEL, "OpenVINO cannot read " + model_path + ": " + first_line(e.what()));
        }
        try {
            if (model->inputs().size() != 1 || model->outputs().size() != 1)
                throw Error(SOFP_ERR_MODEL, model_path + " has " + std::to_string(model->inputs().size()) +
                                                " inputs and " + std::to_string(model->outputs().size()) +
                                                " outputs; the whole SOFP graph has one of each");
            model->reshape({{model->input().get_any_name(), ov::PartialShape{batch, 3, size, size}}});
            const ov::PartialShape out = model->output().get_partial_shape();
            if (out.rank().get_length() != 2 || out[1].is_dynamic() || out[1].get_length() != classes_)
                throw Error(SOFP_ERR_MODEL, model_path + " outputs shape " + out.to_string() + "; its sidecar has " +
                                                std::to_string(classes_) + " labels");
            // f32 always: on a CPU with AVX512_BF16 or AMX the plugin would otherwise pick bf16 by itself, and the
            // probabilities would move by ~5e-3 from the Python runtime's (seen on an AMD EPYC with avx512_bf16)
            compiled_ = core_.compile_model(model, "CPU", ov::inference_num_threads(threads),
                                            ov::hint::num_requests(1), ov::num_streams(1),
                                            ov::hint::performance_mode(ov::hint::PerformanceMode::LATENCY),
                                            ov::hint::inference_precision(ov::element::f32));
            request_ = compiled_.create_infer_request();
        } catch (const Error &) {
            throw;
        } catch (const std::exception &e) {
            throw Error(SOFP_ERR_MODEL, "OpenVINO cannot compile " + model_path + ": " + first_line(e.what()));
        }
        const std::string file = model_path.substr(model_path.find_last_of('/') + 1);
        description_ = "openvino " + std::string(ov::get_openvino_version().buildNumber) + " CPU (" +
                       std::to_string(threads) + " thread" + (threads == 1 ? "" : "s") + "): " + file;
    }

    std::vector<float> predict(const std::vector<float> &batch, int n) override {
        if (n != batch_ || batch.size() != static_cast<size_t>(n) * 3 * size_ * size_)
            throw Error(SOFP_ERR_INTERNAL, "model input of " + std::to_string(n) + " images, compiled for " +
                                               std::to_string(batch_));
        ov::Tensor input(ov::element::f32, {static_cast<size_t>(n), 3, static_cast<size_t>(size_),
                                            static_cast<size_t>(size_)}, const_cast<float *>(batch.data()));
        request_.set_input_tensor(input);
        request_.infer();
        const ov::Tensor out = request_.get_output_tensor();
        const float *p = out.data<const float>();
        std::vector<float> probs(p, p + static_cast<size_t>(n) * classes_);
        softmax_rows(probs, n, classes_);
        return probs;
    }

    std::string description() const override { return description_; }

private:
    static std::string first_line(const std::string &s) {
        const size_t a = s.find_first_not_of(" \n\r\t");
        if (a == std::string::npos) return "unknown error";
        const size_t b = s.find('\n', a);
        std::string line = s.substr(a, b == std::string::npos ? std::string::npos : b - a);
        return line.size() > 300 ? line.substr(0, 300) : line;
    }

    ov::frontend::FrontEndManager frontends_;  // declared first: outlives the model and the compiled model
    ov::frontend::FrontEnd::Ptr onnx_;
    ov::Core core_;
    ov::CompiledModel compiled_;
    ov::InferRequest request_;
    int size_, batch_, classes_;
    std::string description_;
};

}  // namespace

std::unique_ptr<InferenceBackend> make_openvino_backend(const std::string &model_path, const Sidecar &sidecar,
                                                        int feature_size, int threads, int batch) {
    return std::make_unique<OpenVinoBackend>(model_path, sidecar, feature_size, threads, batch);
}

}  // namespace sofp
