/*
 * httputil.h — request helpers shared by the HTTP server and its tests and fuzz targets.
 */
#ifndef STEPD_CORE_HTTPUTIL_H
#define STEPD_CORE_HTTPUTIL_H

#include <jansson.h>
#include <stddef.h>

/* Percent-decodes s[0..len) into a new NUL-terminated string (caller frees); '+' becomes a
 * space when plus is set. Invalid escapes are kept as they are. */
char *http_url_decode(const char *s, size_t len, int plus);
/* A JSON string; bytes that are not UTF-8 become '?' instead of failing. New reference. */
json_t *http_json_string(const char *s);
/* "a=1&b=x%20y&a=2" → {"a": ["1", "2"], "b": "x y"}. NULL q gives {}. New reference. */
json_t *http_parse_query(const char *q);
/* Whether a body with this content-type (may be NULL) is parsed as JSON. */
int http_content_is_json(const char *ct, const char *body, size_t len);
int http_content_is_form(const char *ct);

#endif
