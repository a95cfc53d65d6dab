/* Built against an installed libsofp by find_package(sofp) and by pkg-config; prints its version and
 * checks that a bad call reports an error code and a message. */
#include <stdio.h>
#include <string.h>

#include <sofp/sofp.h>

int main(void) {
    sofp_pipeline *p = NULL;
    sofp_status st = sofp_create(NULL, &p);
    printf("libsofp %s; sofp_create(NULL) -> %s: %s\n", sofp_version(), sofp_status_string(st), sofp_last_error());
    return st == SOFP_ERR_INVALID_ARGUMENT && p == NULL && strlen(sofp_last_error()) > 0 ? 0 : 1;
}
