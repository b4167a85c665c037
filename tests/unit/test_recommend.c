/* test_recommend.c — the recommend module: analyzer, TF-IDF index (incremental updates,
 * persistence, bad input), collaborative filtering and the blend. Parity with scikit-learn on
 * a generated catalogue is tests/integration/recommend_parity.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stepd/ai/recommend.h>
#include <stepd/step.h>

static stepd_recommend_index *index_of(const char *catalog_json, const stepd_recommend_options *o) {
    json_error_t jerr;
    json_t *cat = json_loads(catalog_json, 0, &jerr);
    assert_non_null(cat);
    stepd_recommend_index *idx = NULL;
    char *err = NULL;
    assert_int_equal(stepd_recommend_index_new(o, &idx, &err), 0);
    assert_int_equal(stepd_recommend_index_add_products(idx, cat, &err), 0);
    assert_null(err);
    json_decref(cat);
    return idx;
}

static const char *SHOP =
    "[{\"id\":\"p1\",\"title\":\"Red running shoes\",\"description\":\"Lightweight running "
    "shoes for men\",\"category\":\"shoes\",\"tags\":[\"running\",\"red\"],\"price\":80},"
    "{\"id\":\"p2\",\"title\":\"Blue running shoes\",\"description\":\"Running shoes for "
    "women, lightweight\",\"category\":\"shoes\",\"tags\":[\"running\"],\"price\":90},"
    "{\"id\":\"p3\",\"title\":\"Coffee mug\",\"description\":\"Ceramic mug for coffee and "
    "tea\",\"category\":\"kitchen\",\"tags\":[\"coffee\"],\"price\":12},"
    "{\"id\":\"p4\",\"title\":\"Tea cup\",\"description\":\"Porcelain cup for tea\","
    "\"category\":\"kitchen\",\"tags\":[\"tea\"],\"price\":15},"
    "{\"id\":\"p5\",\"title\":\"Trail running shoes\",\"description\":\"Shoes for trail "
    "running\",\"category\":\"shoes\",\"tags\":[\"running\",\"trail\"],\"price\":120},"
    "{\"id\":7,\"description\":\"\"}]";

static json_t *vector_of(stepd_recommend_index *idx, const char *id) {
    json_t *v = NULL;
    assert_int_equal(stepd_recommend_index_vector(idx, id, &v, NULL), 0);
    return v;
}

/* Terms exactly as scikit-learn's default analyzer gives them (checked with Python 3.11). */
static void test_analyzer_matches_python_unicode_rules(void **state) {
    (void)state;
    stepd_recommend_index *idx = NULL;
    assert_int_equal(stepd_recommend_index_new(NULL, &idx, NULL), 0);
    const char *text = "\xC4\xB0stanbul \xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3 \xCE\xA3 "
                       "\xCE\xA3\xCE\x91\xCE\xA3 caf\xC3\xA9 e\xCC\x81"
                       "clair x\xC2\xB2 a_b "
                       "4K, I a \xC7\x85"
                       "emal \xC8\xBA"
                       "lpha \xEF\xAC\x81le "
                       "\xD9\xA3\xD9\xA4 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E stra\xC3\x9F"
                       "e "
                       "\xCE\xA3\xCE\x91\xCE\xA3. MIX\xCF\x83";
    assert_int_equal(stepd_recommend_index_put_text(idx, "x", text, strlen(text), NULL), 0);
    json_t *v = vector_of(idx, "x");
    const char *want[] = {"stanbul",
                          "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82",
                          "\xCF\x83\xCE\xB1\xCF\x82",
                          "caf\xC3\xA9",
                          "clair",
                          "x\xC2\xB2",
                          "a_b",
                          "4k",
                          "\xC7\x86"
                          "emal",
                          "\xE2\xB1\xA5"
                          "lpha",
                          "\xEF\xAC\x81le",
                          "\xD9\xA3\xD9\xA4",
                          "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",
                          "stra\xC3\x9F"
                          "e",
                          "mix\xCF\x83"};
    size_t nwant = sizeof(want) / sizeof(want[0]);
    assert_int_equal(json_object_size(v), nwant);
    for (size_t i = 0; i < nwant; i++) {
        if (!json_object_get(v, want[i]))
            print_message("missing term %s\n", want[i]);
        assert_non_null(json_object_get(v, want[i]));
    }
    /* "σας" occurs twice: with one document every idf is 1, so weights are tf / ||tf|| */
    double w1 = json_real_value(json_object_get(v, "a_b"));
    double w2 = json_real_value(json_object_get(v, "\xCF\x83\xCE\xB1\xCF\x82"));
    assert_true(fabs(w2 - 2 * w1) < 1e-12);
    assert_true(fabs(w1 - 1.0 / sqrt(14 + 4)) < 1e-12);
    json_decref(v);
    stepd_recommend_index_free(idx);
}

static void test_bigrams_and_stop_words(void **state) {
    (void)state;
    stepd_recommend_options o;
    stepd_recommend_options_init(&o);
    o.ngram_max = 2;
    o.stop_words = 1;
    stepd_recommend_index *idx = NULL;
    char *err = NULL;
    int rc = stepd_recommend_index_new(&o, &idx, &err);
    if (rc == STEP_EUNSUPPORTED) {
        print_message("skipping: %s\n", err);
        free(err);
        skip();
    }
    assert_int_equal(rc, 0);
    const char *t = "The red shoes are for the men and women";
    assert_int_equal(stepd_recommend_index_put_text(idx, "a", t, strlen(t), NULL), 0);
    json_t *v = vector_of(idx, "a");
    const char *want[] = {"red", "shoes", "men", "women", "red shoes", "shoes men", "men women"};
    assert_int_equal(json_object_size(v), 7);
    for (size_t i = 0; i < 7; i++)
        assert_non_null(json_object_get(v, want[i]));
    json_decref(v);
    stepd_recommend_index_free(idx);
}

static void test_similar_orders_by_cosine_and_skips_self(void **state) {
    (void)state;
    stepd_recommend_index *idx = index_of(SHOP, NULL);
    assert_int_equal(stepd_recommend_index_count(idx), 6);
    stepd_recommend_hits h;
    assert_int_equal(stepd_recommend_index_similar(idx, "p1", 3, &h, NULL), 0);
    assert_int_equal(h.count, 3);
    assert_string_equal(h.items[0].product_id, "p2");
    assert_string_equal(h.items[1].product_id, "p5");
    assert_string_equal(h.items[0].reason, "similar_to_viewed");
    for (size_t i = 0; i < h.count; i++) {
        assert_string_not_equal(h.items[i].product_id, "p1");
        assert_true(h.items[i].score > 0 && h.items[i].score <= 1);
        if (i)
            assert_true(h.items[i].score <= h.items[i - 1].score);
    }
    json_t *j = stepd_recommend_hits_json(&h);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "productId")),
                        "p2");
    json_decref(j);
    stepd_recommend_hits_free(&h);
    stepd_recommend_index_free(idx);
}

static void test_bad_input_gives_clear_answers(void **state) {
    (void)state;
    stepd_recommend_index *idx = index_of(SHOP, NULL);
    stepd_recommend_hits h;
    char *err = NULL;
    assert_int_equal(stepd_recommend_index_similar(idx, "nope", 5, &h, &err), STEP_ENOTFOUND);
    assert_non_null(strstr(err, "unknown product 'nope'"));
    free(err);
    err = NULL;
    /* a product without text has no neighbours, and is nobody's neighbour */
    assert_int_equal(stepd_recommend_index_similar(idx, "7", 5, &h, NULL), 0);
    assert_int_equal(h.count, 0);
    /* invalid UTF-8 counts as separators */
    const char bad[] = "caf\xC3 \xFF\xFEshoes\xED\xA0\x80running \xF0\x9F";
    assert_int_equal(stepd_recommend_index_put_text(idx, "bad", bad, sizeof(bad) - 1, NULL), 0);
    json_t *v = vector_of(idx, "bad");
    assert_int_equal(json_object_size(v), 3);
    assert_non_null(json_object_get(v, "caf"));
    assert_non_null(json_object_get(v, "shoes"));
    assert_non_null(json_object_get(v, "running"));
    json_decref(v);
    /* a huge description */
    size_t n = 8u << 20;
    char *huge = malloc(n);
    for (size_t i = 0; i < n; i++)
        huge[i] = "shoes lamp "[i % 11];
    assert_int_equal(stepd_recommend_index_put_text(idx, "huge", huge, n, NULL), 0);
    free(huge);
    assert_int_equal(stepd_recommend_index_similar(idx, "huge", 2, &h, NULL), 0);
    assert_true(h.count >= 1);
    stepd_recommend_hits_free(&h);
    /* catalogue shape errors name the product */
    json_t *cat = json_loads("[{\"id\":\"a\"},{\"title\":\"no id\"}]", 0, NULL);
    assert_int_equal(stepd_recommend_index_add_products(idx, cat, &err), STEP_EINVAL);
    assert_non_null(strstr(err, "product #1"));
    free(err);
    json_decref(cat);
    stepd_recommend_index_free(idx);

    /* empty catalogue */
    idx = index_of("[]", NULL);
    assert_int_equal(stepd_recommend_index_count(idx), 0);
    assert_int_equal(stepd_recommend_index_similar(idx, "p1", 5, &h, NULL), STEP_ENOTFOUND);
    stepd_recommend_index_free(idx);

    stepd_recommend_options o;
    stepd_recommend_options_init(&o);
    o.ngram_min = 2;
    o.ngram_max = 1;
    err = NULL;
    assert_int_equal(stepd_recommend_index_new(&o, &idx, &err), STEP_EINVAL);
    assert_non_null(strstr(err, "ngram"));
    free(err);
    stepd_recommend_index_free(NULL);
}

static int same_vector(json_t *a, json_t *b) {
    if (json_object_size(a) != json_object_size(b))
        return 0;
    const char *k;
    json_t *v;
    json_object_foreach(a, k, v) {
        json_t *w = json_object_get(b, k);
        if (!w || fabs(json_real_value(v) - json_real_value(w)) > 1e-12)
            return 0;
    }
    return 1;
}

/* Adding, updating and removing products gives what a fresh build of the result gives. */
static void test_incremental_updates_equal_rebuild(void **state) {
    (void)state;
    stepd_recommend_index *inc = index_of(SHOP, NULL);
    json_t *p6 = json_loads("{\"id\":\"p6\",\"title\":\"Red tea cup\",\"description\":\"red "
                            "porcelain\"}",
                            0, NULL);
    json_t *p3 = json_loads("{\"id\":\"p3\",\"title\":\"Espresso mug\",\"description\":\"mug "
                            "for espresso\"}",
                            0, NULL);
    stepd_recommend_hits h;
    assert_int_equal(stepd_recommend_index_similar(inc, "p1", 5, &h, NULL), 0); /* refresh */
    stepd_recommend_hits_free(&h);
    assert_int_equal(stepd_recommend_index_put(inc, p6, NULL), 0);
    assert_int_equal(stepd_recommend_index_put(inc, p3, NULL), 0);
    assert_int_equal(stepd_recommend_index_remove(inc, "p5"), 0);
    assert_int_equal(stepd_recommend_index_remove(inc, "p5"), STEP_ENOTFOUND);
    assert_int_equal(stepd_recommend_index_count(inc), 6);

    json_t *cat = json_loads(SHOP, 0, NULL);
    json_array_remove(cat, 4);  /* p5 */
    json_array_set(cat, 2, p3); /* updated p3 */
    json_array_append(cat, p6);
    stepd_recommend_index *full = NULL;
    assert_int_equal(stepd_recommend_index_new(NULL, &full, NULL), 0);
    assert_int_equal(stepd_recommend_index_add_products(full, cat, NULL), 0);
    const char *ids[] = {"p1", "p2", "p3", "p4", "p6"};
    for (size_t i = 0; i < 5; i++) {
        json_t *a = vector_of(inc, ids[i]), *b = vector_of(full, ids[i]);
        assert_true(same_vector(a, b));
        json_decref(a);
        json_decref(b);
        stepd_recommend_hits x, y;
        assert_int_equal(stepd_recommend_index_similar(inc, ids[i], 5, &x, NULL), 0);
        assert_int_equal(stepd_recommend_index_similar(full, ids[i], 5, &y, NULL), 0);
        assert_int_equal(x.count, y.count);
        for (size_t j = 0; j < x.count; j++)
            assert_true(fabs(x.items[j].score - y.items[j].score) < 1e-12);
        stepd_recommend_hits_free(&x);
        stepd_recommend_hits_free(&y);
    }
    assert_int_equal(stepd_recommend_index_similar(inc, "p5", 5, &h, NULL), STEP_ENOTFOUND);
    json_decref(cat);
    json_decref(p6);
    json_decref(p3);
    stepd_recommend_index_free(inc);
    stepd_recommend_index_free(full);
}

static void test_save_and_load_keep_answers(void **state) {
    (void)state;
    stepd_recommend_options o;
    stepd_recommend_options_init(&o);
    o.sublinear_tf = 1;
    o.max_features = 12;
    stepd_recommend_index *idx = index_of(SHOP, &o);
    assert_int_equal(stepd_recommend_index_remove(idx, "p4"), 0);
    char path[] = "/tmp/stepd-recommend-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char *err = NULL;
    assert_int_equal(stepd_recommend_index_save(idx, path, &err), 0);
    stepd_recommend_index *back = NULL;
    assert_int_equal(stepd_recommend_index_load(path, &back, &err), 0);
    unlink(path);
    assert_int_equal(stepd_recommend_index_count(back), 5);
    assert_int_equal(stepd_recommend_index_features(back), 12);
    json_t *a = vector_of(idx, "p1"), *b = vector_of(back, "p1");
    assert_true(same_vector(a, b));
    json_decref(a);
    json_decref(b);
    /* the loaded index keeps working incrementally */
    assert_int_equal(stepd_recommend_index_put_text(back, "p4", "tea cup", 7, NULL), 0);
    assert_int_equal(stepd_recommend_index_count(back), 6);
    stepd_recommend_index_free(back);

    /* every truncation and a flipped byte anywhere: an error or a valid index, never a crash */
    unsigned char *buf;
    size_t len;
    assert_int_equal(stepd_recommend_index_save_buffer(idx, &buf, &len, NULL), 0);
    for (size_t cut = 0; cut < len; cut++) {
        stepd_recommend_index *x = NULL;
        assert_int_not_equal(stepd_recommend_index_load_buffer(buf, cut, &x, NULL), 0);
        assert_null(x);
    }
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x5A;
        stepd_recommend_index *x = NULL;
        if (stepd_recommend_index_load_buffer(buf, len, &x, NULL) == 0) {
            stepd_recommend_hits h;
            stepd_recommend_index_similar(x, "p1", 3, &h, NULL);
            stepd_recommend_hits_free(&h);
        }
        stepd_recommend_index_free(x);
        buf[i] ^= 0x5A;
    }
    free(buf);
    assert_int_equal(stepd_recommend_index_load("/nonexistent/idx", &back, &err), STEP_ENOTFOUND);
    assert_non_null(strstr(err, "/nonexistent/idx"));
    free(err);
    stepd_recommend_index_free(idx);
}

/* Threaded build and batch queries give the single-threaded answers. */
static void test_threads_change_nothing(void **state) {
    (void)state;
    json_t *cat = json_array();
    const char *words[] = {"red", "blue",  "shoe", "lamp",  "desk",  "mug",  "tea",   "cup",
                           "bag", "phone", "case", "cable", "light", "soft", "large", "small"};
    unsigned seed = 42;
    for (int i = 0; i < 3000; i++) {
        char text[256] = "";
        for (int w = 0; w < 8; w++) {
            seed = seed * 1103515245u + 12345u;
            strcat(text, words[(seed >> 16) % 16]);
            strcat(text, " ");
        }
        char id[16];
        snprintf(id, sizeof(id), "i%d", i);
        json_array_append_new(cat, json_pack("{s:s,s:s}", "id", id, "description", text));
    }
    stepd_recommend_options o1, o2;
    stepd_recommend_options_init(&o1);
    o1.threads = 1;
    o2 = o1;
    o2.threads = 3;
    stepd_recommend_index *a = NULL, *b = NULL;
    assert_int_equal(stepd_recommend_index_new(&o1, &a, NULL), 0);
    assert_int_equal(stepd_recommend_index_new(&o2, &b, NULL), 0);
    assert_int_equal(stepd_recommend_index_add_products(a, cat, NULL), 0);
    assert_int_equal(stepd_recommend_index_add_products(b, cat, NULL), 0);
    const char *ids[200];
    char idbuf[200][16];
    for (int i = 0; i < 200; i++) {
        snprintf(idbuf[i], sizeof(idbuf[i]), "i%d", i * 13);
        ids[i] = idbuf[i];
    }
    ids[7] = "missing";
    stepd_recommend_hits out[200];
    assert_int_equal(stepd_recommend_index_similar_batch(b, ids, 200, 4, out, NULL), 0);
    assert_int_equal(out[7].count, 0);
    for (int i = 0; i < 200; i++) {
        if (i == 7)
            continue;
        stepd_recommend_hits h;
        assert_int_equal(stepd_recommend_index_similar(a, ids[i], 4, &h, NULL), 0);
        assert_int_equal(h.count, out[i].count);
        for (size_t j = 0; j < h.count; j++) {
            assert_string_equal(h.items[j].product_id, out[i].items[j].product_id);
            assert_true(fabs(h.items[j].score - out[i].items[j].score) < 1e-12);
        }
        stepd_recommend_hits_free(&h);
        stepd_recommend_hits_free(&out[i]);
    }
    json_decref(cat);
    stepd_recommend_index_free(a);
    stepd_recommend_index_free(b);
}

static const char *HIST =
    "{\"u1\":[{\"productId\":\"p1\",\"type\":\"view\"},{\"productId\":\"p2\",\"type\":"
    "\"purchase\"}],"
    "\"u2\":[{\"productId\":\"p1\",\"type\":\"purchase\"},{\"productId\":\"p2\",\"type\":"
    "\"view\"},{\"productId\":\"p3\",\"type\":\"view\"}],"
    "\"u3\":[{\"productId\":\"p3\",\"type\":\"view\"},{\"productId\":\"p4\",\"type\":"
    "\"view\",\"weight\":2}]}";

static void test_collaborative_cosine_and_jaccard(void **state) {
    (void)state;
    json_t *h = json_loads(HIST, 0, NULL);
    stepd_recommend_cf *cf = NULL;
    assert_int_equal(stepd_recommend_cf_new(h, STEPD_RECOMMEND_COSINE, &cf, NULL), 0);
    stepd_recommend_hits r;
    assert_int_equal(stepd_recommend_cf_similar(cf, "p1", 5, &r, NULL), 0);
    /* p1 = (u1:1, u2:3), p2 = (u1:3, u2:1), p3 = (u2:1, u3:1) */
    assert_int_equal(r.count, 2);
    assert_string_equal(r.items[0].product_id, "p3");
    assert_true(fabs(r.items[0].score - 3.0 / (sqrt(10) * sqrt(2))) < 1e-12);
    assert_string_equal(r.items[1].product_id, "p2");
    assert_true(fabs(r.items[1].score - 6.0 / 10.0) < 1e-12);
    assert_string_equal(r.items[0].reason, "bought_together");
    stepd_recommend_hits_free(&r);
    char *err = NULL;
    assert_int_equal(stepd_recommend_cf_similar(cf, "zz", 5, &r, &err), STEP_ENOTFOUND);
    free(err);
    stepd_recommend_cf_free(cf);

    assert_int_equal(stepd_recommend_cf_new(h, STEPD_RECOMMEND_JACCARD, &cf, NULL), 0);
    assert_int_equal(stepd_recommend_cf_similar(cf, "p3", 5, &r, NULL), 0);
    /* p3 users {u2,u3}: p4 {u3} -> 1/2, p1 {u1,u2} -> 1/3, p2 {u1,u2} -> 1/3 */
    assert_int_equal(r.count, 3);
    assert_string_equal(r.items[0].product_id, "p4");
    assert_true(fabs(r.items[0].score - 0.5) < 1e-12);
    assert_true(fabs(r.items[2].score - 1.0 / 3) < 1e-12);
    stepd_recommend_hits_free(&r);
    stepd_recommend_cf_free(cf);
    json_decref(h);

    /* other history shapes: array of {userId, events}, and a flat event log */
    h = json_loads("[{\"userId\":\"a\",\"events\":[{\"productId\":1},{\"productId\":2}]},"
                   "{\"userId\":\"b\",\"productId\":1},{\"userId\":\"b\",\"productId\":2}]",
                   0, NULL);
    assert_int_equal(stepd_recommend_cf_new(h, STEPD_RECOMMEND_JACCARD, &cf, NULL), 0);
    assert_int_equal(stepd_recommend_cf_similar(cf, "1", 5, &r, NULL), 0);
    assert_int_equal(r.count, 1);
    assert_true(fabs(r.items[0].score - 1.0) < 1e-12);
    stepd_recommend_hits_free(&r);
    stepd_recommend_cf_free(cf);
    json_decref(h);
    assert_int_equal(stepd_recommend_cf_new(NULL, 0, &cf, NULL), STEP_EINVAL);
}

static void test_blend_for_user(void **state) {
    (void)state;
    stepd_recommend_index *idx = index_of(SHOP, NULL);
    json_t *hist = json_loads(HIST, 0, NULL);
    stepd_recommend_cf *cf = NULL;
    assert_int_equal(stepd_recommend_cf_new(hist, STEPD_RECOMMEND_COSINE, &cf, NULL), 0);
    stepd_recommend_request req = {0};
    req.history = json_object_get(hist, "u1"); /* viewed p1, bought p2 */
    req.preferences = json_loads("{\"categories\":[\"Kitchen\"],\"priceMax\":14}", 0, NULL);
    req.k = 10;
    stepd_recommend_hits r;
    assert_int_equal(stepd_recommend_for_user(idx, cf, &req, &r, NULL), 0);
    int seen_p5 = 0, seen_p3 = 0;
    for (size_t i = 0; i < r.count; i++) {
        assert_string_not_equal(r.items[i].product_id, "p2"); /* purchased */
        for (size_t j = 0; j < i; j++)                        /* once each */
            assert_string_not_equal(r.items[i].product_id, r.items[j].product_id);
        if (!strcmp(r.items[i].product_id, "p5")) {
            seen_p5 = 1;
            assert_string_equal(r.items[i].reason, "similar_to_viewed");
        }
        if (!strcmp(r.items[i].product_id, "p3")) {
            seen_p3 = 1; /* kitchen and under 14: both criteria, plus co-viewed with p1/p2 */
            assert_true(r.items[i].score >= 0.5);
        }
        if (i)
            assert_true(r.items[i].score <= r.items[i - 1].score);
    }
    assert_true(seen_p5 && seen_p3);
    stepd_recommend_hits_free(&r);

    /* preferences only: reason matches_preferences */
    req.history = NULL;
    req.w_preferences = 1;
    assert_int_equal(stepd_recommend_for_user(idx, NULL, &req, &r, NULL), 0);
    assert_true(r.count >= 1);
    assert_string_equal(r.items[0].product_id, "p3");
    assert_string_equal(r.items[0].reason, "matches_preferences");
    stepd_recommend_hits_free(&r);

    /* a seed item is not recommended to itself; an unknown one is an error */
    req.item_id = "p4";
    req.w_content = 1;
    assert_int_equal(stepd_recommend_for_user(idx, cf, &req, &r, NULL), 0);
    for (size_t i = 0; i < r.count; i++)
        assert_string_not_equal(r.items[i].product_id, "p4");
    stepd_recommend_hits_free(&r);
    req.item_id = "zz";
    char *err = NULL;
    assert_int_equal(stepd_recommend_for_user(idx, cf, &req, &r, &err), STEP_ENOTFOUND);
    free(err);

    json_decref((json_t *)req.preferences);
    json_decref(hist);
    stepd_recommend_cf_free(cf);
    stepd_recommend_index_free(idx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_analyzer_matches_python_unicode_rules),
        cmocka_unit_test(test_bigrams_and_stop_words),
        cmocka_unit_test(test_similar_orders_by_cosine_and_skips_self),
        cmocka_unit_test(test_bad_input_gives_clear_answers),
        cmocka_unit_test(test_incremental_updates_equal_rebuild),
        cmocka_unit_test(test_save_and_load_keep_answers),
        cmocka_unit_test(test_threads_change_nothing),
        cmocka_unit_test(test_collaborative_cosine_and_jaccard),
        cmocka_unit_test(test_blend_for_user),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
