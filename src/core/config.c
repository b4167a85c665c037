/*
 * config.c — see config.h. Unknown top-level keys are kept (modules read their own
 * sections from cfg->raw); known keys with the wrong type are errors naming the key.
 */
#include "core/config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stepd/step.h>

#include "core/log.h"

static int get_int(json_t *obj, const char *key, int *out, long lo, long hi, const char *file,
                   const char *where, char **err) {
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        if (asprintf(err, "%s: \"%s%s\" must be an integer between %ld and %ld", file, where, key,
                     lo, hi) < 0)
            *err = NULL;
        return STEP_ECONFIG;
    }
    *out = (int)json_integer_value(v);
    return 0;
}

static int get_str(json_t *obj, const char *key, char **out, const char *file, const char *where,
                   char **err) {
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_string(v)) {
        if (asprintf(err, "%s: \"%s%s\" must be a string", file, where, key) < 0)
            *err = NULL;
        return STEP_ECONFIG;
    }
    free(*out);
    *out = strdup(json_string_value(v));
    return 0;
}

int config_load(const char *dir, stepd_config *cfg, char **err) {
    memset(cfg, 0, sizeof(*cfg));
    *err = NULL;
    char abs[PATH_MAX];
    if (!realpath(dir, abs)) {
        if (asprintf(err, "%s: project directory not found", dir) < 0)
            *err = NULL;
        return STEP_ECONFIG;
    }
    cfg->dir = strdup(abs);
    cfg->host = strdup("0.0.0.0");
    cfg->port = 3000;
    cfg->workers = 8;
    cfg->event_workers = 8;
    cfg->log_level = STEP_LOG_INFO;
    cfg->store_adapter = strdup("sqlite");
    cfg->max_attempts = 3;
    cfg->backoff_ms = 1000;
    cfg->timeout_ms = 30000;
    cfg->concurrency = 16;
    cfg->max_body = 1 << 20;
    cfg->shutdown_timeout_ms = 10000;
    cfg->cc = strdup(getenv("CC") && *getenv("CC") ? getenv("CC") : "cc");
    cfg->cflags = strdup("-O2 -g");
    char file[PATH_MAX + 16];
    snprintf(file, sizeof(file), "%s/stepd.json", abs);
    json_t *root = NULL;
    if (access(file, F_OK) == 0) {
        json_error_t je;
        root = json_load_file(file, 0, &je);
        if (!root) {
            if (asprintf(err, "%s:%d:%d: %s", file, je.line, je.column, je.text) < 0)
                *err = NULL;
            return STEP_ECONFIG;
        }
        if (!json_is_object(root)) {
            json_decref(root);
            if (asprintf(err, "%s: must contain a JSON object", file) < 0)
                *err = NULL;
            return STEP_ECONFIG;
        }
    } else {
        root = json_object();
    }
    cfg->raw = root;
    int rc = 0;
    char *level = NULL;
    json_t *store = json_object_get(root, "store");
    json_t *events = json_object_get(root, "events");
    json_t *http = json_object_get(root, "http");
    int max_body = (int)cfg->max_body;
    char *spath = NULL;
    if ((rc = get_int(root, "port", &cfg->port, 0, 65535, file, "", err)) ||
        (rc = get_str(root, "host", &cfg->host, file, "", err)) ||
        (rc = get_int(root, "workers", &cfg->workers, 1, 1024, file, "", err)) ||
        (rc = get_int(root, "eventWorkers", &cfg->event_workers, 1, 1024, file, "", err)) ||
        (rc = get_str(root, "logLevel", &level, file, "", err)) ||
        (rc = get_int(root, "shutdownTimeoutMs", &cfg->shutdown_timeout_ms, 0, 3600000, file, "",
                      err)) ||
        (rc = get_str(root, "cc", &cfg->cc, file, "", err)) ||
        (rc = get_str(root, "cflags", &cfg->cflags, file, "", err)) ||
        (rc = get_str(store, "adapter", &cfg->store_adapter, file, "store.", err)) ||
        (rc = get_str(store, "path", &spath, file, "store.", err)) ||
        (rc = get_int(events, "maxAttempts", &cfg->max_attempts, 1, 1000, file, "events.", err)) ||
        (rc = get_int(events, "backoffMs", &cfg->backoff_ms, 0, 86400000, file, "events.", err)) ||
        (rc = get_int(events, "timeoutMs", &cfg->timeout_ms, 1, 86400000, file, "events.", err)) ||
        (rc = get_int(events, "concurrency", &cfg->concurrency, 1, 100000, file, "events.", err)) ||
        (rc = get_int(http, "maxBodyBytes", &max_body, 1, 1 << 30, file, "http.", err)))
        goto out;
    cfg->max_body = max_body;
    if (json_is_true(json_object_get(store, "fsync")))
        cfg->fsync = 1;
    if (level) {
        int l = log_level_parse(level);
        if (l < 0) {
            rc = STEP_ECONFIG;
            if (asprintf(err, "%s: \"logLevel\" must be debug, info, warn or error", file) < 0)
                *err = NULL;
            goto out;
        }
        cfg->log_level = l;
    }
    if (strcmp(cfg->store_adapter, "sqlite") && strcmp(cfg->store_adapter, "memory")) {
        rc = STEP_ECONFIG;
        if (asprintf(err, "%s: \"store.adapter\" must be \"sqlite\" or \"memory\"", file) < 0)
            *err = NULL;
        goto out;
    }
    if (spath && spath[0] == '/')
        cfg->store_path = strdup(spath);
    else if (asprintf(&cfg->store_path, "%s/%s", abs, spath ? spath : ".stepd/stepd.db") < 0)
        cfg->store_path = NULL;
out:
    free(level);
    free(spath);
    return rc;
}

void config_free(stepd_config *cfg) {
    free(cfg->dir);
    free(cfg->host);
    free(cfg->store_adapter);
    free(cfg->store_path);
    free(cfg->cc);
    free(cfg->cflags);
    json_decref(cfg->raw);
    memset(cfg, 0, sizeof(*cfg));
}
