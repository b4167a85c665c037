/*
 * script.c — see script.h. The host owns one worker pool per language, created the first
 * time a project has a step in that language. A handler call builds the invocation message
 * (Motia's request shape for API steps), runs it on a worker with the step's timeout and
 * serves the back-calls on the calling pool thread with the handler's own step_ctx, so an
 * emit from JavaScript is checked against the step's emits and persisted exactly like one
 * from C.
 */
#include "lang/script.h"

#include "lang/walk.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ctx.h"
#include "lang/script_ai.h"
#include "core/log.h"
#include "lang/worker.h"

enum { NLANG = 2 };

typedef struct lang_spec {
    const char *key;  /* stepd.json "languages" key */
    const char *name; /* in messages */
    const char *cmd;  /* default interpreter */
    const char *runner;
    step_lang lang;
} lang_spec;

static const lang_spec LANGS[NLANG] = {
    {"node", "node", "node", "node/runner.js", LANG_JS},
    {"python", "python", "python3", "python/runner.py", LANG_PYTHON},
};

struct script_host {
    char *dir;
    char runners[PATH_MAX];
    char *command[NLANG];
    int processes[NLANG];
    int pack[NLANG];
    int load_timeout_ms;
    worker_pool *pools[NLANG];
};

static int lang_index(step_lang l) {
    return l == LANG_JS ? 0 : l == LANG_PYTHON ? 1 : -1;
}


int script_is_step_file(const char *name, step_lang *lang) {
    if (walk_ends_with(name, ".step.js") || walk_ends_with(name, ".step.mjs") ||
        walk_ends_with(name, ".step.cjs")) {
        *lang = LANG_JS;
        return 1;
    }
    if (walk_ends_with(name, "_step.py") || walk_ends_with(name, ".step.py")) {
        *lang = LANG_PYTHON;
        return 1;
    }
    return 0;
}

/* $STEPD_RUNNERS, then next to the binary (<exe>/../runners, <exe>/../../runners,
 * <exe>/../share/stepd/runners), then /usr/local/share/stepd/runners, /usr/share/... */
static int find_runners(char *out, size_t size) {
    char probe[PATH_MAX + 32];
    const char *env = getenv("STEPD_RUNNERS");
    if (env && *env) {
        snprintf(out, size, "%s", env);
        return 0;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        const char *rel[] = {"/../runners", "/../../runners", "/../share/stepd/runners",
                             "/runners"};
        for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
            snprintf(probe, sizeof(probe), "%s%s/node/runner.js", exe, rel[i]);
            if (access(probe, R_OK) == 0) {
                char dir[PATH_MAX + 32];
                snprintf(dir, sizeof(dir), "%s%s", exe, rel[i]);
                if (!realpath(dir, out))
                    snprintf(out, size, "%s", dir);
                return 0;
            }
        }
    }
    const char *sys[] = {"/usr/local/share/stepd/runners", "/usr/share/stepd/runners"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(probe, sizeof(probe), "%s/node/runner.js", sys[i]);
        if (access(probe, R_OK) == 0) {
            snprintf(out, size, "%s", sys[i]);
            return 0;
        }
    }
    return STEP_ENOTFOUND;
}

int script_host_new(const stepd_config *cfg, script_host **out, char **err) {
    *out = NULL;
    *err = NULL;
    script_host *h = calloc(1, sizeof(*h));
    if (!h || !(h->dir = strdup(cfg->dir))) {
        free(h);
        return STEP_ENOMEM;
    }
    h->load_timeout_ms = 30000;
    if (find_runners(h->runners, sizeof(h->runners)))
        h->runners[0] = '\0'; /* only an error if the project has script steps */
    json_t *langs = cfg->raw ? json_object_get(cfg->raw, "languages") : NULL;
    for (int i = 0; i < NLANG; i++) {
        json_t *l = json_object_get(langs, LANGS[i].key);
        json_t *cmd = json_object_get(l, "command");
        json_t *procs = json_object_get(l, "processes");
        json_t *pack = json_object_get(l, "pack");
        if ((l && !json_is_object(l)) ||
            (cmd && (!json_is_string(cmd) || !json_string_length(cmd))) ||
            (procs && (!json_is_integer(procs) || json_integer_value(procs) < 1 ||
                       json_integer_value(procs) > 64)) ||
            (pack && (!json_is_integer(pack) || json_integer_value(pack) < 1 ||
                      json_integer_value(pack) > 1024))) {
            if (asprintf(err,
                         "%s/stepd.json: \"languages.%s\" must be {\"command\": \"...\", "
                         "\"processes\": 1..64, \"pack\": 1..1024}",
                         cfg->dir, LANGS[i].key) < 0)
                *err = NULL;
            script_host_free(h);
            return STEP_ECONFIG;
        }
        h->command[i] = strdup(cmd ? json_string_value(cmd) : LANGS[i].cmd);
        h->processes[i] = procs ? (int)json_integer_value(procs) : 2;
        h->pack[i] = pack ? (int)json_integer_value(pack) : 0;
        if (!h->command[i]) {
            script_host_free(h);
            return STEP_ENOMEM;
        }
    }
    *out = h;
    return 0;
}

void script_host_stop(script_host *h) {
    for (int i = 0; h && i < NLANG; i++)
        worker_pool_close(h->pools[i]);
}

void script_host_free(script_host *h) {
    if (!h)
        return;
    for (int i = 0; i < NLANG; i++) {
        worker_pool_free(h->pools[i]);
        free(h->command[i]);
    }
    free(h->dir);
    free(h);
}

/* ---- discovery ------------------------------------------------------------------------- */

static int is_script_step(const char *name, void *ud) {
    (void)ud;
    step_lang l;
    return script_is_step_file(name, &l);
}

static int is_script_source(const char *name, void *ud) {
    (void)ud;
    return walk_ends_with(name, ".js") || walk_ends_with(name, ".mjs") ||
           walk_ends_with(name, ".cjs") || walk_ends_with(name, ".py") ||
           walk_ends_with(name, ".json");
}

uint64_t script_signature(const char *dir) {
    walk_list l = {0};
    /* steps and the folders Motia projects keep their shared code in */
    const char *roots[] = {"steps", "middlewares", "middleware", "src", "lib"};
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
        walk_files(dir, roots[i], is_script_source, NULL, &l);
    walk_sort(&l);
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < l.n; i++) {
        for (const char *c = l.v[i]; *c; c++)
            h = (h ^ (unsigned char)*c) * 1099511628211ULL;
        char path[PATH_MAX * 2];
        snprintf(path, sizeof(path), "%s/%s", dir, l.v[i]);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        char buf[16384];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
            for (size_t k = 0; k < n; k++)
                h = (h ^ (unsigned char)buf[k]) * 1099511628211ULL;
        fclose(f);
    }
    walk_list_free(&l);
    return h;
}

/* ---- loading ---------------------------------------------------------------------------- */

static void append(char **all, size_t *len, const char *line) {
    size_t n = strlen(line);
    char *na = realloc(*all, *len + n + 2);
    if (!na)
        return;
    *all = na;
    memcpy(na + *len, line, n);
    *len += n;
    na[(*len)++] = '\n';
    na[*len] = '\0';
}

static const char *rel_of(const script_host *h, const char *abs) {
    size_t n = strlen(h->dir);
    return !strncmp(abs, h->dir, n) && abs[n] == '/' ? abs + n + 1 : abs;
}

void script_steps_free(script_step *steps, int n) {
    for (int i = 0; steps && i < n; i++) {
        free(steps[i].file);
        json_decref(steps[i].config);
    }
    free(steps);
}

static int pool_for(script_host *h, int li, char **err) {
    if (h->pools[li])
        return 0;
    if (!h->runners[0]) {
        if (asprintf(err,
                     "cannot find the stepd runners (runners/node/runner.js): set STEPD_RUNNERS "
                     "to the directory holding node/ and python/") < 0)
            *err = NULL;
        return STEP_ENOTFOUND;
    }
    /* the command may carry arguments: "node --max-old-space-size=512" */
    char *cmd = strdup(h->command[li]);
    char *argv[34];
    int argc = 0;
    char runner[PATH_MAX + 32];
    snprintf(runner, sizeof(runner), "%s/%s", h->runners, LANGS[li].runner);
    for (char *save = NULL, *t = strtok_r(cmd, " \t", &save); t && argc < 32;
         t = strtok_r(NULL, " \t", &save))
        argv[argc++] = t;
    argv[argc++] = runner;
    argv[argc] = NULL;
    worker_pool_opts o = {
        .lang = LANGS[li].name, .argv = argv, .processes = h->processes[li], .dir = h->dir,
        .pack = h->pack[li]};
    int rc = cmd ? worker_pool_new(&o, &h->pools[li]) : STEP_ENOMEM;
    free(cmd);
    if (rc && asprintf(err, "cannot create the %s worker pool: %s", LANGS[li].name,
                       step_strerror(rc)) < 0)
        *err = NULL;
    return rc;
}

int script_host_load(script_host *h, script_step **steps, int *n, char **errors) {
    *steps = NULL;
    *n = 0;
    *errors = NULL;
    walk_list l = {0};
    walk_files(h->dir, "steps", is_script_step, NULL, &l);
    walk_sort(&l);
    json_t *files[NLANG] = {json_array(), json_array()};
    for (int i = 0; i < l.n; i++) {
        step_lang lang = LANG_C;
        const char *base = strrchr(l.v[i], '/');
        script_is_step_file(base ? base + 1 : l.v[i], &lang);
        char abs[PATH_MAX * 2];
        snprintf(abs, sizeof(abs), "%s/%s", h->dir, l.v[i]);
        json_array_append_new(files[lang_index(lang)], json_string(abs));
    }
    walk_list_free(&l);
    char *all = NULL;
    size_t all_len = 0;
    script_step *out = NULL;
    int nout = 0, rc = 0, failed = 0;
    for (int li = 0; li < NLANG; li++) {
        size_t nf = json_array_size(files[li]);
        /* a pool that served steps is told to drop them when the last one is deleted */
        if (!nf && !h->pools[li])
            continue;
        char *err = NULL;
        json_t *loaded = NULL;
        if ((rc = pool_for(h, li, &err)) ||
            (rc = worker_pool_load(h->pools[li], files[li], h->load_timeout_ms, &loaded, &err))) {
            append(&all, &all_len, err ? err : "cannot start the worker");
            free(err);
            failed = 1;
            continue;
        }
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(loaded, "errors"), i, e) {
            const char *file = json_string_value(json_object_get(e, "file"));
            const char *msg = json_string_value(json_object_get(e, "message"));
            json_int_t line = json_integer_value(json_object_get(e, "line"));
            char text[2048];
            if (line > 0)
                snprintf(text, sizeof(text), "%s:%lld: %s", rel_of(h, file ? file : "?"),
                         (long long)line, msg ? msg : "cannot load");
            else
                snprintf(text, sizeof(text), "%s: %s", rel_of(h, file ? file : "?"),
                         msg ? msg : "cannot load");
            append(&all, &all_len, text);
            failed = 1;
        }
        json_t *s;
        json_t *list = json_object_get(loaded, "steps");
        script_step *grown =
            realloc(out, ((size_t)nout + json_array_size(list) + 1) * sizeof(script_step));
        if (!grown) {
            json_decref(loaded);
            rc = STEP_ENOMEM;
            break;
        }
        out = grown;
        json_array_foreach(list, i, s) {
            const char *file = json_string_value(json_object_get(s, "file"));
            json_t *c = json_object_get(s, "config");
            if (!file || !json_is_object(c))
                continue;
            out[nout].file = strdup(rel_of(h, file));
            out[nout].lang = LANGS[li].lang;
            out[nout].config = json_incref(c);
            nout++;
        }
        json_decref(loaded);
    }
    json_decref(files[0]);
    json_decref(files[1]);
    if (rc || failed) {
        script_steps_free(out, nout);
        *errors = all;
        return rc == STEP_ENOMEM ? rc : STEP_ECOMPILE;
    }
    free(all);
    *steps = out;
    *n = nout;
    return 0;
}

/* ---- invocation ------------------------------------------------------------------------- */

static _Thread_local char last_error[400];

const char *script_last_error(void) {
    return last_error;
}

static int serve(void *arg, const worker_msg *m, json_t **value, char **error) {
    step_ctx *ctx = arg;
    json_t *j = m->json;
    if (m->type == WMSG_LOG) {
        const char *lvl = json_string_value(json_object_get(j, "level"));
        int l = log_level_parse(lvl ? lvl : "info");
        json_t *f = json_object_get(j, "fields");
        step_log(ctx, l < 0 ? STEP_LOG_INFO : (step_log_level)l,
                 json_string_value(json_object_get(j, "msg")), json_is_object(f) ? f : NULL);
        return 0;
    }
    const char *op = json_string_value(json_object_get(j, "op"));
    json_t *args = json_object_get(j, "args");
    const char *group = json_string_value(json_object_get(args, "group"));
    const char *key = json_string_value(json_object_get(args, "key"));
    int rc;
    if (!strcmp(op, "emit")) {
        const char *topic = json_string_value(json_object_get(args, "topic"));
        json_t *data = json_object_get(args, "data");
        rc = step_emit(ctx, topic, json_incref(data));
        if (rc == STEP_EUNDECLARED &&
            asprintf(error, "emit of \"%s\": the topic is not in the step's emits", topic) < 0)
            *error = NULL;
    } else if (!strcmp(op, "state.get")) {
        rc = step_state_get(ctx, group, key, value);
        if (rc == STEP_ENOTFOUND) {
            *value = json_null();
            rc = 0;
        }
    } else if (!strcmp(op, "state.set")) {
        json_t *v = json_object_get(args, "value");
        rc = step_state_set(ctx, group, key, v ? v : json_null());
        if (!rc)
            *value = json_incref(v);
    } else if (!strcmp(op, "state.delete")) {
        rc = step_state_delete(ctx, group, key);
        if (rc == STEP_ENOTFOUND)
            rc = 0;
    } else if (!strcmp(op, "state.getGroup")) {
        rc = step_state_get_group(ctx, group, value);
    } else if (!strcmp(op, "state.clear")) {
        rc = step_state_clear(ctx, group);
    } else if (!strcmp(op, "ai.chat")) {
        rc = script_ai_chat(ctx, args, value, error);
    } else {
        if (asprintf(error, "unknown call \"%s\"", op) < 0)
            *error = NULL;
        return STEP_EUNSUPPORTED;
    }
    if (rc && !*error && asprintf(error, "%s failed: %s", op, step_strerror(rc)) < 0)
        *error = NULL;
    return rc;
}

static int run(step_ctx *ctx, const char *kind, json_t *data /* stolen */, json_t **value) {
    const step_def *s = ctx->step;
    script_host *h = ctx->rt->scripts;
    int li = s ? lang_index(s->lang) : -1;
    *value = NULL;
    if (li < 0 || !h || !h->pools[li]) {
        json_decref(data);
        return STEP_EINVAL;
    }
    json_t *msg =
        json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:i}", "t", "invoke", "step", s->name, "kind",
                  kind, "data", data ? data : json_null(), "traceId", step_trace_id(ctx), "eventId",
                  step_event_id(ctx), "attempt", step_attempt(ctx));
    if (!msg)
        return STEP_ENOMEM;
    json_t *err = NULL;
    last_error[0] = '\0';
    pool_block_begin(); /* mostly waiting for the worker process */
    int rc = worker_invoke(h->pools[li], msg, s->timeout_ms > 0 ? s->timeout_ms : 30000, serve, ctx,
                           value, &err);
    pool_block_end();
    json_decref(msg);
    if (rc) {
        const char *m = json_string_value(json_object_get(err, "message"));
        const char *stack = json_string_value(json_object_get(err, "stack"));
        snprintf(last_error, sizeof(last_error), "%s", m ? m : step_strerror(rc));
        json_t *f = json_pack("{s:s, s:s}", "error", m ? m : step_strerror(rc), "file", s->file);
        if (f && stack)
            json_object_set_new(f, "stack", json_string(stack));
        /* a handler error carries a stack; a dead or hung worker does not */
        step_log(ctx, STEP_LOG_ERROR, stack ? "handler threw an error" : "worker failed", f);
        json_decref(f);
        json_decref(err);
    }
    return rc;
}

static json_t *base64(const unsigned char *p, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
    json_t *j = json_string(out);
    free(out);
    return j;
}

int script_api(step_ctx *ctx, step_request *req, step_response *res) {
    json_t *data = json_pack("{s:O?, s:O?, s:O?, s:O?, s:s?, s:s?, s:s?}", "body",
                             req->body ? req->body : json_null(), "pathParams", req->path_params,
                             "queryParams", req->query_params, "headers", req->headers, "method",
                             req->method, "path", req->path, "requestId", req->request_id);
    if (!data)
        return STEP_ENOMEM;
    /* rawBody is a string; a body that is not UTF-8 (an upload) comes as rawBodyBase64 */
    const char *raw = req->raw_body ? req->raw_body : "";
    json_t *rs = json_stringn(raw, req->raw_body_len);
    if (rs) {
        json_object_set_new(data, "rawBody", rs);
    } else {
        json_object_set_new(data, "rawBody", json_null());
        json_object_set_new(data, "rawBodyBase64",
                            base64((const unsigned char *)raw, req->raw_body_len));
    }
    /* what C middleware attached (req.user and the like) */
    const char *k;
    json_t *v;
    json_object_foreach(req->locals, k, v) {
        if (!json_object_get(data, k))
            json_object_set(data, k, v);
    }
    json_t *out = NULL;
    int rc = run(ctx, "api", data, &out);
    if (rc)
        return rc;
    if (!json_is_object(out)) {
        /* a handler that returns nothing answers 204; a bare value is the body */
        step_respond(res, json_is_null(out) ? 204 : 200, json_is_null(out) ? NULL : out);
        if (json_is_null(out))
            json_decref(out);
        return 0;
    }
    json_t *status = json_object_get(out, "status");
    json_t *headers = json_object_get(out, "headers");
    json_t *body = json_object_get(out, "body");
    int code = json_is_integer(status) ? (int)json_integer_value(status) : 200;
    json_object_foreach(headers, k, v) {
        if (json_is_string(v))
            step_response_header(res, k, json_string_value(v));
        else if (json_is_number(v)) {
            char num[64];
            snprintf(num, sizeof(num), "%g", json_number_value(v));
            step_response_header(res, k, num);
        }
    }
    step_respond(res, code, json_incref(body));
    json_decref(out);
    return 0;
}

int script_event(step_ctx *ctx, json_t *input) {
    json_t *out = NULL;
    int rc = run(ctx, "event", json_incref(input), &out);
    json_decref(out);
    return rc;
}

int script_cron(step_ctx *ctx) {
    json_t *out = NULL;
    int rc = run(ctx, "cron", NULL, &out);
    json_decref(out);
    return rc;
}
