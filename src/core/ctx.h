/*
 * ctx.h — the handler context behind step_ctx, and the request/response helpers of
 * <stepd/step.h>. A context lives on the stack of the job that runs a handler.
 */
#ifndef STEPD_CORE_CTX_H
#define STEPD_CORE_CTX_H

#include "core/runtime.h"

struct step_ctx {
    runtime *rt;
    registry *reg;
    const step_def *step; /* NULL for admin/CLI emits */
    const char *trace_id;
    const char *event_id;
    int attempt;
    txn *tx; /* the run's writes; NULL: each write is durable when it returns */
};

#endif
