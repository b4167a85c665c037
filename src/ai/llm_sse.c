/*
 * llm_sse.c — incremental server-sent-events parser (the text/event-stream format LLM
 * servers stream completions in).
 *
 * Bytes arrive in whatever pieces the network delivers; the parser keeps the unfinished line
 * and the event being built between calls, so the events it dispatches are the same however
 * the stream is cut. Lines end in LF, CR or CRLF (a CR at the end of one chunk and an LF at the
 * start of the next are one line end). Per the WHATWG rules: a leading BOM is skipped, lines
 * starting with ':' are comments, "data" lines are joined with LF, "event" names the event, an
 * empty line dispatches it (nothing if no data line was seen), and an unterminated event at
 * end of stream is dropped. "id" and "retry" are accepted and ignored (we never reconnect).
 */
#include <stepd/ai/llm.h>

#include <stdlib.h>
#include <string.h>

struct stepd_sse_parser {
    stepd_sse_event_fn fn;
    void *ud;
    size_t max_event;
    char *line; /* current unfinished line */
    size_t line_len, line_cap;
    char *data; /* data of the event being built */
    size_t data_len, data_cap;
    int has_data;
    char event[64];
    int after_cr; /* last byte fed was CR: a following LF belongs to it */
    int bom_checked;
    size_t bom_seen; /* bytes of a possible BOM matched so far */
    int failed;
};

stepd_sse_parser *stepd_sse_parser_new(size_t max_event, stepd_sse_event_fn fn, void *ud) {
    stepd_sse_parser *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->fn = fn;
    p->ud = ud;
    p->max_event = max_event ? max_event : (size_t)16 << 20;
    return p;
}

void stepd_sse_parser_free(stepd_sse_parser *p) {
    if (!p)
        return;
    free(p->line);
    free(p->data);
    free(p);
}

static int sse_reserve(char **buf, size_t *cap, size_t need) {
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    char *b = realloc(*buf, n);
    if (!b)
        return STEP_ENOMEM;
    *buf = b;
    *cap = n;
    return 0;
}

static int sse_dispatch(stepd_sse_parser *p) {
    int rc = 0;
    if (p->has_data) {
        if (sse_reserve(&p->data, &p->data_cap, p->data_len + 1) < 0)
            return STEP_ENOMEM;
        p->data[p->data_len] = '\0';
        rc = p->fn(p->ud, p->event[0] ? p->event : "message", p->data, p->data_len) ? 1 : 0;
    }
    p->data_len = 0;
    p->has_data = 0;
    p->event[0] = '\0';
    return rc;
}

/* Processes one complete line (without its line end). */
static int sse_line(stepd_sse_parser *p, const char *line, size_t len) {
    if (len == 0)
        return sse_dispatch(p);
    if (line[0] == ':')
        return 0;
    const char *colon = memchr(line, ':', len);
    size_t name_len = colon ? (size_t)(colon - line) : len;
    const char *val = colon ? colon + 1 : line + len;
    size_t val_len = colon ? len - name_len - 1 : 0;
    if (val_len && *val == ' ') {
        val++;
        val_len--;
    }
    if (name_len == 4 && !memcmp(line, "data", 4)) {
        size_t need = p->data_len + (p->has_data ? 1 : 0) + val_len + 1;
        if (need > p->max_event)
            return STEP_EPARSE;
        if (sse_reserve(&p->data, &p->data_cap, need) < 0)
            return STEP_ENOMEM;
        if (p->has_data)
            p->data[p->data_len++] = '\n';
        memcpy(p->data + p->data_len, val, val_len);
        p->data_len += val_len;
        p->has_data = 1;
    } else if (name_len == 5 && !memcmp(line, "event", 5)) {
        size_t n = val_len < sizeof(p->event) - 1 ? val_len : sizeof(p->event) - 1;
        memcpy(p->event, val, n);
        p->event[n] = '\0';
    }
    return 0;
}

int stepd_sse_feed(stepd_sse_parser *p, const char *buf, size_t len) {
    static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
    if (!p || p->failed)
        return STEP_EINVAL;
    size_t i = 0;
    /* The BOM may itself be split across chunks; bytes that turn out not to be one are
     * replayed as ordinary text. */
    while (!p->bom_checked && i < len) {
        if ((unsigned char)buf[i] == bom[p->bom_seen]) {
            p->bom_seen++;
            i++;
            if (p->bom_seen == 3)
                p->bom_checked = 1;
        } else {
            p->bom_checked = 1;
            if (p->bom_seen) {
                size_t n = p->bom_seen;
                p->bom_seen = 0;
                int rc = stepd_sse_feed(p, (const char *)bom, n);
                if (rc)
                    return rc;
            }
        }
    }
    for (; i < len; i++) {
        char ch = buf[i];
        if (ch == '\n' && p->after_cr) {
            p->after_cr = 0;
            continue;
        }
        p->after_cr = 0;
        if (ch == '\r' || ch == '\n') {
            p->after_cr = ch == '\r';
            int rc = sse_line(p, p->line ? p->line : "", p->line_len);
            p->line_len = 0;
            if (rc) {
                p->failed = 1;
                return rc;
            }
            continue;
        }
        /* Take the rest of the line in one copy. */
        size_t j = i;
        while (j < len && buf[j] != '\r' && buf[j] != '\n')
            j++;
        size_t n = j - i;
        if (p->line_len + n > p->max_event + 16) {
            p->failed = 1;
            return STEP_EPARSE;
        }
        if (sse_reserve(&p->line, &p->line_cap, p->line_len + n + 1) < 0) {
            p->failed = 1;
            return STEP_ENOMEM;
        }
        memcpy(p->line + p->line_len, buf + i, n);
        p->line_len += n;
        i = j - 1;
    }
    return 0;
}

/* Appends "name: value\n" with CR/LF removed from value. */
static size_t sse_put_field(char *w, const char *name, const char *value) {
    size_t n = 0;
    for (const char *p = name; *p; p++)
        w[n++] = *p;
    w[n++] = ':';
    w[n++] = ' ';
    for (const char *p = value; *p; p++)
        if (*p != '\r' && *p != '\n')
            w[n++] = *p;
    w[n++] = '\n';
    return n;
}

char *stepd_sse_format(const char *event, const char *id, const char *data, size_t len,
                       size_t *out_len) {
    if (!data)
        len = 0;
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        if (data[i] == '\n' || (data[i] == '\r' && !(i + 1 < len && data[i + 1] == '\n')))
            lines++;
    size_t cap = len + lines * 7 + (event ? strlen(event) + 9 : 0) + (id ? strlen(id) + 6 : 0) + 2;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t n = 0;
    if (event)
        n += sse_put_field(out + n, "event", event);
    if (id)
        n += sse_put_field(out + n, "id", id);
    memcpy(out + n, "data: ", 6);
    n += 6;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < len && data[i + 1] == '\n')
                i++;
            memcpy(out + n, "\ndata: ", 7);
            n += 7;
        } else {
            out[n++] = c;
        }
    }
    out[n++] = '\n';
    out[n++] = '\n';
    out[n] = '\0';
    if (out_len)
        *out_len = n;
    return out;
}
