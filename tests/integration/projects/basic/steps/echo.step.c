/* POST /echo/:id?x=1 — echoes params, query, body, headers and what middleware attached. */
#include <stepd/step.h>
#include <string.h>

STEP_MIDDLEWARE(tag) {
    (void)ctx;
    const char *deny = step_request_header(req, "x-deny");
    if (deny && !strcmp(deny, "yes")) {
        step_respond(res, 401, json_pack("{s:s}", "error", "denied by middleware"));
        return STEP_DONE;
    }
    step_request_set_local(req, "tag", json_string("tagged"));
    return STEP_NEXT;
}

static int echo(step_ctx *ctx, step_request *req, step_response *res) {
    step_response_header(res, "X-Echo", "1");
    return step_respond(res, 201,
                        json_pack("{s:O, s:O, s:O?, s:O?, s:s, s:s, s:s?}", "params",
                                  req->path_params, "query", req->query_params, "body", req->body,
                                  "tag", step_request_local(req, "tag"), "trace",
                                  step_trace_id(ctx), "method", req->method, "ua",
                                  step_request_header(req, "user-agent")));
}

STEP_CONFIG = {
    .type = STEP_API, .name = "Echo", .method = "POST", .path = "/echo/:id",
    .middleware = STEP_LIST("tag"),
    .body_schema = "{\"type\":\"object\",\"required\":[\"name\"],\"properties\":{"
                   "\"name\":{\"type\":\"string\",\"maxLength\":10},"
                   "\"kind\":{\"enum\":[\"a\",\"b\"]}}}",
    .api = echo,
};
