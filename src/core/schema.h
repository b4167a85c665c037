/*
 * schema.h — validation against a JSON Schema subset: type (one or a list), required,
 * properties, additionalProperties (boolean), enum, const, minLength/maxLength (in code
 * points), minimum/maximum, exclusiveMinimum/exclusiveMaximum, items, minItems/maxItems.
 * Keywords outside the subset are rejected when the schema is loaded, so a typo does not
 * silently accept everything.
 */
#ifndef STEPD_CORE_SCHEMA_H
#define STEPD_CORE_SCHEMA_H

#include <jansson.h>
#include <stddef.h>

typedef struct schema_error {
    char field[256];   /* "message", "items[2].name", "" for the whole value */
    char message[256]; /* "is required", "must be a string", ... */
} schema_error;

/* Parses and checks a schema given as JSON text. Returns a new reference or NULL with the
 * reason in err (field = the schema keyword's location). */
json_t *schema_load(const char *text, schema_error *err);
/* Checks an already parsed schema (borrowed). Returns 0 or STEP_ESCHEMA with err filled. */
int schema_check(json_t *schema, schema_error *err);
/* Validates value (borrowed; NULL means "no value") against schema. 0 or STEP_ESCHEMA. */
int schema_validate(json_t *schema, json_t *value, schema_error *err);
/* {"error": "...", "field": "...", "message": "..."} — a new reference. */
json_t *schema_error_json(const schema_error *err, const char *what);

#endif
