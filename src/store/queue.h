/*
 * queue.h — the queue adapter contract: durable event deliveries with retry and dead-letter.
 *
 * One message is one delivery of an event to one subscribing step (fan-out happens before
 * push: an event with three subscribers is pushed as three messages sharing `event_id`).
 * Lifecycle:
 *
 *   push ──► ready ──claim──► leased ──ack──► (gone)
 *              ▲                 │ retry(due)          bury ──► dead-letter ──replay──► ready
 *              └─────────────────┘ release (no attempt counted)
 *
 * A leased message whose lease expires (the process died) is ready again: delivery is
 * at-least-once. `attempt` counts failed attempts recorded by retry(); the attempt a handler
 * sees is attempt + 1. Adapters also count deliveries started: a claim that finds a delivery
 * that ended without ack/retry/bury/release (the process died while its handler ran) counts it
 * as a failed attempt (attempt grows, last_error = QUEUE_LOST_RUN), so a message that crashes
 * the process runs out of attempts instead of crashing it at every restart. All functions are thread-safe and may block; push/ack/retry/bury are
 * durable when they return 0. Errors are negative STEP_E* codes from <stepd/step.h>.
 *
 * Reserved fields (group_key, idem_key) let FIFO-per-key and dedupe land without changing
 * the record layout; adapters store them and may ignore them for now.
 */
#ifndef STEPD_STORE_QUEUE_H
#define STEPD_STORE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

typedef struct queue queue;
typedef struct store_write store_write; /* store/write.h */

#define QUEUE_LOST_RUN "the process stopped while the handler ran (crash or kill)"

typedef struct queue_msg {
    char *id;         /* unique per delivery; push generates one when NULL */
    char *event_id;   /* shared by the fan-out copies of one emit */
    char *topic;
    char *step;       /* the subscriber this delivery is for */
    char *data;       /* JSON text */
    char *trace_id;
    int attempt;      /* failed attempts so far */
    int64_t due_ms;   /* not delivered before this time (epoch ms); 0 = now (stored as the
                       * push time, so claim order is the order messages became due) */
    int64_t created_ms;
    char *group_key;  /* reserved: FIFO / concurrency per key; may be NULL */
    char *idem_key;   /* reserved: idempotency key; may be NULL */
    char *last_error; /* set by retry/bury; may be NULL */
} queue_msg;

typedef struct queue_counts {
    size_t ready;  /* includes delayed (due in the future) */
    size_t leased;
    size_t dead;
} queue_counts;

typedef struct queue_ops {
    const char *name;
    /* Stores n messages atomically (all or none); strings are copied. A NULL id gets a
     * generated one (not returned: callers that need it set it with queue_new_id), and
     * created_ms 0 becomes now. */
    int (*push)(queue *q, const queue_msg *msgs, size_t n);
    /* Leases up to `max` ready messages for `step` with due_ms <= now_ms, for lease_ms, in the
     * order they became due (due_ms, then push order): a retry that is due again goes before
     * messages that became due later, and delayed messages never hold up due ones. Pass the
     * current time (queue_now_ms()): messages pushed after now_ms are not due yet.
     * *out is a malloc'ed array (free with queue_msgs_free), *n may be 0. */
    int (*claim)(queue *q, const char *step, int64_t now_ms, int64_t lease_ms, size_t max,
                 queue_msg **out, size_t *n);
    /* Done: removes the message. STEP_ENOTFOUND if it is not leased/present. */
    int (*ack)(queue *q, const char *id);
    /* Failed: attempt += 1, last_error = error, ready again at due_ms. */
    int (*retry)(queue *q, const char *id, int64_t due_ms, const char *error);
    /* Failed for good: moves the message to the dead-letter store with `error`; the final
     * failed attempt is counted (attempt += 1), so the DLQ shows how many were made. */
    int (*bury)(queue *q, const char *id, const char *error);
    /* Gives a leased message back unchanged (e.g. at shutdown), ready now. */
    int (*release)(queue *q, const char *id);
    /* Earliest due_ms among ready (unleased) messages of `step` (any step when NULL);
     * STEP_ENOTFOUND when there are none. */
    int (*next_due)(queue *q, const char *step, int64_t *due_ms);
    /* Dead-letter messages, oldest first; free with queue_msgs_free. */
    int (*dlq_list)(queue *q, queue_msg **out, size_t *n);
    /* Moves dead-letter message `id` (all of them when id is NULL) back to ready with
     * attempt = 0 and due now; *replayed counts them. */
    int (*dlq_replay)(queue *q, const char *id, size_t *replayed);
    int (*counts)(queue *q, queue_counts *c);
    /* Optional (NULL when the adapter has none): queues w, a state or queue write, to be
     * applied after every write queued before it, and returns at once; see store/write.h.
     * On 0 the adapter owns w; on an error (STEP_ECLOSED) the caller still does. */
    int (*write_async)(queue *q, store_write *w);
    void (*close)(queue *q); /* frees q */
} queue_ops;

struct queue {
    const queue_ops *ops;
};

void queue_msg_clear(queue_msg *m);            /* frees the strings of one message */
void queue_msgs_free(queue_msg *msgs, size_t n); /* frees an array returned by an adapter */
/* Writes a new random id (32 hex chars + NUL) into buf[33]. Thread-safe. */
void queue_new_id(char buf[33]);
int64_t queue_now_ms(void); /* wall clock, epoch milliseconds */
void queue_close(queue *q); /* NULL-safe */

#endif
