/*
 * main.c — the stepd command line: new, dev, start, emit, state, dlq, ai, --version.
 *
 * Commands that act on a running server (emit, dlq replay) talk to it through its admin
 * endpoints on 127.0.0.1 (/__stepd/...). `state get` and `dlq list` read the project's
 * store directly when no server answers.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stepd/step.h>

#include <dlfcn.h>

#include "lang/ailib.h"
#include "core/config.h"
#include "core/http.h"
#include "core/log.h"
#include "core/runtime.h"
#include "core/scaffold.h"
#include "store/stores.h"

static const char *usage_text =
    "stepd — event-driven backend runtime with native AI\n"
    "\n"
    "usage: stepd COMMAND [ARGS]\n"
    "\n"
    "  new NAME [--lang L]      scaffold a project (api, event and cron step, and a test)\n"
    "  dev [DIR]                run with hot reload and readable logs\n"
    "  start [DIR]              run in production mode (JSON logs)\n"
    "  test [DIR]               run the project's tests (tests/*.sh)\n"
    "  emit TOPIC [JSON]        send an event to the running server\n"
    "  state get GROUP [KEY]    print state values\n"
    "  dlq list|replay [ID]     list or replay dead-lettered events\n"
    "  ai COMMAND ...           run an AI module (chat, text, recommend, ocr, speak, transcribe)\n"
    "  nn info MODEL.onnx       inspect a neural network model\n"
    "  --version                print the version\n"
    "\n"
    "`stepd COMMAND --help` describes each command.\n";

static int wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    return 0;
}

/* ---- dev / start ---------------------------------------------------------------------- */

static int cmd_run(int argc, char **argv, int dev) {
    if (wants_help(argc, argv)) {
        printf("usage: stepd %s [DIR] [--port N] [--host H] [--port-file F]\n\n"
               "Loads every step under DIR/steps (default: the current directory), compiles the\n"
               "C steps, and serves HTTP on --port (default 3000, or stepd.json's \"port\";\n"
               "0 picks a free port, written to --port-file).%s\n",
               argv[0], dev ? "\nRebuilds and reloads a step when its file changes; readable logs."
                            : "\nLogs are JSON, one object per line.");
        return 0;
    }
    const char *dir = ".", *port = NULL, *host = NULL, *port_file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc)
            port = argv[++i];
        else if (!strcmp(argv[i], "--host") && i + 1 < argc)
            host = argv[++i];
        else if (!strcmp(argv[i], "--port-file") && i + 1 < argc)
            port_file = argv[++i];
        else if (argv[i][0] == '-') {
            fprintf(stderr, "stepd %s: unknown option %s\n", argv[0], argv[i]);
            return 2;
        } else
            dir = argv[i];
    }
    stepd_config cfg;
    char *err = NULL;
    if (config_load(dir, &cfg, &err)) {
        fprintf(stderr, "stepd: %s\n", err ? err : "invalid configuration");
        free(err);
        config_free(&cfg);
        return 1;
    }
    if (port) {
        char *end;
        long p = strtol(port, &end, 10);
        if (*end || p < 0 || p > 65535) {
            fprintf(stderr, "stepd: --port must be a number between 0 and 65535\n");
            config_free(&cfg);
            return 2;
        }
        cfg.port = (int)p;
    }
    if (host) {
        free(cfg.host);
        cfg.host = strdup(host);
    }
    cfg.dev = dev;
    cfg.pretty = dev && !getenv("STEPD_JSON_LOGS");
    log_setup(cfg.pretty ? LOG_PRETTY : LOG_JSON, (step_log_level)cfg.log_level, 1);
    static runtime rt;
    int rc = runtime_open(&rt, &cfg, &err);
    if (rc) {
        fprintf(stderr, "stepd: cannot start:\n%s%s", err ? err : step_strerror(rc),
                err && err[strlen(err) - 1] == '\n' ? "" : "\n");
        free(err);
        runtime_close(&rt);
        config_free(&cfg);
        return 1;
    }
    if (port_file) {
        FILE *f = fopen(port_file, "w");
        if (f) {
            fprintf(f, "%d\n", http_server_port(rt.http));
            fclose(f);
        }
    }
    rc = runtime_run(&rt);
    if (rc < 0) {
        /* handlers still running after the shutdown timeout: their events stay queued and
         * are delivered again on the next start; leave without waiting for them */
        fflush(stdout);
        _exit(0);
    }
    runtime_close(&rt);
    config_free(&cfg);
    return 0;
}

/* ---- talking to a running server ------------------------------------------------------ */

typedef struct buf {
    char *data;
    size_t len;
} buf;

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    buf *b = ud;
    char *nd = realloc(b->data, b->len + size * n + 1);
    if (!nd)
        return 0;
    b->data = nd;
    memcpy(b->data + b->len, p, size * n);
    b->len += size * n;
    b->data[b->len] = '\0';
    return size * n;
}

/* Returns the HTTP status, or -1 when no server answers. *body: caller frees. */
static long admin_call(int port, const char *method, const char *path, const char *json,
                       char **body) {
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    buf b = {0};
    struct curl_slist *h = curl_slist_append(NULL, "content-type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (json)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    long status = -1;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    *body = b.data;
    return status;
}

typedef struct target {
    const char *dir;
    int port;
} target;

/* Parses --dir and --port out of argv (compacting the rest); port defaults to stepd.json's. */
static int parse_target(int *argc, char **argv, target *t) {
    t->dir = ".";
    t->port = -1;
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < *argc)
            t->dir = argv[++i];
        else if (!strcmp(argv[i], "--port") && i + 1 < *argc)
            t->port = atoi(argv[++i]);
        else
            argv[out++] = argv[i];
    }
    *argc = out;
    if (t->port < 0) {
        stepd_config cfg;
        char *err = NULL;
        t->port = 3000;
        if (config_load(t->dir, &cfg, &err) == 0)
            t->port = cfg.port;
        free(err);
        config_free(&cfg);
    }
    return 0;
}

static int print_response(long status, char *body) {
    if (body)
        printf("%s\n", body);
    free(body);
    return status >= 200 && status < 300 ? 0 : 1;
}

static int cmd_emit(int argc, char **argv) {
    if (wants_help(argc, argv)) {
        printf("usage: stepd emit TOPIC [JSON] [--port N] [--dir DIR]\n\n"
               "Sends an event to the running server; every step subscribed to TOPIC gets it.\n"
               "JSON defaults to {}.\n");
        return 0;
    }
    target t;
    parse_target(&argc, argv, &t);
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: stepd emit TOPIC [JSON]\n");
        return 2;
    }
    json_error_t je;
    json_t *data = json_loads(argc == 3 ? argv[2] : "{}", JSON_DECODE_ANY, &je);
    if (!data) {
        fprintf(stderr, "stepd emit: the data is not valid JSON: %s (column %d)\n", je.text,
                je.column);
        return 2;
    }
    json_t *req = json_pack("{s:s, s:o}", "topic", argv[1], "data", data);
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    char *body = NULL;
    long st = admin_call(t.port, "POST", "/__stepd/emit", text, &body);
    free(text);
    if (st < 0) {
        fprintf(stderr, "stepd emit: no stepd server answers on 127.0.0.1:%d (start one with "
                        "`stepd dev` or pass --port)\n", t.port);
        free(body);
        return 1;
    }
    return print_response(st, body);
}

/* Opens the project's store directly (no server running). */
static int open_store(const char *dir, state_store **s, queue **q) {
    stepd_config cfg;
    char *err = NULL;
    if (config_load(dir, &cfg, &err)) {
        fprintf(stderr, "stepd: %s\n", err ? err : "invalid configuration");
        free(err);
        config_free(&cfg);
        return 1;
    }
    int rc = 1;
    if (strcmp(cfg.store_adapter, "sqlite")) {
        fprintf(stderr, "stepd: the %s store keeps nothing on disk\n", cfg.store_adapter);
    } else if (access(cfg.store_path, F_OK)) {
        fprintf(stderr, "stepd: no store at %s (has the project run yet?)\n", cfg.store_path);
    } else {
        sqlite_store_opts o = {.path = cfg.store_path, .fsync = cfg.fsync};
        rc = sqlite_store_open(&o, s, q);
        if (rc) {
            const char *why = sqlite_store_last_error();
            fprintf(stderr, "stepd: cannot open %s: %s\n", cfg.store_path,
                    why && *why ? why : step_strerror(rc));
        }
        rc = rc ? 1 : 0;
    }
    config_free(&cfg);
    return rc;
}

static int cmd_state(int argc, char **argv) {
    if (wants_help(argc, argv) || argc < 3 || strcmp(argv[1], "get")) {
        printf("usage: stepd state get GROUP [KEY] [--dir DIR]\n\n"
               "Prints one value (KEY given) or the whole group as a JSON object.\n");
        return wants_help(argc, argv) ? 0 : 2;
    }
    target t;
    parse_target(&argc, argv, &t);
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: stepd state get GROUP [KEY]\n");
        return 2;
    }
    {
        char *g = curl_easy_escape(NULL, argv[2], 0), *k = argc == 4 ? curl_easy_escape(NULL, argv[3], 0) : NULL;
        char path[2048];
        snprintf(path, sizeof(path), "/__stepd/state/%s%s%s", g ? g : "", k ? "/" : "", k ? k : "");
        curl_free(g);
        curl_free(k);
        char *body = NULL;
        long st = admin_call(t.port, "GET", path, NULL, &body);
        if (st == 404) {
            fprintf(stderr, "stepd state: %s/%s not found\n", argv[2], argc == 4 ? argv[3] : "");
            free(body);
            return 1;
        }
        if (st >= 0)
            return print_response(st, body);
        free(body);
    }
    state_store *s = NULL;
    if (open_store(t.dir, &s, NULL))
        return 1;
    int rc = 0;
    if (argc == 4) {
        char *v = NULL;
        rc = s->ops->get(s, argv[2], argv[3], &v);
        if (rc == STEP_ENOTFOUND)
            fprintf(stderr, "stepd state: %s/%s not found\n", argv[2], argv[3]);
        else if (rc)
            fprintf(stderr, "stepd state: %s\n", step_strerror(rc));
        else
            printf("%s\n", v);
        free(v);
    } else {
        state_item *items = NULL;
        size_t n = 0;
        rc = s->ops->get_group(s, argv[2], &items, &n);
        if (rc) {
            fprintf(stderr, "stepd state: %s\n", step_strerror(rc));
        } else {
            json_t *o = json_object();
            for (size_t i = 0; i < n; i++) {
                json_t *v = json_loads(items[i].value, JSON_DECODE_ANY, NULL);
                json_object_set_new(o, items[i].key, v ? v : json_string(items[i].value));
            }
            char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            printf("%s\n", text ? text : "{}");
            free(text);
            json_decref(o);
        }
        state_items_free(items, n);
    }
    state_close(s);
    return rc ? 1 : 0;
}

static int cmd_dlq(int argc, char **argv) {
    if (wants_help(argc, argv) || argc < 2 ||
        (strcmp(argv[1], "list") && strcmp(argv[1], "replay"))) {
        printf("usage: stepd dlq list [--dir DIR] [--port N]\n"
               "       stepd dlq replay [ID | --all] [--dir DIR] [--port N]\n\n"
               "Events whose handler failed on every attempt wait in the dead-letter queue;\n"
               "replay puts them back in the queue with a fresh attempt count.\n");
        return wants_help(argc, argv) ? 0 : 2;
    }
    target t;
    parse_target(&argc, argv, &t);
    int replay = !strcmp(argv[1], "replay");
    const char *id = NULL;
    if (replay) {
        if (argc != 3) {
            fprintf(stderr, "usage: stepd dlq replay ID|--all\n");
            return 2;
        }
        id = strcmp(argv[2], "--all") ? argv[2] : NULL;
    }
    char *body = NULL;
    long st;
    if (replay) {
        json_t *r = id ? json_pack("{s:s}", "id", id) : json_object();
        char *text = json_dumps(r, JSON_COMPACT);
        json_decref(r);
        st = admin_call(t.port, "POST", "/__stepd/dlq/replay", text, &body);
        free(text);
    } else {
        st = admin_call(t.port, "GET", "/__stepd/dlq", NULL, &body);
    }
    if (st >= 0)
        return print_response(st, body);
    free(body);
    /* no server: work on the store directly */
    queue *q = NULL;
    if (open_store(t.dir, NULL, &q))
        return 1;
    int rc;
    if (replay) {
        size_t n = 0;
        rc = q->ops->dlq_replay(q, id, &n);
        if (rc == STEP_ENOTFOUND)
            fprintf(stderr, "stepd dlq: no dead-letter message %s\n", id ? id : "");
        else if (!rc)
            printf("{\"replayed\":%zu}\n", n);
    } else {
        queue_msg *m = NULL;
        size_t n = 0;
        rc = q->ops->dlq_list(q, &m, &n);
        json_t *arr = json_array();
        for (size_t i = 0; !rc && i < n; i++) {
            json_t *d = json_loads(m[i].data ? m[i].data : "null", JSON_DECODE_ANY, NULL);
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:s, s:o, s:i, s:s?}", "id", m[i].id, "topic",
                               m[i].topic, "step", m[i].step, "data", d ? d : json_null(),
                               "attempts", m[i].attempt, "error", m[i].last_error));
        }
        char *text = json_dumps(arr, JSON_INDENT(2));
        if (!rc)
            printf("%s\n", text);
        free(text);
        json_decref(arr);
        queue_msgs_free(m, n);
    }
    if (rc && rc != STEP_ENOTFOUND)
        fprintf(stderr, "stepd dlq: %s\n", step_strerror(rc));
    queue_close(q);
    return rc ? 1 : 0;
}

/* `stepd test [DIR]`: runs the project's tests (every .sh in DIR/tests) with STEPD set. */
static int cmd_test(int argc, char **argv) {
    if (wants_help(argc, argv)) {
        printf("usage: stepd test [DIR]\n\nRuns every DIR/tests/*.sh (bash) with STEPD set to this "
               "stepd binary and\nprints one line per test and a summary; exit 1 if any failed.\n");
        return 0;
    }
    const char *dir = argc > 1 ? argv[1] : ".";
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        fprintf(stderr, "stepd test: cannot find the stepd binary\n");
        return 1;
    }
    exe[n] = '\0';
    setenv("STEPD", exe, 1);
    char pattern[PATH_MAX + 32];
    snprintf(pattern, sizeof(pattern), "%s/tests", dir);
    DIR *d = opendir(pattern);
    if (!d) {
        fprintf(stderr, "stepd test: %s has no tests/ folder\n", dir);
        return 1;
    }
    char *names[256];
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) && count < 256) {
        size_t l = strlen(e->d_name);
        if (l > 3 && !strcmp(e->d_name + l - 3, ".sh"))
            names[count++] = strdup(e->d_name);
    }
    closedir(d);
    int passed = 0, failed = 0;
    for (int i = 0; i < count; i++) {
        char cmd[PATH_MAX * 2 + 64];
        snprintf(cmd, sizeof(cmd), "bash '%s/tests/%s' >/dev/null 2>&1", dir, names[i]);
        int st = system(cmd);
        int ok = st == 0;
        printf("%s %s\n", ok ? "ok  " : "FAIL", names[i]);
        if (!ok) {
            snprintf(cmd, sizeof(cmd), "bash '%s/tests/%s' 2>&1 | tail -n 20 | sed 's/^/    /'", dir,
                     names[i]);
            if (system(cmd) < 0)
                fprintf(stderr, "stepd test: cannot rerun %s\n", names[i]);
        }
        ok ? passed++ : failed++;
        free(names[i]);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed || count == 0 ? 1 : 0;
}

/* `stepd ai ...`: the AI modules live in libstepd-ai.so, loaded only for this. */
static int cmd_ai(int argc, char **argv) {
    char err[512];
    void *h = ailib_open(err, sizeof(err));
    if (!h) {
        fprintf(stderr, "stepd ai: %s\n", err);
        return 1;
    }
    int (*fn)(int, char **);
    *(void **)&fn = dlsym(h, "ai_cli_main");
    if (!fn) {
        fprintf(stderr, "stepd ai: libstepd-ai.so has no ai_cli_main\n");
        return 1;
    }
    return fn(argc, argv);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage_text, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("stepd %s\n", STEPD_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage_text, stdout);
        return 0;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc;
    if (!strcmp(cmd, "dev"))
        rc = cmd_run(argc - 1, argv + 1, 1);
    else if (!strcmp(cmd, "start"))
        rc = cmd_run(argc - 1, argv + 1, 0);
    else if (!strcmp(cmd, "test"))
        rc = cmd_test(argc - 1, argv + 1);
    else if (!strcmp(cmd, "new"))
        rc = scaffold_main(argc - 1, argv + 1);
    else if (!strcmp(cmd, "emit"))
        rc = cmd_emit(argc - 1, argv + 1);
    else if (!strcmp(cmd, "state"))
        rc = cmd_state(argc - 1, argv + 1);
    else if (!strcmp(cmd, "dlq"))
        rc = cmd_dlq(argc - 1, argv + 1);
    else if (!strcmp(cmd, "ai"))
        rc = cmd_ai(argc - 1, argv + 1);
    else if (!strcmp(cmd, "nn"))
        rc = cmd_ai(argc, argv); /* `stepd nn ...` is `stepd ai nn ...` */
    else {
        fprintf(stderr, "stepd: unknown command '%s'\n\n%s", cmd, usage_text);
        rc = 2;
    }
    curl_global_cleanup();
    return rc;
}
