// An event as the Python runtime's JSON line (runtime/events.py, Event.to_dict + json.dumps).
#pragma once

#include <string>
#include <vector>

#include "sofp/sofp.h"

namespace sofp {

std::string event_json(const sofp_event &event, const std::vector<std::string> &labels);
// A JSON string literal (quotes and escapes).
std::string json_string(const std::string &s);

}  // namespace sofp
