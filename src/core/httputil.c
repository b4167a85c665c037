/*
 * httputil.c — request helpers that run on worker threads: percent-decoding, query strings,
 * content-type decisions. Pure functions over bytes, so they are unit-tested and fuzzed
 * directly.
 */
#include "core/httputil.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hexval(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..len) into a new string; '+' becomes ' ' when plus is set. */
char *http_url_decode(const char *s, size_t len, int plus) {
    char *out = malloc(len + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len && hexval((unsigned char)s[i + 1]) >= 0 &&
            hexval((unsigned char)s[i + 2]) >= 0) {
            *o++ = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
            i += 2;
        } else if (plus && s[i] == '+') {
            *o++ = ' ';
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

json_t *http_json_string(const char *s) {
    json_t *v = json_string(s);
    if (v)
        return v;
    /* not UTF-8: keep it visible rather than dropping it */
    size_t n = strlen(s);
    char *c = malloc(n + 1);
    if (!c)
        return json_string("");
    for (size_t i = 0; i < n; i++)
        c[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    c[n] = '\0';
    v = json_string(c);
    free(c);
    return v;
}

json_t *http_parse_query(const char *q) {
    json_t *o = json_object();
    if (!q)
        return o;
    while (o && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > 0) {
            const char *eq = memchr(q, '=', len);
            size_t klen = eq ? (size_t)(eq - q) : len;
            char *k = http_url_decode(q, klen, 1);
            char *v = eq ? http_url_decode(eq + 1, len - klen - 1, 1) : strdup("");
            json_t *key_ok = k && v && *k ? json_string(k) : NULL; /* UTF-8 keys only */
            if (key_ok) {
                json_decref(key_ok);
                json_t *val = http_json_string(v);
                json_t *prev = json_object_get(o, k);
                if (!prev) {
                    json_object_set_new(o, k, val);
                } else if (json_is_array(prev)) {
                    json_array_append_new(prev, val);
                } else {
                    json_t *arr = json_pack("[O]", prev);
                    json_array_append_new(arr, val);
                    json_object_set_new(o, k, arr);
                }
            }
            free(k);
            free(v);
        }
        q += len + (amp ? 1 : 0);
    }
    return o;
}

/* JSON unless declared otherwise; a form-encoded body that looks like JSON is JSON too,
 * because `curl -d '{...}'` sends exactly that. */
int http_content_is_json(const char *ct, const char *body, size_t len) {
    if (!ct || !*ct || strstr(ct, "json"))
        return 1;
    if (strncasecmp(ct, "application/x-www-form-urlencoded", 33) && strncasecmp(ct, "text/plain", 10))
        return 0;
    size_t i = 0;
    while (i < len && isspace((unsigned char)body[i]))
        i++;
    return i < len && (body[i] == '{' || body[i] == '[');
}

int http_content_is_form(const char *ct) {
    return ct && !strncasecmp(ct, "application/x-www-form-urlencoded", 33);
}

