/* job.created — fails the first `failTimes` attempts, optionally sleeps, then records the
 * job with the attempt that succeeded and the trace id it saw. */
#include <stepd/step.h>
#include <time.h>

static int work(step_ctx *ctx, json_t *input) {
    const char *id = json_string_value(json_object_get(input, "id"));
    int fail_times = (int)json_integer_value(json_object_get(input, "failTimes"));
    int sleep_ms = (int)json_integer_value(json_object_get(input, "sleepMs"));
    if (sleep_ms > 0) {
        struct timespec ts = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (step_attempt(ctx) <= fail_times)
        return -1;
    json_t *rec = json_pack("{s:s, s:i, s:s, s:s}", "id", id, "attempt", step_attempt(ctx),
                            "traceId", step_trace_id(ctx), "eventId", step_event_id(ctx));
    int rc = step_state_set(ctx, "jobs", id, rec);
    json_decref(rec);
    if (rc)
        return rc;
    return step_emit(ctx, "job.done", json_pack("{s:s}", "id", id));
}

STEP_CONFIG = {
    .type = STEP_EVENT, .name = "JobsWorker", .subscribes = STEP_LIST("job.created"),
    .emits = STEP_LIST("job.done"), .on_event = work,
    .input_schema = "{\"type\":\"object\",\"required\":[\"id\"]}",
};
