// GPU inference: a TensorRT engine written by export/to_trt.py, through TensorRT 10's name-based API
// (deserializeCudaEngine, getIOTensorName, setInputShape, setTensorAddress, enqueueV3), one CUDA
// stream, pinned host buffers and device buffers allocated once for the pipeline's batch.
//
// Built only with -DSOFP_WITH_TENSORRT=ON. NOT BUILT OR RUN HERE: no machine this was written on has
// TensorRT (see native/README.md); it follows the TensorRT 10 C++ API reference and the 8.x -> 10.x
// migration guide, and mirrors runtime/infer/tensorrt.py, whose checks it repeats.
#include <cuda_runtime_api.h>

#include <NvInferRuntime.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "backend.hpp"
#include "error.hpp"

#if NV_TENSORRT_MAJOR < 10
#error "the native TensorRT backend is written for TensorRT 10 (name-based I/O and enqueueV3)"
#endif

namespace sofp {

namespace {

class Logger : public nvinfer1::ILogger {
public:
    void log(Severity severity, const char *msg) noexcept override {
        if (severity <= Severity::kERROR && msg) last_error = msg;  // the library never prints
    }
    std::string last_error;
};

void cuda_check(cudaError_t e, const char *what) {
    if (e != cudaSuccess)
        throw Error(SOFP_ERR_MODEL, std::string("CUDA ") + what + " failed: " + cudaGetErrorString(e));
}

std::string version3(const std::string &v) {
    size_t dots = 0, i = 0;
    for (; i < v.size(); ++i)
        if (v[i] == '.' && ++dots == 3) break;
    return v.substr(0, i);
}

// Refuse an engine built for another TensorRT version or another GPU (runtime/infer/tensorrt.py).
void check_engine_target(const Sidecar &sc, const std::string &path) {
    const std::string here = std::to_string(NV_TENSORRT_MAJOR) + "." + std::to_string(NV_TENSORRT_MINOR) + "." +
                             std::to_string(NV_TENSORRT_PATCH);
    const nlohmann::json &versions = sc.doc["versions"];
    if (versions.is_object() && versions.contains("tensorrt") && versions["tensorrt"].is_string()) {
        const std::string built = versions["tensorrt"].get<std::string>();
        if (version3(built) != version3(here))
            throw Error(SOFP_ERR_UNSUPPORTED, path + " was built with TensorRT " + built + ", this library uses " + here +
                                                  "; rebuild it here with python export/to_trt.py");
    }
    cudaDeviceProp prop{};
    cuda_check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    const std::string cc = std::to_string(prop.major) + "." + std::to_string(prop.minor);
    const nlohmann::json &device = sc.doc.contains("device") ? sc.doc["device"] : nlohmann::json();
    if (device.is_object() && device.contains("compute_capability") && device["compute_capability"].is_string() &&
        device["compute_capability"].get<std::string>() != cc)
        throw Error(SOFP_ERR_UNSUPPORTED, path + " was built for a GPU of compute capability " +
                                              device["compute_capability"].get<std::string>() + ", this one is " + cc +
                                              " (" + prop.name + "); rebuild it here with python export/to_trt.py");
}

class TensorRtBackend : public InferenceBackend {
public:
    TensorRtBackend(const std::string &path, const Sidecar &sc, int size, int batch)
        : size_(size), batch_(batch), classes_(static_cast<int>(sc.labels.size())) {
        check_engine_target(sc, path);
        std::ifstream in(path, std::ios::binary);
        const std::vector<char> plan((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        runtime_.reset(nvinfer1::createInferRuntime(logger_));
        if (!runtime_) throw Error(SOFP_ERR_MODEL, "TensorRT: createInferRuntime failed");
        engine_.reset(runtime_->deserializeCudaEngine(plan.data(), plan.size()));
        if (!engine_)
            throw Error(SOFP_ERR_MODEL, "TensorRT cannot deserialize " + path + ": " + logger_.last_error);
        context_.reset(engine_->createExecutionContext());
        if (!context_) throw Error(SOFP_ERR_MODEL, "TensorRT: createExecutionContext failed for " + path);
        for (int32_t i = 0; i < engine_->getNbIOTensors(); ++i) {
            const char *name = engine_->getIOTensorName(i);
            (engine_->getTensorIOMode(name) == nvinfer1::TensorIOMode::kINPUT ? inputs_ : outputs_).push_back(name);
        }
        if (inputs_.size() != 1 || outputs_.size() != 1)
            throw Error(SOFP_ERR_MODEL, path + " has " + std::to_string(inputs_.size()) + " inputs and " +
                                            std::to_string(outputs_.size()) + " outputs; expected one of each");
        const char *in_name = inputs_[0].c_str();
        const nvinfer1::Dims lo = engine_->getProfileShape(in_name, 0, nvinfer1::OptProfileSelector::kMIN);
        const nvinfer1::Dims hi = engine_->getProfileShape(in_name, 0, nvinfer1::OptProfileSelector::kMAX);
        if (lo.nbDims == 4 && (batch < lo.d[0] || batch > hi.d[0]))
            throw Error(SOFP_ERR_UNSUPPORTED, path + " takes batches of " + std::to_string(lo.d[0]) + ".." +
                                                  std::to_string(hi.d[0]) + "; the pipeline runs " +
                                                  std::to_string(batch));
        if (!context_->setInputShape(in_name, nvinfer1::Dims4{batch, 3, size, size}))
            throw Error(SOFP_ERR_MODEL, path + " refuses input shape " + std::to_string(batch) + " x 3 x " +
                                            std::to_string(size) + " x " + std::to_string(size));
        in_bytes_ = sizeof(float) * static_cast<size_t>(batch) * 3 * size * size;
        out_bytes_ = sizeof(float) * static_cast<size_t>(batch) * classes_;
        cuda_check(cudaStreamCreate(&stream_), "cudaStreamCreate");
        cuda_check(cudaMallocHost(&host_in_, in_bytes_), "cudaMallocHost");
        cuda_check(cudaMallocHost(&host_out_, out_bytes_), "cudaMallocHost");
        cuda_check(cudaMalloc(&dev_in_, in_bytes_), "cudaMalloc");
        cuda_check(cudaMalloc(&dev_out_, out_bytes_), "cudaMalloc");
        if (!context_->setTensorAddress(in_name, dev_in_) ||
            !context_->setTensorAddress(outputs_[0].c_str(), dev_out_))
            throw Error(SOFP_ERR_MODEL, "TensorRT: setTensorAddress failed for " + path);
        const std::string file = path.substr(path.find_last_of('/') + 1);
        description_ = "tensorrt " + std::to_string(NV_TENSORRT_MAJOR) + "." + std::to_string(NV_TENSORRT_MINOR) +
                       " GPU: " + file;
    }

    ~TensorRtBackend() override {
        if (stream_) cudaStreamSynchronize(stream_);
        cudaFree(dev_in_);
        cudaFree(dev_out_);
        cudaFreeHost(host_in_);
        cudaFreeHost(host_out_);
        if (stream_) cudaStreamDestroy(stream_);
    }

    std::vector<float> predict(const std::vector<float> &batch, int n) override {
        if (n != batch_ || batch.size() * sizeof(float) != in_bytes_)
            throw Error(SOFP_ERR_INTERNAL, "engine input of " + std::to_string(n) + " images, set up for " +
                                               std::to_string(batch_));
        std::copy(batch.begin(), batch.end(), static_cast<float *>(host_in_));
        cuda_check(cudaMemcpyAsync(dev_in_, host_in_, in_bytes_, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync");
        if (!context_->enqueueV3(stream_)) throw Error(SOFP_ERR_MODEL, "TensorRT enqueueV3 failed: " + logger_.last_error);
        cuda_check(cudaMemcpyAsync(host_out_, dev_out_, out_bytes_, cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync");
        cuda_check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
        const float *p = static_cast<const float *>(host_out_);
        std::vector<float> probs(p, p + static_cast<size_t>(n) * classes_);
        softmax_rows(probs, n, classes_);
        return probs;
    }

    std::string description() const override { return description_; }

private:
    Logger logger_;
    std::unique_ptr<nvinfer1::IRuntime> runtime_;
    std::unique_ptr<nvinfer1::ICudaEngine> engine_;
    std::unique_ptr<nvinfer1::IExecutionContext> context_;
    std::vector<std::string> inputs_, outputs_;
    cudaStream_t stream_ = nullptr;
    void *host_in_ = nullptr, *host_out_ = nullptr, *dev_in_ = nullptr, *dev_out_ = nullptr;
    size_t in_bytes_ = 0, out_bytes_ = 0;
    int size_, batch_, classes_;
    std::string description_;
};

}  // namespace

std::unique_ptr<InferenceBackend> make_tensorrt_backend(const std::string &model_path, const Sidecar &sidecar,
                                                        int feature_size, int batch) {
    return std::make_unique<TensorRtBackend>(model_path, sidecar, feature_size, batch);
}

}  // namespace sofp
