/*
 * log.c — structured logs. A line is built in a local buffer and written with one write(),
 * so lines from concurrent handler threads never interleave. JSON lines carry time, level,
 * step, traceId, msg and the caller's fields flattened into the object.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static log_format g_format = LOG_JSON;
static step_log_level g_min = STEP_LOG_INFO;
static int g_fd = 1;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(log_format format, step_log_level min_level, int fd) {
    g_format = format;
    g_min = min_level;
    g_fd = fd;
}

int log_level_parse(const char *s) {
    for (int i = 0; i < 4; i++)
        if (s && !strcmp(s, level_names[i]))
            return i;
    return -1;
}

static void write_all(const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(g_fd, buf, len);
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

static void log_pretty(step_log_level level, const char *step, const char *trace_id,
                       const char *msg, json_t *fields, struct tm *tm, long ms) {
    static const char *const colors[] = {"\033[90m", "\033[36m", "\033[33m", "\033[31m"};
    static const char *const tags[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
    int tty = isatty(g_fd);
    char *f = NULL;
    if (fields && json_object_size(fields))
        f = json_dumps(fields, JSON_COMPACT | JSON_SORT_KEYS);
    (void)trace_id; /* the JSON format carries it; the dev console stays short */
    char line[8192];
    int n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %s%s%s %s%s%s%s%s%s\n",
                     tm->tm_hour, tm->tm_min, tm->tm_sec, ms, tty ? colors[level] : "",
                     tags[level], tty ? "\033[0m" : "", step ? "[" : "", step ? step : "",
                     step ? "] " : "", msg, f ? " " : "", f ? f : "");
    free(f);
    if (n >= (int)sizeof(line)) {
        n = sizeof(line);
        line[n - 1] = '\n';
    }
    if (n > 0)
        write_all(line, (size_t)n);
}

void log_write(step_log_level level, const char *step, const char *trace_id, const char *msg,
               json_t *fields) {
    if (level < g_min || level > STEP_LOG_ERROR)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    if (g_format == LOG_PRETTY) {
        localtime_r(&tv.tv_sec, &tm);
        log_pretty(level, step, trace_id, msg ? msg : "", fields, &tm, tv.tv_usec / 1000);
        return;
    }
    char ts[80];
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tv.tv_usec / 1000);
    json_t *o = json_object();
    if (!o)
        return;
    json_object_set_new(o, "time", json_string(ts));
    json_object_set_new(o, "level", json_string(level_names[level]));
    if (step)
        json_object_set_new(o, "step", json_string(step));
    if (trace_id && *trace_id)
        json_object_set_new(o, "traceId", json_string(trace_id));
    json_object_set_new(o, "msg", json_string(msg ? msg : ""));
    if (json_is_object(fields)) {
        const char *k;
        json_t *v;
        json_object_foreach(fields, k, v) {
            if (!json_object_get(o, k))
                json_object_set(o, k, v);
        }
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!s)
        return;
    size_t len = strlen(s);
    s[len] = '\n'; /* the NUL's byte becomes the newline: one write for the whole line */
    write_all(s, len + 1);
    free(s);
}

void log_msg(step_log_level level, const char *fmt, ...) {
    if (level < g_min)
        return;
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    log_write(level, NULL, NULL, buf, NULL);
}
