// A minimal test harness: CHECK(cond) records a failure with file and line; main returns the count.
#pragma once

#include <cstdio>

namespace sofp_test {
inline int &failures() {
    static int n = 0;
    return n;
}
inline int &checks() {
    static int n = 0;
    return n;
}
}  // namespace sofp_test

#define CHECK(cond)                                                                \
    do {                                                                           \
        ++sofp_test::checks();                                                     \
        if (!(cond)) {                                                             \
            ++sofp_test::failures();                                               \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                          \
    } while (0)

#define TEST_MAIN_RESULT(name)                                                                      \
    (std::printf("%s: %d checks, %d passed, %d failed\n", name, sofp_test::checks(),               \
                 sofp_test::checks() - sofp_test::failures(), sofp_test::failures()),               \
     sofp_test::failures() == 0 ? 0 : 1)
