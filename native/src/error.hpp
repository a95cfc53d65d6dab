// sofp::Error: a failure the caller can fix, carrying the C API status it maps to.
#pragma once

#include <stdexcept>
#include <string>

#include "sofp/sofp.h"

namespace sofp {

class Error : public std::runtime_error {
public:
    Error(sofp_status status, const std::string &message) : std::runtime_error(message), status_(status) {}
    sofp_status status() const noexcept { return status_; }

private:
    sofp_status status_;
};

}  // namespace sofp
