/*
 * llm_cli.c — `stepd ai chat "message" [--model M] [--stream] [--system S] ...`: one chat
 * completion from the command line, configured like a project (the "ai" object of ./stepd.json
 * or --config FILE, then OPENAI_* environment variables, then flags). Prints the result as JSON,
 * or with --stream the tokens as they arrive (then a newline); --text prints only the reply.
 */
#include "ai/ai_cli.h"

#include <stepd/ai/llm.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void chat_usage(FILE *out) {
    fprintf(
        out,
        "usage: stepd ai chat MESSAGE|- [options]\n"
        "  --model M          model name (else ai.model / OPENAI_MODEL)\n"
        "  --system S         system prompt\n"
        "  --stream           print tokens as they arrive\n"
        "  --text             print only the reply text, not JSON\n"
        "  --json             ask for a JSON object reply (response_format json_object)\n"
        "  --temperature T    sampling temperature\n"
        "  --max-tokens N     cap on the reply length\n"
        "  --base-url URL     OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1\n"
        "  --timeout MS       per-attempt timeout\n"
        "  --retries N        retries on 429/5xx/network errors\n"
        "  --config FILE      stepd.json to read the \"ai\" section from (default ./stepd.json)\n"
        "  --bench N          send the request N times, print timing JSON (for bench/llm.sh)\n"
        "MESSAGE - reads the message from stdin.\n"
        "Configure a model with OPENAI_API_KEY, or OPENAI_BASE_URL + OPENAI_MODEL, or "
        "stepd.json.\n");
}

static int print_token(void *ud, const char *delta, size_t len) {
    (void)ud;
    fwrite(delta, 1, len, stdout);
    fflush(stdout);
    return 0;
}

static char *read_stdin(void) {
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, stdin);
        len += n;
        if (n == 0)
            break;
        if (len + 1 == cap) {
            char *b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                return NULL;
            }
            buf = b;
            cap *= 2;
        }
    }
    if (buf) {
        buf[len] = '\0';
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = '\0';
    }
    return buf;
}

static int count_token(void *ud, const char *delta, size_t len) {
    (void)delta;
    *(size_t *)ud += len;
    return 0;
}

static double mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* --bench N: the same call N times on one thread; prints {"calls","seconds","callsPerSec",
 * "p50Ms","p99Ms","failed","bytes"}. */
static int run_bench(stepd_llm_client *c, stepd_llm_request *req, long n) {
    double *lat = malloc((size_t)n * sizeof(double));
    if (!lat)
        return 1;
    size_t bytes = 0;
    long failed = 0;
    if (req->stream) {
        req->on_token = count_token;
        req->token_ud = &bytes;
    }
    double t0 = mono_ms();
    for (long i = 0; i < n; i++) {
        double s = mono_ms();
        stepd_llm_result r;
        if (stepd_llm_chat(c, req, NULL, &r) < 0)
            failed++;
        else if (!req->stream && r.content)
            bytes += strlen(r.content);
        stepd_llm_result_free(&r);
        lat[i] = mono_ms() - s;
    }
    double secs = (mono_ms() - t0) / 1e3;
    qsort(lat, (size_t)n, sizeof(double), cmp_double);
    printf("{\"calls\":%ld,\"seconds\":%.3f,\"callsPerSec\":%.1f,\"p50Ms\":%.3f,"
           "\"p99Ms\":%.3f,\"failed\":%ld,\"bytes\":%zu}\n",
           n, secs, n / secs, lat[n / 2],
           lat[(size_t)(n * 0.99) < (size_t)n ? (size_t)(n * 0.99) : (size_t)n - 1], failed, bytes);
    free(lat);
    return failed ? 1 : 0;
}

int ai_cli_chat(int argc, char **argv) {
    const char *message = NULL, *model = NULL, *system = NULL, *base_url = NULL;
    const char *config = NULL;
    int stream = 0, text = 0, json_mode = 0, max_tokens = 0, retries = 0, has_temp = 0;
    long bench = 0;
    long timeout = 0;
    double temp = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE                                                                                 \
    do {                                                                                           \
        if (!v) {                                                                                  \
            fprintf(stderr, "stepd ai chat: %s needs a value\n", a);                               \
            return 2;                                                                              \
        }                                                                                          \
        i++;                                                                                       \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            chat_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--stream")) {
            stream = 1;
        } else if (!strcmp(a, "--text")) {
            text = 1;
        } else if (!strcmp(a, "--json")) {
            json_mode = 1;
        } else if (!strcmp(a, "--model")) {
            NEED_VALUE;
            model = v;
        } else if (!strcmp(a, "--system")) {
            NEED_VALUE;
            system = v;
        } else if (!strcmp(a, "--base-url")) {
            NEED_VALUE;
            base_url = v;
        } else if (!strcmp(a, "--config")) {
            NEED_VALUE;
            config = v;
        } else if (!strcmp(a, "--temperature")) {
            NEED_VALUE;
            char *end;
            temp = strtod(v, &end);
            if (*end || temp < 0 || temp > 2) {
                fprintf(stderr, "stepd ai chat: --temperature must be a number from 0 to 2\n");
                return 2;
            }
            has_temp = 1;
        } else if (!strcmp(a, "--max-tokens") || !strcmp(a, "--timeout") ||
                   !strcmp(a, "--retries") || !strcmp(a, "--bench")) {
            NEED_VALUE;
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 0 || n > 100000000) {
                fprintf(stderr, "stepd ai chat: %s must be a non-negative integer\n", a);
                return 2;
            }
            if (!strcmp(a, "--max-tokens"))
                max_tokens = (int)n;
            else if (!strcmp(a, "--timeout"))
                timeout = n;
            else if (!strcmp(a, "--bench"))
                bench = n;
            else
                retries = n ? (int)n : -1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "stepd ai chat: unknown option '%s'\n", a);
            chat_usage(stderr);
            return 2;
        } else if (!message) {
            message = a;
        } else {
            fprintf(stderr, "stepd ai chat: one message only (quote it)\n");
            return 2;
        }
#undef NEED_VALUE
    }
    if (!message) {
        chat_usage(stderr);
        return 2;
    }

    json_t *ai = NULL;
    const char *path = config ? config : "stepd.json";
    if (config || access(path, R_OK) == 0) {
        json_error_t jerr;
        json_t *root = json_load_file(path, 0, &jerr);
        if (!root) {
            fprintf(stderr, "stepd ai chat: %s:%d: %s\n", path, jerr.line, jerr.text);
            return 1;
        }
        ai = json_incref(json_object_get(root, "ai"));
        json_decref(root);
    }
    char *err = NULL;
    stepd_llm_client *c = NULL;
    int rc = stepd_llm_client_new(ai, &c, &err);
    json_decref(ai);
    if (rc < 0) {
        fprintf(stderr, "stepd ai chat: %s\n", err ? err : step_strerror(rc));
        free(err);
        return 1;
    }
    char *input = NULL;
    if (!strcmp(message, "-")) {
        input = read_stdin();
        if (!input) {
            stepd_llm_client_free(c);
            return 1;
        }
        message = input;
    }
    json_t *msgs = json_pack("[{s:s,s:s}]", "role", "user", "content", message);
    stepd_llm_request req = {.messages = msgs,
                             .system = system,
                             .model = model,
                             .base_url = base_url,
                             .stream = stream,
                             .json_mode = json_mode,
                             .max_tokens = max_tokens,
                             .max_retries = retries,
                             .timeout_ms = timeout,
                             .has_temperature = has_temp,
                             .temperature = temp,
                             .on_token = stream ? print_token : NULL};
    if (bench > 0) {
        rc = run_bench(c, &req, bench);
        json_decref(msgs);
        free(input);
        stepd_llm_client_free(c);
        return rc;
    }
    stepd_llm_result res;
    rc = stepd_llm_chat(c, &req, NULL, &res);
    if (stream)
        putchar('\n');
    if (rc < 0) {
        fprintf(stderr, "stepd ai chat: %s [%s]\n", res.error ? res.error : step_strerror(rc),
                stepd_llm_error_name(res.error_kind));
    } else if (text && !stream) {
        printf("%s\n", res.content ? res.content : "");
    } else if (!stream) {
        json_t *j = stepd_llm_result_to_json(&res);
        char *s = json_dumps(j, JSON_INDENT(2));
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(j);
    }
    stepd_llm_result_free(&res);
    json_decref(msgs);
    free(input);
    stepd_llm_client_free(c);
    return rc < 0 ? 1 : 0;
}
