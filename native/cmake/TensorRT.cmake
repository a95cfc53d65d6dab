# -DSOFP_WITH_TENSORRT=ON: the TensorRT 10 backend (src/tensorrt_backend.cpp) against TensorRT and the
# CUDA runtime; without it, src/tensorrt_absent.cpp reports that the build has no TensorRT.
if(SOFP_WITH_TENSORRT)
  find_package(CUDAToolkit QUIET)
  find_path(TENSORRT_INCLUDE_DIR NvInfer.h HINTS ${TENSORRT_ROOT} ENV TENSORRT_ROOT PATH_SUFFIXES include)
  find_library(TENSORRT_LIBRARY nvinfer HINTS ${TENSORRT_ROOT} ENV TENSORRT_ROOT PATH_SUFFIXES lib lib64)
  if(NOT CUDAToolkit_FOUND OR NOT TENSORRT_INCLUDE_DIR OR NOT TENSORRT_LIBRARY)
    message(FATAL_ERROR "SOFP_WITH_TENSORRT=ON but TensorRT or CUDA was not found "
                        "(NvInfer.h: ${TENSORRT_INCLUDE_DIR}; libnvinfer: ${TENSORRT_LIBRARY}; "
                        "CUDA toolkit: ${CUDAToolkit_FOUND}). Install TensorRT 10 and CUDA, pass "
                        "-DTENSORRT_ROOT=<TensorRT folder>, or configure with -DSOFP_WITH_TENSORRT=OFF")
  endif()
  target_sources(sofp_core PRIVATE src/tensorrt_backend.cpp)
  target_include_directories(sofp_core PRIVATE ${TENSORRT_INCLUDE_DIR})
  target_link_libraries(sofp_core PUBLIC ${TENSORRT_LIBRARY} CUDA::cudart)
  message(STATUS "sofp: TensorRT backend ON (${TENSORRT_LIBRARY})")
else()
  target_sources(sofp_core PRIVATE src/tensorrt_absent.cpp)
  message(STATUS "sofp: TensorRT backend OFF (-DSOFP_WITH_TENSORRT=ON to build it)")
endif()
