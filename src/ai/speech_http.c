/*
 * speech_http.c — the small pieces of HTTP an audio API needs, as plain functions the API
 * steps call: recognising an upload's audio format from its bytes (never trusting the label),
 * the content type to serve it with, single-range Range requests (RFC 9110 section 14) for
 * GET /audio/:id so players can seek, and pulling the file part out of a multipart/form-data
 * upload. All parsing is bounded by the given lengths and never allocates for the body.
 */
#include "ai/speech_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *stepd_speech_sniff(const void *data, size_t len) {
    const unsigned char *p = data;
    if (!p)
        return NULL;
    if (len >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WAVE", 4))
        return "wav";
    if (len >= 4 && !memcmp(p, "fLaC", 4))
        return "flac";
    if (len >= 4 && !memcmp(p, "OggS", 4))
        return "ogg";
    if (len >= 4 && p[0] == 0x1A && p[1] == 0x45 && p[2] == 0xDF && p[3] == 0xA3)
        return "webm";
    if (len >= 12 && !memcmp(p + 4, "ftyp", 4))
        return "m4a";
    if (len >= 12 && !memcmp(p, "FORM", 4) &&
        (!memcmp(p + 8, "AIFF", 4) || !memcmp(p + 8, "AIFC", 4)))
        return "aiff";
    if (len >= 4 && !memcmp(p, ".snd", 4))
        return "au";
    if (len >= 3 && !memcmp(p, "ID3", 3))
        return "mp3";
    /* MPEG audio frame sync: 11 set bits, a valid version and layer, a valid bitrate */
    if (len >= 3 && p[0] == 0xFF && (p[1] & 0xE0) == 0xE0 && (p[1] & 0x18) != 0x08 &&
        (p[1] & 0x06) != 0 && (p[2] & 0xF0) != 0xF0 && (p[2] & 0x0C) != 0x0C)
        return "mp3";
    return NULL;
}

const char *stepd_speech_content_type(const char *f) {
    static const struct {
        const char *ext, *type;
    } map[] = {
        {"wav", "audio/wav"},   {"wave", "audio/wav"},  {"mp3", "audio/mpeg"},
        {"ogg", "audio/ogg"},   {"oga", "audio/ogg"},   {"opus", "audio/ogg"},
        {"flac", "audio/flac"}, {"webm", "audio/webm"}, {"m4a", "audio/mp4"},
        {"mp4", "audio/mp4"},   {"aac", "audio/aac"},   {"aiff", "audio/aiff"},
        {"aif", "audio/aiff"},  {"au", "audio/basic"},  {"mka", "audio/x-matroska"},
    };
    if (!f)
        return "application/octet-stream";
    const char *dot = strrchr(f, '.');
    if (dot)
        f = dot + 1;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcasecmp(f, map[i].ext))
            return map[i].type;
    return "application/octet-stream";
}

/* Parses decimal digits at *s into *v; 0 when there are none or they overflow. */
static int parse_u64(const char **s, uint64_t *v) {
    const char *p = *s;
    uint64_t x = 0;
    if (!isdigit((unsigned char)*p))
        return 0;
    while (isdigit((unsigned char)*p)) {
        unsigned d = (unsigned)(*p - '0');
        if (x > (UINT64_MAX - d) / 10)
            return 0;
        x = x * 10 + d;
        p++;
    }
    *s = p;
    *v = x;
    return 1;
}

int stepd_speech_http_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last) {
    if (!h || !first || !last)
        return 0;
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "bytes", 5))
        return 0;
    h += 5;
    while (*h == ' ' || *h == '\t')
        h++;
    if (*h++ != '=')
        return 0;
    while (*h == ' ' || *h == '\t')
        h++;
    if (strchr(h, ','))
        return 0; /* several ranges: a server may answer with the whole resource */
    uint64_t a = 0, b = 0;
    int has_a = parse_u64(&h, &a);
    if (*h++ != '-')
        return 0;
    int has_b = parse_u64(&h, &b);
    while (*h == ' ' || *h == '\t')
        h++;
    if (*h || (!has_a && !has_b))
        return 0;
    if (!has_a) { /* suffix: the last b bytes */
        if (b == 0 || size == 0)
            return STEP_EINVAL;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return 1;
    }
    if (has_b && b < a)
        return 0; /* invalid syntax: ignored */
    if (a >= size)
        return STEP_EINVAL;
    *first = a;
    *last = has_b && b < size - 1 ? b : size - 1;
    return 1;
}

/* Copies the value of `param` (name="v" or name=v) from a header line of length n. */
static char *header_param(const char *line, size_t n, const char *param) {
    size_t plen = strlen(param);
    for (size_t i = 0; i + plen + 1 <= n; i++) {
        if (strncasecmp(line + i, param, plen) || line[i + plen] != '=')
            continue;
        if (i > 0 && line[i - 1] != ' ' && line[i - 1] != ';' && line[i - 1] != '\t')
            continue;
        const char *v = line + i + plen + 1, *end = line + n;
        if (v < end && *v == '"') {
            const char *q = memchr(v + 1, '"', (size_t)(end - v - 1));
            return q ? strndup(v + 1, (size_t)(q - v - 1)) : NULL;
        }
        const char *e = v;
        while (e < end && *e != ';' && *e != ' ' && *e != '\r' && *e != '\n')
            e++;
        return strndup(v, (size_t)(e - v));
    }
    return NULL;
}

int stepd_speech_multipart_file(const char *content_type, const void *body, size_t len,
                                const char *field, const unsigned char **part, size_t *part_len,
                                char **part_type, char **filename, char **err) {
    if (err)
        *err = NULL;
    if (part_type)
        *part_type = NULL;
    if (filename)
        *filename = NULL;
    if (!content_type || !part || !part_len || (!body && len))
        return speech_fail(err, STEP_EINVAL, "no content type or body");
    if (strncasecmp(content_type, "multipart/form-data", 19))
        return speech_fail(err, STEP_EINVAL, "content type is %s, not multipart/form-data",
                           content_type);
    char *boundary = header_param(content_type, strlen(content_type), "boundary");
    if (!boundary || !*boundary || strlen(boundary) > 200) {
        free(boundary);
        return speech_fail(err, STEP_EPARSE, "multipart/form-data without a valid boundary");
    }
    char delim[208];
    int dlen = snprintf(delim, sizeof(delim), "--%s", boundary);
    free(boundary);
    const unsigned char *b = body, *end = b + len;
    const unsigned char *p = memmem(b, len, delim, (size_t)dlen);
    while (p) {
        p += dlen;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            break; /* closing delimiter */
        const unsigned char *hdr_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hdr_end)
            break;
        const unsigned char *data = hdr_end + 4;
        /* the part ends at CRLF + delimiter */
        char next[212];
        int nlen = snprintf(next, sizeof(next), "\r\n%s", delim);
        const unsigned char *stop = memmem(data, (size_t)(end - data), next, (size_t)nlen);
        if (!stop)
            break;
        char *name = NULL, *fname = NULL, *ctype = NULL;
        for (const unsigned char *l = p; l < hdr_end;) {
            const unsigned char *eol = memmem(l, (size_t)(hdr_end + 2 - l), "\r\n", 2);
            if (!eol)
                eol = hdr_end;
            size_t n = (size_t)(eol - l);
            if (n > 20 && !strncasecmp((const char *)l, "content-disposition:", 20)) {
                free(name);
                free(fname);
                name = header_param((const char *)l, n, "name");
                fname = header_param((const char *)l, n, "filename");
            } else if (n > 13 && !strncasecmp((const char *)l, "content-type:", 13)) {
                const char *v = (const char *)l + 13;
                while (*v == ' ')
                    v++;
                free(ctype);
                ctype = strndup(v, n - (size_t)(v - (const char *)l));
            }
            l = eol + 2;
        }
        int match = field ? name && !strcmp(name, field) : fname != NULL;
        if (match) {
            *part = data;
            *part_len = (size_t)(stop - data);
            if (part_type)
                *part_type = ctype;
            else
                free(ctype);
            if (filename)
                *filename = fname;
            else
                free(fname);
            free(name);
            return 0;
        }
        free(name);
        free(fname);
        free(ctype);
        p = stop + 2;
    }
    return speech_fail(err, STEP_ENOTFOUND, "the multipart body has no %s%s%s",
                       field ? "field '" : "file part", field ? field : "", field ? "'" : "");
}
