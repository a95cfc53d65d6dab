// Built when SOFP_WITH_TENSORRT is OFF: the TensorRT backend reports that this build lacks it.
#include "backend.hpp"
#include "error.hpp"

namespace sofp {

std::unique_ptr<InferenceBackend> make_tensorrt_backend(const std::string &model_path, const Sidecar &, int, int) {
    throw Error(SOFP_ERR_UNSUPPORTED, "cannot run TensorRT engine " + model_path +
                                          ": this build of libsofp has no TensorRT backend (configure with "
                                          "-DSOFP_WITH_TENSORRT=ON where TensorRT and CUDA are installed)");
}

}  // namespace sofp
