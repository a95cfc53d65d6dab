// SHA-256 of a file (FIPS 180-4), to check a model file against its sidecar.
#pragma once

#include <string>

namespace sofp {

// Lower-case hex digest of the file's bytes; throws sofp::Error(SOFP_ERR_MODEL) when unreadable.
std::string file_sha256(const std::string &path);

}  // namespace sofp
