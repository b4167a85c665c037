/* slow.run {"id", "sleepMs"} — a step with a 300 ms timeout and one handler at a time; it
 * records when each run started and ended so the test can check both limits. */
#include <stepd/step.h>
#include <time.h>

static json_int_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int slow(step_ctx *ctx, json_t *input) {
    const char *id = json_string_value(json_object_get(input, "id"));
    int sleep_ms = (int)json_integer_value(json_object_get(input, "sleepMs"));
    json_int_t start = now_ms();
    struct timespec ts = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    json_t *rec = json_pack("{s:s, s:I, s:I, s:i}", "id", id, "start", start, "end", now_ms(),
                            "attempt", step_attempt(ctx));
    int rc = step_state_set(ctx, "slow", id, rec);
    json_decref(rec);
    return rc;
}

STEP_CONFIG = {
    .type = STEP_EVENT, .name = "Slow", .subscribes = STEP_LIST("slow.run"), .on_event = slow,
    .timeout_ms = 300, .concurrency = 1, .max_attempts = 2, .backoff_ms = 20,
};
