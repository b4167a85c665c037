/*
 * fuzz_json_body.c — JSON bodies and event data: parsing, schema loading (a step's schema
 * text is outside input too), validation of the parsed value against fixed schemas and
 * against itself as a schema, and the cron parser on the same bytes.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cron.h"
#include "core/schema.h"

static json_t *schemas[3];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!schemas[0]) {
        schemas[0] = schema_load("{\"type\":\"object\",\"additionalProperties\":false,"
                                 "\"properties\":{\"a\":{\"type\":[\"string\",\"null\"]},"
                                 "\"b\":{\"type\":\"array\",\"maxItems\":3,\"items\":{\"type\":"
                                 "\"number\",\"exclusiveMaximum\":10}}}}",
                                 NULL);
        schemas[1] = schema_load("{\"enum\":[1,\"x\",null,{\"k\":[1]}]}", NULL);
        schemas[2] = schema_load("{\"type\":\"string\",\"minLength\":2,\"maxLength\":4}", NULL);
    }
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    schema_error e;
    for (int i = 0; i < 3; i++)
        schema_validate(schemas[i], v, &e);
    if (v && schema_check(v, &e) == 0)
        schema_validate(v, v, &e);
    if (v) {
        json_t *err = schema_error_json(&e, "fuzz");
        json_decref(err);
    }
    json_decref(v);
    char *text = strndup((const char *)data, size);
    if (text) {
        cron_expr c;
        const char *why;
        if (cron_parse(text, &c, &why) == 0)
            cron_next(&c, 1700000000);
        free(text);
    }
    return 0;
}
