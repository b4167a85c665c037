/*
 * config.h — project settings from DIR/stepd.json, with defaults and CLI overrides.
 *
 *   {
 *     "port": 3000, "host": "0.0.0.0", "workers": 8, "eventWorkers": 8, "logLevel": "info",
 *     "store": {"adapter": "sqlite", "path": ".stepd/stepd.db", "fsync": false},
 *     "events": {"maxAttempts": 3, "backoffMs": 1000, "timeoutMs": 30000, "concurrency": 16},
 *     "http": {"maxBodyBytes": 1048576},
 *     "shutdownTimeoutMs": 10000,
 *     "cc": "cc", "cflags": "-O2"
 *   }
 */
#ifndef STEPD_CORE_CONFIG_H
#define STEPD_CORE_CONFIG_H

#include <jansson.h>

typedef struct stepd_config {
    char *dir; /* project directory (absolute) */
    char *host;
    int port;
    int workers;       /* threads for API and cron handlers */
    int event_workers; /* threads for event handlers */
    int log_level;
    int pretty; /* dev mode console */
    int dev;    /* hot reload */
    char *store_adapter; /* "sqlite" | "memory" */
    char *store_path;    /* absolute */
    int fsync;
    int max_attempts, backoff_ms, timeout_ms, concurrency;
    long max_body;
    int shutdown_timeout_ms;
    char *cc, *cflags;
    json_t *raw; /* the whole stepd.json (object), for modules' own sections */
} stepd_config;

/* Loads DIR/stepd.json if present. On error returns STEP_ECONFIG and a message naming the
 * file and line in err (caller frees). */
int config_load(const char *dir, stepd_config *cfg, char **err);
void config_free(stepd_config *cfg);

#endif
