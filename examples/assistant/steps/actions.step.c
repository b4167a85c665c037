/*
 * actions.step.c — carries out assistant.action events: order.track reads the order from state
 * group "orders", support.ticket files a ticket in "tickets", product.search filters the
 * "catalog" group by name and price. Each outcome goes back to the customer as a follow-up
 * assistant.response.
 */
#include <stepd/step.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

static json_t *track(step_ctx *ctx, json_t *params, char *msg, size_t cap) {
    const char *order = json_string_value(json_object_get(params, "orderNumber"));
    json_t *o = NULL;
    if (!order || step_state_get(ctx, "orders", order, &o) < 0) {
        snprintf(msg, cap, "I could not find order %s. Please check the number.",
                 order ? order : "");
        return json_pack("{s:s}", "status", "not_found");
    }
    const char *status = json_string_value(json_object_get(o, "status"));
    snprintf(msg, cap, "Order %s is %s.", order, status ? status : "being processed");
    return o;
}

static json_t *ticket(step_ctx *ctx, json_t *params, char *msg, size_t cap) {
    char id[64];
    snprintf(id, sizeof(id), "T-%s", step_event_id(ctx));
    json_t *t = json_pack("{s:s,s:s,s:O}", "id", id, "status", "open", "request", params);
    int rc = step_state_set(ctx, "tickets", id, t);
    snprintf(msg, cap, rc == 0 ? "Your ticket %s is open; we reply within one business day."
                               : "We could not file ticket %s yet; we will retry.",
             id);
    if (rc < 0) {
        json_decref(t);
        return NULL;
    }
    return t;
}

static json_t *search(step_ctx *ctx, json_t *params, char *msg, size_t cap) {
    const char *q = json_string_value(json_object_get(params, "query"));
    json_t *maxp = json_object_get(params, "maxPrice");
    json_t *items = NULL, *hits = json_array();
    if (step_state_get_group(ctx, "catalog", &items) == 0) {
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            const char *name = json_string_value(json_object_get(it, "name"));
            double price = json_number_value(json_object_get(it, "price"));
            if (name && q && strcasestr(name, q) && (!maxp || price <= json_number_value(maxp)))
                json_array_append(hits, it);
        }
    }
    json_decref(items);
    snprintf(msg, cap, "I found %zu product(s) matching \"%s\".", json_array_size(hits),
             q ? q : "");
    return json_pack("{s:o}", "products", hits);
}

static int handler(step_ctx *ctx, json_t *input) {
    const char *action = json_string_value(json_object_get(input, "action"));
    const char *session = json_string_value(json_object_get(input, "sessionId"));
    json_t *params = json_object_get(input, "parameters");
    char msg[300] = "";
    json_t *result = NULL;
    if (action && !strcmp(action, "order.track"))
        result = track(ctx, params, msg, sizeof(msg));
    else if (action && !strcmp(action, "support.ticket"))
        result = ticket(ctx, params, msg, sizeof(msg));
    else if (action && !strcmp(action, "product.search"))
        result = search(ctx, params, msg, sizeof(msg));
    else
        return 0; /* an action this step does not know: someone else's */
    if (!result)
        return STEP_EFAILED; /* retried */
    return step_emit(ctx, "assistant.response",
                     json_pack("{s:s,s:s,s:s,s:s,s:o}", "sessionId", session ? session : "",
                               "message", msg, "intent", action, "source", "action", "result",
                               result));
}

STEP_CONFIG = {
    .type = STEP_EVENT,
    .name = "AssistantActions",
    .description = "Tracks orders, searches the catalog, files support tickets",
    .flows = STEP_LIST("assistant"),
    .subscribes = STEP_LIST("assistant.action"),
    .emits = STEP_LIST("assistant.response"),
    .on_event = handler,
};
