/*
 * ocr_upload.c — documents arriving over HTTP: a multipart/form-data parser (RFC 7578) and the
 * choice between a form's file part and a raw request body, with size limits.
 *
 * The parser does not copy: parts point into the body. It accepts a preamble and an epilogue,
 * CRLF or bare LF line ends, quoted or plain parameters, and refuses what it cannot be sure of
 * (no boundary, unterminated headers, a missing closing delimiter, oversized header lines).
 */
#include "ai/ocr_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HEADER_LINE 8192
#define MAX_HEADERS 32

static int ieq_prefix(const char *s, size_t n, const char *prefix) {
    size_t k = strlen(prefix);
    return n >= k && !strncasecmp(s, prefix, k);
}

/* Finds parameter `name` in a header value ("form-data; name=\"f\"; filename=x"). */
static int header_param(const char *v, size_t n, const char *name, const char **out,
                        size_t *outlen) {
    size_t nl = strlen(name), i = 0;
    while (i < n) {
        while (i < n && v[i] != ';')
            i++;
        if (i >= n)
            break;
        i++;
        while (i < n && (v[i] == ' ' || v[i] == '\t'))
            i++;
        if (n - i > nl && !strncasecmp(v + i, name, nl) && v[i + nl] == '=') {
            i += nl + 1;
            if (i < n && v[i] == '"') {
                size_t s = ++i;
                while (i < n && v[i] != '"')
                    i += v[i] == '\\' && i + 1 < n ? 2 : 1;
                if (i >= n)
                    return 0;
                *out = v + s;
                *outlen = i - s;
            } else {
                size_t s = i;
                while (i < n && v[i] != ';' && v[i] != ' ' && v[i] != '\t')
                    i++;
                *out = v + s;
                *outlen = i - s;
            }
            return 1;
        }
    }
    return 0;
}

static int boundary_of(const char *ct, const char **b, size_t *blen, char **err) {
    size_t n = strlen(ct);
    if (!ieq_prefix(ct, n, "multipart/form-data"))
        return ocr_fail(err, STEP_EINVAL, "content type %s is not multipart/form-data", ct);
    if (!header_param(ct, n, "boundary", b, blen) || *blen == 0 || *blen > 70)
        return ocr_fail(err, STEP_EPARSE,
                        "multipart/form-data without a valid boundary parameter (1-70 chars)");
    return 0;
}

static const char *find(const char *hay, size_t hn, const char *needle, size_t nn) {
    if (nn == 0 || hn < nn)
        return NULL;
    return memmem(hay, hn, needle, nn);
}

/* After "--boundary": "--" (the end) or optional blanks and a line end. Anything else means
 * the boundary text merely starts a data line, which we keep as data. */
static int delimiter_line(const char *p, const char *end) {
    if (end - p >= 2 && p[0] == '-' && p[1] == '-')
        return 1;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p < end && *p == '\r')
        p++;
    return p < end && *p == '\n';
}

int ai_ocr_multipart_parse(const char *content_type, const char *body, size_t len,
                           size_t max_part_bytes, ai_ocr_part *parts, size_t max_parts,
                           size_t *nparts, char **err) {
    *nparts = 0;
    if (!content_type || (!body && len))
        return ocr_fail(err, STEP_EINVAL, "multipart: missing content type or body");
    const char *b;
    size_t blen;
    int rc = boundary_of(content_type, &b, &blen, err);
    if (rc < 0)
        return rc;
    char delim[80];
    delim[0] = delim[1] = '-';
    memcpy(delim + 2, b, blen);
    size_t dlen = blen + 2;
    const char *end = body + len;
    /* the first delimiter starts the body or follows a preamble line */
    const char *p = body;
    if (!(len >= dlen && !memcmp(body, delim, dlen))) {
        const char *q = body;
        for (;;) {
            q = find(q, (size_t)(end - q), delim, dlen);
            if (!q)
                return ocr_fail(err, STEP_EPARSE, "multipart: boundary not found in the body");
            if (q[-1] == '\n')
                break;
            q++;
        }
        p = q;
    }
    for (;;) {
        p += dlen;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return 0; /* closing delimiter; the rest is epilogue */
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p < end && *p == '\r')
            p++;
        if (p >= end || *p != '\n')
            return ocr_fail(err, STEP_EPARSE, "multipart: malformed delimiter line");
        p++;
        if (*nparts >= max_parts)
            return ocr_fail(err, STEP_EINVAL, "multipart: more than %zu parts", max_parts);
        ai_ocr_part part = {0};
        /* headers */
        int nh = 0;
        for (;;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl)
                return ocr_fail(err, STEP_EPARSE, "multipart: part %zu has unterminated headers",
                                *nparts + 1);
            size_t ll = (size_t)(nl - p);
            if (ll > MAX_HEADER_LINE)
                return ocr_fail(err, STEP_EPARSE, "multipart: header line over %d bytes",
                                MAX_HEADER_LINE);
            if (ll && p[ll - 1] == '\r')
                ll--;
            if (ll == 0) {
                p = nl + 1;
                break;
            }
            if (++nh > MAX_HEADERS)
                return ocr_fail(err, STEP_EPARSE, "multipart: more than %d headers in a part",
                                MAX_HEADERS);
            const char *colon = memchr(p, ':', ll);
            if (!colon)
                return ocr_fail(err, STEP_EPARSE, "multipart: header line without ':'");
            const char *v = colon + 1;
            while (v < p + ll && (*v == ' ' || *v == '\t'))
                v++;
            size_t vn = (size_t)(p + ll - v), hn = (size_t)(colon - p);
            if (hn == 19 && !strncasecmp(p, "Content-Disposition", 19)) {
                header_param(v, vn, "name", &part.name, &part.name_len);
                header_param(v, vn, "filename", &part.filename, &part.filename_len);
            } else if (hn == 12 && !strncasecmp(p, "Content-Type", 12)) {
                part.content_type = v;
                part.content_type_len = vn;
                while (part.content_type_len && isspace((unsigned char)v[part.content_type_len - 1]))
                    part.content_type_len--;
            }
            p = nl + 1;
        }
        /* data runs to CRLF (or LF) + delimiter */
        const char *q = p;
        const char *next = NULL;
        while ((q = find(q, (size_t)(end - q), delim, dlen))) {
            if (q > p && q[-1] == '\n' && delimiter_line(q + dlen, end)) {
                next = q;
                break;
            }
            if (q == p) { /* empty part with the delimiter right after the blank line */
                next = q;
                break;
            }
            q++;
        }
        if (!next)
            return ocr_fail(err, STEP_EPARSE,
                            "multipart: part %zu is not closed by the boundary (truncated body?)",
                            *nparts + 1);
        const char *dend = next;
        if (dend > p && dend[-1] == '\n')
            dend--;
        if (dend > p && dend[-1] == '\r')
            dend--;
        part.data = p;
        part.len = (size_t)(dend - p);
        if (max_part_bytes && part.len > max_part_bytes)
            return ocr_fail(err, STEP_EINVAL, "multipart: part %zu is %zu bytes; the limit is %zu",
                            *nparts + 1, part.len, max_part_bytes);
        parts[(*nparts)++] = part;
        p = next;
    }
}

static char *mime_copy(const char *s, size_t n) {
    size_t k = 0;
    while (k < n && s[k] != ';')
        k++;
    while (k && isspace((unsigned char)s[k - 1]))
        k--;
    size_t i = 0;
    while (i < k && isspace((unsigned char)s[i]))
        i++;
    if (i == k)
        return NULL;
    char *m = strndup(s + i, k - i);
    for (char *c = m; c && *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return m;
}

int ai_ocr_upload_document(const char *content_type, const char *body, size_t len,
                           const char *field, size_t max_bytes, const char **doc, size_t *doc_len,
                           char **mime, char **err) {
    *doc = NULL;
    *doc_len = 0;
    *mime = NULL;
    if (!max_bytes)
        max_bytes = (size_t)64 << 20;
    const char *ct = content_type ? content_type : "";
    if (ieq_prefix(ct, strlen(ct), "multipart/form-data")) {
        ai_ocr_part parts[16];
        size_t n;
        int rc = ai_ocr_multipart_parse(ct, body, len, max_bytes, parts, 16, &n, err);
        if (rc < 0)
            return rc;
        const char *want = field ? field : "file";
        const ai_ocr_part *pick = NULL;
        for (size_t i = 0; i < n && !pick; i++)
            if (parts[i].name && parts[i].name_len == strlen(want) &&
                !memcmp(parts[i].name, want, parts[i].name_len))
                pick = &parts[i];
        for (size_t i = 0; i < n && !pick && !field; i++)
            if (parts[i].filename)
                pick = &parts[i];
        if (!pick)
            return ocr_fail(err, STEP_EINVAL, "upload has no '%s' file field", want);
        if (pick->len == 0)
            return ocr_fail(err, STEP_EINVAL, "uploaded file '%s' is empty (0 bytes)", want);
        *doc = pick->data;
        *doc_len = pick->len;
        if (pick->content_type)
            *mime = mime_copy(pick->content_type, pick->content_type_len);
        return 0;
    }
    if (len == 0)
        return ocr_fail(err, STEP_EINVAL, "request body is empty: send the document as the body "
                                          "or as a multipart/form-data 'file' field");
    if (len > max_bytes)
        return ocr_fail(err, STEP_EINVAL, "document is %zu bytes; the limit is %zu", len,
                        max_bytes);
    *doc = body;
    *doc_len = len;
    if (*ct)
        *mime = mime_copy(ct, strlen(ct));
    return 0;
}
