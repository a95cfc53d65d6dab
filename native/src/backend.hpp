// The inference backend interface: model input (N, 3, S, S) float32 in [0, 1] -> class probabilities.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sidecar.hpp"

namespace sofp {

class InferenceBackend {
public:
    virtual ~InferenceBackend() = default;
    // batch: n x 3 x size x size floats, NCHW -> n x classes probabilities (softmax of the logits).
    virtual std::vector<float> predict(const std::vector<float> &batch, int n) = 0;
    virtual std::string description() const = 0;
};

// Row-wise softmax of n x c logits in place (float32, as runtime/infer/base.py's softmax).
void softmax_rows(std::vector<float> &logits, int n, int c);

std::unique_ptr<InferenceBackend> make_openvino_backend(const std::string &model_path, const Sidecar &sidecar,
                                                        int feature_size, int threads, int batch);
// Defined by tensorrt_backend.cpp when built with SOFP_WITH_TENSORRT, else throws SOFP_ERR_UNSUPPORTED.
std::unique_ptr<InferenceBackend> make_tensorrt_backend(const std::string &model_path, const Sidecar &sidecar,
                                                        int feature_size, int batch);

}  // namespace sofp
