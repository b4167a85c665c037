/* fuzz_llm_rules.c — the assistant's entity scanners and intent rules on arbitrary text: no
 * out-of-bounds reads, well-formed JSON out, an intent from the documented set. */
#include <stepd/ai/llm.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *msg = malloc(size + 1);
    if (!msg)
        return 0;
    memcpy(msg, data, size);
    msg[size] = '\0';
    json_t *e = stepd_assistant_entities(msg);
    if (!e || !json_is_array(json_object_get(e, "orderNumbers")) ||
        !json_is_array(json_object_get(e, "emails")) ||
        !json_is_array(json_object_get(e, "amounts")) ||
        !json_is_array(json_object_get(e, "dates")))
        abort();
    double conf = -1;
    const char *intent = stepd_assistant_intent(msg, e, &conf);
    static const char *const known[] = {"order.track", "product.search", "support.ticket",
                                        "greeting",    "thanks",         "goodbye",
                                        "general"};
    int ok = 0;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        ok |= !strcmp(intent, known[i]);
    if (!ok || conf < 0 || conf > 1)
        abort();
    json_decref(e);
    free(msg);
    return 0;
}
