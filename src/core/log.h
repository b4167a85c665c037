/*
 * log.h — structured logging: one JSON object per line on stdout (production), or a
 * human-readable coloured line (stepd dev). Thread-safe; each line is one write().
 */
#ifndef STEPD_CORE_LOG_H
#define STEPD_CORE_LOG_H

#include <jansson.h>
#include <stepd/step.h>

typedef enum log_format { LOG_JSON = 0, LOG_PRETTY = 1 } log_format;

void log_setup(log_format format, step_log_level min_level, int fd);
/* Parses "debug", "info", "warn", "error"; returns -1 when unknown. */
int log_level_parse(const char *s);

/* step and trace_id may be NULL; fields is borrowed and may be NULL. */
void log_write(step_log_level level, const char *step, const char *trace_id, const char *msg,
               json_t *fields);
void log_msg(step_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_info(...) log_msg(STEP_LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(STEP_LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(STEP_LOG_ERROR, __VA_ARGS__)
#define log_debug(...) log_msg(STEP_LOG_DEBUG, __VA_ARGS__)

#endif
