/* GET /bytes — raw bytes (with a NUL) and extra headers, as an audio or image step sends. */
#include <stepd/step.h>

static int bytes(step_ctx *ctx, step_request *req, step_response *res) {
    (void)ctx;
    (void)req;
    static const unsigned char data[] = {'R', 'I', 0, 'F', 0xff};
    int rc = step_respond_bytes(res, 206, "audio/wav", data, sizeof(data));
    return rc ? rc : step_response_header(res, "content-range", "bytes 0-4/10");
}

STEP_CONFIG = {.type = STEP_API, .name = "Bytes", .method = "GET", .path = "/bytes", .api = bytes};
