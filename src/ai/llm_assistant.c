/*
 * llm_assistant.c — one turn of the e-commerce assistant.
 *
 * Memory lives in state (group "assistant_sessions", key = session id) through the caller's
 * hooks: {"messages": [last `window` messages], "summary": "running summary of older ones",
 * "turns": n, "known": {"orderNumber", "email"}, "updatedAt": ms}. When a model is configured
 * the turn is one chat call with three tools (track_order, search_products,
 * create_support_ticket): a tool call is the intent and its arguments the parameters. Without
 * a model, or when the call fails, the deterministic rules of llm_rules.c decide and a template
 * answers. Either way the rule-based entities fill parameters the model left out, and what the
 * user said earlier (an order number, an email) is remembered for later turns.
 */
#include "ai/llm_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const default_system =
    "You are the customer assistant of an online shop. Be brief and friendly. "
    "Use track_order when the customer asks about an order's status or delivery, "
    "search_products when they look for something to buy, and create_support_ticket for "
    "refunds, returns, damaged or wrong items, cancellations or anything a human must handle. "
    "Otherwise just answer.";

static const char *const tools_json =
    "[{\"type\":\"function\",\"function\":{\"name\":\"track_order\",\"description\":\"Look up "
    "the status of an order\",\"parameters\":{\"type\":\"object\",\"properties\":{"
    "\"order_number\":{\"type\":\"string\"},\"email\":{\"type\":\"string\"}},\"required\":["
    "\"order_number\"]}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"search_products\",\"description\":\"Search "
    "the product catalog\",\"parameters\":{\"type\":\"object\",\"properties\":{\"query\":{"
    "\"type\":\"string\"},\"max_price\":{\"type\":\"number\"},\"min_price\":{\"type\":"
    "\"number\"}},\"required\":[\"query\"]}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"create_support_ticket\",\"description\":"
    "\"Open a ticket for the support team\",\"parameters\":{\"type\":\"object\",\"properties\":{"
    "\"category\":{\"type\":\"string\",\"enum\":[\"refund\",\"return\",\"damaged\",\"cancel\","
    "\"delivery\",\"other\"]},\"description\":{\"type\":\"string\"},\"order_number\":{\"type\":"
    "\"string\"},\"email\":{\"type\":\"string\"}},\"required\":[\"description\"]}}}]";

static long long wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void stepd_assistant_turn_free(stepd_assistant_turn *turn) {
    if (!turn)
        return;
    json_decref(turn->response);
    json_decref(turn->action);
    turn->response = turn->action = NULL;
}

static int set_errp(char **err, const char *msg) {
    if (err)
        *err = strdup(msg);
    return STEP_EINVAL;
}

/* ---- parameters ---------------------------------------------------------------------------- */

static const char *first_str(json_t *entities, const char *key) {
    return json_string_value(json_array_get(json_object_get(entities, key), 0));
}

static int is_actionable(const char *intent) {
    return !strcmp(intent, "order.track") || !strcmp(intent, "product.search") ||
           !strcmp(intent, "support.ticket");
}

/* The product the user is after: the words after a search phrase, without filler or a price. */
static char *search_query(const char *message) {
    static const char *const leads[] = {
        "looking for ", "search for ",   "searching for ", "show me ",      "do you have ",
        "do you sell ", "do you carry ", "recommend ",     "shopping for ", "find ",
        "buy ",         "i need ",       "suggest ",       "want to get ",  NULL};
    char *low = strdup(message);
    if (!low)
        return NULL;
    for (char *p = low; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    const char *start = NULL;
    for (const char *const *l = leads; *l && !start; l++) {
        const char *hit = strstr(low, *l);
        if (hit)
            start = hit + strlen(*l);
    }
    if (!start)
        start = low;
    static const char *const fillers[] = {"me ", "a ", "an ", "some ", "any ", "the ", NULL};
    for (int again = 1; again;) {
        again = 0;
        for (const char *const *f = fillers; *f; f++)
            if (!strncmp(start, *f, strlen(*f))) {
                start += strlen(*f);
                again = 1;
            }
    }
    size_t n = strcspn(start, ".?!,;");
    static const char *const cuts[] = {" under ", " below ",     " less than ",    " over ",
                                       " above ", " for under ", " cheaper than ", " around ",
                                       " for $",  NULL};
    for (const char *const *cut = cuts; *cut; cut++) {
        const char *c = strstr(start, *cut);
        if (c && (size_t)(c - start) < n)
            n = (size_t)(c - start);
    }
    while (n && start[n - 1] == ' ')
        n--;
    char *q = strndup(start, n);
    free(low);
    return q;
}

static void price_bounds(const char *message, json_t *entities, json_t *params) {
    json_t *amount = json_array_get(json_object_get(entities, "amounts"), 0);
    if (!amount)
        return;
    const char *text = json_string_value(json_object_get(amount, "text"));
    const char *at = text ? strstr(message, text) : NULL;
    if (!at)
        return;
    size_t before = (size_t)(at - message);
    char window[40] = "";
    size_t from = before > 24 ? before - 24 : 0;
    for (size_t i = 0; from + i < before && i < sizeof(window) - 1; i++) {
        char c = message[from + i];
        window[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        window[i + 1] = '\0';
    }
    json_t *v = json_object_get(amount, "value");
    if (strstr(window, "over") || strstr(window, "above") || strstr(window, "more than") ||
        strstr(window, "at least"))
        json_object_set(params, "minPrice", v);
    else
        json_object_set(params, "maxPrice", v);
    json_object_set(params, "currency", json_object_get(amount, "currency"));
}

static const char *ticket_category(const char *message) {
    static const struct {
        const char *kw, *cat;
    } map[] = {{"refund", "refund"},     {"money back", "refund"}, {"return", "return"},
               {"exchange", "return"},   {"damag", "damaged"},     {"broke", "damaged"},
               {"defective", "damaged"}, {"faulty", "damaged"},    {"wrong", "damaged"},
               {"cancel", "cancel"},     {"deliver", "delivery"},  {"missing", "delivery"}};
    char *low = strdup(message);
    const char *cat = "other";
    if (!low)
        return cat;
    for (char *p = low; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strstr(low, map[i].kw)) {
            cat = map[i].cat;
            break;
        }
    free(low);
    return cat;
}

/* Parameters of an actionable intent from the rules, completed with what the session knows.
 * Returns NULL when a required parameter is missing (the answer then asks for it). */
static json_t *rule_params(const char *intent, const char *message, json_t *entities,
                           json_t *known) {
    const char *order = first_str(entities, "orderNumbers");
    const char *email = first_str(entities, "emails");
    if (!order)
        order = json_string_value(json_object_get(known, "orderNumber"));
    if (!email)
        email = json_string_value(json_object_get(known, "email"));
    json_t *p = json_object();
    if (!strcmp(intent, "order.track")) {
        if (!order) {
            json_decref(p);
            return NULL;
        }
        json_object_set_new(p, "orderNumber", json_string(order));
        if (email)
            json_object_set_new(p, "email", json_string(email));
    } else if (!strcmp(intent, "product.search")) {
        char *q = search_query(message);
        if (!q || !*q) {
            free(q);
            json_decref(p);
            return NULL;
        }
        json_object_set_new(p, "query", json_string(q));
        free(q);
        price_bounds(message, entities, p);
    } else {
        json_object_set_new(p, "category", json_string(ticket_category(message)));
        json_object_set_new(p, "description", json_string(message));
        if (order)
            json_object_set_new(p, "orderNumber", json_string(order));
        if (email)
            json_object_set_new(p, "email", json_string(email));
    }
    return p;
}

static char *rule_reply(const char *intent, json_t *params) {
    char buf[600];
    const char *order = json_string_value(json_object_get(params, "orderNumber"));
    const char *email = json_string_value(json_object_get(params, "email"));
    if (!strcmp(intent, "order.track")) {
        if (order)
            snprintf(buf, sizeof(buf), "I'm checking the status of order %s for you.", order);
        else
            snprintf(buf, sizeof(buf), "I can track your order. What is your order number?");
    } else if (!strcmp(intent, "product.search")) {
        const char *q = json_string_value(json_object_get(params, "query"));
        json_t *maxp = json_object_get(params, "maxPrice");
        if (!q)
            snprintf(buf, sizeof(buf), "What kind of product are you looking for?");
        else if (maxp)
            snprintf(buf, sizeof(buf), "Let me search our catalog for \"%.200s\" under %.2f.", q,
                     json_number_value(maxp));
        else
            snprintf(buf, sizeof(buf), "Let me search our catalog for \"%.200s\".", q);
    } else if (!strcmp(intent, "support.ticket")) {
        snprintf(buf, sizeof(buf),
                 "I'm sorry about the trouble. I've opened a support ticket%s%.60s; our team will "
                 "get back to you%s%.120s soon.",
                 order ? " for order " : "", order ? order : "", email ? " at " : "",
                 email ? email : "");
    } else if (!strcmp(intent, "greeting")) {
        snprintf(buf, sizeof(buf),
                 "Hello! I can track an order, find products or open a "
                 "support ticket. How can I help?");
    } else if (!strcmp(intent, "thanks")) {
        snprintf(buf, sizeof(buf), "You're welcome! Is there anything else I can help with?");
    } else if (!strcmp(intent, "goodbye")) {
        snprintf(buf, sizeof(buf), "Goodbye, and thanks for shopping with us!");
    } else {
        snprintf(buf, sizeof(buf),
                 "I can track orders, search products or open a support "
                 "ticket. Could you tell me a little more?");
    }
    return strdup(buf);
}

/* ---- memory -------------------------------------------------------------------------------- */

static json_t *load_memory(const stepd_llm_hooks *h, const char *session) {
    json_t *m = NULL;
    if (h && h->state_get && h->state_get(h->ud, STEPD_ASSISTANT_STATE_GROUP, session, &m) < 0)
        m = NULL;
    if (!json_is_object(m)) {
        json_decref(m);
        m = json_pack("{s:s,s:[],s:s,s:i,s:{}}", "sessionId", session, "messages", "summary", "",
                      "turns", 0, "known");
    }
    if (!json_is_array(json_object_get(m, "messages")))
        json_object_set_new(m, "messages", json_array());
    if (!json_is_object(json_object_get(m, "known")))
        json_object_set_new(m, "known", json_object());
    return m;
}

/* Folds messages older than the window into the running summary: by the model when one is
 * configured (falling back to the rule on failure), else a clipped "role: text" digest. The
 * summary keeps its most recent `max` bytes. */
static void fold_memory(stepd_llm_client *c, int use_llm, json_t *mem, int window, size_t max) {
    json_t *msgs = json_object_get(mem, "messages");
    size_t n = json_array_size(msgs);
    if ((int)n <= window)
        return;
    size_t drop = n - (size_t)window;
    const char *old = json_string_value(json_object_get(mem, "summary"));
    char *summary = NULL;
    if (use_llm) {
        json_t *req_msgs = json_array();
        char *intro = NULL;
        if (asprintf(&intro, "Summary so far: %s", old && *old ? old : "(none)") >= 0)
            json_array_append_new(req_msgs,
                                  json_pack("{s:s,s:s}", "role", "user", "content", intro));
        free(intro);
        for (size_t i = 0; i < drop; i++)
            json_array_append(req_msgs, json_array_get(msgs, i));
        json_array_append_new(req_msgs,
                              json_pack("{s:s,s:s}", "role", "user", "content",
                                        "Update the summary of this conversation in at most "
                                        "three sentences, keeping order numbers, emails and "
                                        "open requests. Reply with the summary only."));
        stepd_llm_request req = {.messages = req_msgs,
                                 .max_tokens = 200,
                                 .no_metrics = 0,
                                 .metrics_tag = "assistant.summary"};
        stepd_llm_result r;
        if (stepd_llm_chat(c, &req, NULL, &r) == 0 && r.content && *r.content)
            summary = strdup(r.content);
        stepd_llm_result_free(&r);
        json_decref(req_msgs);
    }
    if (!summary) {
        size_t cap = (old ? strlen(old) : 0) + 2;
        for (size_t i = 0; i < drop; i++)
            cap += 140;
        summary = malloc(cap);
        if (!summary)
            return;
        snprintf(summary, cap, "%s", old ? old : "");
        for (size_t i = 0; i < drop; i++) {
            json_t *m = json_array_get(msgs, i);
            const char *role = json_string_value(json_object_get(m, "role"));
            const char *text = json_string_value(json_object_get(m, "content"));
            size_t len = strlen(summary);
            snprintf(summary + len, cap - len, "%s%s: %.100s%s", len ? " | " : "",
                     role ? role : "?", text ? text : "", text && strlen(text) > 100 ? "…" : "");
        }
    }
    size_t len = strlen(summary);
    const char *keep = summary;
    if (len > max) {
        keep = summary + (len - max);
        while (*keep && ((unsigned char)*keep & 0xC0) == 0x80)
            keep++; /* do not start inside a UTF-8 sequence */
    }
    json_object_set_new(mem, "summary", json_string(keep));
    free(summary);
    for (size_t i = 0; i < drop; i++)
        json_array_remove(msgs, 0);
}

static void remember(json_t *known, json_t *entities, json_t *params) {
    const char *order = first_str(entities, "orderNumbers");
    const char *email = first_str(entities, "emails");
    if (!order)
        order = json_string_value(json_object_get(params, "orderNumber"));
    if (!email)
        email = json_string_value(json_object_get(params, "email"));
    if (order)
        json_object_set_new(known, "orderNumber", json_string(order));
    if (email)
        json_object_set_new(known, "email", json_string(email));
}

/* ---- the model's turn ---------------------------------------------------------------------- */

static const char *tool_intent(const char *name) {
    if (!name)
        return NULL;
    if (!strcmp(name, "track_order"))
        return "order.track";
    if (!strcmp(name, "search_products"))
        return "product.search";
    if (!strcmp(name, "create_support_ticket"))
        return "support.ticket";
    return NULL;
}

/* snake_case tool arguments → camelCase action parameters */
static json_t *tool_params(const char *args) {
    json_t *a = json_loads(args ? args : "{}", 0, NULL);
    json_t *p = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(a, k, v) {
        char key[64];
        size_t j = 0;
        for (size_t i = 0; k[i] && j < sizeof(key) - 1; i++) {
            if (k[i] == '_' && k[i + 1]) {
                char c = k[++i];
                key[j++] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
            } else {
                key[j++] = k[i];
            }
        }
        key[j] = '\0';
        if (!json_is_null(v) && !(json_is_string(v) && !*json_string_value(v)))
            json_object_set(p, key, v);
    }
    json_decref(a);
    return p;
}

typedef struct llm_turn {
    const char *intent;
    json_t *params;
    char *reply;
    long tokens_in, tokens_out;
    stepd_llm_error_kind error_kind;
} llm_turn;

static int model_turn(stepd_llm_client *c, const stepd_llm_hooks *hooks, json_t *mem,
                      const char *message, const stepd_assistant_options *opt, llm_turn *t) {
    json_t *msgs = json_array();
    const char *summary = json_string_value(json_object_get(mem, "summary"));
    char *system = NULL;
    if (asprintf(&system, "%s%s%s", opt && opt->system ? opt->system : default_system,
                 summary && *summary ? "\nEarlier in this conversation: " : "",
                 summary && *summary ? summary : "") < 0)
        system = NULL;
    json_array_extend(msgs, json_object_get(mem, "messages"));
    json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "user", "content", message));
    json_t *tools = json_loads(tools_json, 0, NULL);
    json_t *choice = json_string("auto");
    stepd_llm_request req = {.messages = msgs,
                             .system = system,
                             .tools = tools,
                             .tool_choice = choice,
                             .model = opt ? opt->model : NULL,
                             .metrics_tag = "assistant"};
    stepd_llm_result r;
    int rc = stepd_llm_chat(c, &req, hooks, &r);
    if (rc == 0) {
        json_t *call = json_array_get(r.tool_calls, 0);
        json_t *fn = json_object_get(call, "function");
        t->intent = tool_intent(json_string_value(json_object_get(fn, "name")));
        if (t->intent)
            t->params = tool_params(json_string_value(json_object_get(fn, "arguments")));
        t->reply = r.content && *r.content ? strdup(r.content) : NULL;
        t->tokens_in = r.prompt_tokens;
        t->tokens_out = r.completion_tokens;
    } else {
        t->error_kind = r.error_kind;
    }
    stepd_llm_result_free(&r);
    json_decref(msgs);
    json_decref(tools);
    json_decref(choice);
    free(system);
    return rc;
}

/* ---- one turn ------------------------------------------------------------------------------ */

int stepd_assistant_handle(stepd_llm_client *c, const stepd_llm_hooks *hooks,
                           const char *session_id, const char *message,
                           const stepd_assistant_options *opt, stepd_assistant_turn *turn,
                           char **err) {
    if (err)
        *err = NULL;
    if (!turn)
        return set_errp(err, "assistant: no turn to fill");
    memset(turn, 0, sizeof(*turn));
    if (!session_id || !*session_id || strlen(session_id) > 200)
        return set_errp(err, "assistant: sessionId must be a non-empty string of up to 200 bytes");
    if (!message || !*message)
        return set_errp(err, "assistant: message must be a non-empty string");
    int window = opt && opt->window > 0 ? opt->window : 12;
    size_t summary_max = opt && opt->summary_max ? opt->summary_max : 1500;
    int use_llm = opt && opt->use_llm < 0   ? 0
                  : opt && opt->use_llm > 0 ? c != NULL
                                            : stepd_llm_client_has_model(c);

    json_t *mem = load_memory(hooks, session_id);
    json_t *known = json_object_get(mem, "known");
    json_t *entities = stepd_assistant_entities(message);
    if (!mem || !entities) {
        json_decref(mem);
        json_decref(entities);
        if (err)
            *err = strdup("assistant: out of memory");
        return STEP_ENOMEM;
    }
    double confidence = 0;
    const char *rule_intent = stepd_assistant_intent(message, entities, &confidence);
    const char *intent = rule_intent;
    const char *source = "rules";
    json_t *params = NULL;
    char *reply = NULL;
    const char *llm_error = NULL;

    llm_turn lt = {0};
    if (use_llm) {
        int rc = model_turn(c, hooks, mem, message, opt, &lt);
        if (rc == 0) {
            source = "llm";
            if (lt.intent) {
                intent = lt.intent;
                params = lt.params;
                confidence = 0.9;
                /* complete what the model left out from the rules and the session */
                json_t *fill = rule_params(intent, message, entities, known);
                const char *k;
                json_t *v;
                json_object_foreach(fill, k, v) if (!json_object_get(params, k))
                    json_object_set(params, k, v);
                json_decref(fill);
            } else {
                /* a plain answer: keep the rules' reading only if it is not an action */
                intent = is_actionable(rule_intent) ? "general" : rule_intent;
                confidence = 0.7;
            }
            reply = lt.reply;
        } else {
            llm_error = stepd_llm_error_name(lt.error_kind);
        }
    }
    if (!params && is_actionable(intent) && !strcmp(source, "rules"))
        params = rule_params(intent, message, entities, known);
    if (!reply)
        reply = rule_reply(intent, params);

    remember(known, entities, params);
    long long now = wall_ms();
    json_t *msgs = json_object_get(mem, "messages");
    json_array_append_new(msgs, json_pack("{s:s,s:s,s:I}", "role", "user", "content", message, "ts",
                                          (json_int_t)now));
    json_array_append_new(msgs, json_pack("{s:s,s:s,s:I}", "role", "assistant", "content",
                                          reply ? reply : "", "ts", (json_int_t)now));
    fold_memory(c, use_llm && !llm_error, mem, window, summary_max);
    int turns = (int)json_integer_value(json_object_get(mem, "turns")) + 1;
    json_object_set_new(mem, "turns", json_integer(turns));
    json_object_set_new(mem, "lastIntent", json_string(intent));
    json_object_set_new(mem, "updatedAt", json_integer(now));
    int rc = 0;
    if (hooks && hooks->state_set &&
        (rc = hooks->state_set(hooks->ud, STEPD_ASSISTANT_STATE_GROUP, session_id, mem)) < 0) {
        if (err)
            *err = strdup("assistant: cannot save the conversation memory");
    }
    if (rc == 0) {
        turn->response =
            json_pack("{s:s,s:s,s:s,s:f,s:O,s:s,s:i}", "sessionId", session_id, "message",
                      reply ? reply : "", "intent", intent, "confidence", confidence, "entities",
                      entities, "source", source, "turn", turns);
        if (llm_error)
            json_object_set_new(turn->response, "llmError", json_string(llm_error));
        if (!strcmp(source, "llm"))
            json_object_set_new(turn->response, "usage",
                                json_pack("{s:I,s:I}", "tokensIn", (json_int_t)lt.tokens_in,
                                          "tokensOut", (json_int_t)lt.tokens_out));
        if (params && is_actionable(intent))
            turn->action = json_pack("{s:s,s:s,s:O,s:i}", "sessionId", session_id, "action", intent,
                                     "parameters", params, "turn", turns);
        if (!turn->response) {
            rc = STEP_ENOMEM;
            if (err)
                *err = strdup("assistant: out of memory");
        }
    }
    free(reply);
    json_decref(params);
    json_decref(entities);
    json_decref(mem);
    return rc;
}
