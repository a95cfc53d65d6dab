# When OpenVINO_DIR is not given, take the package config shipped inside the `openvino` Python wheel
# (openvino/cmake/OpenVINOConfig.cmake), found with the Python interpreter on PATH.
if(NOT OpenVINO_DIR AND NOT DEFINED ENV{OpenVINO_DIR})
  find_package(Python3 COMPONENTS Interpreter QUIET)
  if(Python3_Interpreter_FOUND)
    execute_process(
      COMMAND "${Python3_EXECUTABLE}" -c "import os, openvino; print(os.path.join(os.path.dirname(openvino.__file__), 'cmake'))"
      OUTPUT_VARIABLE _sofp_ov_dir OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _sofp_ov_rc)
    if(_sofp_ov_rc EQUAL 0 AND EXISTS "${_sofp_ov_dir}/OpenVINOConfig.cmake")
      set(OpenVINO_DIR "${_sofp_ov_dir}" CACHE PATH "OpenVINO's CMake package folder (from the openvino wheel)")
    endif()
  endif()
  if(NOT OpenVINO_DIR)
    message(FATAL_ERROR "OpenVINO not found: pip install openvino (its wheel ships OpenVINOConfig.cmake) "
                        "or pass -DOpenVINO_DIR=<folder holding OpenVINOConfig.cmake>")
  endif()
endif()
