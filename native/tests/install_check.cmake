# ctest: install the build into a scratch prefix, then build and run a consumer against it twice:
# with find_package(sofp) (the exported CMake package) and with pkg-config (sofp.pc).
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DC_COMPILER=... [-DC_FLAGS=...] -P install_check.cmake
set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()

run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}")
foreach(f include/sofp/sofp.h include/sofp/sofp.hpp share/sofp/shared_params.json)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "install lacks ${f}")
  endif()
endforeach()
file(GLOB_RECURSE config "${prefix}/*/sofpConfig.cmake")
file(GLOB_RECURSE pc "${prefix}/*/pkgconfig/sofp.pc")
if(NOT config OR NOT pc)
  message(FATAL_ERROR "install lacks sofpConfig.cmake or sofp.pc")
endif()

# find_package(sofp)
run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}/native/tests/consumer" -B "${WORK_DIR}/consumer"
    "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_C_COMPILER=${C_COMPILER}" "-DCMAKE_C_FLAGS=${C_FLAGS}")
run("${CMAKE_COMMAND}" --build "${WORK_DIR}/consumer")
run("${WORK_DIR}/consumer/consumer")

# pkg-config
get_filename_component(pcdir "${pc}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} "${pcdir}")
execute_process(COMMAND pkg-config --cflags --libs sofp RESULT_VARIABLE rc OUTPUT_VARIABLE flags
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags --libs sofp failed")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
run("${C_COMPILER}" -std=c99 ${C_FLAGS} "${SOURCE_DIR}/native/tests/consumer/consumer.c" -o "${WORK_DIR}/consumer_pc" ${flags})
run("${WORK_DIR}/consumer_pc")
message(STATUS "install check: find_package(sofp) and pkg-config consumers built and ran")
