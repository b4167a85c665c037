/*
 * fuzz_http_request.c — the request path of the HTTP server on arbitrary bytes: h2o's
 * request parser (picohttpparser, exported by libh2o), then what stepd does with the result:
 * routing with path parameters, percent-decoding, query parsing, the content-type decision,
 * JSON body parsing and schema validation.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/httputil.h"
#include "core/router.h"
#include "core/schema.h"

/* picohttpparser's API, as exported by libh2o (no public header in Debian's package) */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len,
                      const char **path, size_t *path_len, int *minor_version,
                      struct phr_header *headers, size_t *num_headers, size_t last_len);

static router *routes;
static json_t *schema;

static void init(void) {
    routes = router_new();
    static int a, b, c;
    router_add(routes, "POST", "/ai/chat", &a, NULL, NULL);
    router_add(routes, "GET", "/ai/chat/:id", &b, NULL, NULL);
    router_add(routes, "GET", "/users/:user/items/:item", &c, NULL, NULL);
    schema = schema_load("{\"type\":\"object\",\"required\":[\"message\"],\"properties\":{"
                         "\"message\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":50},"
                         "\"n\":{\"type\":\"integer\",\"minimum\":0},\"tags\":{\"type\":\"array\","
                         "\"items\":{\"enum\":[\"a\",\"b\"]}}}}",
                         NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!routes)
        init();
    const char *method, *path;
    size_t method_len, path_len, nh = 32;
    int minor;
    struct phr_header headers[32];
    int n = phr_parse_request((const char *)data, size, &method, &method_len, &path, &path_len,
                              &minor, headers, &nh, 0);
    if (n <= 0)
        return 0;
    const char *q = memchr(path, '?', path_len);
    size_t plen = q ? (size_t)(q - path) : path_len;
    route_match m;
    char allow[64];
    if (router_match(routes, method, method_len, path, plen, &m, allow, sizeof(allow)) == 0) {
        for (int i = 0; i < m.nparams; i++) {
            char *v = http_url_decode(m.params[i].value, m.params[i].value_len, 0);
            if (v) {
                json_decref(http_json_string(v));
                free(v);
            }
        }
    }
    if (q) {
        char *qs = strndup(q + 1, path_len - plen - 1);
        if (qs) {
            json_decref(http_parse_query(qs));
            free(qs);
        }
    }
    const char *ct = NULL;
    char ctbuf[128];
    for (size_t i = 0; i < nh; i++)
        if (headers[i].name_len == 12 && !strncasecmp(headers[i].name, "content-type", 12)) {
            size_t l = headers[i].value_len < sizeof(ctbuf) - 1 ? headers[i].value_len
                                                                : sizeof(ctbuf) - 1;
            memcpy(ctbuf, headers[i].value, l);
            ctbuf[l] = '\0';
            ct = ctbuf;
        }
    const char *body = (const char *)data + n;
    size_t blen = size - (size_t)n;
    if (blen && http_content_is_json(ct, body, blen)) {
        json_t *v = json_loadb(body, blen, JSON_DECODE_ANY, NULL);
        schema_error e;
        schema_validate(schema, v, &e);
        json_decref(v);
    } else if (blen && http_content_is_form(ct)) {
        char *b = strndup(body, blen);
        if (b) {
            json_decref(http_parse_query(b));
            free(b);
        }
    }
    return 0;
}
