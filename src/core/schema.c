/*
 * schema.c — see schema.h. The schema stays a jansson tree and is interpreted on each
 * validation; schemas are small and this keeps one code path for checking and validating.
 */
#include "core/schema.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <stepd/step.h>

static const char *const known_types[] = {"string", "number",  "integer", "boolean",
                                          "object", "array", "null"};
static const char *const known_keywords[] = {
    "type",      "required",  "properties", "additionalProperties", "enum",
    "const",     "minLength", "maxLength",  "minimum",              "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "items", "minItems", "maxItems",
    "description", "title",   "default",    "examples",             "$schema",
    "format",    "nullable"};

static void set_err(schema_error *err, const char *field, const char *fmt, const char *arg) {
    if (!err)
        return;
    snprintf(err->field, sizeof(err->field), "%s", field);
    snprintf(err->message, sizeof(err->message), fmt, arg ? arg : "");
}

static void join(char *out, size_t size, const char *base, const char *key, long index) {
    if (key)
        snprintf(out, size, "%s%s%s", base, *base ? "." : "", key);
    else
        snprintf(out, size, "%s[%ld]", base, index);
}

static int is_known(const char *s, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, list[i]))
            return 1;
    return 0;
}

static int check_at(json_t *s, const char *where, schema_error *err, int depth) {
    if (depth > 64) {
        set_err(err, where, "schema nests too deeply", NULL);
        return STEP_ESCHEMA;
    }
    if (!json_is_object(s)) {
        set_err(err, where, "a schema must be a JSON object", NULL);
        return STEP_ESCHEMA;
    }
    const char *k;
    json_t *v;
    char path[256];
    json_object_foreach(s, k, v) {
        join(path, sizeof(path), where, k, 0);
        if (!is_known(k, known_keywords, sizeof(known_keywords) / sizeof(*known_keywords))) {
            set_err(err, path, "unsupported schema keyword '%s'", k);
            return STEP_ESCHEMA;
        }
        if (!strcmp(k, "type")) {
            json_t *list = json_is_array(v) ? v : NULL;
            size_t n = list ? json_array_size(list) : 1;
            for (size_t i = 0; i < n; i++) {
                json_t *t = list ? json_array_get(list, i) : v;
                if (!json_is_string(t) ||
                    !is_known(json_string_value(t), known_types, sizeof(known_types) / sizeof(*known_types))) {
                    set_err(err, path, "unknown type (use string, number, integer, boolean, object, array or null)", NULL);
                    return STEP_ESCHEMA;
                }
            }
        } else if (!strcmp(k, "required")) {
            size_t i;
            json_t *r;
            if (!json_is_array(v)) {
                set_err(err, path, "must be an array of property names", NULL);
                return STEP_ESCHEMA;
            }
            json_array_foreach(v, i, r) if (!json_is_string(r)) {
                set_err(err, path, "must be an array of property names", NULL);
                return STEP_ESCHEMA;
            }
        } else if (!strcmp(k, "properties")) {
            const char *pk;
            json_t *pv;
            if (!json_is_object(v)) {
                set_err(err, path, "must be an object of schemas", NULL);
                return STEP_ESCHEMA;
            }
            json_object_foreach(v, pk, pv) {
                char sub[256];
                join(sub, sizeof(sub), path, pk, 0);
                int rc = check_at(pv, sub, err, depth + 1);
                if (rc)
                    return rc;
            }
        } else if (!strcmp(k, "items")) {
            int rc = check_at(v, path, err, depth + 1);
            if (rc)
                return rc;
        } else if (!strcmp(k, "enum")) {
            if (!json_is_array(v)) {
                set_err(err, path, "must be an array", NULL);
                return STEP_ESCHEMA;
            }
        } else if (!strcmp(k, "additionalProperties") || !strcmp(k, "nullable")) {
            if (!json_is_boolean(v)) {
                set_err(err, path, "must be true or false", NULL);
                return STEP_ESCHEMA;
            }
        } else if (!strcmp(k, "minLength") || !strcmp(k, "maxLength") || !strcmp(k, "minItems") ||
                   !strcmp(k, "maxItems")) {
            if (!json_is_integer(v) || json_integer_value(v) < 0) {
                set_err(err, path, "must be a non-negative integer", NULL);
                return STEP_ESCHEMA;
            }
        } else if (!strcmp(k, "minimum") || !strcmp(k, "maximum") ||
                   !strcmp(k, "exclusiveMinimum") || !strcmp(k, "exclusiveMaximum")) {
            if (!json_is_number(v)) {
                set_err(err, path, "must be a number", NULL);
                return STEP_ESCHEMA;
            }
        }
    }
    return 0;
}

int schema_check(json_t *schema, schema_error *err) {
    return check_at(schema, "", err, 0);
}

json_t *schema_load(const char *text, schema_error *err) {
    json_error_t je;
    json_t *s = json_loads(text, 0, &je);
    if (!s) {
        if (err) {
            snprintf(err->field, sizeof(err->field), "line %d column %d", je.line, je.column);
            snprintf(err->message, sizeof(err->message), "schema is not valid JSON: %s", je.text);
        }
        return NULL;
    }
    if (schema_check(s, err)) {
        json_decref(s);
        return NULL;
    }
    return s;
}

static size_t utf8_len(const char *s, size_t bytes) {
    size_t n = 0;
    for (size_t i = 0; i < bytes; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

static int type_matches(const char *t, json_t *v) {
    if (!strcmp(t, "string"))
        return json_is_string(v);
    if (!strcmp(t, "number"))
        return json_is_number(v);
    if (!strcmp(t, "integer"))
        return json_is_integer(v) ||
               (json_is_real(v) && floor(json_real_value(v)) == json_real_value(v) &&
                isfinite(json_real_value(v)));
    if (!strcmp(t, "boolean"))
        return json_is_boolean(v);
    if (!strcmp(t, "object"))
        return json_is_object(v);
    if (!strcmp(t, "array"))
        return json_is_array(v);
    if (!strcmp(t, "null"))
        return json_is_null(v);
    return 0;
}

static int validate_at(json_t *s, json_t *v, const char *where, schema_error *err, int depth) {
    char buf[256];
    json_t *t = json_object_get(s, "type");
    if (json_is_null(v) && json_is_true(json_object_get(s, "nullable")))
        return 0;
    if (t) {
        int ok = 0;
        if (json_is_string(t))
            ok = type_matches(json_string_value(t), v);
        else {
            size_t i;
            json_t *e;
            json_array_foreach(t, i, e) ok |= type_matches(json_string_value(e), v);
        }
        if (!ok) {
            if (json_is_string(t)) {
                const char *tn = json_string_value(t);
                snprintf(buf, sizeof(buf), "must be %s %s",
                         (tn[0] == 'a' || tn[0] == 'i' || tn[0] == 'o') ? "an" : "a", tn);
            } else {
                snprintf(buf, sizeof(buf), "has the wrong type");
            }
            set_err(err, where, "%s", buf);
            return STEP_ESCHEMA;
        }
    }
    json_t *en = json_object_get(s, "enum");
    if (en) {
        int found = 0;
        size_t i;
        json_t *e;
        json_array_foreach(en, i, e) if (json_equal(e, v)) found = 1;
        if (!found) {
            char *list = json_dumps(en, JSON_COMPACT);
            set_err(err, where, "must be one of %s", list);
            free(list);
            return STEP_ESCHEMA;
        }
    }
    json_t *c = json_object_get(s, "const");
    if (c && !json_equal(c, v)) {
        char *cv = json_dumps(c, JSON_COMPACT | JSON_ENCODE_ANY);
        set_err(err, where, "must equal %s", cv);
        free(cv);
        return STEP_ESCHEMA;
    }
    if (json_is_string(v)) {
        size_t n = utf8_len(json_string_value(v), json_string_length(v));
        json_t *mn = json_object_get(s, "minLength"), *mx = json_object_get(s, "maxLength");
        if (mn && (json_int_t)n < json_integer_value(mn)) {
            snprintf(buf, sizeof(buf), "must be at least %lld characters long",
                     (long long)json_integer_value(mn));
            set_err(err, where, "%s", buf);
            return STEP_ESCHEMA;
        }
        if (mx && (json_int_t)n > json_integer_value(mx)) {
            snprintf(buf, sizeof(buf), "must be at most %lld characters long",
                     (long long)json_integer_value(mx));
            set_err(err, where, "%s", buf);
            return STEP_ESCHEMA;
        }
    }
    if (json_is_number(v)) {
        double d = json_number_value(v);
        static const char *const kw[] = {"minimum", "maximum", "exclusiveMinimum",
                                         "exclusiveMaximum"};
        static const char *const msg[] = {"must be >= %g", "must be <= %g", "must be > %g",
                                          "must be < %g"};
        for (int i = 0; i < 4; i++) {
            json_t *b = json_object_get(s, kw[i]);
            if (!b)
                continue;
            double lim = json_number_value(b);
            int bad = i == 0 ? d < lim : i == 1 ? d > lim : i == 2 ? d <= lim : d >= lim;
            if (bad) {
                snprintf(buf, sizeof(buf), msg[i], lim);
                set_err(err, where, "%s", buf);
                return STEP_ESCHEMA;
            }
        }
    }
    if (json_is_object(v)) {
        json_t *req = json_object_get(s, "required");
        size_t i;
        json_t *r;
        json_array_foreach(req, i, r) {
            if (!json_object_get(v, json_string_value(r))) {
                join(buf, sizeof(buf), where, json_string_value(r), 0);
                set_err(err, buf, "is required", NULL);
                return STEP_ESCHEMA;
            }
        }
        json_t *props = json_object_get(s, "properties");
        int closed = json_is_false(json_object_get(s, "additionalProperties"));
        const char *k;
        json_t *pv;
        json_object_foreach(v, k, pv) {
            json_t *ps = json_object_get(props, k);
            join(buf, sizeof(buf), where, k, 0);
            if (!ps) {
                if (closed) {
                    set_err(err, buf, "is not an allowed property", NULL);
                    return STEP_ESCHEMA;
                }
                continue;
            }
            if (depth > 64) {
                set_err(err, buf, "value nests too deeply", NULL);
                return STEP_ESCHEMA;
            }
            int rc = validate_at(ps, pv, buf, err, depth + 1);
            if (rc)
                return rc;
        }
    }
    if (json_is_array(v)) {
        size_t n = json_array_size(v);
        json_t *mn = json_object_get(s, "minItems"), *mx = json_object_get(s, "maxItems");
        if (mn && (json_int_t)n < json_integer_value(mn)) {
            snprintf(buf, sizeof(buf), "must have at least %lld items",
                     (long long)json_integer_value(mn));
            set_err(err, where, "%s", buf);
            return STEP_ESCHEMA;
        }
        if (mx && (json_int_t)n > json_integer_value(mx)) {
            snprintf(buf, sizeof(buf), "must have at most %lld items",
                     (long long)json_integer_value(mx));
            set_err(err, where, "%s", buf);
            return STEP_ESCHEMA;
        }
        json_t *items = json_object_get(s, "items");
        if (items) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) {
                join(buf, sizeof(buf), where, NULL, (long)i);
                if (depth > 64) {
                    set_err(err, buf, "value nests too deeply", NULL);
                    return STEP_ESCHEMA;
                }
                int rc = validate_at(items, e, buf, err, depth + 1);
                if (rc)
                    return rc;
            }
        }
    }
    return 0;
}

int schema_validate(json_t *schema, json_t *value, schema_error *err) {
    if (!schema)
        return 0;
    if (!value) {
        set_err(err, "", "a JSON body is required", NULL);
        return STEP_ESCHEMA;
    }
    return validate_at(schema, value, "", err, 0);
}

json_t *schema_error_json(const schema_error *err, const char *what) {
    char msg[600];
    if (err->field[0])
        snprintf(msg, sizeof(msg), "%s: '%s' %s", what, err->field, err->message);
    else
        snprintf(msg, sizeof(msg), "%s: %s", what, err->message);
    return json_pack("{s:s, s:s, s:s}", "error", msg, "field", err->field, "message",
                     err->message);
}
